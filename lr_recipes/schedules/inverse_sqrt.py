"""Inverse square-root decay (Vaswani et al. 2017; ``transformers.get_inverse_sqrt_schedule``).

``base_lr / sqrt(1 + t / timescale)`` on the clock after warmup: the LR is ``base_lr`` right after
warmup and halves by ``t = 3 * timescale``. It never reaches zero, so it suits open-ended runs.

Example::

    >>> InverseSqrt(base_lr=1.0, timescale=100)(300)
    0.5
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lr_recipes.schedules.base import Schedule


@dataclass(frozen=True)
class InverseSqrt(Schedule):
    """``base_lr / sqrt(1 + t / timescale)``.

    Example::

        >>> InverseSqrt(base_lr=0.1, timescale=10)(0)
        0.1
    """

    base_lr: float
    timescale: int

    def __post_init__(self) -> None:
        self._require_lr("base_lr")
        self._require(self.timescale > 0, "timescale", "> 0 steps")

    def __call__(self, t: int) -> float:
        return self.base_lr / math.sqrt(1.0 + t / self.timescale)
