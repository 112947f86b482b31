"""A run's plan and what a resumed run does when the plan changed: ``on_resume`` and ``cooldown``.

A *plan* is what a recipe's durations resolved to for one run, as plain values (it goes into checkpoints)::

    {"total_steps": 1000, "steps_per_epoch": 100, "max_epochs": 10, "max_steps": -1, "end": 1000,
     "steps": {"warmup": 100, "duration": 900}}

``steps`` holds every duration the recipe resolved (by parameter, in optimizer steps); two runs have the same
schedule exactly when their ``steps`` agree. On resume, :func:`resume_plan` compares the checkpoint's plan with
the new run's and, when they differ, follows ``on_resume``:

- ``error`` (default): :class:`PlanChangedError`, before the first step, showing both plans and the ways out;
- ``replan``: the LR (and cycled momentum) of the resume step is kept and the rest of the checkpoint's schedule
  is stretched (or squeezed) to end where the new run ends, at the same end value
  (:class:`~lr_recipes.schedules.horizon.Stretch`); a run whose end is unknown keeps its durations in epochs;
- ``keep``: the checkpoint's schedule, step for step (it ends where it was planned and holds).

``cooldown: <duration>`` branches off instead: the checkpoint's schedule up to the resume step (or
``cooldown_start``), then a decay to the recipe's floor over that duration
(:class:`~lr_recipes.schedules.horizon.Cooldown`). The phases applied are stored with the checkpoint's spec and
plan (the *base*), so resuming a re-planned or cooled-down run again rebuilds the same closed form, bit-exactly.

Example::

    >>> print(describe_plan({"total_steps": 100, "steps_per_epoch": 10, "steps": {"duration": 100}}))
    100 optimizer steps (10 per epoch); duration=100
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lr_recipes.registry.base import HORIZON_PARAMS, RecipeError, _plain
from lr_recipes.schedules.base import Schedule
from lr_recipes.schedules.horizon import Cooldown, Stretch
from lr_recipes.units import Duration, DurationError, Run

_PLAN_KEYS = ("total_steps", "steps_per_epoch")


class PlanChangedError(RecipeError):
    """A resumed run resolves to another plan than its checkpoint's and ``on_resume`` says nothing.

    Example::

        >>> issubclass(PlanChangedError, ValueError)
        True
    """

    __module__ = "lr_recipes.registry"


@dataclass(frozen=True)
class Horizon:
    """The horizon parameters of a spec: ``on_resume``, ``cooldown``, ``cooldown_start``, ``cooldown_shape``.

    Example::

        >>> spec = {"duration": None, "on_resume": "replan"}
        >>> Horizon.pop_from(spec).on_resume, spec
        ('replan', {'duration': None})
    """

    on_resume: str = "error"
    cooldown: Duration | None = None
    cooldown_start: Duration | None = None
    cooldown_shape: str = "1-sqrt"
    plateau: bool = False

    @classmethod
    def pop_from(cls, spec: dict[str, Any], *, plateau: bool = False) -> Horizon:
        """Take the horizon parameters out of a coerced spec (a plateau's ``cooldown`` is its own: left in).

        Example::

            >>> Horizon.pop_from({"cooldown": 2}, plateau=True).cooldown is None
            True
        """
        keys = ("on_resume",) if plateau else tuple(HORIZON_PARAMS)
        values = {k: spec.pop(k) for k in keys if k in spec}
        for key in ("cooldown", "cooldown_start"):
            if isinstance(values.get(key), str):
                values[key] = Duration.parse(values[key], param=key)
        return cls(**values, plateau=plateau)

    def as_spec(self) -> dict[str, Any]:
        """Plain values for the checkpoint's spec.

        Example::

            >>> Horizon(cooldown=Duration(5, "st")).as_spec()["cooldown"]
            '5st'
        """
        out: dict[str, Any] = {"on_resume": self.on_resume}
        if not self.plateau:
            out["cooldown"] = None if self.cooldown is None else str(self.cooldown)
            out["cooldown_start"] = None if self.cooldown_start is None else str(self.cooldown_start)
            out["cooldown_shape"] = self.cooldown_shape
        return out


def describe_plan(plan: Mapping[str, Any]) -> str:
    """One line: the run's length, its epoch length and every resolved duration.

    Example::

        >>> describe_plan({"total_steps": None, "steps_per_epoch": None, "steps": {}})
        'an open-ended run (steps per epoch unknown); no durations'
    """
    total, per_epoch = plan.get("total_steps"), plan.get("steps_per_epoch")
    length = "an open-ended run" if total is None else f"{total} optimizer steps"
    epoch = "steps per epoch unknown" if per_epoch is None else f"{per_epoch} per epoch"
    steps = plan.get("steps") or {}
    durations = ", ".join(f"{k}={v}" for k, v in steps.items()) or "no durations"
    end = plan.get("end")
    ends = f", ends at step {end}" if end is not None and end != total else ""
    return f"{length} ({epoch}{ends}); {durations}"


def plan_changed(saved: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether two plans give different schedules: some resolved duration differs.

    A longer run of a recipe whose durations do not depend on its length (``step`` every "30ep") is the same
    plan; another steps per epoch with durations in epochs is not.

    Example::

        >>> plan_changed({"steps": {"duration": 90}}, {"steps": {"duration": 190}})
        True
    """
    return dict(saved.get("steps") or {}) != dict(new.get("steps") or {})


def plan_end(plan: Mapping[str, Any]) -> int | None:
    """The step a plan's run ends at (``end`` if set, else its total).

    Example::

        >>> plan_end({"total_steps": 100, "end": 80}), plan_end({"total_steps": 100})
        (80, 100)
    """
    end = plan.get("end")
    return plan.get("total_steps") if end is None else end


def run_end(new: Mapping[str, Any], saved: Mapping[str, Any], resume_step: int) -> int | None:
    """Where a resumed run really ends: its total, unless its steps per epoch changed in a run bounded by epochs.

    Lightning counts the global step on from the checkpoint and the epochs on from the checkpoint's epoch, so a
    run resumed on half the processes (twice the steps per epoch) does its remaining epochs at the new epoch
    length: it ends at ``resume_step + (max_epochs - epochs done) * new steps per epoch``.

    Example::

        >>> run_end({"total_steps": 800, "steps_per_epoch": 40, "max_epochs": 20, "max_steps": -1},
        ...         {"steps_per_epoch": 20}, resume_step=200)
        600
    """
    total = new.get("total_steps")
    old_epoch, new_epoch, max_epochs = saved.get("steps_per_epoch"), new.get("steps_per_epoch"), new.get("max_epochs")
    if total is None or not old_epoch or not new_epoch or old_epoch == new_epoch or max_epochs in (None, -1):
        return total
    by_epochs = resume_step + max(round((max_epochs - resume_step / old_epoch) * new_epoch), 0)
    max_steps = new.get("max_steps")
    return by_epochs if max_steps in (None, -1) else min(by_epochs, max_steps)


def apply_phases(schedules: list[Schedule], phases: list[Mapping[str, Any]]) -> list[Schedule]:
    """The base schedules with each stored phase (``stretch``, ``keep``, ``cooldown``) applied in order.

    Example::

        >>> from lr_recipes.schedules import Constant
        >>> [s(9) for s in apply_phases([Constant(1.0)], [{"kind": "cooldown", "start": 5, "steps": 4,
        ...                                                "floor": [0.0], "shape": "linear"}])]
        [0.0]
    """
    out = list(schedules)
    for phase in phases:
        kind = phase["kind"]
        if kind == "stretch":
            out = [
                Stretch(s, phase["start"], phase["num"], phase["den"], shift)
                for s, shift in zip(out, phase["shift"], strict=True)
            ]
        elif kind == "cooldown":
            out = [
                Cooldown(s, phase["start"], phase["steps"], floor, phase["shape"])
                for s, floor in zip(out, phase["floor"], strict=True)
            ]
        elif kind != "keep":
            raise ValueError(f"unknown horizon phase {kind!r} in a checkpoint; allowed: stretch, keep, cooldown")
    return out


def _resolve_point(value: Duration, param: str, plan: Mapping[str, Any], recipe: str, minimum: int) -> int:
    try:
        n = value.to_steps(plan.get("total_steps"), plan.get("steps_per_epoch"), param=param)
    except DurationError as err:
        raise RecipeError(f"recipe {recipe!r}: {err}") from None
    if n < minimum:
        raise RecipeError(f"recipe {recipe!r}: {param}={str(value)!r} is {n} optimizer steps; allowed: >= {minimum}")
    return n


def cooldown_window(horizon: Horizon, plan: Mapping[str, Any], recipe: str, resume_step: int | None) -> tuple[int, int]:
    """``(start, steps)`` of the cooldown, resolved against ``plan`` (the checkpoint's when resuming).

    Raises:
        RecipeError: when the cooldown would start before the resume step, or has no start.

    Example::

        >>> cooldown_window(Horizon(cooldown=Duration(2, "ep")), {"total_steps": 100, "steps_per_epoch": 10},
        ...                 "wsd", resume_step=40)
        (40, 20)
    """
    assert horizon.cooldown is not None
    steps = _resolve_point(horizon.cooldown, "cooldown", plan, recipe, minimum=1)
    if horizon.cooldown_start is not None:
        start = _resolve_point(horizon.cooldown_start, "cooldown_start", plan, recipe, minimum=0)
        if resume_step is not None and start < resume_step:
            raise RecipeError(
                f"recipe {recipe!r}: cooldown_start={str(horizon.cooldown_start)!r} is step {start}, before the "
                f"resume step {resume_step}; allowed: a step at or after it (or leave cooldown_start out)"
            )
        return start, steps
    if resume_step is None:
        raise RecipeError(
            f"recipe {recipe!r}: cooldown={str(horizon.cooldown)!r} starts at the resume step, and this run does not "
            "resume a checkpoint; give --ckpt_path (fit ... --ckpt_path <checkpoint>) or cooldown_start"
        )
    return resume_step, steps


def start_cooldown(
    planner: Any, resolved: Any, run: Run, base_lrs: list[float], resume_step: int | None
) -> tuple[list[Schedule], dict[str, Any] | None]:
    """At build time: the schedules with a cooldown at ``cooldown_start`` applied (nothing to do otherwise).

    A cooldown without ``cooldown_start`` waits for ``load_state_dict`` (the resume step).

    Example::

        >>> # start_cooldown(planner, resolved, run, base_lrs, None) -> (schedules, horizon state or None)
    """
    horizon: Horizon = planner.horizon
    if horizon.cooldown is None or horizon.cooldown_start is None:
        return resolved.schedules, None
    start, steps = cooldown_window(horizon, resolved.plan, planner.name, resume_step)
    phases = [_cooldown_phase(start, steps, resolved.floors, horizon.cooldown_shape)]
    resolved.plan["end"] = start + steps
    base = {"spec": None, "plan": dict(resolved.plan), "base_lrs": list(base_lrs)}
    return apply_phases(resolved.schedules, phases), {"base": base, "phases": phases}


def _cooldown_phase(start: int, steps: int, floors: list[float], shape: str) -> dict[str, Any]:
    return {"kind": "cooldown", "start": start, "steps": steps, "floor": list(floors), "shape": shape}


def spec_shape(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A spec without the run's numbers and the horizon keys: what decides the shape of the schedule.

    Example::

        >>> spec_shape({"name": "cosine", "total_steps": 10, "on_resume": "keep", "min_lr": 0.0})
        {'name': 'cosine', 'min_lr': 0.0}
    """
    return {k: v for k, v in spec.items() if k not in _PLAN_KEYS and k not in HORIZON_PARAMS}


def plan_message(saved: Mapping[str, Any], new: Mapping[str, Any], resume_step: int, lrs: tuple[Any, Any]) -> str:
    """The :class:`PlanChangedError` text: both plans, the LR jump it would cause, and the ways out.

    Example::

        >>> msg = plan_message({"total_steps": 100, "steps": {"duration": 100}},
        ...                    {"total_steps": 200, "steps": {"duration": 200}}, 40, ([0.06], [0.08]))
        >>> "on_resume: replan" in msg and "200 optimizer steps" in msg
        True
    """
    old_lr, new_lr = (", ".join(f"{v:.6g}" for v in values) for values in lrs)
    end = plan_end(new)
    return (
        f"the run resumed at step {resume_step} resolves its schedule to another plan than the checkpoint's:\n"
        f"  checkpoint: {describe_plan(saved)}\n"
        f"  this run:   {describe_plan(new)}\n"
        f"Continuing would move the LR at the resume step from {old_lr} to {new_lr}. Say what the rest of the "
        "run does (model.schedule.<key> on the command line, or in a --config):\n"
        f"  on_resume: replan       continue from the current LR, fit the rest of the schedule to end at step {end}\n"
        f"  on_resume: keep         follow the checkpoint's plan (it ends at step {plan_end(saved)} and holds)\n"
        "  cooldown: <duration>    decay from the current LR to the recipe's floor now; the run ends with it\n"
        "or resume with the run as it was (the same max_epochs/max_steps, devices, batch size and accumulation)."
    )


def resume_plan(
    planner: Any,
    state: Mapping[str, Any],
    new_schedules: list[Schedule],
    new_plan: dict[str, Any],
    resume_step: int,
) -> tuple[list[Schedule], dict[str, Any], dict[str, Any] | None]:
    """The schedules, plan and horizon state a scheduler continues with after loading ``state``.

    Args:
        planner: the new run's :class:`~lr_recipes.registry.build.Planner`.
        state: the checkpoint's scheduler state (``recipe``, ``plan``, ``horizon``, ``base_lrs``).
        new_schedules: the schedules built for the new run.
        new_plan: the new run's plan.
        resume_step: the step the run continues at.

    Raises:
        PlanChangedError: the plans differ and ``on_resume`` is ``error``.
        RecipeError: a cooldown that cannot start there, or a re-planned run with no steps left.

    Example::

        >>> # resume_plan(planner, ckpt_state, schedules, plan, 400) -> (schedules, plan, horizon or None)
    """
    recipe = planner.name
    horizon: Horizon = planner.horizon
    saved_spec = dict(state.get("recipe") or {})
    if saved_spec.get("name", recipe) != recipe:
        # Another recipe at resume is a new schedule on the same step counter (and a warning): no plan to compare.
        return new_schedules, new_plan, None
    saved_plan = state.get("plan")
    saved_h = state.get("horizon")
    if saved_h:
        base = dict(saved_h["base"])
        phases = [dict(p) for p in saved_h["phases"]]
    else:
        base = {"spec": saved_spec, "plan": saved_plan, "base_lrs": list(state.get("base_lrs") or [])}
        phases = []
    base["spec"] = base["spec"] or saved_spec
    known = base["plan"] or saved_spec  # a checkpoint from before plans were saved: its spec has the run
    known_run = Run(known.get("total_steps"), known.get("steps_per_epoch"))
    rebuilt = planner.resolve(known_run, base["base_lrs"], base["spec"])
    base["plan"] = base["plan"] or {**rebuilt.plan, "max_epochs": None, "max_steps": None}
    saved_plan = dict(saved_plan or base["plan"])
    old = apply_phases(rebuilt.schedules, phases)

    def continued(plan: dict[str, Any]) -> tuple[list[Schedule], dict[str, Any], dict[str, Any] | None]:
        return apply_phases(rebuilt.schedules, phases), plan, {"base": base, "phases": phases}

    if horizon.cooldown is not None and not any(p["kind"] == "cooldown" for p in phases):
        start, steps = cooldown_window(horizon, saved_plan, recipe, resume_step)
        phases.append(_cooldown_phase(start, steps, rebuilt.floors, horizon.cooldown_shape))
        return continued({**new_plan, "end": start + steps})
    if not plan_changed(saved_plan, new_plan):
        if not phases:
            return new_schedules, new_plan, None
        return continued({**new_plan, "end": plan_end(saved_plan)})
    if horizon.on_resume == "keep":
        phases.append({"kind": "keep", "start": resume_step})
        return continued({**new_plan, "end": plan_end(saved_plan)})
    if horizon.on_resume == "replan":
        new_spec = {"name": recipe, **{k: _plain(v) for k, v in planner.spec.items()}}
        spec_changed = spec_shape(new_spec) != spec_shape({**base["spec"], "name": recipe})
        phases.append(_stretch_phase(old, new_schedules, saved_plan, new_plan, resume_step, recipe, spec_changed))
        return continued({**new_plan, "end": run_end(new_plan, saved_plan, resume_step)})
    t = resume_step
    raise PlanChangedError(plan_message(saved_plan, new_plan, t, ([s(t) for s in old], [s(t) for s in new_schedules])))


def _stretch_phase(
    old: list[Schedule],
    new: list[Schedule],
    saved_plan: Mapping[str, Any],
    new_plan: Mapping[str, Any],
    resume_step: int,
    recipe: str,
    spec_changed: bool,
) -> dict[str, Any]:
    old_end, new_end = plan_end(saved_plan), run_end(new_plan, saved_plan, resume_step)
    shift = [0.0] * len(old)
    if old_end is None or new_end is None:
        # An open-ended run: every remaining duration keeps its length in epochs.
        num, den = saved_plan.get("steps_per_epoch") or 1, new_plan.get("steps_per_epoch") or 1
    else:
        if new_end <= resume_step:
            raise RecipeError(
                f"recipe {recipe!r}: on_resume=replan, but this run ends at step {new_end}, at or before the resume "
                f"step {resume_step}: nothing is left to re-plan (lengthen the run)"
            )
        num, den = max(old_end - resume_step, 0), new_end - resume_step
        if spec_changed:
            # Other parameters changed too (a floor, an end factor): end at the new spec's end value instead.
            new_total = new_plan.get("total_steps") or new_end
            shift = [n(new_total) - o(old_end) for o, n in zip(old, new, strict=True)]
    return {"kind": "stretch", "start": resume_step, "num": num, "den": den, "shift": shift}


def resume_warmup(
    planner: Any,
    state: Mapping[str, Any],
    warmup_steps: int,
    new_plan: dict[str, Any],
    resume_step: int,
    lr_at: Any,
) -> tuple[int, dict[str, Any], dict[str, Any] | None]:
    """A plateau recipe's :func:`resume_plan`: its only duration is the warmup; its counters carry over as they are.

    ``replan`` runs the rest of the checkpoint's warmup ramp on a clock stretched to end at the new warmup's end
    (a warmup already over stays over); ``keep`` keeps the checkpoint's warmup length.

    Returns:
        ``(warmup steps, plan, horizon)``: where warmup now ends, the plan to save, the stretched clocks.

    Raises:
        PlanChangedError: the warmup changed and ``on_resume`` is ``error``.

    Example::

        >>> # resume_warmup(planner, ckpt_state, 50, plan, 30, scheduler.lr_at) -> (80, plan, {"clocks": ...})
    """
    saved_plan = state.get("plan")
    if saved_plan is None:
        return warmup_steps, new_plan, None
    saved_h = dict(state.get("horizon") or {}) or None
    old_end = saved_h["warmup_steps"] if saved_h else (saved_plan.get("steps") or {}).get("warmup", 0)
    if not plan_changed(saved_plan, new_plan):
        return (old_end if saved_h else warmup_steps), new_plan, saved_h
    ramp = saved_h["ramp"] if saved_h else old_end
    clocks = list(saved_h["clocks"]) if saved_h else []
    if planner.horizon.on_resume == "keep" or (planner.horizon.on_resume == "replan" and resume_step >= old_end):
        return old_end, new_plan, {"warmup_steps": old_end, "ramp": ramp, "clocks": clocks}
    if planner.horizon.on_resume == "replan":
        new_end = max(warmup_steps, resume_step)
        if new_end > resume_step:
            clocks.append([resume_step, old_end - resume_step, new_end - resume_step])
        else:
            # The new warmup is already over at the resume step: its remaining ramp is skipped.
            clocks.append([resume_step, old_end - resume_step, 1])
        return new_end, new_plan, {"warmup_steps": new_end, "ramp": ramp, "clocks": clocks}
    new_lr = lr_at(resume_step)
    # The LR the checkpoint's plan gives at the resume step: its warmup factor times the same plateau level.
    from lr_recipes.schedules.warmup import warmup_factor

    spec = state.get("recipe") or {}
    factor, shape = spec.get("warmup_start_factor", 0.0), spec.get("warmup_shape", "linear")
    old_w = warmup_factor(resume_step, old_end, factor, shape)
    new_w = warmup_factor(resume_step, warmup_steps, factor, shape)
    old_lr = [lr * old_w / new_w if new_w else lr for lr in new_lr]
    raise PlanChangedError(plan_message(saved_plan, new_plan, resume_step, (old_lr, new_lr)))
