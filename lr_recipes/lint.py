"""Lint a schedule for the mistakes that waste a run, from the LR curve it will actually produce.

Used by ``python -m lr_recipes plot`` and by :class:`~lr_recipes.LRSchedulerCallback` at fit start.

Example::

    >>> import torch, lr_recipes
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    >>> sched = lr_recipes.build("cosine", opt, total_steps=100, steps_per_epoch=10,
    ...                          warmup="60st", warmup_start_factor=0.0)["scheduler"]
    >>> for warning in lint(sched):
    ...     print(warning)
    warmup is 60 of 100 optimizer steps (60%): most of the run is spent warming up
    the LR is 0 on the first optimizer step (warmup_start_factor=0.0): that step is wasted
"""

from __future__ import annotations

from typing import Any

from lr_recipes.scheduler import PlateauScheduler, RecipeScheduler
from lr_recipes.schedules.horizon import Cooldown, Stretch
from lr_recipes.schedules.warmup import Warmup

_FLOORED = ("cosine", "cosine_restarts", "polynomial", "wsd")


def lr_curve(scheduler: RecipeScheduler | PlateauScheduler, steps: int) -> list[list[float]]:
    """The LR of every param group at optimizer steps ``0 .. steps-1`` (plateau: with no reductions).

    Example::

        >>> import torch, lr_recipes
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        >>> sched = lr_recipes.build("linear", opt, total_steps=4, steps_per_epoch=2)["scheduler"]
        >>> [round(row[0], 6) for row in lr_curve(sched, 4)]
        [0.1, 0.075, 0.05, 0.025]
    """
    if isinstance(scheduler, PlateauScheduler):
        saved = list(scheduler.reductions)
        scheduler.reductions = [0] * len(saved)
        try:
            return [scheduler.lr_at(t) for t in range(steps)]
        finally:
            scheduler.reductions = saved
    return [scheduler.lr_at(t) for t in range(steps)]


def lint(scheduler: Any) -> list[str]:
    """Warnings about the schedule of a scheduler built by :func:`lr_recipes.build` (others: none).

    Checks: warmup longer than half the run; an LR of 0 on the first step; an LR of 0 for more than a
    tenth of the run; a ``min_lr`` the run never reaches; ``onecycle`` with an extra warmup; a cyclic or
    restart schedule cut mid-cycle; a schedule that never changes the LR.

    Example::

        >>> import torch, lr_recipes
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        >>> lint(lr_recipes.build("cosine", opt, total_steps=100, steps_per_epoch=10)["scheduler"])
        []
    """
    if not isinstance(scheduler, (RecipeScheduler, PlateauScheduler)):
        return []
    spec = scheduler.recipe
    name, total = spec.get("name"), spec.get("total_steps")
    if not total:
        return []
    curve = lr_curve(scheduler, total)
    first, last = curve[0], curve[-1]
    peak = [max(row[g] for row in curve) for g in range(len(first))]
    out = []
    warmup_steps = _warmup_steps(scheduler)
    if warmup_steps > total / 2:
        out.append(
            f"warmup is {warmup_steps} of {total} optimizer steps ({100 * warmup_steps / total:.0f}%): "
            "most of the run is spent warming up"
        )
    if any(lr == 0.0 for lr in first):
        out.append(
            f"the LR is 0 on the first optimizer step (warmup_start_factor={spec.get('warmup_start_factor')}): "
            "that step is wasted"
        )
    zero_steps = sum(1 for row in curve if all(lr == 0.0 for lr in row))
    if zero_steps > total / 10:
        out.append(f"the LR is 0 for {zero_steps} of {total} optimizer steps")
    if name in _FLOORED:
        floors = [_main(s).min_lr for s in scheduler.schedules]
        for g, (lr, floor, top) in enumerate(zip(last, floors, peak, strict=True)):
            if lr > floor + 0.05 * (top - floor) + 1e-15:
                out.append(
                    f"min_lr {floor:.3g} is never reached in param group {g}: the last step's LR is {lr:.3g} "
                    f"({100 * lr / top:.0f}% of the peak); the run ends mid-cycle or the decay is too short"
                )
    if name == "onecycle" and warmup_steps:
        out.append("onecycle warms up by itself (pct_start); warmup adds a second ramp before it")
    if name == "cyclic":
        cycle = _cycle_steps(scheduler)
        if cycle and (total - warmup_steps) % cycle:
            out.append(
                f"the run ends mid-cycle ({(total - warmup_steps) % cycle} steps into a {cycle}-step cycle); "
                "the final LR is not the cycle's lowest"
            )
    if name not in ("constant", "plateau") and all(row == first for row in curve):
        out.append("the LR never changes during the run")
    return out


def _warmup_steps(scheduler: Any) -> int:
    if isinstance(scheduler, PlateauScheduler):
        return scheduler.warmup_steps
    first = scheduler.schedules[0]
    return first.steps if isinstance(first, Warmup) else 0


def _main(schedule: Any) -> Any:
    # Under the warmup and any resume phases (Stretch, Cooldown), which all wrap the recipe's schedule as .main.
    while isinstance(schedule, (Warmup, Stretch, Cooldown)):
        schedule = schedule.main
    return schedule


def _cycle_steps(scheduler: RecipeScheduler) -> int:
    inner = _main(scheduler.schedules[0])
    return getattr(inner, "up", 0) + getattr(inner, "down", 0)
