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

from lr_recipes.schedule_free import is_schedule_free
from lr_recipes.scheduler import PlateauScheduler, RecipeScheduler
from lr_recipes.schedules.base import Schedule
from lr_recipes.schedules.warmup import Warmup


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
    tenth of the run; and, from what each schedule declares (see :class:`~lr_recipes.schedules.Schedule`),
    a :attr:`~lr_recipes.schedules.Schedule.floor` the run never reaches, a warmup in front of a schedule
    that :attr:`~lr_recipes.schedules.Schedule.warms_up` by itself, a run that ends mid-cycle
    (:attr:`~lr_recipes.schedules.Schedule.cycle_steps`), and an LR that never changes although the
    schedule :attr:`~lr_recipes.schedules.Schedule.varies`. A registered recipe whose schedules declare these
    gets the same checks as the built-in ones.

    Example::

        >>> import torch, lr_recipes
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        >>> lint(lr_recipes.build("cosine", opt, total_steps=100, steps_per_epoch=10)["scheduler"])
        []
    """
    if not isinstance(scheduler, (RecipeScheduler, PlateauScheduler)):
        return []
    spec = scheduler.recipe
    total = spec.get("total_steps")
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
    if isinstance(scheduler, PlateauScheduler):
        return out  # its LR depends on the metric: the curve without reductions is flat by design
    mains = [_main(s) for s in scheduler.schedules]
    for g, (lr, main, top) in enumerate(zip(last, mains, peak, strict=True)):
        floor = main.floor
        if floor is not None and lr > floor + 0.05 * (top - floor) + 1e-15:
            out.append(
                f"min_lr {floor:.3g} is never reached in param group {g}: the last step's LR is {lr:.3g} "
                f"({100 * lr / top:.0f}% of the peak); the run ends mid-cycle or the decay is too short"
            )
    if warmup_steps and mains[0].warms_up:
        out.append(f"{spec.get('name')} warms up by itself; warmup adds a second ramp before it")
    cycle = mains[0].cycle_steps
    if cycle and (total - warmup_steps) % cycle:
        out.append(
            f"the run ends mid-cycle ({(total - warmup_steps) % cycle} steps into a {cycle}-step cycle); "
            "the final LR is not the cycle's lowest"
        )
    if any(main.varies for main in mains) and all(row == first for row in curve):
        out.append("the LR never changes during the run")
    return out + schedule_free_lint(scheduler)


def _warmup_steps(scheduler: Any) -> int:
    if isinstance(scheduler, PlateauScheduler):
        return scheduler.warmup_steps
    first = scheduler.schedules[0]
    return first.steps if isinstance(first, Warmup) else 0


def _main(schedule: Schedule) -> Schedule:
    return schedule.main if isinstance(schedule, Warmup) else schedule


def schedule_free_double_warmup(scheduler: Any) -> str | None:
    """The problem when a schedule-free optimizer's own warmup gets a second one from the recipe, else ``None``.

    ``schedulefree`` optimizers warm up by themselves (``warmup_steps``); a recipe warmup, or a schedule that
    ramps up by itself (``onecycle``), on top multiplies two ramps. :class:`~lr_recipes.RecipeModule` refuses
    it before training.

    Example::

        >>> import torch, lr_recipes, schedulefree
        >>> opt = schedulefree.SGDScheduleFree([torch.nn.Parameter(torch.zeros(1))], lr=1.0, warmup_steps=100)
        >>> sched = lr_recipes.build("constant", opt, total_steps=1000, steps_per_epoch=10, warmup="5ep")
        >>> print(schedule_free_double_warmup(sched["scheduler"]))  # doctest: +ELLIPSIS
        SGDScheduleFree warms up by itself (warmup_steps=100) and the recipe adds a second warmup (50 steps): ...
    """
    optimizer = getattr(scheduler, "optimizer", None)
    if not isinstance(scheduler, (RecipeScheduler, PlateauScheduler)) or not is_schedule_free(optimizer):
        return None
    own = max(int(g.get("warmup_steps", 0) or 0) for g in optimizer.param_groups)
    theirs = _warmup_steps(scheduler)
    ramps = isinstance(scheduler, RecipeScheduler) and _main(scheduler.schedules[0]).warms_up
    if not own or not (theirs or ramps):
        return None
    extra = f"a second warmup ({theirs} steps)" if theirs else f"{scheduler.recipe.get('name')}'s own ramp"
    return (
        f"{type(optimizer).__name__} warms up by itself (warmup_steps={own}) and the recipe adds {extra}: set the "
        "recipe's warmup to 0 (schedule: {name: constant}) or the optimizer's warmup_steps to 0"
    )


def schedule_free_lint(scheduler: Any) -> list[str]:
    """Warnings for a schedule-free optimizer: a doubled warmup, or a recipe that decays its LR.

    Example::

        >>> import torch, lr_recipes
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        >>> schedule_free_lint(lr_recipes.build("cosine", opt, total_steps=10, steps_per_epoch=5)["scheduler"])
        []
    """
    optimizer = getattr(scheduler, "optimizer", None)
    if not isinstance(scheduler, (RecipeScheduler, PlateauScheduler)) or not is_schedule_free(optimizer):
        return []
    out = [problem] if (problem := schedule_free_double_warmup(scheduler)) else []
    if scheduler.recipe.get("name") != "constant":
        out.append(
            f"{type(optimizer).__name__} is schedule-free: its iterate averaging replaces the decay, so a "
            f"{scheduler.recipe.get('name')!r} schedule is usually not needed (use schedule: {{name: constant}})"
        )
    return out
