"""Assembly: :func:`build` turns a spec and an optimizer into Lightning's ``lr_scheduler`` config.

Example::

    >>> import torch
    >>> from lr_recipes.registry import build
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    >>> build("cosine", opt, total_steps=10, steps_per_epoch=5)["interval"]
    'step'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lr_recipes.registry.base import RecipeError, _plain, _show
from lr_recipes.registry.context import PlateauSpec, RecipeContext
from lr_recipes.registry.entries import get_recipe
from lr_recipes.registry.plan import Horizon, start_cooldown
from lr_recipes.registry.spec import _coerce_spec, _split_spec
from lr_recipes.registry.step_form import _step_form_schedules
from lr_recipes.schedules.base import Schedule
from lr_recipes.schedules.warmup import Warmup, WarmupShape
from lr_recipes.units import Duration, DurationError, Run


def build(
    spec: str | Mapping[str, Any],
    optimizer: Any,
    *,
    trainer: Any = None,
    total_steps: int | None = None,
    steps_per_epoch: int | None = None,
    **params: Any,
) -> dict[str, Any]:
    """Build the scheduler of ``spec`` for ``optimizer`` as a Lightning ``lr_scheduler`` config.

    Args:
        spec: a registered recipe's name or a spec dict ``{"name": ..., **params}``.
        optimizer: the torch optimizer; each param group keeps its own base LR (its ``lr`` now).
        trainer: the fitting ``Trainer``, to resolve durations against (use in ``configure_optimizers``).
        total_steps: optimizer steps in the run (instead of ``trainer``).
        steps_per_epoch: optimizer steps per epoch (instead of ``trainer``).
        **params: recipe parameters (merged over the spec dict's; giving one twice is an error).

    Returns:
        ``{"scheduler", "interval", "frequency", "name"}``, ``interval`` ``"step"``. A plateau recipe
        gives ``interval`` ``"epoch"`` (so Lightning's own stepping is right), ``monitor`` and
        ``reduce_on_plateau=True``; :class:`~lr_recipes.LRSchedulerCallback` then steps it after every
        validation instead. ``name`` is ``None``, so LR logs keep Lightning's ``lr-<Optimizer>`` keys.

    Raises:
        RecipeError: for any spec that does not fit; the message names the parameter, the value and
            what is allowed.

    Example::

        >>> import torch
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        >>> cfg = build({"name": "multistep", "milestones": ["3ep", "6ep"]}, opt, total_steps=90,
        ...             steps_per_epoch=10)
        >>> [round(lr, 6) for lr in (cfg["scheduler"].lr_at(29)[0], cfg["scheduler"].lr_at(30)[0])]
        [0.1, 0.01]
    """
    name, spec = _split_spec(spec, params)  # from here on, spec holds the parameters only
    rec = get_recipe(name)
    spec = _coerce_spec(rec, spec)
    run = _resolve_run(trainer, total_steps, steps_per_epoch)
    base_lrs = [float(g.get("initial_lr", g["lr"])) for g in optimizer.param_groups]
    for i, base in enumerate(base_lrs):
        if not (math.isfinite(base) and base >= 0):
            raise RecipeError(f"param group {i} has lr={base}; a base LR must be finite and >= 0")
    horizon = Horizon.pop_from(spec, plateau=rec.plateau)
    planner = Planner(name, spec, horizon)
    resolved = planner.resolve(run, base_lrs)
    resolved.plan.update(_trainer_limits(trainer))
    # Plain values only: this dict goes into checkpoints, which torch.load(weights_only=True) must read.
    full_spec = {"name": name, **{k: _plain(v) for k, v in spec.items()}}
    full_spec.update(horizon.as_spec())
    full_spec.update(total_steps=run.total_steps, steps_per_epoch=run.steps_per_epoch)

    if rec.plateau:
        from lr_recipes.scheduler import PlateauScheduler

        plateau = resolved.plateau
        assert plateau is not None
        scheduler: Any = PlateauScheduler(
            optimizer,
            plateau.rule,
            plateau.min_lrs,
            warmup_steps=resolved.warmup_steps,
            warmup_start_factor=spec["warmup_start_factor"],
            warmup_shape=spec["warmup_shape"],
            recipe=full_spec,
        )
        scheduler.attach_plan(planner, resolved.plan)
        return {
            "scheduler": scheduler,
            "interval": "epoch",
            "frequency": 1,
            "name": None,
            "monitor": plateau.monitor,
            "reduce_on_plateau": True,
            "strict": True,
        }

    from lr_recipes.scheduler import RecipeScheduler, has_momentum

    schedules = resolved.schedules
    if any(s.momentum(0) is not None for s in schedules) and not has_momentum(optimizer):
        raise RecipeError(
            f"recipe {name!r}: cycle_momentum=True needs an optimizer with momentum or betas; "
            f"{type(optimizer).__name__} has neither (set cycle_momentum: false)"
        )
    # A cooldown placed with cooldown_start is part of this run's own plan; one at the resume step waits for it.
    schedules, horizon_state = start_cooldown(planner, resolved, run, base_lrs, resume_step=None)
    scheduler = RecipeScheduler(optimizer, schedules, recipe=full_spec)
    scheduler.attach_plan(planner, resolved.plan, horizon_state)
    return {
        "scheduler": scheduler,
        "interval": "step",
        "frequency": 1,
        "name": None,
    }


@dataclass(frozen=True)
class Planner:
    """Resolves a recipe spec against any run: what ``build`` uses once and a resumed scheduler uses again.

    A scheduler keeps its planner (not in its state: the state stays plain values) so that
    ``load_state_dict`` can rebuild the checkpoint's schedules for the checkpoint's run and compare plans.

    Args:
        name: the recipe's name.
        spec: its coerced parameters (warmup ones included, horizon ones not).
        horizon: the ``on_resume`` / ``cooldown*`` parameters.

    Example::

        >>> from lr_recipes.registry.entries import get_recipe
        >>> from lr_recipes.registry.spec import _coerce_spec
        >>> spec = _coerce_spec(get_recipe("cosine"), {"warmup": "1ep"})
        >>> horizon = Horizon.pop_from(spec)
        >>> Planner("cosine", spec, horizon).resolve(Run(100, 10), [0.1]).plan["steps"]
        {'warmup': 10, 'duration': 90}
    """

    name: str
    spec: dict[str, Any]
    horizon: Horizon

    def resolve(self, run: Run, base_lrs: list[float], spec: Mapping[str, Any] | None = None) -> Resolved:
        """The schedules (or plateau rule) of ``spec`` (this planner's by default) for ``run``, and its plan.

        Args:
            run: the run to resolve the durations against.
            base_lrs: each param group's base LR.
            spec: a saved full spec (plain values, as in a checkpoint) to resolve instead.

        Example::

            >>> from lr_recipes.registry.entries import get_recipe
            >>> from lr_recipes.registry.spec import _coerce_spec
            >>> spec = _coerce_spec(get_recipe("constant"), {})
            >>> p = Planner("constant", spec, Horizon.pop_from(spec))
            >>> p.resolve(Run(10, 5), [0.1], {"name": "constant", "total_steps": 10}).plan["total_steps"]
            10
        """
        rec = get_recipe(self.name)
        if spec is None:
            params = dict(self.spec)
        else:
            params = _coerce_spec(rec, {k: v for k, v in spec.items() if k in rec.params and k != "name"})
            Horizon.pop_from(params, plateau=rec.plateau)
        return _resolve(rec, params, run, base_lrs)


@dataclass
class Resolved:
    """One resolution of a recipe: its schedules (or plateau spec), warmup, floors and plan (plain values).

    Example::

        >>> Resolved([], None, 0, [0.0], {"steps": {}}).warmup_steps
        0
    """

    schedules: list[Schedule]
    plateau: PlateauSpec | None
    warmup_steps: int
    floors: list[float]
    plan: dict[str, Any]


def _resolve(rec: Any, spec: dict[str, Any], run: Run, base_lrs: list[float]) -> Resolved:
    spec = dict(spec)
    warmup, start_factor, shape = (
        spec.pop("warmup"),
        spec.pop("warmup_start_factor"),
        spec.pop("warmup_shape"),
    )
    ctx = RecipeContext(rec.name, run, base_lrs, spec=dict(spec))
    warmup_steps = _warmup_steps(ctx, warmup, start_factor, shape)
    ctx.warmup_steps = warmup_steps
    plateau: PlateauSpec | None = None
    schedules: list[Schedule] = []
    if rec.plateau:
        plateau = rec.factory(ctx, **spec)
    else:
        schedules = _step_form_schedules(rec, ctx, spec) if rec.step_form else list(rec.factory(ctx, **spec))
        if len(schedules) != len(base_lrs):
            raise RecipeError(
                f"recipe {rec.name!r} returned {len(schedules)} schedules for {len(base_lrs)} param groups"
            )
        if warmup_steps:
            schedules = [Warmup(s, warmup_steps, start_factor, shape) for s in schedules]
    # What a cooldown decays to: the floor each schedule declares (its min_lr), 0 where it declares none.
    floors = [_floor(s) for s in schedules] if schedules else [0.0] * len(base_lrs)
    plan = {"total_steps": run.total_steps, "steps_per_epoch": run.steps_per_epoch, "steps": dict(ctx.resolved)}
    return Resolved(schedules, plateau, warmup_steps, floors, plan)


def _floor(schedule: Schedule) -> float:
    while isinstance(schedule, Warmup):
        schedule = schedule.main
    floor = schedule.floor
    return 0.0 if floor is None else float(floor)


def _trainer_limits(trainer: Any) -> dict[str, Any]:
    # Where a resumed run really ends when its steps per epoch changed (another world size): by max_epochs.
    if trainer is None:
        return {"max_epochs": None, "max_steps": None}
    return {"max_epochs": getattr(trainer, "max_epochs", None), "max_steps": getattr(trainer, "max_steps", None)}


def _resolve_run(trainer: Any, total_steps: int | None, steps_per_epoch: int | None) -> Run:
    if trainer is not None:
        if total_steps is not None or steps_per_epoch is not None:
            raise RecipeError("give either trainer= or total_steps= and steps_per_epoch=, not both")
        try:
            return Run.from_trainer(trainer)
        except DurationError as err:
            raise RecipeError(str(err)) from None
    if total_steps is None or steps_per_epoch is None:
        raise RecipeError(
            "durations are resolved against the run: give trainer= (inside configure_optimizers: "
            "trainer=self.trainer) or both total_steps= and steps_per_epoch= "
            f"(got total_steps={total_steps}, steps_per_epoch={steps_per_epoch})"
        )
    for pname, value in (("total_steps", total_steps), ("steps_per_epoch", steps_per_epoch)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise RecipeError(f"{pname}={value!r} must be a positive integer number of optimizer steps")
    return Run(total_steps=total_steps, steps_per_epoch=steps_per_epoch)


def _warmup_steps(ctx: RecipeContext, warmup: Duration | None, start_factor: float, shape: WarmupShape) -> int:
    ctx.check(0.0 <= start_factor <= 1.0, "warmup_start_factor", start_factor, "0 <= warmup_start_factor <= 1")
    if shape == "exponential" and start_factor == 0.0:
        raise ctx.fail("warmup_start_factor", start_factor, "> 0 with warmup_shape='exponential'")
    if warmup is None:
        return 0
    steps = ctx.steps(warmup, "warmup", clock="run", minimum=0)
    total = ctx.run.total_steps
    if total is not None and steps >= total:
        raise RecipeError(
            f"recipe {ctx.recipe!r}: warmup={_show(warmup)} is {steps} optimizer steps, as long as or longer than "
            f"the whole run ({total} steps); allowed: warmup shorter than the run"
        )
    return steps
