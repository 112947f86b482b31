"""Every bad spec fails in build() (or check_spec()) with a RecipeError naming the parameter, the value
and what is allowed; and register() / custom step-form recipes, end to end."""

from __future__ import annotations

import gc
import itertools
import math
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import torch

import lr_recipes
from lr_recipes import RecipeError
from lr_recipes.registry import check_spec
from lr_recipes.units import Duration

RUN = {"total_steps": 100, "steps_per_epoch": 10}
SPELLINGS = ('"30ep"', '"500st"', '"10%"')


def sgd(*lrs: float) -> torch.optim.Optimizer:
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in lrs or (0.1,)]
    return torch.optim.SGD(groups, lr=1.0, momentum=0.9)


def adagrad() -> torch.optim.Optimizer:
    return torch.optim.Adagrad([torch.nn.Parameter(torch.zeros(1))], lr=0.1)


class FakeTrainer:
    """The attributes Run.from_trainer reads from a fitting Lightning Trainer."""

    def __init__(self, batches: float, max_steps: int = -1, max_epochs: int = -1) -> None:
        self.num_training_batches = batches
        self.accumulate_grad_batches = 1
        self.max_steps = max_steps
        self.max_epochs = max_epochs
        self.estimated_stepping_batches = max_steps if max_steps != -1 else math.inf


ITERABLE_WITH_MAX_STEPS = FakeTrainer(batches=math.inf, max_steps=500)  # steps per epoch unknown
ENDLESS = FakeTrainer(batches=math.inf)  # no length at all


def fails(match: str, spec: Any, optimizer: torch.optim.Optimizer | None = None, **kwargs: Any) -> str:
    """Build ``spec`` and return the message of the RecipeError it must raise."""
    run = {} if "trainer" in kwargs or "total_steps" in kwargs or "steps_per_epoch" in kwargs else RUN
    with pytest.raises(RecipeError, match=match) as err:
        lr_recipes.build(spec, optimizer if optimizer is not None else sgd(), **run, **kwargs)
    return str(err.value)


# --- names -----------------------------------------------------------------------------------------


def test_unknown_recipe_lists_the_available_ones_and_the_closest() -> None:
    message = fails(r"unknown recipe 'cosin' \(did you mean 'cosine'\?\); available: ", "cosin")
    assert message.endswith(", ".join(lr_recipes.available()))
    fails(r"unknown recipe 'mutlistep' \(did you mean 'multistep'\?\)", {"name": "mutlistep"})
    fails(r"unknown recipe 'zzz'; available: constant, cosine", "zzz")
    with pytest.raises(RecipeError, match="did you mean 'plateau'"):
        check_spec("plateu")


@pytest.mark.parametrize("check", [False, True])
def test_unknown_parameter_lists_the_valid_ones_and_the_closest(check: bool) -> None:
    pattern = (
        r"recipe 'cosine' has no parameter 'min_lr_ration' \(did you mean 'min_lr_ratio'\?\); "
        r"its parameters: duration, min_lr, min_lr_ratio, warmup, warmup_start_factor, warmup_shape"
    )
    if check:
        with pytest.raises(RecipeError, match=pattern):
            check_spec({"name": "cosine", "min_lr_ration": 0.1})
    else:
        fails(pattern, "cosine", min_lr_ration=0.1)
    fails(r"recipe 'step' has no parameter 'step_sizes' \(did you mean 'step_size'\?\)", "step", step_sizes="1ep")
    fails(r"recipe 'plateau' has no parameter 'warmpu' \(did you mean 'warmup'\?\)", "plateau", warmpu="1ep")


def test_missing_required_parameter_says_what_it_is() -> None:
    fails(r"recipe 'step' needs step_size \(duration\): interval between decays", "step")
    fails(r"recipe 'multistep' needs milestones \(list\[duration\]\)", "multistep")
    fails(r"recipe 'cyclic' needs up \(duration\)", "cyclic", max_lr=1.0)


