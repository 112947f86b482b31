"""Every schedule class checks its own arguments: a bad one fails at construction, naming the class, the
argument, the value, what is allowed and (for a value list) the closest allowed name."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any, get_args

import pytest

from lr_recipes import schedules as S
from lr_recipes.registry import get_recipe
from lr_recipes.schedules import ScheduleError

BAD: list[tuple[type, dict[str, Any], str]] = [
    (
        S.Cyclic,
        {"mode": "triangle"},
        "mode='triangle' is not allowed; allowed: one of 'triangular', 'triangular2', "
        "'exp_range' (did you mean 'triangular'?)",
    ),
    (S.Cyclic, {"up": 0}, "up=0 is not allowed; allowed: an integer number of optimizer steps >= 1"),
    (S.Cyclic, {"gamma": 1.5}, "gamma=1.5 is not allowed; allowed: 0 < gamma <= 1"),
    (S.Cyclic, {"base_momentum": 0.95}, "base_momentum=0.95 is not allowed; allowed: <= max_momentum (0.9)"),
    (
        S.Warmup,
        {"shape": "cosin"},
        "shape='cosin' is not allowed; allowed: one of 'linear', 'cosine', 'exponential' (did you mean 'cosine'?)",
    ),
    (S.Warmup, {"shape": "exponential", "start_factor": 0.0}, "start_factor=0.0 is not allowed; allowed: > 0 with"),
    (S.Warmup, {"start_factor": 2.0}, "start_factor=2.0 is not allowed; allowed: 0 <= start_factor <= 1"),
    (S.Warmup, {"steps": 2.5}, "steps=2.5 is not allowed; allowed: an integer number of optimizer steps"),
    (
        S.WSD,
        {"shape": "sqrt"},
        "shape='sqrt' is not allowed; allowed: one of 'linear', 'cosine', '1-sqrt' (did you mean '1-sqrt'?)",
    ),
    (S.WSD, {"decay_steps": 200}, "decay_steps=200 is not allowed; allowed: <= steps (100)"),
    (
        S.OneCycle,
        {"anneal": "cosine"},
        "anneal='cosine' is not allowed; allowed: one of 'cos', 'linear' (did you mean 'cos'?)",
    ),
    (S.OneCycle, {"pct_start": 0.6, "three_phase": True}, "pct_start=0.6 is not allowed; allowed: 0 < pct_start < 0.5"),
    (S.OneCycle, {"steps": 3}, "steps=3 is not allowed; allowed: enough steps for every phase at pct_start=0.3"),
    (
        S.Plateau,
        {"mode": "maximum"},
        "mode='maximum' is not allowed; allowed: one of 'min', 'max' (did you mean 'max'?)",
    ),
    (
        S.Plateau,
        {"threshold_mode": "relative"},
        "threshold_mode='relative' is not allowed; allowed: one of 'rel', 'abs'",
    ),
    (S.Plateau, {"factor": 1.0}, "factor=1.0 is not allowed; allowed: 0 <= factor < 1"),
    (S.Plateau, {"patience": -1}, "patience=-1 is not allowed; allowed: an integer >= 0"),
    (S.Cosine, {"steps": 0}, "steps=0 is not allowed"),
    (S.Cosine, {"min_lr": float("nan")}, "min_lr=nan is not allowed; allowed: a finite LR >= 0"),
    (S.CosineRestarts, {"period_mult": 0.5}, "period_mult=0.5 is not allowed; allowed: >= 1"),
    (S.Polynomial, {"power": 0.0}, "power=0.0 is not allowed; allowed: > 0"),
    (S.Linear, {"end_factor": -0.1}, "end_factor=-0.1 is not allowed; allowed: >= 0"),
    (S.Step, {"step_size": 0}, "step_size=0 is not allowed"),
    (S.MultiStep, {"milestones": (20, 10)}, "milestones=(20, 10) is not allowed; allowed: sorted step numbers"),
    (S.Exponential, {"every": 0}, "every=0 is not allowed"),
    (S.InverseSqrt, {"timescale": 0}, "timescale=0 is not allowed; allowed: > 0 steps"),
    (S.Constant, {"base_lr": -0.1}, "base_lr=-0.1 is not allowed; allowed: a finite LR >= 0"),
]

GOOD: dict[type, dict[str, Any]] = {
    S.Cyclic: {"base_lr": 0.1, "max_lr": 0.5, "up": 4, "down": 4},
    S.Warmup: {"main": S.Constant(0.1), "steps": 5, "start_factor": 0.1},
    S.WSD: {"base_lr": 0.1, "min_lr": 0.0, "steps": 100, "decay_steps": 20},
    S.OneCycle: {"max_lr": 0.1, "steps": 100},
    S.Plateau: {},
    S.Cosine: {"base_lr": 0.1, "min_lr": 0.0, "steps": 10},
    S.CosineRestarts: {"base_lr": 0.1, "min_lr": 0.0, "period": 10},
    S.Polynomial: {"base_lr": 0.1, "min_lr": 0.0, "steps": 10},
    S.Linear: {"base_lr": 0.1, "start_factor": 1.0, "end_factor": 0.0, "steps": 10},
    S.Step: {"base_lr": 0.1, "step_size": 10},
    S.MultiStep: {"base_lr": 0.1, "milestones": (10, 10, 20)},  # a repeated milestone counts twice, as torch
    S.Exponential: {"base_lr": 0.1, "gamma": 0.9},
    S.InverseSqrt: {"base_lr": 0.1, "timescale": 10},
    S.Constant: {"base_lr": 0.1},
}


@pytest.mark.parametrize(("cls", "change", "message"), BAD, ids=[f"{c.__name__}-{next(iter(k))}" for c, k, _ in BAD])
def test_a_bad_argument_names_class_value_and_what_is_allowed(cls: type, change: dict[str, Any], message: str) -> None:
    cls(**GOOD[cls])  # the baseline is valid
    with pytest.raises(ScheduleError, match=re.escape(f"{cls.__name__}: {message}")):
        cls(**{**GOOD[cls], **change})


def test_schedule_errors_are_value_errors_shown_by_their_public_path() -> None:
    assert issubclass(ScheduleError, ValueError) and ScheduleError.__module__ == "lr_recipes.schedules"


@pytest.mark.parametrize(
    ("recipe", "param", "alias"),
    [
        ("cosine", "warmup_shape", S.WarmupShape),
        ("cyclic", "mode", S.CyclicMode),
        ("wsd", "decay_shape", S.DecayShape),
        ("plateau", "mode", S.PlateauMode),
        ("plateau", "threshold_mode", S.ThresholdMode),
        ("onecycle", "anneal", S.OneCycleAnneal),
    ],
)
def test_the_registry_annotates_with_the_schedules_alias(recipe: str, param: str, alias: Any) -> None:
    """One source for every value list: the recipe parameter *is* the schedule module's Literal."""
    assert get_recipe(recipe).params[param].annotation is alias
    assert get_args(alias)  # and the check reads the same tuple


def test_no_value_list_is_typed_out_twice() -> None:
    """The schedules hold no tuple of allowed strings beside their aliases, and the registry spells out no
    ``Literal[...]`` of its own: each list exists once, as a ``Literal`` alias in the schedule's module."""
    package = Path(S.__file__).parent
    for path in sorted(package.glob("*.py")):
        for node in ast.parse(path.read_text()).body:
            value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
            if isinstance(value, ast.Tuple) and all(
                isinstance(e, ast.Constant) and isinstance(e.value, str) for e in value.elts
            ):
                raise AssertionError(f"{path.name}:{node.lineno}: a tuple of strings; use a Literal alias + get_args")
    for name in ("builtin.py", "base.py"):
        tree = ast.parse((package.parent / "registry" / name).read_text())
        literals = [
            n.lineno for n in ast.walk(tree) if isinstance(n, ast.Subscript) and ast.unparse(n.value) == "Literal"
        ]
        assert not literals, f"registry/{name} lines {literals}: annotate with the schedule module's alias"
