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

from dataclasses import dataclass


class Schedule:
    """Base class: ``__call__(t) -> lr`` for one param group, ``momentum(t) -> float | None``.

    Subclasses are frozen dataclasses holding plain numbers, so they pickle and compare by value.

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

    def __call__(self, t: int) -> float:
        raise NotImplementedError

    def momentum(self, t: int) -> float | None:
        """Momentum (or Adam's beta1) for step ``t``, or ``None`` to leave it unchanged.

        Example::

            >>> Constant(0.1).momentum(5) is None
            True
        """
        return None


@dataclass(frozen=True)
class Constant(Schedule):
    """The base LR at every step (useful behind a warmup). Matches ``ConstantLR(factor=1)``.

    Example::

        >>> Constant(base_lr=0.05)(1000)
        0.05
    """

    base_lr: float

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
