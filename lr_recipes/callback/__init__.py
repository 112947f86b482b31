r"""
LR Scheduler Callback
=====================

One callback for any Lightning project: it logs the learning rate like ``LearningRateMonitor`` (same
arguments, same keys) and more, keeps a per-step trace of every LR and momentum, and steps
``ReduceLROnPlateau``-style schedulers correctly after every validation run.

One concern per file, behind the one face :class:`LRSchedulerCallback`:

- :mod:`~lr_recipes.callback.naming`: ``LearningRateMonitor``-compatible keys and logging;
- :mod:`~lr_recipes.callback.trace`: the per-step LR / momentum trace and its CSV / PNG;
- :mod:`~lr_recipes.callback.stepping`: the schedulers the callback steps itself (plateau after validation),
  applying the decision of :meth:`lr_recipes.schedules.Plateau.decide`;
- :mod:`~lr_recipes.callback.lr_callback`: the face, its hooks and its checkpoint state.

Example::

    >>> from lightning.pytorch import Trainer
    >>> from lr_recipes import LRSchedulerCallback
    >>> trainer = Trainer(callbacks=[LRSchedulerCallback()], logger=False, enable_progress_bar=False)
"""

from lr_recipes.callback.lr_callback import LRSchedulerCallback
from lr_recipes.callback.stepping import CALLBACK_INTERVAL, PlateauEvent

__all__ = ["CALLBACK_INTERVAL", "LRSchedulerCallback", "PlateauEvent"]
