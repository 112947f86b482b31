"""The schedule contract: the LR of one param group as a pure function of the optimizer step.

A :class:`Schedule` is a small frozen dataclass. ``schedule(t)`` returns the learning rate to use for
optimizer step ``t`` (0-based), computed from ``t`` alone, never from the previous LR, so resuming at
any step is bit-exact and any step can be drawn without running the steps before it. Schedules that
also cycle momentum (one-cycle, cyclic) return it from :meth:`Schedule.momentum`; the others return
``None`` and leave momentum alone.

This package never imports torch or Lightning: it is the math, testable in microseconds.

Example::

    >>> s = Constant(base_lr=0.1)
    >>> [s(t) for t in range(3)]
    [0.1, 0.1, 0.1]
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any, ClassVar, get_args


class ScheduleError(ValueError):
    """A schedule built with an argument it cannot use; the message names the class, the argument, the
    value and what is allowed.

    Example::

        >>> Constant(base_lr=-1.0)
        Traceback (most recent call last):
        ...
        lr_recipes.schedules.ScheduleError: Constant: base_lr=-1.0 is not allowed; allowed: a finite LR >= 0
    """

    # Shown in tracebacks as its public path, where users import it from.
    __module__ = "lr_recipes.schedules"


class Schedule:
    """Base class: ``__call__(t) -> lr`` for one param group, ``momentum(t) -> float | None``.

    Subclasses are frozen dataclasses holding plain numbers, so they pickle and compare by value, and check
    their arguments in ``__post_init__`` (raising :class:`ScheduleError`).

    A schedule also *declares* what :func:`lr_recipes.lint.lint` checks against the run, so a registered
    recipe gets the same lint as a built-in one: :attr:`floor` (the LR it means to end at),
    :attr:`cycle_steps` (the length of its repeating cycle), :attr:`warms_up` (it ramps up by itself) and
    :attr:`varies` (it is meant to move the LR). The defaults declare nothing.

    Example::

        >>> @dataclass(frozen=True)
        ... class Halving(Schedule):
        ...     base_lr: float
        ...     every: int
        ...     def __call__(self, t: int) -> float:
        ...         return self.base_lr * 0.5 ** (t // self.every)
        >>> Halving(1.0, 10)(25)
        0.25
    """

    warms_up: ClassVar[bool] = False
    """The schedule starts with its own ramp up (one-cycle), so a warmup prefix is a second one."""
    varies: ClassVar[bool] = True
    """The schedule is meant to move the LR (a constant one is not warned about never changing)."""

    def __call__(self, t: int) -> float:
        raise NotImplementedError

    @property
    def floor(self) -> float | None:
        """The LR the schedule decays to and should reach by the end of the run; ``None``: no such target.

        Example::

            >>> Constant(0.1).floor is None
            True
        """
        return None

    @property
    def cycle_steps(self) -> int | None:
        """Steps in one cycle of a schedule that repeats; a run should end on a cycle boundary.

        Example::

            >>> Constant(0.1).cycle_steps is None
            True
        """
        return None

    def momentum(self, t: int) -> float | None:
        """Momentum (or Adam's beta1) for step ``t``, or ``None`` to leave it unchanged.

        Example::

            >>> Constant(0.1).momentum(5) is None
            True
        """
        return None

    # Argument checks for ``__post_init__``; ``self._require(ok, "gamma", "> 0")`` names self's class.
    def _require(self, ok: bool, param: str, allowed: str) -> None:
        require(self, ok, param, allowed)

    def _require_choice(self, param: str, choices: Any) -> None:
        require_choice(self, param, choices)

    def _require_lr(self, *params: str) -> None:
        for param in params:
            value = getattr(self, param)
            finite = isinstance(value, (int, float)) and math.isfinite(value)
            require(self, finite and value >= 0, param, "a finite LR >= 0")

    def _require_steps(self, *params: str, minimum: int = 1) -> None:
        for param in params:
            value = getattr(self, param)
            whole = isinstance(value, int) and not isinstance(value, bool)
            require(self, whole and value >= minimum, param, f"an integer number of optimizer steps >= {minimum}")


def require(owner: object, ok: bool, param: str, allowed: str) -> None:
    """Raise :class:`ScheduleError` about ``owner``'s argument ``param`` unless ``ok``.

    Example::

        >>> require(Constant(0.1), False, "base_lr", "<= 0.05")
        Traceback (most recent call last):
        ...
        lr_recipes.schedules.ScheduleError: Constant: base_lr=0.1 is not allowed; allowed: <= 0.05
    """
    if not ok:
        value = getattr(owner, param)
        raise ScheduleError(f"{type(owner).__name__}: {param}={value!r} is not allowed; allowed: {allowed}")


def require_choice(owner: object, param: str, choices: Any) -> None:
    """Raise :class:`ScheduleError` unless ``owner``'s argument ``param`` is one of the ``Literal`` ``choices``;
    the message names the closest one.

    Example::

        >>> from typing import Literal
        >>> require_choice(Constant(0.1), "base_lr", Literal[0.1, 0.2])
    """
    value, allowed = getattr(owner, param), get_args(choices)
    if value not in allowed:
        close = difflib.get_close_matches(str(value), [str(c) for c in allowed], n=1, cutoff=0.5)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        require(owner, False, param, f"one of {', '.join(repr(c) for c in allowed)}{hint}")


@dataclass(frozen=True)
class Constant(Schedule):
    """The base LR at every step (useful behind a warmup). Matches ``ConstantLR(factor=1)``.

    Example::

        >>> Constant(base_lr=0.05)(1000)
        0.05
    """

    base_lr: float
    varies: ClassVar[bool] = False

    def __post_init__(self) -> None:
        self._require_lr("base_lr")

    def __call__(self, t: int) -> float:
        return self.base_lr


@dataclass(frozen=True)
class Scaled(Schedule):
    """Another schedule times a constant: ``factor * schedule(t)``, with the same momentum.

    The schedule of a param group that appears mid-run (``BaseFinetuning`` unfreezing a backbone): it
    follows the first group's schedule as a factor of its own LR at the moment it appeared.

    Example::

        >>> Scaled(Constant(0.1), factor=0.5)(7)
        0.05
    """

    schedule: Schedule
    factor: float

    def __call__(self, t: int) -> float:
        return self.factor * self.schedule(t)

    def momentum(self, t: int) -> float | None:
        """The wrapped schedule's momentum (momentum is not scaled).

        Example::

            >>> Scaled(Constant(0.1), factor=2.0).momentum(0) is None
            True
        """
        return self.schedule.momentum(t)