def test_spec_shapes() -> None:
    message = fails(r"recipe spec \{'min_lr': 0.0\} has no 'name'; available: ", {"min_lr": 0.0})
    assert "cosine" in message and "plateau" in message
    fails(r"spec=\['cosine'\] \(list\); give a recipe name like 'cosine' or a dict", ["cosine"])
    fails(
        r"recipe 'cosine': min_lr given both in the spec and as keyword arguments",
        {"name": "cosine", "min_lr": 0.0},
        min_lr=0.01,
    )
    with pytest.raises(RecipeError, match="min_lr given both"):
        check_spec({"name": "cosine", "min_lr": 0.0}, min_lr=0.0)
    assert check_spec({"name": "cosine"}, warmup="5ep") == {"name": "cosine", "warmup": "5ep"}


# --- durations -------------------------------------------------------------------------------------


@pytest.mark.parametrize("bare", [30, "30", 30.0])
def test_a_bare_number_duration_shows_the_three_spellings(bare: object) -> None:
    message = fails(rf"recipe 'step': step_size={bare!r} has no unit; write ", "step", step_size=bare)
    assert all(s in message for s in SPELLINGS), message
    assert '"30ep" if you meant epochs or "30st" if you meant steps' in message
    with pytest.raises(RecipeError, match="has no unit"):
        check_spec({"name": "step", "step_size": bare})


def test_bare_numbers_elsewhere() -> None:
    message = fails(r"recipe 'cosine': warmup=5 has no unit", "cosine", warmup=5)
    assert all(s in message for s in SPELLINGS)
    fails(r"milestones\[1\]=60 has no unit", "multistep", milestones=["3ep", 60])
    fails(r"recipe 'cyclic': up='2.5' has no unit", "cyclic", up="2.5", max_lr=1.0)


def test_unknown_unit_negative_and_fractional_steps() -> None:
    message = fails(r"step_size='30days': unknown unit 'days'; write it as ", "step", step_size="30days")
    assert all(s in message for s in SPELLINGS)
    fails(r"step_size='-3ep': duration -3(\.0)?ep must be finite and >= 0", "step", step_size="-3ep")
    fails(r"period='-1st'.* must be finite and >= 0", "cosine_restarts", period="-1st")
    fails(r"step_size='2.5st': 2.5st is not a whole number of optimizer steps", "step", step_size="2.5st")
    fails(r"step_size='0ep' is 0 optimizer steps; it must be at least 1", "step", step_size="0ep")
    fails(r"duration=\['1ep'\] \(list\) is not a duration", "cosine", duration=["1ep"])


def test_warmup_as_long_as_the_run_or_longer() -> None:
    fails(
        r"recipe 'cosine': warmup='10ep' is 100 optimizer steps, as long as or longer than the whole run "
        r"\(100 steps\); allowed: warmup shorter than the run",
        "cosine",
        warmup="10ep",
    )
    fails(r"warmup='?100%'? is 100 optimizer steps, as long as or longer", "linear", warmup="100%")
    fails(r"warmup='11ep' is 110 optimizer steps, past the end of the run \(100 steps\)", "cosine", warmup="11ep")


def test_milestones() -> None:
    fails(
        r"milestones=\['3ep', '10ep'\] is not allowed; allowed: points before the end of the run \(100 steps\); "
        r"the last resolves to 100",
        "multistep",
        milestones=["3ep", "10ep"],
    )
    fails(
        r"milestones\[1\]='12ep' is 120 optimizer steps, past the end of the run",
        "multistep",
        milestones=["3ep", "12ep"],
    )
    fails(
        r"milestones=\['5ep', '3ep'\] is not allowed; allowed: strictly increasing points \(they resolve to \[50, 30\]",
        "multistep",
        milestones=["5ep", "3ep"],
    )
    fails(r"strictly increasing points \(they resolve to \[30, 30\]", "multistep", milestones=["3ep", "30st"])
    fails(
        r"milestones=\['1ep', '5ep'\] is not allowed; allowed: points after warmup \(20 steps\)",
        "multistep",
        milestones=["1ep", "5ep"],
        warmup="2ep",
    )
    fails(r"points after warmup \(20 steps\)", "multistep", milestones=["20st", "5ep"], warmup="2ep")
    fails(r"milestones=\[\] is not allowed; allowed: a non-empty list", "multistep", milestones=[])


