"""The 1cycle policy (Smith & Topin, "Super-Convergence", 2018), as torch's ``OneCycleLR``.

The LR rises from ``max_lr / div_factor`` to ``max_lr`` over the first ``pct_start`` of the cycle, then
anneals to ``max_lr / div_factor / final_div_factor``; momentum moves the opposite way. Same numbers as
``OneCycleLR`` for every step of the cycle, with two fixes: stepping past the end holds the final LR
(torch raises "Tried to step N+1 times") and the last step never turns back up (torch's cosine
continues past ``pct = 1`` at step ``total_steps``).

Example::

    >>> s = OneCycle(max_lr=1.0, steps=10, pct_start=0.3)
    >>> round(s(0), 6), s(2), round(s(9), 6), round(s(50), 6)
    (0.04, 1.0, 4e-06, 4e-06)
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from lr_recipes.schedules.base import Schedule

OneCycleAnneal = Literal["cos", "linear"]
"""How each phase moves between its end points: half a cosine or a straight line (``anneal_strategy``)."""


def _anneal(start: float, end: float, pct: float, how: OneCycleAnneal) -> float:
    if how == "cos":
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
    return (end - start) * pct + start


@dataclass(frozen=True)
class OneCycle(Schedule):
    """One cycle over ``steps`` optimizer steps; see the module docstring.

    Args:
        max_lr: peak LR.
        steps: length of the cycle in optimizer steps.
        pct_start: fraction of the cycle spent rising.
        anneal: ``"cos"`` or ``"linear"``.
        div_factor: initial LR is ``max_lr / div_factor``.
        final_div_factor: final LR is the initial LR divided by this.
        three_phase: rise, fall back to the initial LR symmetrically, then anneal to the final LR.
        cycle_momentum: move momentum between ``max_momentum`` and ``base_momentum`` inversely to the LR.
        base_momentum: momentum at the LR peak.
        max_momentum: momentum at the LR minimum.

    Example::

        >>> OneCycle(max_lr=0.1, steps=100).momentum(0)
        0.95
    """

    max_lr: float
    steps: int
    pct_start: float = 0.3
    anneal: OneCycleAnneal = "cos"
    div_factor: float = 25.0
    final_div_factor: float = 1e4
    three_phase: bool = False
    cycle_momentum: bool = True
    base_momentum: float = 0.85
    max_momentum: float = 0.95
    # (end_step, start_lr, end_lr, start_momentum, end_momentum) of each phase, as torch lays them out.
    _phases: tuple[tuple[float, float, float, float, float], ...] = field(init=False, repr=False)
    warms_up: ClassVar[bool] = True

    def __post_init__(self) -> None:
        self._require_lr("max_lr")
        self._require_steps("steps")
        limit = 0.5 if self.three_phase else 1.0
        self._require(0.0 < self.pct_start < limit, "pct_start", f"0 < pct_start < {limit}")
        self._require_choice("anneal", OneCycleAnneal)
        self._require(self.div_factor > 0, "div_factor", "> 0")
        self._require(self.final_div_factor > 0, "final_div_factor", "> 0")
        if self.cycle_momentum:
            self._require(
                self.base_momentum <= self.max_momentum, "base_momentum", f"<= max_momentum ({self.max_momentum})"
            )
        initial = self.max_lr / self.div_factor
        final = initial / self.final_div_factor
        hi, lo = self.max_momentum, self.base_momentum
        rise_end = float(self.pct_start * self.steps) - 1
        if self.three_phase:
            phases = (
                (rise_end, initial, self.max_lr, hi, lo),
                (float(2 * self.pct_start * self.steps) - 2, self.max_lr, initial, lo, hi),
                (self.steps - 1.0, initial, final, hi, hi),
            )
        else:
            phases = (
                (rise_end, initial, self.max_lr, hi, lo),
                (self.steps - 1.0, self.max_lr, final, lo, hi),
            )
        ends = [0.0] + [end for end, *_ in phases]  # _at divides by each phase's length
        self._require(
            all(b > a for a, b in itertools.pairwise(ends)),
            "steps",
            f"enough steps for every phase at pct_start={self.pct_start}",
        )
        object.__setattr__(self, "_phases", phases)

    @property
    def floor(self) -> float:
        """The final LR, ``max_lr / div_factor / final_div_factor``, reached at the last step of the cycle."""
        return self._phases[-1][2]

    def _at(self, t: int, lr: bool) -> float:
        start = 0.0
        for i, (end, lr0, lr1, m0, m1) in enumerate(self._phases):
            if t <= end or i == len(self._phases) - 1:
                pct = min((t - start) / (end - start), 1.0)
                return _anneal(lr0, lr1, pct, self.anneal) if lr else _anneal(m0, m1, pct, self.anneal)
            start = end
        raise AssertionError("unreachable: the last phase always matches")

    def __call__(self, t: int) -> float:
        return self._at(t, lr=True)

    def momentum(self, t: int) -> float | None:
        return self._at(t, lr=False) if self.cycle_momentum else None
