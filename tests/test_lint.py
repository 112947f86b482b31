"""Lint reads what a schedule declares (floor, cycle length, own warmup, whether it varies), not recipe names,
so a user's registered recipe gets the same warnings as a built-in one."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import torch

import lr_recipes
from lr_recipes.lint import lint
from lr_recipes.registry import RecipeContext
from lr_recipes.schedules import Schedule


def _lint(spec: str | dict[str, Any], total: int = 100, per_epoch: int = 10, **params: Any) -> list[str]:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
    return lint(lr_recipes.build(spec, opt, total_steps=total, steps_per_epoch=per_epoch, **params)["scheduler"])


@dataclass(frozen=True)
class Halving(Schedule):
    """A user's schedule: halves every ``every`` steps down to ``min_lr``, and declares that floor."""

    base_lr: float
    min_lr: float
    every: int

    @property
    def floor(self) -> float:
        return self.min_lr

    def __call__(self, t: int) -> float:
        return max(self.base_lr * 0.5 ** (t // self.every), self.min_lr)


@dataclass(frozen=True)
class Sawtooth(Schedule):
    """A user's cyclic schedule: linear down from the base LR over each cycle of ``period`` steps."""

    base_lr: float
    period: int

    @property
    def cycle_steps(self) -> int:
        return self.period

    def __call__(self, t: int) -> float:
        return self.base_lr * (1 - (t % self.period) / self.period)


@pytest.fixture
def custom_recipes() -> Iterator[None]:
    @lr_recipes.register("halving")
    def halving(ctx: RecipeContext, every: lr_recipes.Duration, min_lr: float = 0.001) -> list[Schedule]:
        """Halve the LR every ``every``, down to ``min_lr``."""
        return [Halving(base, min_lr, ctx.steps(every, "every")) for base in ctx.base_lrs]

    @lr_recipes.register("sawtooth")
    def sawtooth(ctx: RecipeContext, period: lr_recipes.Duration) -> list[Schedule]:
        """Linear decays restarting every ``period``."""
        return [Sawtooth(base, ctx.steps(period, "period")) for base in ctx.base_lrs]

    yield
    lr_recipes.unregister("halving")
    lr_recipes.unregister("sawtooth")


def test_a_registered_recipe_with_a_floor_gets_the_floor_lint(custom_recipes: None) -> None:
    assert _lint({"name": "halving", "every": "10st"}) == []  # 0.1 / 2**9 < 0.001: the floor is reached
    (warning,) = _lint({"name": "halving", "every": "30st"})  # three halvings: 0.0125 at the end
    assert warning.startswith("min_lr 0.001 is never reached in param group 0: the last step's LR is 0.0125")


def test_a_registered_cyclic_recipe_gets_the_mid_cycle_lint(custom_recipes: None) -> None:
    assert _lint({"name": "sawtooth", "period": "20st"}) == []
    assert _lint({"name": "sawtooth", "period": "30st"}) == [
        "the run ends mid-cycle (10 steps into a 30-step cycle); the final LR is not the cycle's lowest"
    ]


def test_builtin_floors_cycles_and_own_warmup_are_declared_by_their_schedules() -> None:
    assert _lint("cosine") == [] and _lint("wsd") == [] and _lint("onecycle") == []
    assert _lint("cosine_restarts", period="40st")[0].startswith("min_lr 0 is never reached")  # cut mid-cycle
    assert _lint("cosine_restarts", period="50st") == []
    assert _lint("cyclic", up="15st", peak_factor=4.0) == [
        "the run ends mid-cycle (10 steps into a 30-step cycle); the final LR is not the cycle's lowest"
    ]
    assert _lint("onecycle", warmup="10st") == ["onecycle warms up by itself; warmup adds a second ramp before it"]


def test_only_a_schedule_meant_to_vary_is_warned_about_never_changing() -> None:
    assert _lint("constant") == [] and _lint("plateau") == []
    assert _lint("exponential", gamma=1.0) == ["the LR never changes during the run"]