def test_durations_past_the_run() -> None:
    fails(r"step_size='11ep' is 110 optimizer steps, past the end of the run \(100 steps\)", "step", step_size="11ep")
    fails(
        r"decay='10ep' is 100 optimizer steps, past the end of the run after warmup \(90 steps\); "
        r"the run has 100 optimizer steps, 10 steps per epoch",
        "wsd",
        decay="10ep",
        warmup="1ep",
    )
    fails(r"duration='101st' is 101 optimizer steps, past the end", "cosine", duration="101st")
    fails(r"period='200%'", "cosine_restarts", period="200%")


def test_epoch_units_when_steps_per_epoch_is_unknown() -> None:
    fails(
        r"recipe 'step': step_size=3ep is in epochs, but the number of optimizer steps per epoch is unknown.*"
        r"give it in steps, e.g. '500st'",
        "step",
        step_size="3ep",
        trainer=ITERABLE_WITH_MAX_STEPS,
    )
    fails(r"warmup=1ep is in epochs", "cosine", warmup="1ep", trainer=ITERABLE_WITH_MAX_STEPS)


def test_percent_and_spans_when_the_run_length_is_unknown() -> None:
    fails(
        r"milestones\[0\]=10% is a fraction of the run, but the run's length is unknown .*give it in steps or epochs",
        "multistep",
        milestones=["10%"],
        trainer=ENDLESS,
    )
    fails(r"recipe 'cosine' needs the run's length to span it.*or give duration explicitly", "cosine", trainer=ENDLESS)
    fails(r"recipe 'wsd': decay='20%' is not allowed; allowed: a run of known length", "wsd", trainer=ENDLESS)
    # an open-ended run is fine for what does not need its length
    config = lr_recipes.build("inverse_sqrt", sgd(), trainer=ENDLESS, timescale="100st")
    assert config["scheduler"].lr_at(300) == [0.05]


# --- the run ---------------------------------------------------------------------------------------


def test_the_run_must_be_given_once() -> None:
    pattern = r"durations are resolved against the run: give trainer= .* or both total_steps= and steps_per_epoch="
    with pytest.raises(RecipeError, match=pattern + r" \(got total_steps=None, steps_per_epoch=None\)"):
        lr_recipes.build("cosine", sgd())
    with pytest.raises(RecipeError, match=pattern + r" \(got total_steps=100, steps_per_epoch=None\)"):
        lr_recipes.build("cosine", sgd(), total_steps=100)
    with pytest.raises(RecipeError, match=r"give either trainer= or total_steps= and steps_per_epoch=, not both"):
        lr_recipes.build("cosine", sgd(), trainer=ITERABLE_WITH_MAX_STEPS, total_steps=100, steps_per_epoch=10)
    with pytest.raises(RecipeError, match="not both"):
        lr_recipes.build("cosine", sgd(), trainer=ITERABLE_WITH_MAX_STEPS, steps_per_epoch=10)


@pytest.mark.parametrize(
    ("total", "per_epoch", "match"),
    [
        (0, 10, "total_steps=0 must be a positive integer"),
        (100, 2.5, "steps_per_epoch=2.5 must be a positive integer"),
        (True, 10, "total_steps=True must be a positive integer"),
        (-5, 10, "total_steps=-5 must be a positive integer"),
    ],
)
def test_run_numbers_are_positive_integers(total: Any, per_epoch: Any, match: str) -> None:
    with pytest.raises(RecipeError, match=match):
        lr_recipes.build("cosine", sgd(), total_steps=total, steps_per_epoch=per_epoch)


def test_base_lr_must_be_finite() -> None:
    fails(r"param group 1 has lr=nan; a base LR must be finite and >= 0", "cosine", sgd(0.1, math.nan))


# --- floors ----------------------------------------------------------------------------------------


