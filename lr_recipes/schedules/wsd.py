"""Warmup-stable-decay (Hu et al., MiniCPM, 2024; ``transformers.get_wsd_schedule``).

The LR holds at ``base_lr`` (after the usual warmup prefix) and decays to ``min_lr`` only over the last
``decay_steps`` of the run, so one long stable phase can be branched into several decay lengths.

Example::

    >>> s = WSD(base_lr=1.0, min_lr=0.0, steps=10, decay_steps=4, shape="linear")
    >>> [s(t) for t in range(11)]
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.75, 0.5, 0.25, 0.0]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

from lr_recipes.schedules.base import Schedule, ScheduleError

DecayShape = Literal["linear", "cosine", "1-sqrt"]
"""The shape of the final decay (see :func:`decay_shape`)."""


def decay_shape(p: float, shape: DecayShape) -> float:
    """Fraction of the way from ``min_lr`` to ``base_lr`` left at decay progress ``p`` in [0, 1].

    Example::

        >>> decay_shape(0.25, "1-sqrt")
        0.5
    """
    if shape == "linear":
        return 1.0 - p
    if shape == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * p))
    if shape == "1-sqrt":
        return 1.0 - math.sqrt(p)
    raise ScheduleError(f"decay_shape={shape!r} is not allowed; allowed: one of {get_args(DecayShape)}")


@dataclass(frozen=True)
class WSD(Schedule):
    """Stable at ``base_lr``, then the last ``decay_steps`` of ``steps`` decay to ``min_lr`` with ``shape``.

    Example::

        >>> WSD(base_lr=1.0, min_lr=0.1, steps=100, decay_steps=20, shape="cosine")(90)
        0.55
    """

    base_lr: float
    min_lr: float
    steps: int
    decay_steps: int
    shape: DecayShape = "1-sqrt"

    def __post_init__(self) -> None:
        self._require_lr("base_lr", "min_lr")
        self._require_steps("steps", "decay_steps")
        self._require(self.decay_steps <= self.steps, "decay_steps", f"<= steps ({self.steps})")
        self._require_choice("shape", DecayShape)

    @property
    def floor(self) -> float:
        """``min_lr``, reached at ``steps``."""
        return self.min_lr

    def __call__(self, t: int) -> float:
        decay_start = self.steps - self.decay_steps
        if t < decay_start:
            return self.base_lr
        p = min((t - decay_start) / self.decay_steps, 1.0)
        return self.min_lr + (self.base_lr - self.min_lr) * decay_shape(p, self.shape)
