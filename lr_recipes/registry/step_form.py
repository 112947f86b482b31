"""The step-form adapter: a recipe written as ``fn(step, ...) -> factor`` becomes one schedule per group.

Example::

    >>> from lr_recipes.registry.step_form import FactorSchedule
    >>> FactorSchedule(lambda step: 0.5, base_lr=0.2, kwargs=())(0)
    0.1
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lr_recipes.registry.base import Recipe, RecipeError
from lr_recipes.registry.context import RecipeContext
from lr_recipes.schedules.base import Schedule
from lr_recipes.units import Duration


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
        ctx.resolved["steps_per_epoch"] = ctx.run.steps_per_epoch
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