def test_min_lr_above_a_base_lr_names_the_group() -> None:
    fails(
        r"recipe 'cosine': min_lr=0.05 is above the base LR 0.01 of param group 1; allowed: 0 <= min_lr <= base LR",
        "cosine",
        sgd(0.1, 0.01),
        min_lr=0.05,
    )
    fails(
        r"min_lr=\[0.0, 0.2, 0.0\] is above the base LR 0.1 of param group 1",
        "polynomial",
        sgd(0.5, 0.1, 0.1),
        min_lr=[0.0, 0.2, 0.0],
    )
    fails(
        r"recipe 'plateau': min_lr=\[0.0, 0.02\] is above the base LR 0.01 of param group 1",
        "plateau",
        sgd(0.1, 0.01),
        min_lr=[0.0, 0.02],
    )
    fails(r"min_lr=-0.01 .*param group 0; allowed: 0 <= min_lr <= base LR", "wsd", min_lr=-0.01)


def test_negative_min_lr_message_reads_correctly() -> None:
    message = fails("min_lr=-0.01", "cosine", min_lr=-0.01)
    assert "negative the base LR" not in message


def test_min_lr_list_of_the_wrong_length() -> None:
    fails(
        r"recipe 'cosine': min_lr=\[0.0, 0.0, 0.0\] is not allowed; "
        r"allowed: one number, or a list of 2 \(one per param group\)",
        "cosine",
        sgd(0.1, 0.01),
        min_lr=[0.0, 0.0, 0.0],
    )
    fails(
        r"max_lr=\[1.0\] is not allowed; allowed: one number, or a list of 2", "onecycle", sgd(0.1, 0.01), max_lr=[1.0]
    )


def test_min_lr_and_min_lr_ratio_both() -> None:
    for name in ("cosine", "cosine_restarts", "polynomial", "wsd"):
        extra = {"period": "1ep"} if name == "cosine_restarts" else {}
        fails(
            rf"recipe '{name}': give min_lr \(absolute\) or min_lr_ratio \(a fraction of each base LR\), not both "
            r"\(got min_lr=0.0, min_lr_ratio=0.1\)",
            name,
            min_lr=0.0,
            min_lr_ratio=0.1,
            **extra,
        )
    fails(r"min_lr_ratio=1.5 is not allowed; allowed: 0 <= min_lr_ratio <= 1", "cosine", min_lr_ratio=1.5)


# --- ranges ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        (
            {"name": "step", "step_size": "1ep", "gamma": 1.5},
            r"recipe 'step': gamma=1.5 is not allowed; allowed: 0 < gamma <= 1",
        ),
        (
            {"name": "multistep", "milestones": ["1ep"], "gamma": 0.0},
            r"gamma=0.0 is not allowed; allowed: 0 < gamma <= 1",
        ),
        ({"name": "exponential", "gamma": -0.5}, r"recipe 'exponential': gamma=-0.5 is not allowed"),
        (
            {"name": "cyclic", "up": "1ep", "max_lr": 1.0, "gamma": 2.0},
            r"gamma=2.0 is not allowed; allowed: 0 < gamma <= 1",
        ),
        ({"name": "plateau", "factor": 1.0}, r"recipe 'plateau': factor=1.0 is not allowed; allowed: 0 < factor < 1"),
        ({"name": "plateau", "factor": 0.0}, r"factor=0.0 is not allowed; allowed: 0 < factor < 1"),
        ({"name": "plateau", "patience": -1}, r"patience=-1 is not allowed; allowed: an integer >= 0"),
        ({"name": "plateau", "cooldown": -2}, r"cooldown=-2 is not allowed; allowed: an integer >= 0"),
        ({"name": "plateau", "threshold": -0.1}, r"threshold=-0.1 is not allowed; allowed: >= 0"),
        ({"name": "plateau", "monitor": ""}, r"monitor='' is not allowed; allowed: the name of a logged metric"),
        (
            {"name": "cosine_restarts", "period": "1ep", "period_mult": 0.5},
            r"period_mult=0.5 is not allowed; allowed: >= 1",
        ),
        (
            {"name": "cosine_restarts", "period": "1ep", "decay": 0.0},
            r"decay=0.0 is not allowed; allowed: 0 < decay <= 1",
        ),
        ({"name": "polynomial", "power": 0}, r"power=0.0 is not allowed; allowed: > 0"),
        ({"name": "linear", "start_factor": 2}, r"start_factor=2.0 is not allowed; allowed: 0 <= start_factor <= 1"),
        ({"name": "linear", "end_factor": -0.1}, r"end_factor=-0.1 is not allowed; allowed: 0 <= end_factor <= 1"),
        ({"name": "onecycle", "pct_start": 1.0}, r"pct_start=1.0 is not allowed; allowed: 0 < pct_start < 1.0"),
        (
            {"name": "onecycle", "pct_start": 0.6, "three_phase": True},
            r"pct_start=0.6 is not allowed; allowed: 0 < pct_start < 0.5",
        ),
        ({"name": "onecycle", "div_factor": 1.0}, r"div_factor=1.0 is not allowed; allowed: > 1"),
        ({"name": "onecycle", "final_div_factor": 0.5}, r"final_div_factor=0.5 is not allowed; allowed: >= 1"),
        ({"name": "onecycle", "peak_factor": -1.0}, r"peak_factor=-1.0 is not allowed; allowed: > 0"),
        (
            {"name": "onecycle", "base_momentum": 0.99, "max_momentum": 0.9},
            r"base_momentum=0.99 is not allowed; allowed: 0 <= base_momentum <= max_momentum \(0.9\) < 1",
        ),
        (
            {"name": "cyclic", "up": "1ep", "max_lr": 0.05},
            r"max_lr=0.05 is not allowed; allowed: >= the base LR 0.1 of param group 0",
        ),
        (
            {"name": "cosine", "warmup": "1ep", "warmup_start_factor": 1.5},
            r"warmup_start_factor=1.5 is not allowed; allowed: 0 <= warmup_start_factor <= 1",
        ),
        (
            {"name": "cosine", "warmup": "1ep", "warmup_start_factor": 0.0, "warmup_shape": "exponential"},
            r"warmup_start_factor=0.0 is not allowed; allowed: > 0 with warmup_shape='exponential'",
        ),
    ],
)
def test_values_out_of_range(spec: dict[str, Any], match: str) -> None:
    fails(match, spec)


