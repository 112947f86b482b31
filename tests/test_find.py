"""The LR range test: a problem with a known answer, state restored exactly, param-group ratios, the lr.yaml
overlay through fit, DDP, and every error message."""

from __future__ import annotations

import functools
import json
import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from helpers import metric_rows, run_python
from lightning.pytorch import LightningModule, Trainer
from torch.utils.data import DataLoader, TensorDataset

from lr_recipes.find import FindError, apply_lr, find_lr, log_spaced, smooth, suggest
from lr_recipes.module import RecipeModule
from lr_recipes.pack.cli import RecipeCLI, main
from lr_recipes.pack.find_cmd import lr_overlay

RECIPES = Path(__file__).resolve().parent.parent / "recipes"
SMOKE = ["--config", str(RECIPES / "smoke.yaml")]


def trainer(**kwargs: Any) -> Trainer:
    defaults: dict[str, Any] = {
        "accelerator": "cpu",
        "devices": 1,
        "logger": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "enable_checkpointing": False,
        "max_epochs": 1,
    }
    return Trainer(**{**defaults, **kwargs})


class Quadratic(LightningModule):
    """Plain SGD on 0.5 * h * |w|^2: each step multiplies w by (1 - lr * h), so it diverges for lr > 2 / h."""

    def __init__(self, h: float = 10.0, batches: int = 200, loss: float | None = None) -> None:
        super().__init__()
        self.h, self.batches, self.fixed_loss = h, batches, loss
        self.w = torch.nn.Parameter(torch.ones(4, dtype=torch.float64))
        self.steps = 0

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        self.steps += 1
        if self.fixed_loss is not None:
            return self.w.sum() * 0.0 + self.fixed_loss
        return 0.5 * self.h * (self.w**2).sum()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(torch.zeros(self.batches, 1)), batch_size=1)


def test_quadratic_divergence_is_bracketed_and_every_suggestion_is_below_it() -> None:
    model = Quadratic(h=10.0)
    result = find_lr(model, trainer(), min_lr=1e-3, max_lr=10.0, num_steps=60, verbose=False)
    critical = 2.0 / model.h
    after = result.losses[1:]  # after[i]: the loss right after the step at lrs[i]
    lowest = min(range(len(after)), key=after.__getitem__)
    assert result.lrs[lowest] < critical <= result.lrs[lowest + 1]  # the loss turns exactly at 2 / h
    assert result.stop == "diverged"
    assert critical < result.diverged_at < 10 * critical  # stopped soon after, long before max_lr
    assert all(lr is not None and lr < critical for lr in result.suggestions.values()), result.suggestions
    assert result.lr == result.suggestions["valley"]
    assert "valley      *" in result.table()


def test_smoothing_starts_at_the_first_loss_and_has_no_lag_on_a_line() -> None:
    losses = [5.0 - 0.1 * k for k in range(50)]
    values, centres = smooth(losses, beta=0.9)
    assert values[0] == losses[0]  # no start at zero (Lightning #14167)
    # each value lies on the line at its centre of mass: the curve is not shifted to larger LRs
    assert all(math.isclose(v, 5.0 - 0.1 * c, rel_tol=1e-12) for v, c in zip(values, centres, strict=True))
    assert 49 - centres[-1] == pytest.approx(9, abs=0.5)  # the lag (in steps) an uncorrected EMA has


