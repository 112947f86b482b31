"""Recipe names → schedules: :func:`register`, :func:`available`, :func:`build`.

A *recipe* is a registered factory with typed, defaulted parameters. :func:`build` checks a spec
against it (unknown names, wrong types, bad ranges, durations that do not fit the run: all errors
before the first step), resolves the durations against the run, adds the optional warmup and returns
the ``lr_scheduler`` config that Lightning's ``configure_optimizers`` expects.

There are two ways to write a recipe. The short one is a function of the step that returns a factor
of each group's base LR; the step counts from the end of warmup and ``total_steps`` is the rest of the
run::

    @register("linear_decay")
    def linear_decay(step: int, total_steps: int, end_factor: float = 0.0) -> float:
        return 1.0 - (1.0 - end_factor) * step / total_steps

The full one takes a :class:`RecipeContext` and returns one :class:`~lr_recipes.schedules.Schedule`
per param group (that is how the built-in recipes in :mod:`lr_recipes.builtin` are written).

Example::

    >>> import torch, lr_recipes
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    >>> config = lr_recipes.build("cosine", opt, total_steps=100, steps_per_epoch=10, warmup="1ep")
    >>> config["interval"], round(config["scheduler"].lr_at(10)[0], 6)
    ('step', 0.1)
"""

from __future__ import annotations

import difflib
import inspect
import math
import numbers
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Union

from lr_recipes.schedules.base import Schedule
from lr_recipes.schedules.plateau import Plateau
from lr_recipes.schedules.warmup import WARMUP_SHAPES, Warmup
from lr_recipes.units import Duration, DurationError, Run

PerGroup = Union[float, list[float]]  # noqa: UP007 -- a runtime alias read by get_type_hints
"""A value for every param group (one float) or one per group (a list)."""

_REQUIRED = inspect.Parameter.empty
_STEP_FORM_INJECTED = ("step", "total_steps", "steps_per_epoch")
WARMUP_PARAMS: dict[str, tuple[Any, Any, str]] = {
    "warmup": (Union[Duration, None], None, 'warmup length, e.g. "5ep", "500st" or "2%"; none by default'),  # noqa: UP007
    "warmup_start_factor": (
        float,
        0.01,
        "LR at the first step as a fraction of the post-warmup LR, in [0, 1]",
    ),
    "warmup_shape": (Literal["linear", "cosine", "exponential"], "linear", "shape of the warmup ramp"),
}


class RecipeError(ValueError):
    """A recipe spec that cannot be built: unknown name, unknown parameter, bad value or bad duration."""


@dataclass(frozen=True)
class Param:
    """One parameter of a recipe: its name, type, default (``inspect.Parameter.empty`` if required) and doc.

    Example::

        >>> get_recipe("step").params["gamma"].default
        0.1
    """

    name: str
    annotation: Any
    default: Any
    doc: str = ""

    @property
    def required(self) -> bool:
        """Whether the spec must give this parameter.

        Example::

            >>> get_recipe("step").params["step_size"].required
            True
        """
        return self.default is _REQUIRED

    def type_name(self) -> str:
        """A short readable type, as shown by ``python -m lr_recipes list``.

        Example::

            >>> get_recipe("multistep").params["milestones"].type_name()
            'list[duration]'
        """
        return _type_name(self.annotation)


@dataclass(frozen=True)
class Recipe:
    """A registered recipe: its factory, parameters (warmup ones included) and kind.

    Example::

        >>> r = get_recipe("plateau")
        >>> r.plateau, "patience" in r.params, "warmup" in r.params
        (True, True, True)
    """

    name: str
    factory: Callable[..., Any]
    params: dict[str, Param]
    plateau: bool = False
    step_form: bool = False
    summary: str = ""

    def describe(self) -> str:
        """A multi-line description: summary and every parameter with type, default and doc.

        Example::

            >>> print(get_recipe("constant").describe().splitlines()[0])
            constant: The base LR at every step (combine with ``warmup``); matches ``ConstantLR(factor=1)``.
        """
        lines = [f"{self.name}: {self.summary}"]
        for p in self.params.values():
            default = "required" if p.required else f"default {_show(p.default)}"
            lines.append(f"    {p.name}: {p.type_name()} ({default}){' - ' + p.doc if p.doc else ''}")
        return "\n".join(lines)


