"""The LR range test: :func:`find_lr` on a LightningModule and its Trainer, the curve's suggestion rules.

``python -m lr_recipes find`` (:mod:`lr_recipes.pack.find_cmd`) runs it on a recipe and writes ``lr.yaml``.

Example::

    >>> from lr_recipes.find import RULES
    >>> RULES
    ('valley', 'steepest', 'minimum')
"""

from lr_recipes.find.curve import RULES, FindError, Rule, log_spaced, smooth, suggest
from lr_recipes.find.range_test import LRFindResult, apply_lr, find_lr

__all__ = ["RULES", "FindError", "LRFindResult", "Rule", "apply_lr", "find_lr", "log_spaced", "smooth", "suggest"]
