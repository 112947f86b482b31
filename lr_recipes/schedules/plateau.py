"""Reduce on plateau, as torch's ``ReduceLROnPlateau``, split into a rule and a small state.

The LR of a group after ``k`` reductions is the closed form ``max(base_lr * factor ** k, min_lr)``;
the only state is the reduction count of each group and torch's counters (best value, bad epochs,
cooldown). :meth:`Plateau.observe` advances the counters by one validation result and says whether a
reduction is due; the scheduler then counts it for each group whose LR would fall by more than ``eps``.

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

    def observe(self, state: PlateauState, value: float) -> bool:
        """Advance ``state`` by one validation result; ``True`` when a reduction is due now.

        The same sequence of comparisons and counters as ``ReduceLROnPlateau.step``.

        Example::

            >>> rule, state = Plateau(patience=0), PlateauState(best=1.0)
            >>> rule.observe(state, 2.0)
            True
        """
        state.num_observations += 1
        if self.is_better(value, state.best):
            state.best = value
            state.num_bad_epochs = 0
        else:
            state.num_bad_epochs += 1
        if state.cooldown_counter > 0:
            state.cooldown_counter -= 1
            state.num_bad_epochs = 0
        if state.num_bad_epochs > self.patience:
            state.cooldown_counter = self.cooldown
            state.num_bad_epochs = 0
            return True
        return False

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
