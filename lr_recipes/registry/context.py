"""The factory API: what a full-form recipe gets (:class:`RecipeContext`) and what a plateau one returns.

Example::

    >>> from lr_recipes.registry import RecipeContext
    >>> from lr_recipes.units import Run
    >>> RecipeContext("demo", Run(100, 10), [0.1]).steps("3ep", "step_size")
    30
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from lr_recipes.registry.base import PerGroup, RecipeError, _show
from lr_recipes.schedules.plateau import Plateau
from lr_recipes.units import DurationError, Run


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
    resolved: dict[str, int] = field(default_factory=dict)
    """Every duration the factory resolved, in optimizer steps, by parameter: the run's plan."""

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
        self.resolved[param] = n
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
        self.resolved[param] = self.main_steps
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