def test_onecycle_too_short_for_its_phases() -> None:
    with pytest.raises(
        RecipeError,
        match=r"recipe 'onecycle': duration='5st \(the rest of the run\)' is not allowed; allowed: a cycle with at "
        r"least 2 steps in each phase",
    ):
        lr_recipes.build("onecycle", sgd(), total_steps=5, steps_per_epoch=1)


# --- choices and YAML types ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        (
            {"name": "plateau", "mode": "mni"},
            r"recipe 'plateau': mode='mni' is not allowed \(did you mean 'min'\?\); allowed: 'min', 'max'",
        ),
        (
            {"name": "plateau", "mode": "maximize"},
            r"mode='maximize' is not allowed \(did you mean 'max'\?\); allowed: 'min', 'max'",
        ),
        (
            {"name": "plateau", "threshold_mode": "relative"},
            r"threshold_mode='relative' is not allowed \(did you mean 'rel'\?\)",
        ),
        (
            {"name": "onecycle", "anneal": "cosine"},
            r"anneal='cosine' is not allowed \(did you mean 'cos'\?\); allowed: 'cos', 'linear'",
        ),
        (
            {"name": "cyclic", "up": "1ep", "max_lr": 1.0, "mode": "triangle"},
            r"mode='triangle' is not allowed \(did you mean 'triangular'\?\)",
        ),
        (
            {"name": "wsd", "decay_shape": "sqrt"},
            r"decay_shape='sqrt' is not allowed.*allowed: 'linear', 'cosine', '1-sqrt'",
        ),
        (
            {"name": "cosine", "warmup": "1ep", "warmup_shape": "cosin"},
            r"warmup_shape='cosin' is not allowed \(did you mean 'cosine'\?\)",
        ),
        (
            {"name": "plateau", "patience": "ten"},
            r"recipe 'plateau': patience='ten' \(str\) is not allowed; allowed: int",
        ),
        ({"name": "plateau", "patience": 2.5}, r"patience=2.5 \(float\) is not allowed; allowed: int"),
        ({"name": "plateau", "patience": True}, r"patience=True \(bool\) is not allowed; allowed: int"),
        (
            {"name": "onecycle", "three_phase": "yes"},
            r"recipe 'onecycle': three_phase='yes' \(str\) is not allowed; allowed: bool",
        ),
        ({"name": "onecycle", "cycle_momentum": 1}, r"cycle_momentum=1 \(int\) is not allowed; allowed: bool"),
        ({"name": "multistep", "milestones": "30ep"}, r"recipe 'multistep': milestones='30ep' is not list\[duration\]"),
        ({"name": "step", "step_size": "1ep", "gamma": "half"}, r"gamma='half' \(str\) is not allowed; allowed: float"),
        ({"name": "cosine", "min_lr": True}, r"min_lr=True is not float \| list\[float\] \| None"),
        ({"name": "cosine", "min_lr": "none"}, r"min_lr='none' is not float \| list\[float\] \| None"),
        ({"name": "plateau", "monitor": 3}, r"monitor=3 \(int\) is not allowed; allowed: str"),
    ],
)
def test_wrong_choices_and_wrong_yaml_types(spec: dict[str, Any], match: str) -> None:
    fails(match, spec)
    with pytest.raises(RecipeError, match=match):
        check_spec(spec)


