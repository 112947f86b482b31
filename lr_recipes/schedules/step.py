"""Step-wise decays: ``step`` (StepLR), ``multistep`` (MultiStepLR) and ``exponential`` (ExponentialLR).

Step sizes and milestones are points on the run's clock (epoch 30 is epoch 30, warmup or not), so
these schedules take an ``offset``: the number of warmup steps already behind the main clock.

Example::

    >>> s = MultiStep(base_lr=0.1, milestones=(3, 5), gamma=0.1)
    >>> [round(s(t), 6) for t in range(7)]
    [0.1, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from lr_recipes.schedules.base import Schedule


@dataclass(frozen=True)
class Step(Schedule):
    """``base_lr * gamma ** ((t + offset) // step_size)``: ×gamma every ``step_size`` steps (StepLR).

    Example::

        >>> Step(base_lr=1.0, step_size=10, gamma=0.5)(25)
        0.25
    """

    base_lr: float
    step_size: int
    gamma: float = 0.1
    offset: int = 0

    def __post_init__(self) -> None:
        self._require_lr("base_lr")
        self._require_steps("step_size")
        self._require_steps("offset", minimum=0)
        self._require(self.gamma > 0, "gamma", "> 0")

    def __call__(self, t: int) -> float:
        return self.base_lr * self.gamma ** ((t + self.offset) // self.step_size)


@dataclass(frozen=True)
class MultiStep(Schedule):
    """``base_lr * gamma ** (milestones passed)``; a milestone ``m`` applies from step ``m`` on (MultiStepLR).

    Example::

        >>> MultiStep(base_lr=1.0, milestones=(10, 20), gamma=0.1)(10)
        0.1
    """

    base_lr: float
    milestones: tuple[int, ...]
    gamma: float = 0.1
    offset: int = 0

    def __post_init__(self) -> None:
        self._require_lr("base_lr")
        # a repeated milestone applies gamma twice, as in MultiStepLR; bisect needs them sorted
        self._require(list(self.milestones) == sorted(self.milestones), "milestones", "sorted step numbers")
        self._require_steps("offset", minimum=0)
        self._require(self.gamma > 0, "gamma", "> 0")

    def __call__(self, t: int) -> float:
        return self.base_lr * self.gamma ** bisect.bisect_right(self.milestones, t + self.offset)


@dataclass(frozen=True)
class Exponential(Schedule):
    """``base_lr * gamma ** (t / every)``, floored to whole periods when ``staircase`` (ExponentialLR).

    Example::

        >>> Exponential(base_lr=1.0, gamma=0.5, every=10)(15)
        0.5
        >>> round(Exponential(base_lr=1.0, gamma=0.5, every=10, staircase=False)(15), 4)
        0.3536
    """

    base_lr: float
    gamma: float
    every: int = 1
    staircase: bool = True

    def __post_init__(self) -> None:
        self._require_lr("base_lr")
        self._require(self.gamma > 0, "gamma", "> 0")
        self._require_steps("every")

    def __call__(self, t: int) -> float:
        periods = t // self.every if self.staircase else t / self.every
        return self.base_lr * self.gamma**periods
