"""Durations ("30ep", "500st", "10%"): parsing, formatting, rounding, and the run read from a real Trainer."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from lightning.pytorch import Trainer
from lightning.pytorch.demos.boring_classes import BoringModel, RandomIterableDataset
from torch.utils.data import DataLoader

import lr_recipes
from lr_recipes import Duration, DurationError, Run

# --- parsing and formatting ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value", "unit", "canonical"),
    [
        ("30ep", 30, "ep", "30ep"),
        ("2.5 epochs", 2.5, "ep", "2.5ep"),
        ("1 epoch", 1, "ep", "1ep"),
        ("0.5ep", 0.5, "ep", "0.5ep"),
        (".5ep", 0.5, "ep", "0.5ep"),
        ("30EP", 30, "ep", "30ep"),
        ("500st", 500, "st", "500st"),
        ("500 steps", 500, "st", "500st"),
        ("1 step", 1, "st", "1st"),
        ("500.0st", 500, "st", "500st"),
        ("10%", 10, "%", "10%"),
        ("12.5 %", 12.5, "%", "12.5%"),
        ("  30ep  ", 30, "ep", "30ep"),
        ("\t7 \n steps ", 7, "st", "7st"),
        ("1e3st", 1000, "st", "1000st"),
        ("2.5E1ep", 25, "ep", "25ep"),
        ("1.5e-1ep", 0.15, "ep", "0.15ep"),
        ("5e+1%", 50, "%", "50%"),
        ("+5ep", 5, "ep", "5ep"),
        ("0st", 0, "st", "0st"),
    ],
)
def test_parse_every_spelling(text: str, value: float, unit: str, canonical: str) -> None:
    d = Duration.parse(text)
    assert (d.value, d.unit) == (value, unit)
    assert str(d) == canonical
    assert repr(d) == f"Duration({canonical!r})"
    assert Duration.parse(str(d)) == d
    assert Duration.parse(d) is d


@settings(max_examples=200, deadline=None)
@given(
    value=st.one_of(
        st.integers(0, 10**9).map(float),
        st.floats(0.0, 1e6, allow_nan=False, allow_infinity=False),
        st.floats(1e-12, 1e-3),
    ),
    unit=st.sampled_from(["ep", "%"]),
)
def test_str_round_trips_through_parse(value: float, unit: str) -> None:
    d = Duration(value, unit)  # type: ignore[arg-type]
    assert Duration.parse(str(d)) == d
    assert Duration.parse(f"  {d}  ") == d


@pytest.mark.parametrize("bad", [30, 2.5, "30", " 30 ", "2.5", "1e3"])
def test_a_bare_number_is_an_error_that_shows_the_spellings(bad: object) -> None:
    with pytest.raises(DurationError, match="has no unit") as err:
        Duration.parse(bad, param="step_size")
    message = str(err.value)
    assert message.startswith(f"step_size={bad!r}")
    for spelling in ('"30ep"', '"500st"', '"10%"'):
        assert spelling in message
    amount = str(bad).strip()
    assert f'"{amount}ep" if you meant epochs' in message
    assert f'"{amount}st" if you meant steps' in message


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ("30days", r"warmup='30days': unknown unit 'days'; write it as \"30ep\""),
        ("30 minutes", "unknown unit 'minutes'"),
        ("ep", r"warmup='ep' is not a duration; write it as \"30ep\""),
        ("", "is not a duration"),
        ("thirty epochs", "is not a duration"),
        ("3 0ep", "is not a duration"),
        ("-5ep", r"warmup='-5ep': duration -5(\.0)?ep must be finite and >= 0"),
        ("-1%", "must be finite and >= 0"),
        ("2.5st", r"warmup='2.5st': 2.5st is not a whole number of optimizer steps"),
        ("1e-1st", "is not a whole number of optimizer steps"),
        (None, r"warmup=None \(NoneType\) is not a duration"),
        (True, r"warmup=True \(bool\) is not a duration"),
        (["5ep"], r"warmup=\['5ep'\] \(list\) is not a duration"),
    ],
)
def test_bad_durations_name_the_parameter_and_the_value(bad: object, match: str) -> None:
    with pytest.raises(DurationError, match=match):
        Duration.parse(bad, param="warmup")


@pytest.mark.parametrize(
    ("value", "unit", "match"),
    [
        (math.nan, "ep", "must be finite"),
        (math.inf, "st", "must be finite"),
        (-1, "st", ">= 0"),
        (1.5, "st", "not a whole number"),
        (3, "min", "unit 'min' is not one of 'ep', 'st', '%'"),
    ],
)
def test_constructor_validates(value: float, unit: str, match: str) -> None:
    with pytest.raises(DurationError, match=match):
        Duration(value, unit)  # type: ignore[arg-type]


def test_duration_error_is_a_value_error() -> None:
    assert issubclass(DurationError, ValueError)


# --- resolving to optimizer steps ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "total", "per_epoch", "steps"),
    [
        ("500st", None, None, 500),
        ("500st", 100, 7, 500),  # steps are steps; fitting the run is the recipe's business
        ("3ep", None, 391, 1173),
        ("0.5ep", None, 391, 196),  # 195.5 rounds half up (banker's rounding would give 196 too)
        ("1.5ep", None, 391, 587),  # 586.5: half up, where banker's rounding gives 586
        ("2.5ep", None, 1, 3),  # banker's gives 2
        ("0.7ep", None, 10, 7),  # 0.7 * 10 = 7.000000000000001
        ("0.3ep", None, 10, 3),  # 0.3 * 10 = 3.0000000000000004
        ("2.9999999999999996ep", None, 1, 3),
        ("0.49ep", None, 1, 0),
        ("10%", 1000, None, 100),
        ("2.5%", 100, None, 3),
        ("0.05%", 1000, None, 1),  # 0.5 steps rounds up
        ("0.04%", 1000, None, 0),
        ("100%", 777, None, 777),
        ("0ep", None, 50, 0),
    ],
)
def test_to_steps_rounds_half_up(text: str, total: int | None, per_epoch: int | None, steps: int) -> None:
    assert Duration.parse(text).to_steps(total, per_epoch) == steps
    assert Run(total_steps=total, steps_per_epoch=per_epoch).steps(text, param="x") == steps


@settings(max_examples=300, deadline=None)
@given(hundredths=st.integers(0, 100_000), per_epoch=st.integers(1, 5000), total=st.integers(1, 10**6))
def test_to_steps_is_exact_half_up_rounding(hundredths: int, per_epoch: int, total: int) -> None:
    """A value with two decimals resolves to floor(exact + 1/2), computed with fractions."""
    text = f"{hundredths // 100}.{hundredths % 100:02d}"
    exact = Fraction(hundredths, 100)
    assert Duration.parse(f"{text}ep").to_steps(None, per_epoch) == math.floor(exact * per_epoch + Fraction(1, 2))
    assert Duration.parse(f"{text}%").to_steps(total, None) == math.floor(exact * total / 100 + Fraction(1, 2))


def test_epochs_need_steps_per_epoch() -> None:
    with pytest.raises(DurationError, match=r"warmup=3ep is in epochs, but the number of optimizer steps per epoch"):
        Duration.parse("3ep").to_steps(total_steps=1000, steps_per_epoch=None, param="warmup")
    assert Duration.parse("30st").to_steps(total_steps=None, steps_per_epoch=None) == 30


def test_percent_needs_the_run_length() -> None:
    with pytest.raises(DurationError, match=r"decay=20% is a fraction of the run, but the run's length is unknown"):
        Run(total_steps=None, steps_per_epoch=10).steps("20%", param="decay")


# --- Run.from_trainer on a real Trainer ------------------------------------------------------------


class RunProbe(BoringModel):
    """Reads the run in configure_optimizers (as users do) and counts the optimizer steps it really gets."""

    def __init__(self, train_loader: DataLoader | None = None, spec: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.train_loader = train_loader
        self.spec = spec
        self.run: Run | None = None
        self.steps_per_epoch: list[int] = []
        self.used_lrs: list[float] = []
        self.scheduler: Any = None

    def train_dataloader(self) -> DataLoader:
        return self.train_loader if self.train_loader is not None else super().train_dataloader()

    def configure_optimizers(self) -> Any:
        self.run = Run.from_trainer(self.trainer)
        opt = torch.optim.SGD(self.parameters(), lr=0.1)
        if self.spec is None:
            return opt
        config = lr_recipes.build(self.spec, opt, trainer=self.trainer)
        self.scheduler = config["scheduler"]
        return {"optimizer": opt, "lr_scheduler": config}

    def on_train_epoch_start(self) -> None:
        self.steps_per_epoch.append(self.trainer.global_step)

    def on_train_epoch_end(self) -> None:
        self.steps_per_epoch[-1] = self.trainer.global_step - self.steps_per_epoch[-1]

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        self.used_lrs.append(optimizer.param_groups[0]["lr"])


def fit(model: RunProbe, **kwargs: Any) -> Trainer:
    options: dict[str, Any] = {
        "accelerator": "cpu",
        "devices": 1,
        "logger": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "enable_checkpointing": False,
        "limit_val_batches": 0,
        "num_sanity_val_steps": 0,
    }
    options.update(kwargs)
    trainer = Trainer(**options)
    trainer.fit(model)
    return trainer


@pytest.mark.parametrize(
    ("batches", "accumulate", "epochs", "per_epoch"),
    [
        (10, 3, 2, 4),  # 3 + 3 + 3 + 1: Lightning steps on the last, partial window
        (9, 3, 2, 3),
        (7, 1, 3, 7),
        (2, 3, 3, 1),  # fewer batches than one window: one step an epoch
    ],
)
def test_from_trainer_counts_the_steps_lightning_takes(
    batches: int, accumulate: int, epochs: int, per_epoch: int
) -> None:
    model = RunProbe()
    trainer = fit(model, limit_train_batches=batches, accumulate_grad_batches=accumulate, max_epochs=epochs)
    assert model.run == Run(total_steps=per_epoch * epochs, steps_per_epoch=per_epoch)
    assert model.steps_per_epoch == [per_epoch] * epochs, "Run.from_trainer must match what Lightning does"
    assert trainer.global_step == per_epoch * epochs


def test_from_trainer_with_max_steps_before_the_last_epoch() -> None:
    model = RunProbe()
    trainer = fit(model, limit_train_batches=4, max_epochs=3, max_steps=6)
    assert model.run == Run(total_steps=6, steps_per_epoch=4)
    assert trainer.global_step == 6


def test_from_trainer_with_a_fractional_limit_and_accumulation() -> None:
    model = RunProbe()  # 64 batches, half of them: 32, in windows of 5: 7 steps an epoch
    trainer = fit(model, limit_train_batches=0.5, accumulate_grad_batches=5, max_epochs=2)
    assert model.run == Run(total_steps=14, steps_per_epoch=7)
    assert trainer.global_step == 14


def test_from_trainer_with_an_iterable_dataset_and_max_steps() -> None:
    model = RunProbe(DataLoader(RandomIterableDataset(32, 1000), batch_size=2))
    trainer = fit(model, max_steps=7)
    assert model.run == Run(total_steps=7, steps_per_epoch=None)
    assert trainer.global_step == 7


def test_build_inside_configure_optimizers_follows_the_real_run() -> None:
    spec = {"name": "multistep", "milestones": ["1ep", "2.5ep"], "gamma": 0.5, "warmup": "2st"}
    model = RunProbe(spec=spec)
    fit(model, limit_train_batches=10, accumulate_grad_batches=3, max_epochs=3)  # 4 steps an epoch, 12 in all
    assert model.run == Run(total_steps=12, steps_per_epoch=4)
    assert model.used_lrs == [model.scheduler.lr_at(t)[0] for t in range(12)]
    assert model.used_lrs[2:] == pytest.approx([0.1] * 2 + [0.05] * 6 + [0.025] * 2)  # decays at steps 4, 10


def test_epoch_units_with_an_iterable_dataset_fail_inside_fit() -> None:
    model = RunProbe(
        DataLoader(RandomIterableDataset(32, 1000), batch_size=2), spec={"name": "step", "step_size": "2ep"}
    )
    with pytest.raises(lr_recipes.RecipeError, match=r"step_size=2ep is in epochs, but the number of optimizer steps"):
        fit(model, max_steps=7)
    model = RunProbe(
        DataLoader(RandomIterableDataset(32, 1000), batch_size=2), spec={"name": "step", "step_size": "3st"}
    )
    trainer = fit(model, max_steps=7)
    assert trainer.global_step == 7
    assert model.used_lrs == pytest.approx([0.1] * 3 + [0.01] * 3 + [0.001])


class _Stop(Exception):
    pass


class OpenEndedProbe(RunProbe):
    def configure_optimizers(self) -> Any:
        self.run = Run.from_trainer(self.trainer)
        raise _Stop  # the run is endless; reading it is all this test needs


@pytest.mark.filterwarnings("ignore:`max_epochs` was not set")
def test_from_trainer_with_an_iterable_dataset_and_no_max_steps_is_open_ended() -> None:
    model = OpenEndedProbe(DataLoader(RandomIterableDataset(32, 1000), batch_size=2))
    with pytest.raises(_Stop):
        fit(model)
    assert model.run == Run(total_steps=None, steps_per_epoch=None)


def test_from_trainer_rejects_accumulation_that_varies_by_epoch() -> None:
    class Varying:
        estimated_stepping_batches, num_training_batches = 20, 10
        accumulate_grad_batches, max_epochs, max_steps = {0: 1, 2: 4}, 2, -1

    with pytest.raises(DurationError, match=r"accumulate_grad_batches=.* must be one integer"):
        Run.from_trainer(Varying())