def test_rules_on_a_hand_made_curve() -> None:
    lrs = log_spaced(1e-4, 1.0, 41)  # 0.1 decade per point
    loss = [2.0 if lr < 1e-3 else 2.0 - 0.5 * math.log10(lr / 1e-3) for lr in lrs]  # falls from 1e-3 ...
    loss = [v if lr < 0.1 else 1.0 + 10 * math.log10(lr / 0.1) for v, lr in zip(loss, lrs, strict=True)]  # ... to 0.1
    assert suggest(lrs, loss, "minimum", skip=0) == pytest.approx(0.1 / 10)
    assert 1e-3 <= suggest(lrs, loss, "steepest", skip=0) < 0.1
    assert suggest(lrs, loss, "valley", skip=0) == pytest.approx(10**-2, rel=0.3)  # halfway along the fall
    assert suggest(lrs, [1.0, 2.0, 3.0], "steepest", skip=0) is None
    # a spike and a steep recovery after the lowest point (BatchNorm nets under SGD) do not count
    spiky = [*loss[:31], 3.0, 1.2, 1.2, 1.2, 1.2, 1.2, 1.2, 1.2, 1.2, 1.2]
    assert suggest(lrs, spiky, "steepest", skip=0) < 0.1
    with pytest.raises(FindError, match="rule='fastest' is not allowed; allowed: 'valley', 'steepest', 'minimum'"):
        suggest(lrs, loss, "fastest")


