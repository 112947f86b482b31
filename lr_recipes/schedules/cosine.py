"""Cosine annealing (Loshchilov & Hutter, SGDR, 2017): ``cosine`` and ``cosine_restarts``.

Example::

    >>> s = Cosine(base_lr=1.0, min_lr=0.0, steps=4)
    >>> [round(s(t), 4) for t in range(6)]
    [1.0, 0.8536, 0.5, 0.1464, 0.0, 0.0]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lr_recipes.schedules.base import Schedule


def _cosine(base_lr: float, min_lr: float, progress: float) -> float:
    return min_lr + (base_lr - min_lr) * (1.0 + math.cos(math.pi * progress)) / 2.0


@dataclass(frozen=True)
class Cosine(Schedule):
    """Half a cosine from ``base_lr`` down to ``min_lr`` over ``steps``, then ``min_lr`` (CosineAnnealingLR).

    Unlike torch's ``CosineAnnealingLR``, it does not climb back up after ``steps``.

    Example::

        >>> Cosine(base_lr=0.1, min_lr=0.001, steps=100)(50)
        0.0505
    """

    base_lr: float
    min_lr: float
    steps: int

    def __post_init__(self) -> None:
        self._require_lr("base_lr", "min_lr")
        self._require_steps("steps")

    @property
    def floor(self) -> float:
        """``min_lr``, reached after ``steps``."""
        return self.min_lr

    def __call__(self, t: int) -> float:
        return _cosine(self.base_lr, self.min_lr, min(t, self.steps) / self.steps)


@dataclass(frozen=True)
class CosineRestarts(Schedule):
    """SGDR: cosine cycles of ``period`` steps, each ``period_mult`` times longer than the last.

    Cycle ``n`` starts at ``max(base_lr * decay ** n, min_lr)`` and ends at ``min_lr``. ``period_mult`` may be
    fractional (cycle boundaries are then real numbers); an integer one matches torch's
    ``CosineAnnealingWarmRestarts(T_0=period, T_mult=period_mult)`` exactly.

    Example::

        >>> s = CosineRestarts(base_lr=1.0, min_lr=0.0, period=4, period_mult=2.0)
        >>> [round(s(t), 3) for t in (0, 2, 4, 8, 12)]
        [1.0, 0.5, 1.0, 0.5, 1.0]
    """

    base_lr: float
    min_lr: float
    period: float
    period_mult: float = 1.0
    decay: float = 1.0

    def __post_init__(self) -> None:
        self._require_lr("base_lr", "min_lr")
        self._require(self.period > 0, "period", "> 0 steps")
        self._require(self.period_mult >= 1.0, "period_mult", ">= 1")
        self._require(0.0 < self.decay <= 1.0, "decay", "0 < decay <= 1")

    @property
    def floor(self) -> float:
        """``min_lr``, where every cycle ends: a run should end on it, not mid-cycle."""
        return self.min_lr

    def cycle(self, t: int) -> tuple[int, float, float]:
        """``(index, start step, length)`` of the cycle holding step ``t``.

        Example::

            >>> CosineRestarts(1.0, 0.0, period=10, period_mult=2.0).cycle(35)
            (2, 30.0, 40.0)
        """
        if self.period_mult == 1.0:
            n = int(t // self.period)
            return n, n * self.period, float(self.period)
        # O(log t) walk over the geometric cycle lengths; a log() formula misplaces exact boundaries.
        n, start, length = 0, 0.0, float(self.period)
        while t >= start + length:
            start += length
            length *= self.period_mult
            n += 1
        return n, start, length

    def __call__(self, t: int) -> float:
        n, start, length = self.cycle(t)
        peak = max(self.base_lr * self.decay**n, self.min_lr)
        return _cosine(peak, self.min_lr, (t - start) / length)
