"""Reduce on plateau, as torch's ``ReduceLROnPlateau``, split into a rule and a small state.

The LR of a group after ``k`` reductions is the closed form ``max(base_lr * factor ** k, min_lr)``;
the only state is the reduction count of each group and torch's counters (best value, bad epochs,
cooldown). The rule is the one place that decides: :meth:`Plateau.decide` answers, without changing
anything, what one validation result would do (reduce? every group already at its floor? and why), the
way Lightning's ``EarlyStopping._evaluate_stopping_criteria`` does; :meth:`Plateau.observe` applies that
decision to the counters. The scheduler then counts a reduction for each group whose LR would fall by
more than ``eps``.

Example::

    >>> rule = Plateau(patience=1, factor=0.5)
    >>> state = PlateauState.fresh(rule)
    >>> [rule.observe(state, v) for v in (1.0, 0.9, 0.95, 0.93, 0.92)]
    [False, False, False, True, False]
    >>> rule.level(base_lr=0.1, min_lr=0.0, reductions=1)
    0.05
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

from lr_recipes.schedules.base import require, require_choice

PlateauMode = Literal["min", "max"]
"""Whether the monitored metric should fall (a loss) or rise (an accuracy)."""
ThresholdMode = Literal["rel", "abs"]
"""Whether ``threshold`` is relative to the best value or absolute."""


@dataclass
class PlateauState:
    """The mutable part of a plateau schedule; plain numbers, so it pickles and round-trips exactly.

    Example::

        >>> PlateauState.fresh(Plateau(mode="max")).best
        -inf
    """

    best: float
    num_bad_epochs: int = 0
    cooldown_counter: int = 0
    num_observations: int = 0

    @classmethod
    def fresh(cls, rule: Plateau) -> PlateauState:
        """A state before any validation: ``best`` is the worst possible value for ``rule.mode``.

        Example::

            >>> PlateauState.fresh(Plateau()).best
            inf
        """
        return cls(best=rule.worst)

    def as_dict(self) -> dict[str, float | int]:
        """The counters as a dict (for ``state_dict`` and logging).

        Example::

            >>> PlateauState(best=1.0).as_dict()["num_bad_epochs"]
            0
        """
        return asdict(self)


WARMING_UP = "warming up: the result only sets best"


@dataclass(frozen=True)
class PlateauDecision:
    """What one validation result does to a plateau schedule, decided before anything changes.

    ``reduce``: a reduction is due with this value; ``at_floor``: every param group is already at its
    ``min_lr`` (a reduction could not lower any of them); ``reason``: one line saying why, for logs.
    ``stop`` (a reduction is due and nothing is left to reduce) is what ``stop_on_min_lr`` acts on.

    Example::

        >>> PlateauDecision(reduce=True, at_floor=True, reason="...").stop
        True
    """

    reduce: bool
    at_floor: bool
    reason: str

    @property
    def stop(self) -> bool:
        """A reduction is due but every group is at its floor: the plateau persisted with nothing left to lower.

        Example::

            >>> PlateauDecision(reduce=False, at_floor=True, reason="").stop
            False
        """
        return self.reduce and self.at_floor


class DeferredDecision:
    """A decision made by a step, its reason text written only when read (a plateau stepped after every
    validation would otherwise format a sentence nobody may read): ``reduce``, ``at_floor`` and ``stop`` as in
    :class:`PlateauDecision`, :meth:`decision` the full one.

    Example::

        >>> rule, before = Plateau(patience=0), PlateauState(best=1.0)
        >>> after, due = rule.advance(before, 2.0)
        >>> deferred = DeferredDecision(rule, due, False, before, 2.0, after)
        >>> deferred.stop, deferred.reason
        (False, 'no improvement on best 1 for 1 validations (patience 0): reduce')
    """

    __slots__ = ("_args", "_decision", "at_floor", "reduce")

    def __init__(
        self,
        rule: Plateau,
        reduce: bool,
        at_floor: bool,
        before: PlateauState | None = None,
        value: float = math.nan,
        after: PlateauState | None = None,
    ) -> None:
        self.reduce, self.at_floor = reduce, at_floor
        self._args = (rule, before, value, after)  # before None: warming up
        self._decision: PlateauDecision | None = None

    @property
    def stop(self) -> bool:
        """See :attr:`PlateauDecision.stop`.

        Example::

            >>> DeferredDecision(Plateau(), reduce=True, at_floor=True).stop
            True
        """
        return self.reduce and self.at_floor

    @property
    def reason(self) -> str:
        """The one-line reason (:meth:`Plateau.explain`), written at the first read.

        Example::

            >>> DeferredDecision(Plateau(), reduce=False, at_floor=False).reason
            'warming up: the result only sets best'
        """
        return self.decision().reason

    def decision(self) -> PlateauDecision:
        """The :class:`PlateauDecision`, reason included.

        Example::

            >>> DeferredDecision(Plateau(), reduce=False, at_floor=True).decision().at_floor
            True
        """
        if self._decision is None:
            rule, before, value, after = self._args
            reason = WARMING_UP if before is None else rule.explain(before, value, after, self.reduce, self.at_floor)  # type: ignore[arg-type]
            self._decision = PlateauDecision(self.reduce, self.at_floor, reason)
        return self._decision


@dataclass(frozen=True)
class Plateau:
    """The plateau rule: when is a value an improvement, and when is a reduction due.

    Args:
        mode: ``"min"`` (the metric should fall, e.g. a loss) or ``"max"`` (e.g. an accuracy).
        factor: multiplier applied to the LR at each reduction, in ``(0, 1)``.
        patience: validations without improvement tolerated before a reduction.
        threshold: minimum change that counts as an improvement.
        threshold_mode: ``"rel"`` (relative to the best) or ``"abs"``.
        cooldown: validations to wait after a reduction before counting bad ones again.
        eps: a reduction smaller than this is skipped.

    Example::

        >>> Plateau(mode="min", threshold=0.1).is_better(0.85, best=1.0)
        True
    """

    mode: PlateauMode = "min"
    factor: float = 0.1
    patience: int = 10
    threshold: float = 1e-4
    threshold_mode: ThresholdMode = "rel"
    cooldown: int = 0
    eps: float = 1e-8

    def __post_init__(self) -> None:
        require_choice(self, "mode", PlateauMode)
        require_choice(self, "threshold_mode", ThresholdMode)
        require(self, 0.0 <= self.factor < 1.0, "factor", "0 <= factor < 1 (as ReduceLROnPlateau)")
        for name in ("patience", "cooldown"):
            value = getattr(self, name)
            whole = isinstance(value, int) and not isinstance(value, bool)
            require(self, whole and value >= 0, name, "an integer >= 0")
        require(self, self.threshold >= 0, "threshold", ">= 0")
        require(self, self.eps >= 0, "eps", ">= 0")

    @property
    def worst(self) -> float:
        """The value every real result improves on.

        Example::

            >>> Plateau(mode="min").worst
            inf
        """
        return math.inf if self.mode == "min" else -math.inf

    def is_better(self, a: float, best: float) -> bool:
        """Whether ``a`` improves on ``best`` by more than the threshold (NaN never does).

        Example::

            >>> Plateau(mode="max", threshold=0.0, threshold_mode="abs").is_better(2.0, best=1.0)
            True
        """
        if self.mode == "min":
            return a < best * (1.0 - self.threshold) if self.threshold_mode == "rel" else a < best - self.threshold
        return a > best * (self.threshold + 1.0) if self.threshold_mode == "rel" else a > best + self.threshold

    def advance(self, state: PlateauState, value: float) -> tuple[PlateauState, bool]:
        """The counters after one validation result, and whether a reduction is due; ``state`` is untouched.

        The same sequence of comparisons and counters as ``ReduceLROnPlateau.step``.

        Example::

            >>> rule = Plateau(patience=0)
            >>> after, due = rule.advance(PlateauState(best=1.0), 2.0)
            >>> due, after.num_bad_epochs, after.num_observations
            (True, 0, 1)
        """
        best, bad, cooldown = state.best, state.num_bad_epochs, state.cooldown_counter
        if self.is_better(value, best):
            best, bad = value, 0
        else:
            bad += 1
        if cooldown > 0:
            cooldown, bad = cooldown - 1, 0
        due = bad > self.patience
        if due:
            cooldown, bad = self.cooldown, 0
        return PlateauState(best, bad, cooldown, state.num_observations + 1), due

    def observe(self, state: PlateauState, value: float) -> bool:
        """Advance ``state`` in place by one validation result; ``True`` when a reduction is due now.

        Example::

            >>> rule, state = Plateau(patience=0), PlateauState(best=1.0)
            >>> rule.observe(state, 2.0)
            True
        """
        after, due = self.advance(state, value)
        state.best, state.num_bad_epochs = after.best, after.num_bad_epochs
        state.cooldown_counter, state.num_observations = after.cooldown_counter, after.num_observations
        return due

    def decide(
        self,
        state: PlateauState,
        value: float,
        lrs: Sequence[float],
        min_lrs: Sequence[float],
        *,
        warming_up: bool = False,
    ) -> PlateauDecision:
        """What ``value`` would do, without changing ``state``: reduce or not, at the floor or not, and why.

        Args:
            state: the counters before this result.
            value: the monitored value of this validation run (NaN counts as no improvement).
            lrs: each param group's plateau level now (its LR without warmup).
            min_lrs: each group's floor.
            warming_up: the LR is still warming up: results set ``best`` but never count as bad.

        Example::

            >>> rule = Plateau(patience=1, factor=0.5)
            >>> rule.decide(PlateauState(best=1.0, num_bad_epochs=1), 1.0, lrs=[0.1], min_lrs=[0.0]).reason
            'no improvement on best 1 for 2 validations (patience 1): reduce'
            >>> rule.decide(PlateauState(best=1.0, num_bad_epochs=1), 1.0, lrs=[0.1], min_lrs=[0.1]).stop
            True
        """
        at_floor = not any(self.can_lower(lr, floor) for lr, floor in zip(lrs, min_lrs, strict=True))
        if warming_up:
            return PlateauDecision(False, at_floor, WARMING_UP)
        after, due = self.advance(state, value)
        return PlateauDecision(due, at_floor, self.explain(state, value, after, due, at_floor))

    def explain(self, before: PlateauState, value: float, after: PlateauState, due: bool, at_floor: bool) -> str:
        """The one-line reason of a decision: ``before`` and ``after`` are the counters around ``value``
        (:meth:`advance`), ``due`` whether a reduction is due, ``at_floor`` whether every group is at its floor.

        Example::

            >>> rule = Plateau(patience=2)
            >>> before = PlateauState(best=1.0)
            >>> after, due = rule.advance(before, 0.5)
            >>> rule.explain(before, 0.5, after, due, at_floor=False)
            'improved on best 1'
        """
        if due:
            what = "reduce, but every group is at its min_lr" if at_floor else "reduce"
            return (
                f"no improvement on best {before.best:.6g} for {before.num_bad_epochs + 1} validations "
                f"(patience {self.patience}): {what}"
            )
        if self.is_better(value, before.best):
            return f"improved on best {before.best:.6g}"
        if before.cooldown_counter > 0:
            return f"in cooldown ({before.cooldown_counter} validations left)"
        return f"no improvement for {after.num_bad_epochs} validations (patience {self.patience})"

    def level(self, base_lr: float, min_lr: float, reductions: int) -> float:
        """The LR after ``reductions`` reductions: ``max(base_lr * factor ** reductions, min_lr)``.

        Example::

            >>> Plateau(factor=0.1).level(base_lr=1.0, min_lr=0.05, reductions=2)
            0.05
        """
        return max(base_lr * self.factor**reductions, min_lr)

    def can_reduce(self, base_lr: float, min_lr: float, reductions: int) -> bool:
        """Whether one more reduction lowers the LR by more than ``eps`` (torch's rule).

        Example::

            >>> Plateau(factor=0.1).can_reduce(base_lr=1.0, min_lr=1.0, reductions=0)
            False
        """
        old = self.level(base_lr, min_lr, reductions)
        return old - self.level(base_lr, min_lr, reductions + 1) > self.eps

    def can_lower(self, lr: float, min_lr: float) -> bool:
        """Whether a reduction would lower ``lr`` by more than ``eps``: ``False`` means it is at its floor.

        torch's ``ReduceLROnPlateau`` skips exactly these reductions.

        Example::

            >>> Plateau(factor=0.5).can_lower(0.1, min_lr=0.1), Plateau(factor=0.5).can_lower(0.1, min_lr=0.0)
            (False, True)
        """
        return lr - max(lr * self.factor, min_lr) > self.eps