class Net(LightningModule):
    """BatchNorm, dropout (the RNG inside the step), a shuffling loader, SGD with momentum and two groups."""

    def __init__(self, persistent_optimizer: bool = False) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(4, 16), torch.nn.BatchNorm1d(16), torch.nn.ReLU(), torch.nn.Dropout(0.2)
        )
        self.head = torch.nn.Linear(16, 1)
        self.used: list[list[float]] = []
        self.opt = self._make() if persistent_optimizer else None

    def _make(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(
            [{"params": self.net.parameters()}, {"params": self.head.parameters(), "lr": 0.01}], lr=0.1, momentum=0.9
        )

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return torch.nn.functional.mse_loss(self.head(self.net(x)).squeeze(1), y)

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        self.used.append([g["lr"] for g in optimizer.param_groups])

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.opt if self.opt is not None else self._make()

    def train_dataloader(self) -> DataLoader:
        g = torch.Generator().manual_seed(0)
        x = torch.randn(512, 4, generator=g)
        return DataLoader(TensorDataset(x, x.sum(1) + 0.1 * torch.randn(512, generator=g)), batch_size=8, shuffle=True)


def test_find_then_fit_trains_exactly_as_fit_alone() -> None:
    torch.manual_seed(0)
    alone, with_find = Net(), Net()
    with_find.load_state_dict(alone.state_dict())
    torch.manual_seed(1)
    trainer(max_steps=20).fit(alone)
    torch.manual_seed(1)
    t = trainer(max_steps=20)
    find_lr(with_find, t, num_steps=30, verbose=False)
    t.fit(with_find)  # the same batches in the same order, the same dropout masks, a fresh optimizer
    assert t.global_step == 20
    for a, b in zip(alone.state_dict().values(), with_find.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_state_is_restored_exactly() -> None:
    torch.manual_seed(0)
    model = Net(persistent_optimizer=True)
    t = trainer(max_steps=5)
    t.fit(model)  # weights, BatchNorm statistics and momentum buffers that are not the initial ones
    random.seed(3)
    np.random.seed(3)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer = json.dumps(str(model.opt.state_dict()))
    momentum = [s["momentum_buffer"].clone() for s in model.opt.state.values()]
    rng = (torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())
    steps, epoch = t.global_step, t.current_epoch
    find_lr(model, t, num_steps=30, verbose=False)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert before["net.1.num_batches_tracked"] == 5  # BatchNorm buffers are part of the check
    assert json.dumps(str(model.opt.state_dict())) == optimizer
    assert all(torch.equal(a, s["momentum_buffer"]) for a, s in zip(momentum, model.opt.state.values(), strict=True))
    assert torch.equal(torch.get_rng_state(), rng[0])
    assert np.array_equal(np.random.get_state()[1], rng[1]) and random.getstate() == rng[2]
    assert (t.global_step, t.current_epoch, t.should_stop) == (steps, epoch, False)
    assert [g["lr"] for g in model.opt.param_groups] == [0.1, 0.01]


def test_param_groups_keep_their_ratio() -> None:
    model = Net()
    result = find_lr(model, trainer(), num_steps=30, verbose=False)
    assert len(model.used) == len(result.lrs)
    for (net, head), lr in zip(model.used, result.lrs, strict=True):
        assert net == lr and head == pytest.approx(0.1 * lr, rel=1e-12)
    assert result.group_ratios == [[1.0, pytest.approx(0.1)]]
    assert result.group_lrs()[0][1] == pytest.approx(0.1 * result.lr)
    # applied to a RecipeModule, the suggestion becomes the optimizer's lr and the groups keep their ratio
    module = RecipeModule(optimizer=functools.partial(torch.optim.SGD, lr=0.1))
    module.layer = torch.nn.Linear(2, 2)
    module.optimizer_parameters = lambda: [
        {"params": [module.layer.weight]},
        {"params": [module.layer.bias], "lr": 0.02},
    ]
    apply_lr(module, result.lr)
    groups = module.make_optimizers(total_steps=10, steps_per_epoch=5)["optimizer"].param_groups
    assert groups[0]["initial_lr"] == pytest.approx(result.lr) and groups[1]["initial_lr"] == pytest.approx(
        0.2 * result.lr
    )


def test_lr_yaml_round_trips_through_fit(tmp_path: Path) -> None:
    recipe = ["--config", str(RECIPES / "polynomial.yaml"), *SMOKE, "--trainer.limit_train_batches", "14"]
    recipe += ["--trainer.logger.init_args.save_dir", str(tmp_path), "--trainer.logger.init_args.name", "rt"]
    recipe += ["--trainer.max_epochs", "1", "--test_after_fit", "false"]
    # find, write lr.yaml, then train at the suggestion (find --fit)
    assert main(["find", *recipe, "--num_steps", "30", "--out", "lr.yaml", "--fit"]) == 0
    written = yaml.safe_load(Path("lr.yaml").read_text())
    lr = written["model"]["optimizer"]["init_args"]["lr"]
    assert set(written) == {"model"} and 1e-5 < lr < 10
    assert Path("lr_find.png").stat().st_size > 1000
    run = tmp_path / "rt" / "version_0"
    assert metric_rows(str(run), "lr-SGD")[0] == (0, pytest.approx(lr))  # polynomial starts at the optimizer's lr
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["model"]["optimizer"]["init_args"]["lr"] == lr  # the saved config says what ran
    # fit --config lr.yaml builds the same optimizer: the overlay merges into the recipe's
    cli = RecipeCLI(args=[*recipe, "--config", "lr.yaml"], run=False)
    optimizer = cli.model.optimizer([torch.nn.Parameter(torch.zeros(1))])
    assert type(optimizer) is torch.optim.SGD and optimizer.defaults["lr"] == lr
    assert optimizer.defaults["momentum"] == 0.9  # the recipe's other arguments are kept


def test_overlay_sets_the_peak_each_schedule_needs() -> None:
    spec = {"name": "onecycle", "pct_start": 0.25}
    overlay, why = lr_overlay(spec, 0.4, 0.3, 1.0, 1.0)
    assert overlay == {"model": {"optimizer": {"init_args": {"lr": 0.3}}}} and "peaks at it" in why[0]
    overlay, why = lr_overlay({**spec, "peak_factor": 2.0}, 0.4, 0.3, 1.0, 2.0)
    assert overlay["model"]["optimizer"]["init_args"]["lr"] == 0.15 and "2 x the optimizer's lr" in why[0]
    overlay, why = lr_overlay({**spec, "max_lr": [0.4, 0.04]}, 0.4, 0.3, 1.0, 1.0)
    assert overlay == {"model": {"schedule": {**spec, "max_lr": [0.3, 0.03]}}} and "absolute" in why[0]
    cyclic = {"name": "cyclic", "up": "4ep", "max_lr": 0.1, "mode": "triangular2"}
    overlay, why = lr_overlay(cyclic, 0.01, 0.5, 1.0, 1.0)
    assert overlay == {"model": {"schedule": {**cyclic, "max_lr": 0.5}, "optimizer": {"init_args": {"lr": 0.05}}}}
    assert "keeps the recipe's ratio 0.01/0.1" in why[1]


def test_plateau_recipe_is_refused_before_training(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:  # the CLI prints a FindError as one line, exit status 2
        main(["find", "--config", str(RECIPES / "plateau.yaml"), *SMOKE])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "error: the plateau recipe sets its LR from the metric 'val_loss'" in err
    assert "--model.schedule constant" in err and "Traceback" not in err
    with pytest.raises(FindError, match="sets its LR from the metric"):
        lr_overlay({"name": "plateau", "monitor": "val_loss"}, 0.1, 0.1, 1.0, 1.0)


@pytest.mark.parametrize(
    ("model", "kwargs", "message"),
    [
        (Quadratic(loss=float("nan")), {}, r"the loss is nan from the first step, before any LR could act"),
        (Quadratic(loss=1.0), {}, r"the loss never fell: .* Check that the model trains"),
        (Quadratic(), {"min_lr": 1.0}, r"the loss diverged within \d+ steps of min_lr=1 .* lower min_lr"),
        (
            Quadratic(batches=5),
            {},
            r"too few training batches: the range test needs 40 optimizer steps, but an epoch has 5 "
            r"\(5 batches, accumulate_grad_batches=1\).* Lower num_steps to 15",
        ),
        (Quadratic(), {"rule": "steep"}, r"rule='steep' is not allowed; allowed: 'valley', 'steepest', 'minimum'"),
        (Quadratic(), {"min_lr": 1.0, "max_lr": 0.1}, r"min_lr=1.0, max_lr=0.1 is not allowed"),
        (Quadratic(), {"diverge": 1.0}, r"diverge=1.0 is not allowed; allowed: a number > 1"),
    ],
)
def test_errors(model: Quadratic, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(FindError, match=message):
        find_lr(model, trainer(), **{"num_steps": 40, "max_lr": 10.0, "verbose": False, **kwargs})
    if "too few" in message:
        assert model.steps == 0  # refused before any training step


def test_ddp_ranks_average_the_loss_and_agree(tmp_path: Path) -> None:
    run_python([str(Path(__file__).parent / "scripts" / "ddp_find.py"), str(tmp_path)], cwd=tmp_path, timeout=300)
    rank0, rank1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert rank0["losses"] == rank1["losses"] and rank0["suggestions"] == rank1["suggestions"]
    assert rank0["lr"] == rank1["lr"]
    assert rank0["own"] != rank1["own"]  # each rank's own loss differs; the curve is their mean
    means = [(a + b) / 2 for a, b in zip(rank0["own"], rank1["own"], strict=True)]
    assert rank0["losses"] == pytest.approx(means, rel=1e-12)


class Recording(Quadratic):
    """A quadratic plus the batch's value (micro-batches differ), recording every loss it returns."""

    def __init__(self) -> None:
        super().__init__()
        self.own: list[float] = []

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss = super().training_step(batch, batch_idx) + batch[0].sum()
        self.own.append(float(loss.detach()))
        return loss

    def train_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(torch.arange(200, dtype=torch.float64).unsqueeze(1) % 3), batch_size=1)


def test_accumulation_averages_the_window() -> None:
    model = Recording()
    result = find_lr(model, trainer(accumulate_grad_batches=2), num_steps=30, verbose=False)
    assert len(model.own) == 2 * len(result.losses)  # one point per optimizer step, not per batch
    means = [(a + b) / 2 for a, b in zip(model.own[::2], model.own[1::2], strict=True)]
    assert result.losses == pytest.approx(means, rel=1e-12)  # not one micro-batch divided by 2


def test_lightning_internals_the_range_test_leans_on() -> None:
    import inspect

    from lightning.pytorch.loops import _FitLoop, _TrainingEpochLoop
    from lightning.pytorch.loops.optimization.automatic import ClosureResult

    assert {"min_epochs", "max_epochs"} <= set(inspect.signature(_FitLoop.__init__).parameters)
    assert {"min_steps", "max_steps"} <= set(inspect.signature(_TrainingEpochLoop.__init__).parameters)
    # training_step's loss reaches on_train_batch_end divided by the accumulation
    assert float(ClosureResult.from_training_step_output(torch.tensor(4.0), 2).loss) == 2.0
