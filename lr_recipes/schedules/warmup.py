"""Warmup as composition: ramp up to where the main schedule starts, then hand over.

Warmup is a prefix of ``steps`` optimizer steps. The main schedule runs on its own clock that starts when
warmup ends (``main(t - steps)``), so a cosine "over the run" peaks at the base LR right after warmup,
as in Goyal et al. 2017 and ``transformers.get_cosine_schedule_with_warmup``. During warmup the LR goes
from ``start_factor * main(0)`` towards ``main(0)``: it joins the main schedule without a jump. The
linear shape equals ``SequentialLR([LinearLR(start_factor, 1.0, steps), main], milestones=[steps])``.

Example::

    >>> from lr_recipes.schedules.base import Constant
    >>> w = Warmup(Constant(0.1), steps=4, start_factor=0.0)
    >>> [round(w(t), 3) for t in range(6)]
    [0.0, 0.025, 0.05, 0.075, 0.1, 0.1]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

from lr_recipes.schedules.base import Schedule, ScheduleError

WarmupShape = Literal["linear", "cosine", "exponential"]
"""The shape of the warmup ramp (see :func:`warmup_factor`)."""


def warmup_factor(t: int, steps: int, start_factor: float, shape: WarmupShape) -> float:
    """Multiplier in ``[start_factor, 1]`` at step ``t`` of a warmup of ``steps`` steps.

    ``linear``: straight line; ``cosine``: half a cosine (slow start, slow finish); ``exponential``:
    geometric, the same ratio every step (needs ``start_factor > 0``). ``t >= steps`` gives 1.

    Example::

        >>> warmup_factor(5, 10, 0.0, "linear")
        0.5
        >>> warmup_factor(5, 10, 0.01, "exponential")
        0.1
    """
    if t >= steps:
        return 1.0
    p = t / steps
    if shape == "linear":
        return start_factor + (1.0 - start_factor) * p
    if shape == "cosine":
        return start_factor + (1.0 - start_factor) * 0.5 * (1.0 - math.cos(math.pi * p))
    if shape == "exponential":
        return start_factor ** (1.0 - p)
    raise ScheduleError(f"warmup_shape={shape!r} is not allowed; allowed: one of {get_args(WarmupShape)}")


@dataclass(frozen=True)
class Warmup(Schedule):
    """``steps`` steps of warmup from ``start_factor * main(0)``, then ``main(t - steps)``.

    Args:
        main: the schedule after warmup, on a clock that starts at the end of warmup.
        steps: warmup length in optimizer steps (``>= 1``).
        start_factor: LR at step 0 as a fraction of ``main(0)``, in ``[0, 1]``.
        shape: ``"linear"`` (default), ``"cosine"`` or ``"exponential"``.

    Example::

        >>> from lr_recipes.schedules.cosine import Cosine
        >>> s = Warmup(Cosine(base_lr=1.0, min_lr=0.0, steps=10), steps=5, start_factor=0.2)
        >>> s(0), s(5), s(15)
        (0.2, 1.0, 0.0)
    """

    main: Schedule
    steps: int
    start_factor: float = 0.0
    shape: WarmupShape = "linear"

    def __post_init__(self) -> None:
        self._require(isinstance(self.main, Schedule), "main", "a Schedule")
        self._require_steps("steps")
        self._require(0.0 <= self.start_factor <= 1.0, "start_factor", "0 <= start_factor <= 1")
        self._require_choice("shape", WarmupShape)
        if self.shape == "exponential":
            self._require(self.start_factor > 0, "start_factor", "> 0 with shape='exponential' (a geometric ramp)")

    def __call__(self, t: int) -> float:
        if t < self.steps:
            return self.main(0) * warmup_factor(t, self.steps, self.start_factor, self.shape)
        return self.main(t - self.steps)

    def momentum(self, t: int) -> float | None:
        return self.main.momentum(max(t - self.steps, 0))
