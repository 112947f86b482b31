"""Straight-line and polynomial decays: ``linear`` (LinearLR) and ``polynomial`` (PolynomialLR).

Example::

    >>> s = Linear(base_lr=1.0, start_factor=1.0, end_factor=0.0, steps=4)
    >>> [s(t) for t in range(6)]
    [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
"""

from __future__ import annotations

from dataclasses import dataclass

from lr_recipes.schedules.base import Schedule


@dataclass(frozen=True)
class Linear(Schedule):
    """``base_lr * factor``, factor going linearly from ``start_factor`` to ``end_factor`` over ``steps``.

    The seed project's ``LinearDecayLR`` is ``Linear(start_factor=1, end_factor=0)`` over the run.

    Example::

        >>> round(Linear(base_lr=0.1, start_factor=1.0, end_factor=0.1, steps=10)(5), 6)
        0.055
    """

    base_lr: float
    start_factor: float
    end_factor: float
    steps: int

    def __post_init__(self) -> None:
        self._require_lr("base_lr")
        self._require(self.start_factor >= 0.0, "start_factor", ">= 0")
        self._require(self.end_factor >= 0.0, "end_factor", ">= 0")
        self._require_steps("steps")

    def __call__(self, t: int) -> float:
        p = min(t, self.steps) / self.steps
        return self.base_lr * (self.start_factor + (self.end_factor - self.start_factor) * p)


@dataclass(frozen=True)
class Polynomial(Schedule):
    """``(base_lr - min_lr) * (1 - t/steps) ** power + min_lr``, then ``min_lr``.

    With ``min_lr=0`` this is torch's ``PolynomialLR``; ``power=1`` is a linear decay.

    Example::

        >>> Polynomial(base_lr=1.0, min_lr=0.0, steps=10, power=2.0)(5)
        0.25
    """

    base_lr: float
    min_lr: float
    steps: int
    power: float = 1.0

    def __post_init__(self) -> None:
        self._require_lr("base_lr", "min_lr")
        self._require_steps("steps")
        self._require(self.power > 0, "power", "> 0")

    @property
    def floor(self) -> float:
        """``min_lr``, reached after ``steps``."""
        return self.min_lr

    def __call__(self, t: int) -> float:
        remaining = 1.0 - min(t, self.steps) / self.steps
        return (self.base_lr - self.min_lr) * remaining**self.power + self.min_lr