def test_yaml_numbers_that_are_strings_or_integral_floats_are_accepted() -> None:
    # PyYAML reads 1e-3 (no dot) as a string, and 3.0 may come from arithmetic: both are unambiguous.
    sched = lr_recipes.build("plateau", sgd(), **RUN, min_lr="1e-3", patience=3.0, factor="0.5")["scheduler"]
    assert sched.min_lrs == [1e-3]
    assert sched.patience == 3 and isinstance(sched.patience, int)
    assert sched.factor == 0.5


# --- peaks and momentum ----------------------------------------------------------------------------


def test_onecycle_max_lr_and_peak_factor_both() -> None:
    fails(
        r"recipe 'onecycle': peak_factor=10.0 is not allowed; allowed: either max_lr \(absolute\) or peak_factor "
        r"\(relative\), not both",
        "onecycle",
        max_lr=1.0,
        peak_factor=10.0,
    )
    fails(
        r"either max_lr \(absolute\) or peak_factor \(relative\), not both",
        "cyclic",
        up="1ep",
        max_lr=1.0,
        peak_factor=2.0,
    )


def test_cyclic_needs_a_peak() -> None:
    fails(
        r"recipe 'cyclic': max_lr=None is not allowed; allowed: a peak LR: max_lr \(absolute\) or peak_factor",
        "cyclic",
        up="2ep",
    )


def test_cyclic_peak_factor_below_one_names_peak_factor() -> None:
    fails(r"peak_factor=0.5", "cyclic", up="1ep", peak_factor=0.5)


@pytest.mark.parametrize("spec", [{"name": "cyclic", "up": "2ep", "max_lr": 1.0}, {"name": "onecycle"}])
def test_cycled_momentum_needs_an_optimizer_with_momentum(spec: dict[str, Any]) -> None:
    fails(
        rf"recipe '{spec['name']}': cycle_momentum=True needs an optimizer with momentum or betas; "
        r"Adagrad has neither \(set cycle_momentum: false\)",
        spec,
        adagrad(),
    )
    config = lr_recipes.build({**spec, "cycle_momentum": False}, adagrad(), **RUN)
    assert config["scheduler"].momentum_at(0) == [None]


def test_inverse_sqrt_needs_a_timescale_or_warmup() -> None:
    fails(
        r"recipe 'inverse_sqrt': timescale=None is not allowed; allowed: a duration such as \"1000st\" "
        r"\(or set warmup, which it defaults to\)",
        "inverse_sqrt",
    )
    sched = lr_recipes.build("inverse_sqrt", sgd(), **RUN, warmup="10st", warmup_start_factor=0.0)["scheduler"]
    assert sched.lr_at(10 + 30) == [pytest.approx(0.05)]  # timescale = warmup: halves 3 timescales later


# --- register and custom recipes -------------------------------------------------------------------


