"""Cyclical learning rates (Smith, "Cyclical Learning Rates for Training Neural Networks", 2017).

Triangular cycles between ``base_lr`` and ``max_lr``: ``up`` steps rising, ``down`` steps falling.
``triangular2`` halves the amplitude every cycle; ``exp_range`` scales it by ``gamma ** t``. The numbers
equal torch's ``CyclicLR`` (including its momentum cycling).

Example::

    >>> s = Cyclic(base_lr=0.1, max_lr=0.5, up=2, down=2, cycle_momentum=False)
    >>> [round(s(t), 3) for t in range(6)]
    [0.1, 0.3, 0.5, 0.3, 0.1, 0.3]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from lr_recipes.schedules.base import Schedule

CyclicMode = Literal["triangular", "triangular2", "exp_range"]
"""How the amplitude changes from cycle to cycle: constant, halved each cycle, or ``gamma ** t``."""


@dataclass(frozen=True)
class Cyclic(Schedule):
    """Triangular LR cycles; see the module docstring.

    Args:
        base_lr: lower bound of the cycle.
        max_lr: upper bound of the cycle.
        up: steps from ``base_lr`` to ``max_lr``.
        down: steps back down.
        mode: ``"triangular"``, ``"triangular2"`` or ``"exp_range"``.
        gamma: per-step amplitude factor of ``exp_range``.
        cycle_momentum: move momentum between ``max_momentum`` and ``base_momentum`` inversely to the LR.
        base_momentum: momentum at the LR peak.
        max_momentum: momentum at the LR minimum.

    Example::

        >>> round(Cyclic(base_lr=0.1, max_lr=0.5, up=2, down=2, mode="triangular2")(6), 6)
        0.3
    """

    base_lr: float
    max_lr: float
    up: int
    down: int
    mode: CyclicMode = "triangular"
    gamma: float = 1.0
    cycle_momentum: bool = True
    base_momentum: float = 0.8
    max_momentum: float = 0.9

    def __post_init__(self) -> None:
        self._require_lr("base_lr", "max_lr")
        self._require_steps("up", "down")
        self._require_choice("mode", CyclicMode)
        self._require(0.0 < self.gamma <= 1.0, "gamma", "0 < gamma <= 1")
        if self.cycle_momentum:
            self._require(
                self.base_momentum <= self.max_momentum, "base_momentum", f"<= max_momentum ({self.max_momentum})"
            )

    @property
    def cycle_steps(self) -> int:
        """``up + down``."""
        return self.up + self.down

    def _position(self, t: int) -> tuple[float, float]:
        """``(scale_factor, amplitude scale)`` at step ``t``, exactly as torch's ``CyclicLR.get_lr``."""
        total = float(self.up + self.down)
        ratio = self.up / total
        cycle = math.floor(1 + t / total)
        x = 1.0 + t / total - cycle
        factor = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
        if self.mode == "triangular":
            scale = 1.0
        elif self.mode == "triangular2":
            scale = 1 / (2.0 ** (cycle - 1))
        else:
            scale = self.gamma**t
        return factor, scale

    def __call__(self, t: int) -> float:
        factor, scale = self._position(t)
        return self.base_lr + (self.max_lr - self.base_lr) * factor * scale

    def momentum(self, t: int) -> float | None:
        if not self.cycle_momentum:
            return None
        factor, scale = self._position(t)
        return self.max_momentum - (self.max_momentum - self.base_momentum) * factor * scale
