"""Closed-form schedules: each the LR of one param group as a pure function of the optimizer step.

No torch, no Lightning: see :mod:`lr_recipes.schedules.base` for the contract. Every class checks its arguments
(:class:`ScheduleError`, a ``ValueError``); a parameter with a fixed set of values has one ``Literal`` alias
(``WarmupShape``, ``CyclicMode``, ``DecayShape``, ``PlateauMode``, ``ThresholdMode``, ``OneCycleAnneal``) that the
class, its check (``typing.get_args``) and the registry's recipe signatures all read.

Example::

    >>> from lr_recipes.schedules import Cosine, Warmup
    >>> s = Warmup(Cosine(base_lr=0.1, min_lr=0.0, steps=90), steps=10, start_factor=0.0)
    >>> s(0), s(10), s(100)
    (0.0, 0.1, 0.0)
"""

from lr_recipes.schedules.base import Constant, Scaled, Schedule, ScheduleError
from lr_recipes.schedules.cosine import Cosine, CosineRestarts
from lr_recipes.schedules.cyclic import Cyclic, CyclicMode
from lr_recipes.schedules.horizon import Cooldown, OnResume, Stretch
from lr_recipes.schedules.inverse_sqrt import InverseSqrt
from lr_recipes.schedules.linear import Linear, Polynomial
from lr_recipes.schedules.onecycle import OneCycle, OneCycleAnneal
from lr_recipes.schedules.plateau import Plateau, PlateauDecision, PlateauMode, PlateauState, ThresholdMode
from lr_recipes.schedules.step import Exponential, MultiStep, Step
from lr_recipes.schedules.warmup import Warmup, WarmupShape, warmup_factor
from lr_recipes.schedules.wsd import WSD, DecayShape, decay_shape

__all__ = [
    "WSD",
    "Constant",
    "Cooldown",
    "Cosine",
    "CosineRestarts",
    "Cyclic",
    "CyclicMode",
    "DecayShape",
    "Exponential",
    "InverseSqrt",
    "Linear",
    "MultiStep",
    "OnResume",
    "OneCycle",
    "OneCycleAnneal",
    "Plateau",
    "PlateauDecision",
    "PlateauMode",
    "PlateauState",
    "Polynomial",
    "Scaled",
    "Schedule",
    "ScheduleError",
    "Step",
    "Stretch",
    "ThresholdMode",
    "Warmup",
    "WarmupShape",
    "decay_shape",
    "warmup_factor",
]