@pytest.fixture
def registered() -> Iterator[Callable[..., Callable[..., Any]]]:
    """``registered(name)`` is ``lr_recipes.register(name)``, undone after the test."""
    names: list[str] = []

    def register(name: str, **kwargs: Any) -> Callable[..., Any]:
        names.append(name)
        return lr_recipes.register(name, **kwargs)

    yield register
    for name in names:
        lr_recipes.unregister(name)
    assert not set(names) & set(lr_recipes.available())


def test_register_a_taken_name_fails_and_leaves_the_original(registered: Callable[..., Any]) -> None:
    with pytest.raises(
        RecipeError, match=r"a recipe named 'cosine' is already registered; pick another name or unregister"
    ):

        @lr_recipes.register("cosine")
        def cosine(step: int) -> float:
            return 1.0

    assert lr_recipes.get_recipe("cosine").factory.__module__ == "lr_recipes.registry.builtin"

    @registered("twice_test")
    def first(step: int) -> float:
        return 1.0

    with pytest.raises(RecipeError, match="'twice_test' is already registered"):
        registered("twice_test")(first)


def test_register_rejects_untyped_and_variadic_parameters(registered: Callable[..., Any]) -> None:
    with pytest.raises(RecipeError, match=r"recipe 'untyped_test': parameter 'end' needs a type hint"):

        @registered("untyped_test")
        def untyped(step: int, end=0.0) -> float:
            return 1.0

    with pytest.raises(RecipeError, match=r"\*args/\*\*kwargs are not allowed"):

        @registered("variadic_test")
        def variadic(step: int, **kwargs: float) -> float:
            return 1.0

    with pytest.raises(RecipeError, match=r"'warmup' is added to every recipe; do not declare it"):

        @registered("warmup_test")
        def own_warmup(step: int, warmup: float = 0.0) -> float:
            return 1.0

    assert "untyped_test" not in lr_recipes.available()


def test_custom_step_form_recipe_end_to_end(registered: Callable[..., Any]) -> None:
    @registered("linear_decay_test")
    def linear_decay(step: int, total_steps: int, end_factor: float = 0.0) -> float:
        return 1.0 - (1.0 - end_factor) * step / total_steps

    assert linear_decay(5, 10) == 0.5, "register returns the function unchanged"
    assert "linear_decay_test" in lr_recipes.available()
    assert list(lr_recipes.get_recipe("linear_decay_test").params) == [
        "end_factor",
        "warmup",
        "warmup_start_factor",
        "warmup_shape",
        "on_resume",
        "cooldown",
        "cooldown_start",
        "cooldown_shape",
    ]
    assert check_spec({"name": "linear_decay_test", "end_factor": 0.1}) == {
        "name": "linear_decay_test",
        "end_factor": 0.1,
    }

    opt = sgd(0.1, 0.02)
    config = lr_recipes.build(
        {"name": "linear_decay_test", "end_factor": 0.1}, opt, total_steps=100, steps_per_epoch=10, warmup="1ep"
    )
    assert config["interval"] == "step"
    sched = config["scheduler"]
    used = []
    for _ in range(110):
        used.append([g["lr"] for g in opt.param_groups])
        opt.step()
        sched.step()
    # total_steps is the run after warmup (90), and step counts from the end of warmup
    for t in range(10, 110):
        p = min(t - 10, 90) / 90 if t < 100 else (t - 10) / 90
        assert used[t] == pytest.approx([base * (1.0 - 0.9 * p) for base in (0.1, 0.02)], rel=1e-12), t
    assert used[0] == pytest.approx([0.001, 0.0002])  # the default warmup_start_factor 0.01
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(used[:11]))

    fails(
        r"recipe 'linear_decay_test' has no parameter 'end_facto' \(did you mean 'end_factor'\?\); "
        r"its parameters: end_factor, warmup, warmup_start_factor, warmup_shape",
        "linear_decay_test",
        end_facto=0.1,
    )
    fails(r"end_factor='low' \(str\) is not allowed; allowed: float", "linear_decay_test", end_factor="low")
    with pytest.raises(RecipeError, match=r"linear_decay_test.*has no parameter 'total_steps'"):
        check_spec("linear_decay_test", total_steps=5)  # injected, never a user parameter


