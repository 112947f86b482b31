"""Closed-form schedules: each the LR of one param group as a pure function of the optimizer step.

No torch, no Lightning: see :mod:`lr_recipes.schedules.base` for the contract.

Example::

    >>> from lr_recipes.schedules import Cosine, Warmup
    >>> s = Warmup(Cosine(base_lr=0.1, min_lr=0.0, steps=90), steps=10, start_factor=0.0)
    >>> s(0), s(10), s(100)
    (0.0, 0.1, 0.0)
"""

from lr_recipes.schedules.base import Constant, Schedule
from lr_recipes.schedules.cosine import Cosine, CosineRestarts
from lr_recipes.schedules.cyclic import CYCLIC_MODES, Cyclic
from lr_recipes.schedules.horizon import Cooldown, Stretch
from lr_recipes.schedules.inverse_sqrt import InverseSqrt
from lr_recipes.schedules.linear import Linear, Polynomial
from lr_recipes.schedules.onecycle import OneCycle
from lr_recipes.schedules.plateau import PLATEAU_MODES, THRESHOLD_MODES, Plateau, PlateauState
from lr_recipes.schedules.step import Exponential, MultiStep, Step
from lr_recipes.schedules.warmup import WARMUP_SHAPES, Warmup, warmup_factor
from lr_recipes.schedules.wsd import DECAY_SHAPES, WSD, decay_shape

__all__ = [
    "CYCLIC_MODES",
    "DECAY_SHAPES",
    "PLATEAU_MODES",
    "THRESHOLD_MODES",
    "WARMUP_SHAPES",
    "WSD",
    "Constant",
    "Cooldown",
    "Cosine",
    "CosineRestarts",
    "Cyclic",
    "Exponential",
    "InverseSqrt",
    "Linear",
    "MultiStep",
    "OneCycle",
    "Plateau",
    "PlateauState",
    "Polynomial",
    "Schedule",
    "Step",
    "Stretch",
    "Warmup",
    "decay_shape",
    "warmup_factor",
]
