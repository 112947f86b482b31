"""Changing a run's horizon as composition: a schedule continues unchanged up to a step, then a new phase.

Both phases keep the closed form (the LR at step ``t`` is a pure function of ``t`` and a few fixed numbers),
so a run that was re-planned or cooled down resumes bit-exactly again.

- :class:`Stretch` (``on_resume: replan``): from ``start`` on, the rest of ``main`` is stretched (or squeezed) to
  a new length, ``main(start + (t - start) * num / den)``. The LR at ``start`` is unchanged (no jump), and with
  ``num = old_end - start``, ``den = new_end - start`` the old end value lands exactly on the new end. Optional
  ``shift`` moves the end value linearly over the stretched part (the re-planned run's own end value).
- :class:`Cooldown` (warmup-stable-decay branching; Hu et al., MiniCPM, 2024; Hägele et al., "Scaling Laws
  and Compute-Optimal Training Beyond Fixed Training Durations", 2024): from ``start`` on, decay from
  ``main(start)`` to ``floor`` over ``steps`` with one of the WSD decay shapes, then hold the floor.

Example::

    >>> from lr_recipes.schedules.base import Constant
    >>> s = Cooldown(Constant(1.0), start=4, steps=4, min_lr=0.0, shape="linear")
    >>> [s(t) for t in range(10)]
    [1.0, 1.0, 1.0, 1.0, 1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lr_recipes.schedules.base import Schedule
from lr_recipes.schedules.wsd import DecayShape, decay_shape

OnResume = Literal["error", "replan", "keep"]
"""What a resumed run does when its resolved plan differs from its checkpoint's: stop with both plans (``error``),
fit the rest of the schedule to the new end (``replan``, a :class:`Stretch`) or follow the old plan (``keep``)."""


@dataclass(frozen=True)
class Stretch(Schedule):
    """``main(t)`` before ``start``; after it, ``main(start + (t - start) * num / den)`` plus a linear ``shift``.

    Args:
        main: the schedule being re-planned (its own clock is the run's step).
        start: the resume step; the LR there is ``main(start)`` exactly.
        num: old steps left (``old_end - start``), or the old steps per epoch for an open-ended run.
        den: new steps left (``new_end - start``), or the new steps per epoch; ``> 0``.
        shift: added in full at ``start + den`` (0 at ``start``), to end at another end value; 0 by default.

    Example::

        >>> from lr_recipes.schedules.linear import Linear
        >>> old = Linear(base_lr=1.0, start_factor=1.0, end_factor=0.0, steps=10)
        >>> new = Stretch(old, start=6, num=4, den=8)  # 4 steps left, now 8
        >>> [round(new(t), 6) for t in (5, 6, 10, 14, 20)]
        [0.5, 0.4, 0.2, 0.0, 0.0]
    """

    main: Schedule
    start: int
    num: int
    den: int
    shift: float = 0.0

    def __post_init__(self) -> None:
        self._require_steps("start", "num", minimum=0)
        self._require_steps("den")

    @property
    def floor(self) -> float | None:
        """The stretched schedule's floor, moved by ``shift``."""
        floor = self.main.floor
        return None if floor is None else floor + self.shift

    def _clock(self, t: int) -> float:
        if t <= self.start:
            return t
        # (t - start) * num is an exact integer, so the new end maps onto the old end exactly; whole steps stay
        # ints for step-form recipes that index with them.
        q, r = divmod((t - self.start) * self.num, self.den)
        return self.start + q if r == 0 else self.start + (t - self.start) * self.num / self.den

    def __call__(self, t: int) -> float:
        lr = self.main(self._clock(t))  # type: ignore[arg-type]  # schedules accept real-valued steps
        if self.shift and t > self.start:
            lr += self.shift * min((t - self.start) / self.den, 1.0)
        return lr

    def momentum(self, t: int) -> float | None:
        return self.main.momentum(self._clock(t))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Cooldown(Schedule):
    """``main(t)`` before ``start``; then ``floor + (main(start) - floor) * decay_shape(p, shape)``.

    ``p = min((t - start) / steps, 1)``, the same arithmetic as :class:`~lr_recipes.schedules.WSD`'s decay, so a
    cooldown branched off a stable phase equals, step for step, a WSD run planned to end there. Momentum holds
    at its value of ``start`` during the decay.

    Args:
        main: the schedule to cool down.
        start: the first step of the decay (the LR there is still ``main(start)``).
        steps: decay length in optimizer steps (``>= 1``).
        min_lr: the LR at the end of the decay and after.
        shape: ``"linear"``, ``"cosine"`` or ``"1-sqrt"``.

    Example::

        >>> from lr_recipes.schedules.base import Constant
        >>> Cooldown(Constant(1.0), start=0, steps=4, min_lr=0.0, shape="1-sqrt")(1)
        0.5
    """

    main: Schedule
    start: int
    steps: int
    min_lr: float
    shape: DecayShape = "1-sqrt"

    def __post_init__(self) -> None:
        self._require_steps("start", minimum=0)
        self._require_steps("steps")
        self._require_lr("min_lr")
        self._require_choice("shape", DecayShape)

    @property
    def floor(self) -> float:
        """``min_lr``, reached at ``start + steps``."""
        return self.min_lr

    def __call__(self, t: int) -> float:
        if t < self.start:
            return self.main(t)
        p = min((t - self.start) / self.steps, 1.0)
        return self.min_lr + (self.main(self.start) - self.min_lr) * decay_shape(p, self.shape)

    def momentum(self, t: int) -> float | None:
        return self.main.momentum(min(t, self.start))