_REGISTRY: dict[str, Recipe] = {}


def register(name: str, *, plateau: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a recipe under ``name`` (a decorator; the function is returned unchanged).

    The function's keyword parameters, with their type hints and defaults, are the recipe's parameters;
    ``warmup``, ``warmup_start_factor`` and ``warmup_shape`` are added to every recipe. Parameters
    annotated :class:`~lr_recipes.units.Duration` take ``"30ep"``/``"500st"``/``"10%"`` and arrive in a
    step-form function as whole optimizer steps.

    Args:
        name: the recipe's name in specs, YAML and ``python -m lr_recipes list``.
        plateau: the factory returns a :class:`PlateauSpec` (a metric-driven recipe).

    Raises:
        RecipeError: if the name is taken or a parameter lacks a type hint.

    Example::

        >>> @register("halving")
        ... def halving(step: int, every: Duration = Duration(10, "st")) -> float:
        ...     return 0.5 ** (step // every)
        >>> "halving" in available()
        True
        >>> unregister("halving")
    """

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        if name in _REGISTRY:
            raise RecipeError(f"a recipe named {name!r} is already registered; pick another name or unregister it")
        _REGISTRY[name] = _make_recipe(name, fn, plateau=plateau)
        return fn

    return decorator


def unregister(name: str) -> None:
    """Remove a recipe (mainly for tests and notebooks that re-run a ``@register`` cell).

    Example::

        >>> unregister("no-such-recipe")
    """
    _REGISTRY.pop(name, None)


def available() -> list[str]:
    """The registered recipe names, sorted.

    Example::

        >>> available()[:3]
        ['constant', 'cosine', 'cosine_restarts']
    """
    return sorted(_REGISTRY)


def get_recipe(name: str) -> Recipe:
    """The :class:`Recipe` registered as ``name``.

    Raises:
        RecipeError: for an unknown name, listing the available ones and the closest match.

    Example::

        >>> get_recipe("cosine").name
        'cosine'
    """
    if not isinstance(name, str) or name not in _REGISTRY:
        raise RecipeError(
            f"unknown recipe {name!r}{_did_you_mean(str(name), _REGISTRY)}; available: {', '.join(available())}"
        )
    return _REGISTRY[name]


@dataclass(frozen=True)
class PlateauSpec:
    """What a plateau recipe's factory returns: the rule, each group's floor and the monitored metric.

    Example::

        >>> PlateauSpec(rule=Plateau(), min_lrs=[0.0]).monitor
        'val_loss'
    """

    rule: Plateau
    min_lrs: list[float]
    monitor: str = "val_loss"


@dataclass
class RecipeContext:
    """What a full-form recipe factory gets: the run, the base LRs and helpers that fail with clear errors.

    The main schedule's clock starts when warmup ends: ``main_steps`` is the rest of the run.

    Example::

        >>> ctx = RecipeContext("demo", Run(total_steps=100, steps_per_epoch=10), [0.1, 0.01], warmup_steps=10)
        >>> ctx.main_steps, ctx.per_group(0.0, "min_lr")
        (90, [0.0, 0.0])
    """

    recipe: str
    run: Run
    base_lrs: list[float]
    warmup_steps: int = 0
    spec: dict[str, Any] = field(default_factory=dict)

    @property
    def main_steps(self) -> int | None:
        """Optimizer steps after warmup, or ``None`` for an open-ended run.

        Example::

            >>> RecipeContext("demo", Run(None, 10), [0.1]).main_steps is None
            True
        """
        return None if self.run.total_steps is None else self.run.total_steps - self.warmup_steps

    def fail(self, param: str, value: Any, allowed: str) -> RecipeError:
        """An error naming the recipe, the parameter, the value and what is allowed (raise it).

        Example::

            >>> str(RecipeContext("step", Run(10, 1), [0.1]).fail("gamma", 2.0, "0 < gamma <= 1"))
            "recipe 'step': gamma=2.0 is not allowed; allowed: 0 < gamma <= 1"
        """
        return RecipeError(f"recipe {self.recipe!r}: {param}={_show(value)} is not allowed; allowed: {allowed}")

    def steps(self, value: Any, param: str, *, clock: Literal["main", "run"] = "main", minimum: int = 1) -> int:
        """Resolve a duration to optimizer steps and check that it fits the run.

        Args:
            value: a duration (``"30ep"``, ``"500st"``, ``"10%"`` or a :class:`Duration`).
            param: the parameter's name for messages.
            clock: ``"main"`` for lengths after warmup, ``"run"`` for points counted from step 0.
            minimum: the smallest allowed number of steps.

        Example::

            >>> RecipeContext("demo", Run(100, 10), [0.1]).steps("2ep", "period")
            20
        """
        try:
            n = self.run.steps(value, param=param)
        except DurationError as err:
            raise RecipeError(f"recipe {self.recipe!r}: {err}") from None
        if n < minimum:
            raise RecipeError(
                f"recipe {self.recipe!r}: {param}={_show(value)} is {n} optimizer steps; it must be at least {minimum}"
            )
        limit = self.run.total_steps if clock == "run" else self.main_steps
        if limit is not None and n > limit:
            where = "the run" if clock == "run" else "the run after warmup"
            raise RecipeError(
                f"recipe {self.recipe!r}: {param}={_show(value)} is {n} optimizer steps, past the end of {where} "
                f"({limit} steps){self._run_note()}"
            )
        return n

    def span(self, value: Any, param: str) -> int:
        """A duration that defaults to "the rest of the run after warmup" when ``value`` is ``None``.

        Example::

            >>> RecipeContext("demo", Run(100, 10), [0.1], warmup_steps=10).span(None, "duration")
            90
        """
        if value is not None:
            return self.steps(value, param)
        if self.main_steps is None:
            raise RecipeError(
                f"recipe {self.recipe!r} needs the run's length to span it: set trainer max_epochs or max_steps "
                f"(or pass total_steps), or give {param} explicitly"
            )
        return self.main_steps

    def per_group(self, value: float | Sequence[float], param: str) -> list[float]:
        """One value per param group from a scalar or a list of the right length.

        Example::

            >>> RecipeContext("demo", Run(10, 1), [0.1, 0.2]).per_group([0.0, 0.1], "min_lr")
            [0.0, 0.1]
        """
        if isinstance(value, (int, float)):
            return [float(value)] * len(self.base_lrs)
        values = [float(v) for v in value]
        if len(values) != len(self.base_lrs):
            raise self.fail(param, value, f"one number, or a list of {len(self.base_lrs)} (one per param group)")
        return values

    def min_lrs(self, min_lr: PerGroup | None, min_lr_ratio: float | None) -> list[float]:
        """Each group's floor from ``min_lr`` (absolute) or ``min_lr_ratio`` (of its base LR); default 0.

        Example::

            >>> RecipeContext("demo", Run(10, 1), [0.1, 0.2]).min_lrs(None, 0.1)
            [0.010000000000000002, 0.020000000000000004]
        """
        if min_lr is not None and min_lr_ratio is not None:
            raise RecipeError(
                f"recipe {self.recipe!r}: give min_lr (absolute) or min_lr_ratio (a fraction of each base LR), "
                f"not both (got min_lr={_show(min_lr)}, min_lr_ratio={min_lr_ratio})"
            )
        if min_lr_ratio is not None:
            if not 0.0 <= min_lr_ratio <= 1.0:
                raise self.fail("min_lr_ratio", min_lr_ratio, "0 <= min_lr_ratio <= 1")
            return [base * min_lr_ratio for base in self.base_lrs]
        floors = self.per_group(0.0 if min_lr is None else min_lr, "min_lr")
        for i, (floor, base) in enumerate(zip(floors, self.base_lrs, strict=True)):
            if floor < 0 or floor > base:
                where = (
                    f"is negative for param group {i}"
                    if floor < 0
                    else f"is above the base LR {base:g} of param group {i}"
                )
                raise RecipeError(
                    f"recipe {self.recipe!r}: min_lr={_show(min_lr)} {where}; allowed: 0 <= min_lr <= base LR"
                )
        return floors

    def check(self, ok: bool, param: str, value: Any, allowed: str) -> None:
        """Raise :meth:`fail` unless ``ok``.

        Example::

            >>> RecipeContext("demo", Run(10, 1), [0.1]).check(True, "gamma", 0.5, "0 < gamma <= 1")
        """
        if not ok:
            raise self.fail(param, value, allowed)

    def _run_note(self) -> str:
        run = self.run
        per_epoch = f", {run.steps_per_epoch} steps per epoch" if run.steps_per_epoch else ""
        return f"; the run has {run.total_steps} optimizer steps{per_epoch}"


@dataclass(frozen=True)
class FactorSchedule(Schedule):
    """A step-form recipe bound to one param group: ``base_lr * fn(step, **kwargs)``.

    Example::

        >>> def half(step: int) -> float:
        ...     return 0.5
        >>> FactorSchedule(half, base_lr=0.2, kwargs=())(3)
        0.1
    """

    fn: Callable[..., float]
    base_lr: float
    kwargs: tuple[tuple[str, Any], ...]
    recipe: str = "custom"

    def __call__(self, t: int) -> float:
        return self.base_lr * _factor(self.recipe, self.fn, t, dict(self.kwargs))


def check_spec(recipe: str | Mapping[str, Any], **params: Any) -> dict[str, Any]:
    """Check a spec without a run (name, parameter names, types, required ones); return it as a dict.

    Durations are checked for their units but not against a run: :func:`build` does that. Use it to fail
    at configuration time instead of at ``configure_optimizers``.

    Raises:
        RecipeError: as :func:`build` does for the same mistakes.

    Example::

        >>> check_spec("cosine", warmup="5ep")
        {'name': 'cosine', 'warmup': '5ep'}
        >>> check_spec({"name": "cosine", "min_lr_ration": 0.1})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        lr_recipes.registry.RecipeError: recipe 'cosine' has no parameter 'min_lr_ration' (did you mean ...
    """
    name, spec = _split_spec(recipe, params)
    _coerce_spec(get_recipe(name), spec)
    return {"name": name, **spec}


def build(
    recipe: str | Mapping[str, Any],
    optimizer: Any,
    *,
    trainer: Any = None,
    total_steps: int | None = None,
    steps_per_epoch: int | None = None,
    **params: Any,
) -> dict[str, Any]:
    """Build the scheduler of ``recipe`` for ``optimizer`` as a Lightning ``lr_scheduler`` config.

    Args:
        recipe: a registered name or a spec dict ``{"name": ..., **params}``.
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
    name, spec = _split_spec(recipe, params)
    rec = get_recipe(name)
    spec = _coerce_spec(rec, spec)
    run = _resolve_run(trainer, total_steps, steps_per_epoch)
    base_lrs = [float(g.get("initial_lr", g["lr"])) for g in optimizer.param_groups]
    for i, base in enumerate(base_lrs):
        if not (math.isfinite(base) and base >= 0):
            raise RecipeError(f"param group {i} has lr={base}; a base LR must be finite and >= 0")
    warmup, start_factor, shape = (
        spec.pop("warmup"),
        spec.pop("warmup_start_factor"),
        spec.pop("warmup_shape"),
    )
    ctx = RecipeContext(name, run, base_lrs, spec=dict(spec))
    warmup_steps = _warmup_steps(ctx, warmup, start_factor, shape)
    ctx.warmup_steps = warmup_steps
    # Plain values only: this dict goes into checkpoints, which torch.load(weights_only=True) must read.
    full_spec = {"name": name, **{k: _plain(v) for k, v in spec.items()}, "warmup": _plain(warmup)}
    full_spec.update(warmup_start_factor=start_factor, warmup_shape=shape)
    full_spec.update(total_steps=run.total_steps, steps_per_epoch=run.steps_per_epoch)

    if rec.plateau:
        from lr_recipes.scheduler import PlateauScheduler

        plateau = rec.factory(ctx, **spec)
        scheduler: Any = PlateauScheduler(
            optimizer,
            plateau.rule,
            plateau.min_lrs,
            warmup_steps=warmup_steps,
            warmup_start_factor=start_factor,
            warmup_shape=shape,
            recipe=full_spec,
        )
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

    schedules = _step_form_schedules(rec, ctx, spec) if rec.step_form else list(rec.factory(ctx, **spec))
    if len(schedules) != len(base_lrs):
        raise RecipeError(f"recipe {name!r} returned {len(schedules)} schedules for {len(base_lrs)} param groups")
    if any(s.momentum(0) is not None for s in schedules) and not has_momentum(optimizer):
        raise RecipeError(
            f"recipe {name!r}: cycle_momentum=True needs an optimizer with momentum or betas; "
            f"{type(optimizer).__name__} has neither (set cycle_momentum: false)"
        )
    if warmup_steps:
        schedules = [Warmup(s, warmup_steps, start_factor, shape) for s in schedules]
    return {
        "scheduler": RecipeScheduler(optimizer, schedules, recipe=full_spec),
        "interval": "step",
        "frequency": 1,
        "name": None,
    }


# --- internals --------------------------------------------------------------------------------------


def _make_recipe(name: str, fn: Callable[..., Any], *, plateau: bool) -> Recipe:
    sig = inspect.signature(fn)
    try:
        hints = typing.get_type_hints(fn)
    except NameError as err:
        raise RecipeError(f"recipe {name!r}: cannot resolve the type hints of {fn.__qualname__}: {err}") from err
    names = list(sig.parameters)
    step_form = bool(names) and names[0] == "step"
    docs = _param_docs(fn)
    params: dict[str, Param] = {}
    for i, (pname, p) in enumerate(sig.parameters.items()):
        if step_form and pname in _STEP_FORM_INJECTED:
            continue
        if not step_form and i == 0:  # the RecipeContext
            continue
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise RecipeError(f"recipe {name!r}: *args/**kwargs are not allowed; list every parameter")
        if pname not in hints:
            raise RecipeError(f"recipe {name!r}: parameter {pname!r} needs a type hint (float, int, Duration, ...)")
        if pname in WARMUP_PARAMS:
            raise RecipeError(f"recipe {name!r}: {pname!r} is added to every recipe; do not declare it")
        params[pname] = Param(pname, hints[pname], p.default, docs.get(pname, ""))
    for pname, (annotation, default, doc) in WARMUP_PARAMS.items():
        params[pname] = Param(pname, annotation, default, doc)
    summary = (inspect.getdoc(fn) or "").split("\n\n")[0].replace("\n", " ")
    return Recipe(name, fn, params, plateau=plateau, step_form=step_form, summary=summary)


def _param_docs(fn: Callable[..., Any]) -> dict[str, str]:
    try:  # installed with jsonargparse[signatures]; without it recipes work, undocumented in `list`
        import docstring_parser
    except ImportError:
        return {}
    parsed = docstring_parser.parse(inspect.getdoc(fn) or "")
    return {p.arg_name: " ".join((p.description or "").split()) for p in parsed.params}


def _split_spec(recipe: str | Mapping[str, Any], params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    if isinstance(recipe, str):
        return recipe, dict(params)
    if not isinstance(recipe, Mapping):
        raise RecipeError(
            f"recipe={recipe!r} ({type(recipe).__name__}); give a name like 'cosine' or a dict "
            "{'name': 'cosine', ...params}"
        )
    spec = dict(recipe)
    if "name" not in spec:
        raise RecipeError(f"recipe spec {spec} has no 'name'; available: {', '.join(available())}")
    name = spec.pop("name")
    twice = sorted(set(spec) & set(params))
    if twice:
        raise RecipeError(f"recipe {name!r}: {', '.join(twice)} given both in the spec and as keyword arguments")
    spec.update(params)
    return name, spec


def _coerce_spec(rec: Recipe, spec: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in spec.items():
        if key not in rec.params:
            raise RecipeError(
                f"recipe {rec.name!r} has no parameter {key!r}{_did_you_mean(key, rec.params)}; "
                f"its parameters: {', '.join(rec.params)}"
            )
        out[key] = _coerce(value, rec.params[key].annotation, rec.name, key)
    for p in rec.params.values():
        if p.name not in out:
            if p.required:
                raise RecipeError(
                    f"recipe {rec.name!r} needs {p.name} ({p.type_name()}){': ' + p.doc if p.doc else ''}"
                )
            out[p.name] = p.default
    return out


def _coerce(value: Any, tp: Any, recipe: str, param: str) -> Any:
    """Check (and normalise) ``value`` against the annotation ``tp``; raise a RecipeError naming both."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in args:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, recipe, param)
            except RecipeError as err:
                errors.append(err)
        if len(errors) == 1:
            raise errors[0]
        raise RecipeError(f"recipe {recipe!r}: {param}={_show(value)} is not {_type_name(tp)}")
    if origin is Literal:
        if value in args:
            return value
        raise RecipeError(
            f"recipe {recipe!r}: {param}={_show(value)} is not allowed{_did_you_mean(str(value), args)}; "
            f"allowed: {', '.join(map(repr, args))}"
        )
    if origin in (list, tuple, Sequence):
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise RecipeError(f"recipe {recipe!r}: {param}={_show(value)} is not {_type_name(tp)}")
        return [_coerce(v, args[0], recipe, f"{param}[{i}]") for i, v in enumerate(value)]
    if tp is Duration:
        try:
            return Duration.parse(value, param=param)
        except DurationError as err:
            raise RecipeError(f"recipe {recipe!r}: {err}") from None
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            # PyYAML reads 1e-3 (no dot) as a string; the number is unambiguous, so accept it.
            try:
                return float(value)
            except ValueError:
                pass
    elif tp is str:
        if isinstance(value, str):
            return value
    else:
        raise RecipeError(f"recipe {recipe!r}: parameter {param!r} has an unsupported type {tp!r}")
    raise RecipeError(
        f"recipe {recipe!r}: {param}={_show(value)} ({type(value).__name__}) is not allowed; allowed: {_type_name(tp)}"
    )


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


def _warmup_steps(ctx: RecipeContext, warmup: Duration | None, start_factor: float, shape: str) -> int:
    ctx.check(0.0 <= start_factor <= 1.0, "warmup_start_factor", start_factor, "0 <= warmup_start_factor <= 1")
    if shape == "exponential" and start_factor == 0.0:
        raise ctx.fail("warmup_start_factor", start_factor, "> 0 with warmup_shape='exponential'")
    assert shape in WARMUP_SHAPES
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


def _step_form_schedules(rec: Recipe, ctx: RecipeContext, spec: dict[str, Any]) -> list[Schedule]:
    sig = inspect.signature(rec.factory)
    kwargs = {}
    for key, value in spec.items():
        if isinstance(value, Duration):
            value = ctx.steps(value, key)
        elif isinstance(value, list) and any(isinstance(v, Duration) for v in value):
            value = [ctx.steps(v, f"{key}[{i}]") if isinstance(v, Duration) else v for i, v in enumerate(value)]
        kwargs[key] = value
    if "total_steps" in sig.parameters:
        kwargs["total_steps"] = ctx.span(None, "total_steps")
    if "steps_per_epoch" in sig.parameters:
        if ctx.run.steps_per_epoch is None:
            raise RecipeError(f"recipe {rec.name!r} needs steps_per_epoch, which this run does not have")
        kwargs["steps_per_epoch"] = ctx.run.steps_per_epoch
    items = tuple(sorted(kwargs.items()))
    # Every step of the run (and the one after the last, which the final scheduler.step() computes) is
    # checked now, before training: a bad factor must not surface as a negative LR mid-run.
    for t in range((ctx.main_steps or 0) + 1):
        _factor(rec.name, rec.factory, t, kwargs)
    return [FactorSchedule(rec.factory, base, items, rec.name) for base in ctx.base_lrs]


def _factor(recipe: str, fn: Callable[..., Any], t: int, kwargs: dict[str, Any]) -> float:
    value = fn(t, **kwargs)
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
        raise RecipeError(f"recipe {recipe!r} returned {value!r} at step {t}; it must return a factor >= 0")
    return float(value)


def _did_you_mean(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, [str(c) for c in choices], n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _type_name(tp: Any) -> str:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (Union, types.UnionType):
        return " | ".join(_type_name(a) for a in args)
    if origin is Literal:
        return " | ".join(repr(a) for a in args)
    if origin in (list, tuple, Sequence):
        return f"list[{_type_name(args[0])}]"
    if tp is Duration:
        return "duration"
    if tp is type(None):
        return "None"
    return getattr(tp, "__name__", str(tp))


def _plain(value: Any) -> Any:
    if isinstance(value, Duration):
        return str(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _show(value: Any) -> str:
    if isinstance(value, Duration):
        return repr(str(value))
    if isinstance(value, list) and any(isinstance(v, Duration) for v in value):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return repr(value)