def test_duration_parameters_of_step_form_recipes_arrive_as_steps(registered: Callable[..., Any]) -> None:
    seen: list[dict[str, Any]] = []

    @registered("halving_test")
    def halving(step: int, steps_per_epoch: int, every: Duration = Duration(10, "st")) -> float:
        seen.append({"every": every, "steps_per_epoch": steps_per_epoch})
        return 0.5 ** (step // every)

    sched = lr_recipes.build("halving_test", sgd(1.0), total_steps=100, steps_per_epoch=10, every="2.5ep")["scheduler"]
    assert sched.lr_at(24) == [1.0] and sched.lr_at(25) == [0.5] and sched.lr_at(75) == [0.125]
    assert seen[-1] == {"every": 25, "steps_per_epoch": 10} and type(seen[-1]["every"]) is int
    sched = lr_recipes.build("halving_test", sgd(1.0), total_steps=100, steps_per_epoch=10)["scheduler"]
    assert seen[-1]["every"] == 10, "a Duration default is resolved too"
    assert sched.lr_at(10) == [0.5]
    fails(r"recipe 'halving_test': every=30 has no unit", "halving_test", every=30)
    fails(r"every='200st' is 200 optimizer steps, past the end of the run after warmup", "halving_test", every="200st")


def test_duration_list_parameters_of_step_form_recipes_arrive_as_steps(registered: Callable[..., Any]) -> None:
    seen: list[Any] = []

    @registered("points_test")
    def points(step: int, milestones: list[Duration]) -> float:
        seen.append(milestones)
        return 0.1 ** sum(step >= m for m in milestones)

    lr_recipes.build("points_test", sgd(), **RUN, milestones=["2ep", "50%"])
    assert seen[-1] == [20, 50]


@pytest.mark.parametrize("bad", [-0.5, math.nan, math.inf, "1.0", None])
@pytest.mark.parametrize("where", ["start", "end"])
def test_step_form_recipe_returning_a_bad_factor_fails_at_build(
    registered: Callable[..., Any], bad: Any, where: str
) -> None:
    @registered("bad_factor_test")
    def bad_factor(step: int, total_steps: int) -> Any:
        at = 0 if where == "start" else total_steps
        return bad if step == at else 1.0

    message = fails(
        r"recipe 'bad_factor_test' returned .* at step \d+; it must return a factor >= 0", "bad_factor_test"
    )
    assert repr(bad) in message


def test_step_form_recipe_negative_mid_run_fails(registered: Callable[..., Any]) -> None:
    @registered("dip_test")
    def dip(step: int, total_steps: int) -> float:
        return -1.0 if step == total_steps // 2 else 1.0

    # checked over the whole run at build time, before any training step
    fails(r"recipe 'dip_test' returned -1.0 at step 50; it must return a factor >= 0", "dip_test")


def test_step_form_recipe_may_return_a_numpy_float(registered: Callable[..., Any]) -> None:
    import numpy as np

    @registered("numpy_test")
    def half(step: int) -> float:
        return np.float32(0.5)  # type: ignore[return-value]

    assert lr_recipes.build("numpy_test", sgd(), **RUN)["scheduler"].lr_at(3) == [0.05]


def test_step_form_recipe_needs_a_run_length_for_total_steps(registered: Callable[..., Any]) -> None:
    @registered("needs_total_test")
    def needs_total(step: int, total_steps: int) -> float:
        return 1.0

    @registered("needs_nothing_test")
    def needs_nothing(step: int) -> float:
        return 0.5

    fails(r"recipe 'needs_total_test' needs the run's length", "needs_total_test", trainer=ENDLESS)
    assert lr_recipes.build("needs_nothing_test", sgd(), trainer=ENDLESS)["scheduler"].lr_at(10**6) == [0.05]


def test_a_dropped_plateau_scheduler_stops_driving_the_optimizer() -> None:
    opt = sgd()
    lr_recipes.build("plateau", opt, **RUN, warmup="50st", warmup_start_factor=0.0)  # built, then thrown away
    gc.collect()
    sched = lr_recipes.build("plateau", opt, **RUN)["scheduler"]
    opt.step()
    assert opt.param_groups[0]["lr"] == sched.lr_at(1)[0] == 0.1
