"""Tools for sweeping recipes with Optuna: search spaces, a pruning callback, storage and sampler.

- :mod:`lr_recipes.sweep.space`: the YAML search space (choices, ranges, conditions) and its checks;
- :mod:`lr_recipes.sweep.pruning`: :class:`TrialPruning`, the Lightning callback that reports to a trial;
- :mod:`lr_recipes.sweep.study`: storage with heartbeats, the per-trial seeded TPE sampler, the pruners.

``python -m lr_recipes sweep`` (in the pack) runs them; any Lightning project can use them directly.

Example::

    >>> from lr_recipes.sweep import SearchSpace
    >>> SearchSpace.from_dict({"model.schedule.name": ["cosine", "wsd"]}).keys
    ['model.schedule.name']
"""

from lr_recipes.sweep.pruning import MetricNotLoggedError, TrialPruning
from lr_recipes.sweep.space import SearchSpace, SweepSpaceError
from lr_recipes.sweep.study import TrialSeededTPESampler, make_pruner, mask_url, open_storage

__all__ = [
    "MetricNotLoggedError",
    "SearchSpace",
    "SweepSpaceError",
    "TrialPruning",
    "TrialSeededTPESampler",
    "make_pruner",
    "mask_url",
    "open_storage",
]
