"""LRSchedulerCallback: LearningRateMonitor-compatible logging, the LR trace, and plateau stepping."""

from __future__ import annotations

import logging
import math
import os
from typing import Any

import pytest
import torch
from helpers import ScriptedValModel, metric_rows, plateau, quiet_trainer, read_csv, simulate_plateau
from lightning.pytorch.callbacks import Callback, LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.demos.boring_classes import BoringModel
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.utilities.exceptions import MisconfigurationException

import lr_recipes
from lr_recipes import LRSchedulerCallback
from lr_recipes.callback import CALLBACK_INTERVAL

# --- logging: a superset of LearningRateMonitor ----------------------------------------------------


class TwoGroupModel(BoringModel):
    """One SGD with two param groups (one named), a step-interval scheduler and a config name option."""

    def __init__(self, config_name: str | None = None, named_group: bool = True) -> None:
        super().__init__()
        self.extra = torch.nn.Linear(32, 2)
        self.config_name = config_name
        self.named_group = named_group

    def configure_optimizers(self) -> Any:
        second: dict[str, Any] = {"params": self.extra.parameters(), "lr": 0.01}
        if self.named_group:
            second["name"] = "head"
        opt = torch.optim.SGD([{"params": self.layer.parameters()}, second], lr=0.1, momentum=0.9, weight_decay=1e-4)
        sched = lr_recipes.build("cosine", opt, trainer=self.trainer, warmup="3st")
        sched["name"] = self.config_name
        return {"optimizer": opt, "lr_scheduler": sched}


class ManualTwoAdams(BoringModel):
    """Manual optimization with two Adam optimizers and no scheduler: keys lr-Adam and lr-Adam-1."""

    def __init__(self) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.other = torch.nn.Linear(32, 2)

    def training_step(self, batch: Any, batch_idx: int) -> None:
        for opt, layer in zip(self.optimizers(), (self.layer, self.other), strict=True):
            loss = layer(batch).sum()
            opt.zero_grad()
            self.manual_backward(loss)
            opt.step()

    def configure_optimizers(self) -> Any:
        return [torch.optim.Adam(self.layer.parameters(), lr=1e-3), torch.optim.Adam(self.other.parameters(), lr=2e-3)]


def _logged(callback: Any, model: BoringModel, tmp_path: Any, name: str, **trainer_kwargs: Any) -> dict:
    logger = CSVLogger(tmp_path, name=name)
    trainer = quiet_trainer(callbacks=[callback], logger=logger, max_epochs=2, log_every_n_steps=1, **trainer_kwargs)
    trainer.fit(model)
    rows = read_csv(os.path.join(logger.log_dir, "metrics.csv"))
    return {(int(r["step"]), k): float(v) for r in rows for k, v in r.items() if k not in ("step", "epoch") and v}


@pytest.mark.parametrize(
    ("make_model", "kwargs"),
    [
        (lambda: TwoGroupModel(), {}),
        (lambda: TwoGroupModel(named_group=False), {"log_momentum": True, "log_weight_decay": True}),
        (lambda: TwoGroupModel(config_name="my-cosine"), {"logging_interval": "step"}),
        (lambda: ManualTwoAdams(), {"log_momentum": True}),
        (lambda: TwoGroupModel(), {"logging_interval": "epoch"}),
    ],
    ids=["pg-names", "momentum-wd", "config-name", "two-adams", "epoch-interval"],
)
def test_same_keys_and_values_as_learning_rate_monitor(make_model: Any, kwargs: dict, tmp_path: Any) -> None:
    torch.manual_seed(0)
    theirs = _logged(LearningRateMonitor(**kwargs), make_model(), tmp_path, "theirs")
    torch.manual_seed(0)
    ours = _logged(LRSchedulerCallback(**kwargs), make_model(), tmp_path, "ours")
    assert theirs, "LearningRateMonitor logged nothing: the comparison would be empty"
    assert {k for _, k in theirs} == {k for _, k in ours}
    for key, value in theirs.items():
        assert ours[key] == value, key


class StepwiseLR(BoringModel):
    """A torch LambdaLR that holds its LR for 3 steps, then moves (the held tensor is reused, then replaced)."""

    def configure_optimizers(self) -> Any:
        opt = torch.optim.SGD(self.parameters(), lr=0.1)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 0.5 ** (t // 3))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


class CallbackMetricsRecorder(Callback):
    """``trainer.callback_metrics[key]`` after every batch; with ``clobber_at``, overwrites it at that batch
    (as another callback or Lightning might) to check that the next log writes it again."""

    def __init__(self, key: str, clobber_at: int | None = None) -> None:
        self.key, self.clobber_at, self.seen = key, clobber_at, []

    def on_train_batch_end(self, trainer: Any, *args: Any) -> None:
        metrics = trainer.callback_metrics
        self.seen.append(float(metrics[self.key]) if self.key in metrics else None)
        if trainer.global_step == self.clobber_at:
            trainer._logger_connector._callback_metrics[self.key] = torch.tensor(-1.0)


@pytest.mark.parametrize("clobber_at", [None, 4])
def test_callback_metrics_hold_the_logged_lr_as_learning_rate_monitor(clobber_at: int | None, tmp_path: Any) -> None:
    """ModelCheckpoint(monitor="lr-SGD") and friends read trainer.callback_metrics: the same values at every batch
    as with LearningRateMonitor, while the LR holds (the stored tensor is kept) and after it moves."""
    seen = {}
    for name, callback in (("theirs", LearningRateMonitor()), ("ours", LRSchedulerCallback())):
        recorder = CallbackMetricsRecorder("lr-SGD", clobber_at)
        trainer = quiet_trainer(
            callbacks=[callback, recorder], logger=CSVLogger(tmp_path, name=name), log_every_n_steps=2, max_epochs=3
        )
        trainer.fit(StepwiseLR())
        seen[name] = recorder.seen
    assert len(set(seen["theirs"]) - {None}) >= 3, "the LR must hold and move within the run"
    assert seen["ours"] == seen["theirs"]


def test_key_names(tmp_path: Any) -> None:
    keys = {k for _, k in _logged(LRSchedulerCallback(log_momentum=True), TwoGroupModel(), tmp_path, "a")}
    assert keys == {"lr-SGD/pg1", "lr-SGD/head", "lr-SGD/pg1-momentum", "lr-SGD/head-momentum"}
    keys = {k for _, k in _logged(LRSchedulerCallback(), ManualTwoAdams(), tmp_path, "b")}
    assert keys == {"lr-Adam", "lr-Adam-1"}


def test_log_key_prefix(tmp_path: Any) -> None:
    logger = CSVLogger(tmp_path)
    trainer = quiet_trainer(
        callbacks=[LRSchedulerCallback(log_key_prefix="optim/lr-")], logger=logger, log_every_n_steps=1
    )
    trainer.fit(TwoGroupModel())
    header = read_csv(os.path.join(logger.log_dir, "metrics.csv"))[0].keys()
    assert {"optim/lr-SGD/pg1", "optim/lr-SGD/head"} <= set(header)


def test_epoch_interval_plateau_is_logged_every_logged_step(tmp_path: Any) -> None:
    """LearningRateMonitor logs an epoch-interval scheduler once per epoch; a warmup moves it every step."""
    logger = CSVLogger(tmp_path)
    model = ScriptedValModel(
        [1.0] * 10, lambda o: lr_recipes.build("plateau", o, total_steps=40, steps_per_epoch=4, warmup="6st")
    )
    trainer = quiet_trainer(callbacks=[LRSchedulerCallback()], logger=logger, log_every_n_steps=1)
    trainer.fit(model)
    logged = dict(metric_rows(logger.log_dir, "lr-SGD"))
    assert [logged[s] for s in range(7)] == pytest.approx([lr[0] for lr in model.used_lrs[:7]])
    assert len(set(logged.values())) > 4, "warmup values must show up step by step"


def test_without_logger_warns_and_still_traces(tmp_path: Any) -> None:
    cb = LRSchedulerCallback()
    trainer = quiet_trainer(callbacks=[cb], logger=False, default_root_dir=tmp_path)
    with pytest.warns(UserWarning, match="no logger"):
        trainer.fit(TwoGroupModel())
    assert len(cb.trace_rows) == 16
    assert os.path.exists(tmp_path / "lr_trace.csv") and os.path.exists(tmp_path / "lr_trace.png")


def test_trace_equals_the_lr_of_every_optimizer_step(tmp_path: Any) -> None:
    model = ScriptedValModel([1.0] * 10, lambda o: lr_recipes.build("onecycle", o, trainer=model.trainer, warmup="2st"))
    logger = CSVLogger(tmp_path)
    trainer = quiet_trainer(
        callbacks=[LRSchedulerCallback()],
        logger=logger,
        limit_train_batches=9,
        accumulate_grad_batches=2,
        max_epochs=3,
        log_every_n_steps=50,
    )
    trainer.fit(model)
    rows = read_csv(os.path.join(logger.log_dir, "lr_trace.csv"))
    assert len(rows) == len(model.used_lrs) == 15  # ceil(9 / 2) = 5 optimizer steps per epoch, 3 epochs
    assert [int(r["step"]) for r in rows] == list(range(15))
    assert [int(r["epoch"]) for r in rows] == [e for e in range(3) for _ in range(5)]
    assert [float(r["lr-SGD"]) for r in rows] == [lr[0] for lr in model.used_lrs]  # exact: repr round trip
    momenta = [float(r["lr-SGD-momentum"]) for r in rows]
    assert len(set(momenta)) > 3, "onecycle cycles momentum and the trace records it"
    assert os.path.getsize(os.path.join(logger.log_dir, "lr_trace.png")) > 5000


class ScriptedWrites(BoringModel):
    """Writes scripted LR and momentum values into its param group in ``optimizer_step`` (the hand-written warmup
    pattern), the way schedulers do and don't: the same float object again, an equal float that is another object,
    -0.0 then 0.0, an int, a held value across epochs."""

    def __init__(self, script: list[tuple[Any, Any]]) -> None:
        super().__init__()
        self.script = script
        self.used: list[tuple[Any, Any]] = []

    def optimizer_step(self, epoch: int, batch_idx: int, optimizer: Any, optimizer_closure: Any = None) -> None:
        group = optimizer.param_groups[0]
        lr, momentum = self.script[self.trainer.global_step]
        if lr is not None:
            group["lr"] = lr
        if momentum is not None:
            group["momentum"] = momentum
        self.used.append((group["lr"], group["momentum"]))
        optimizer.step(closure=optimizer_closure)

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9)


class ReadTail(Callback):
    """Reads the LR callback's in-memory tail before every batch (which closes the trace's open run)."""

    def __init__(self, callback: LRSchedulerCallback) -> None:
        self.callback, self.lengths = callback, []

    def on_train_batch_start(self, *args: Any) -> None:
        self.lengths.append(len(self.callback.trace_rows))


@pytest.mark.parametrize("read_tail", [False, True], ids=["plain", "tail-read-every-step"])
def test_trace_records_whatever_wrote_the_lr_between_steps(read_tail: bool, tmp_path: Any) -> None:
    """The trace checks each step whether the group still holds the objects of the last recorded step (a step that
    changes nothing adds nothing): every kind of write in between is still a row with exactly its value, also
    when something reads the trace between steps (which closes the run the callback's fast path holds)."""
    lr = 0.1
    script: list[tuple[Any, Any]] = [
        (None, None), (lr, None), (float("0.1"), None), (None, 0.5),  # epoch 0
        (None, None), (-0.0, None), (0.0, None), (0.0, None),  # epoch 1 starts with the values held
        (None, None), (1, None), (0.25, 0.25), (None, None),  # epoch 2 too; an int LR
        (None, None), (0.5, 0.9), (None, 0), (None, None),  # epoch 3 too; an int momentum
    ]  # fmt: skip
    model = ScriptedWrites(script)
    logger = CSVLogger(tmp_path)
    callback = LRSchedulerCallback()
    callback._trace.flush_rows = 2  # every log step and validation writes: runs split mid-value and mid-epoch
    reader = ReadTail(callback)
    trainer = quiet_trainer(
        callbacks=[callback, *([reader] if read_tail else [])],
        logger=logger,
        limit_train_batches=4,
        max_epochs=4,
        log_every_n_steps=3,
    )
    trainer.fit(model)
    assert reader.lengths == (list(range(16)) if read_tail else [])
    with open(os.path.join(logger.log_dir, "lr_trace.csv"), newline="") as f:
        lines = f.read().splitlines()
    expected = ["step,epoch,skipped,lr-SGD,lr-SGD-momentum"]
    expected += [f"{t},{t // 4},0,{lr!r},{m!r}" for t, (lr, m) in enumerate(model.used)]
    assert len(model.used) == 16
    assert lines == expected
    assert [(r["lr-SGD"], r["lr-SGD-momentum"]) for r in callback.trace_rows] == model.used
    assert [repr(r["lr-SGD"]) for r in callback.trace_rows][5:10] == ["-0.0", "0.0", "0.0", "0.0", "1"]


# --- plateau stepping ------------------------------------------------------------------------------

# Dyadic values: Lightning logs float32, and these survive the round trip exactly.
VALUES = [1.0, 0.875, 0.9375, 0.96875, 0.984375, 0.5, 0.625, 0.75, 0.8125, 0.875, 1.0, 1.125]


def _fit_plateau(values: list[float], callbacks: list | None = None, **trainer_kwargs: Any) -> tuple:
    model = ScriptedValModel(values, plateau(patience=1, factor=0.5))
    cb = LRSchedulerCallback()
    trainer = quiet_trainer(callbacks=[cb, *(callbacks or [])], logger=False, **trainer_kwargs)
    trainer.fit(model)
    return model, cb, trainer


def test_check_val_every_n_epoch_2_steps_once_per_validation_with_its_value() -> None:
    model, cb, trainer = _fit_plateau(VALUES, max_epochs=8, check_val_every_n_epoch=2)
    assert model.val_runs == 4
    assert [e.value for e in cb.plateau_events] == VALUES[:4]
    assert [e.lrs[0] for e in cb.plateau_events] == simulate_plateau(VALUES[:4], patience=1, factor=0.5)
    sched = trainer.lr_scheduler_configs[0].scheduler
    assert sched.last_epoch == 4, "Lightning must not have stepped it at the epochs without validation"
    assert trainer.lr_scheduler_configs[0].interval == "epoch", "the config is handed back after fit"


def test_reductions_after_the_kept_events_are_still_marked() -> None:
    # 40 validations, more than the 32 events kept: the last reductions reach the trace picture's marks too.
    values = [1.0] * 40  # never improves: with patience 0 every validation after the first reduces
    model = ScriptedValModel(values, plateau(patience=0, factor=0.9))
    cb = LRSchedulerCallback()
    trainer = quiet_trainer(callbacks=[cb], logger=False, max_epochs=40, limit_train_batches=1, limit_val_batches=1)
    trainer.fit(model)
    assert len(cb.plateau_events) == 32 and model.val_runs == 40
    reduced = [e.step for e in cb.plateau_events if e.reduced]
    assert list(cb._reductions)[-len(reduced) :] == reduced and len(cb._reductions) == 39


def test_val_check_interval_half_steps_twice_per_epoch() -> None:
    model, cb, _trainer = _fit_plateau(VALUES, max_epochs=4, val_check_interval=0.5)
    assert model.val_runs == 8
    assert [e.value for e in cb.plateau_events] == VALUES[:8]
    assert [e.lrs[0] for e in cb.plateau_events] == simulate_plateau(VALUES[:8], patience=1, factor=0.5)
    assert [e.step for e in cb.plateau_events] == [2, 4, 6, 8, 10, 12, 14, 16]
    # the LR each step used changes right after the validation that reduced it
    reduced_at = [e.step for e in cb.plateau_events if e.reduced]
    assert any(step < len(model.used_lrs) for step in reduced_at)
    for step in reduced_at:
        if step < len(model.used_lrs):
            assert model.used_lrs[step][0] < model.used_lrs[step - 1][0]


def test_max_steps_ending_mid_epoch_with_a_validation() -> None:
    model, cb, trainer = _fit_plateau(VALUES, max_epochs=-1, max_steps=8, val_check_interval=4, limit_train_batches=10)
    assert trainer.global_step == 8
    assert model.val_runs == 2
    assert [(e.step, e.epoch) for e in cb.plateau_events] == [(4, 0), (8, 0)]  # the last one mid-epoch


def test_sanity_check_is_ignored() -> None:
    _model, cb, _ = _fit_plateau(VALUES, max_epochs=2, num_sanity_val_steps=2)
    assert [e.value for e in cb.plateau_events] == VALUES[:2]
    assert cb.plateau_events[0].best == VALUES[0]


def test_warmup_plateau_recipe_warms_per_step_and_steps_per_validation(tmp_path: Any) -> None:
    model = ScriptedValModel(
        VALUES,
        lambda o: lr_recipes.build(
            {"name": "plateau", "patience": 1, "factor": 0.5, "warmup": "5st", "warmup_start_factor": 0.0},
            o,
            trainer=model.trainer,
        ),
    )
    cb = LRSchedulerCallback()
    trainer = quiet_trainer(callbacks=[cb], logger=False, max_epochs=4, val_check_interval=0.5)
    trainer.fit(model)
    used = [lr[0] for lr in model.used_lrs]
    assert used[:6] == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    # validations at steps 2 and 4 fall inside warmup: they set `best` but never count as bad
    assert [e.num_bad_epochs for e in cb.plateau_events[:2]] == [0, 0]
    assert len(cb.plateau_events) == 8
    reductions = [e.step for e in cb.plateau_events if e.reduced]
    assert reductions, "the scripted curve must trigger a reduction after warmup"


def test_warmup_plateau_without_the_callback_lightning_steps_it_per_epoch() -> None:
    """Without the callback the config is still right: Lightning steps it per epoch, warmup per step."""
    model = ScriptedValModel(
        VALUES,
        lambda o: lr_recipes.build({"name": "plateau", "patience": 0, "warmup": "3st"}, o, trainer=model.trainer),
    )
    trainer = quiet_trainer(logger=False, max_epochs=4)
    trainer.fit(model)
    sched = trainer.lr_scheduler_configs[0].scheduler
    assert sched.state.num_observations == 4 and sched.last_epoch == 16


def test_plain_torch_plateau_drop_in_matches_a_hand_stepped_scheduler() -> None:
    _model, cb, _ = _fit_plateau(VALUES, max_epochs=6)
    assert [e.lrs[0] for e in cb.plateau_events] == simulate_plateau(VALUES[:6], patience=1, factor=0.5)
    assert sum(e.reduced for e in cb.plateau_events) >= 1


def test_resume_mid_plateau_restores_state_exactly(tmp_path: Any) -> None:
    def run(max_epochs: int, ckpt_path: str | None = None, dirname: str = "full") -> tuple:
        model = ScriptedValModel(VALUES, plateau(patience=1, factor=0.5, cooldown=1))
        model.val_runs = 0 if ckpt_path is None else 3
        cb = LRSchedulerCallback()
        ckpt = ModelCheckpoint(dirpath=tmp_path / dirname, save_last=True, every_n_epochs=1)
        trainer = quiet_trainer(callbacks=[cb, ckpt], logger=False, max_epochs=max_epochs, enable_checkpointing=True)
        trainer.fit(model, ckpt_path=ckpt_path)
        return trainer.lr_scheduler_configs[0].scheduler, cb, model

    full, full_cb, full_model = run(7)
    run(3, dirname="first")
    resumed, resumed_cb, resumed_model = run(7, ckpt_path=str(tmp_path / "first" / "last.ckpt"), dirname="second")
    for attr in ("best", "num_bad_epochs", "cooldown_counter", "last_epoch"):
        assert getattr(resumed, attr) == getattr(full, attr), attr
    assert resumed.optimizer.param_groups[0]["lr"] == full.optimizer.param_groups[0]["lr"]
    assert resumed_cb.plateau_events == full_cb.plateau_events
    assert [r["step"] for r in resumed_cb.read_trace()] == list(range(28))
    assert resumed_model.used_lrs == full_model.used_lrs[12:]


def test_missing_metric_raises_with_the_available_names() -> None:
    model = ScriptedValModel(VALUES, plateau(), log_when=lambda k: False)
    trainer = quiet_trainer(callbacks=[LRSchedulerCallback()], logger=False, num_sanity_val_steps=0)
    with pytest.raises(MisconfigurationException, match=r"monitors 'val_loss', which is not available.*Available"):
        trainer.fit(model)


def test_stale_metric_is_not_reused() -> None:
    """A validation that does not log the metric must not step on the previous run's value."""
    model = ScriptedValModel(VALUES, plateau(), log_when=lambda k: k == 0)
    trainer = quiet_trainer(callbacks=[LRSchedulerCallback()], logger=False, num_sanity_val_steps=0)
    with pytest.raises(MisconfigurationException, match="was not logged by this validation run"):
        trainer.fit(model)


def test_missing_metric_strict_false_warns_and_skips() -> None:
    model = ScriptedValModel(VALUES, plateau(), log_when=lambda k: k % 2 == 0)
    cb = LRSchedulerCallback(strict=False)
    trainer = quiet_trainer(callbacks=[cb], logger=False, max_epochs=4, num_sanity_val_steps=0)
    with pytest.warns(RuntimeWarning, match="Skipping this plateau step"):
        trainer.fit(model)
    assert [e.value for e in cb.plateau_events] == [VALUES[0], VALUES[2]]


def test_nan_counts_as_no_improvement_with_a_warning() -> None:
    values = [1.0, math.nan, math.inf, 0.5]
    model = ScriptedValModel(values, plateau(patience=1, factor=0.5))
    cb = LRSchedulerCallback()
    trainer = quiet_trainer(callbacks=[cb], logger=False, max_epochs=4)
    with pytest.warns(RuntimeWarning, match=r"val_loss=nan at epoch 1.*counted as no improvement"):
        trainer.fit(model)
    events = cb.plateau_events
    assert [e.num_bad_epochs for e in events] == [0, 1, 0, 0]
    assert [e.reduced for e in events] == [False, False, True, False]
    assert events[3].best == 0.5


def test_nan_with_the_plateau_recipe() -> None:
    values = [1.0, math.nan, math.nan, 0.5]
    model = ScriptedValModel(
        values, lambda o: lr_recipes.build({"name": "plateau", "patience": 1}, o, trainer=model.trainer)
    )
    cb = LRSchedulerCallback()
    with pytest.warns(RuntimeWarning, match="counted as no improvement"):
        quiet_trainer(callbacks=[cb], logger=False, max_epochs=4).fit(model)
    assert [e.reduced for e in cb.plateau_events] == [False, False, True, False]


def test_plateau_state_is_logged(tmp_path: Any) -> None:
    logger = CSVLogger(tmp_path)
    model = ScriptedValModel(VALUES, plateau(patience=1, factor=0.5))
    trainer = quiet_trainer(callbacks=[LRSchedulerCallback()], logger=logger, max_epochs=6)
    trainer.fit(model)
    assert [v for _, v in metric_rows(logger.log_dir, "plateau/val_loss")] == VALUES[:6]
    assert [v for _, v in metric_rows(logger.log_dir, "plateau/num_bad_epochs")] == [0, 0, 1, 0, 1, 0]
    assert [v for _, v in metric_rows(logger.log_dir, "plateau/reduced")] == [0, 0, 0, 1, 0, 0]
    assert [v for _, v in metric_rows(logger.log_dir, "plateau/best")] == [1.0, 0.875, 0.875, 0.875, 0.875, 0.5]


def test_a_reduction_is_announced_on_rank_zero(caplog: pytest.LogCaptureFixture) -> None:
    model = ScriptedValModel(VALUES, plateau(patience=1, factor=0.5))
    with caplog.at_level(logging.INFO, logger="lightning.pytorch"):
        quiet_trainer(callbacks=[LRSchedulerCallback()], logger=False, max_epochs=6).fit(model)
    lines = [r.getMessage() for r in caplog.records if "has not improved" in r.getMessage()]
    assert lines == ["lr_recipes: val_loss has not improved on 0.875; LR reduced to [0.5] (epoch 3, step 16)."]


@pytest.mark.parametrize(
    "trainer_kwargs",
    [{}, {"val_check_interval": 0.5}, {"log_every_n_steps": 4}],
    ids=["epoch-end", "mid-epoch", "log-step-at-epoch-start"],
)
@pytest.mark.parametrize("logging_interval", [None, "step", "epoch"])
def test_plateau_values_carry_the_step_of_their_validation(
    trainer_kwargs: dict, logging_interval: str | None, tmp_path: Any
) -> None:
    """The plateau/* values go to the logger with the next LR log at the same step (one call) or alone:
    either way at Lightning's logging step of the validation that made them (val_loss's), the last one too."""
    logger = CSVLogger(tmp_path)
    model = ScriptedValModel(VALUES, plateau(patience=1, factor=0.5))
    callback = LRSchedulerCallback(logging_interval=logging_interval)
    trainer = quiet_trainer(callbacks=[callback], logger=logger, max_epochs=3, **trainer_kwargs)
    trainer.fit(model)
    val_steps = [step for step, _ in metric_rows(logger.log_dir, "val_loss")]
    assert len(val_steps) == len(callback.plateau_events) >= 3
    for key in ("plateau/val_loss", "plateau/best", "plateau/reduced"):
        assert [step for step, _ in metric_rows(logger.log_dir, key)] == val_steps, key
    assert [v for _, v in metric_rows(logger.log_dir, "plateau/val_loss")] == VALUES[: len(val_steps)]


@pytest.mark.parametrize("kind", ["recipe", "torch"])
def test_plateau_events_say_why_as_the_rule_does(kind: str) -> None:
    """Each event's reason is the rule's sentence for that validation (the recipe's is written when read),
    for the recipe and for torch's ReduceLROnPlateau, and survives the checkpoint state."""
    if kind == "recipe":
        make = plateau(patience=1, factor=0.5)
    else:

        def make(o: torch.optim.Optimizer) -> Any:
            sched = torch.optim.lr_scheduler.ReduceLROnPlateau(o, patience=1, factor=0.5)
            return {"scheduler": sched, "monitor": "val_loss"}

    model = ScriptedValModel(VALUES, make)
    callback = LRSchedulerCallback()
    quiet_trainer(callbacks=[callback], logger=False, max_epochs=6).fit(model)
    rule, state = lr_recipes.schedules.Plateau(patience=1, factor=0.5), lr_recipes.schedules.PlateauState(best=math.inf)
    expected = []
    for value in VALUES[:6]:
        expected.append(rule.decide(state, value, [1.0], [0.0]).reason)
        state, _ = rule.advance(state, value)
    assert [e.reason for e in callback.plateau_events] == expected
    assert "reduce" in expected[3] and expected[0] == "improved on best inf"
    saved = [e["reason"] for e in callback.state_dict()["plateau_events"]]
    assert saved == expected


def test_an_overridden_lr_scheduler_step_steps_the_plateau() -> None:
    """The callback steps plateau schedulers through the LightningModule's lr_scheduler_step when it is
    overridden (it may add to it, or not step), and straight through scheduler.step(value) when it is not."""

    class Hooked(ScriptedValModel):
        def __init__(self, *args: Any, step: bool = True) -> None:
            super().__init__(*args)
            self.calls, self.really_step = [], step

        def lr_scheduler_step(self, scheduler: Any, metric: Any) -> None:
            self.calls.append(metric)
            if self.really_step:
                super().lr_scheduler_step(scheduler, metric)

    for step in (True, False):
        model = Hooked(VALUES, plateau(patience=1, factor=0.5), step=step)
        callback = LRSchedulerCallback()
        quiet_trainer(callbacks=[callback], logger=False, max_epochs=6).fit(model)
        assert model.calls == VALUES[:6]
        sched = model.trainer.lr_scheduler_configs[0].scheduler
        assert (sched.best == 0.5) is step, "stepped only when the hook steps it"
        # Not stepped: each event says what a step would have done, not what an earlier step did.
        assert [e.reduced for e in callback.plateau_events] == (
            [False, False, False, True, False, False] if step else [False] * 6
        )
    plain = ScriptedValModel(VALUES, plateau(patience=1, factor=0.5))
    quiet_trainer(callbacks=[LRSchedulerCallback()], logger=False, max_epochs=6).fit(plain)
    assert plain.trainer.lr_scheduler_configs[0].scheduler.best == 0.5


def test_the_recipe_read_from_its_own_step_makes_the_events_the_generic_path_makes() -> None:
    """A plateau recipe stepped directly says what it did (decision, LRs, counters); through an overridden
    lr_scheduler_step the callback compares the LRs before and after instead: the events are the same, through
    warmup, reductions, a cooldown and the floor (min_lr reached, then due with nothing left to lower)."""

    class Hooked(ScriptedValModel):
        def lr_scheduler_step(self, scheduler: Any, metric: Any) -> None:
            super().lr_scheduler_step(scheduler, metric)

    spec = {"name": "plateau", "patience": 0, "factor": 0.5, "cooldown": 1, "min_lr": 0.2, "warmup": "3st"}

    def events_of(kind: type) -> list:
        model = kind(VALUES, lambda o: lr_recipes.build(spec, o, trainer=model.trainer))
        callback = LRSchedulerCallback()
        quiet_trainer(callbacks=[callback], logger=False, max_epochs=12, limit_train_batches=2).fit(model)
        return callback.plateau_events

    events = {kind.__name__: events_of(kind) for kind in (ScriptedValModel, Hooked)}
    assert events["ScriptedValModel"] == events["Hooked"]
    assert [e.reduced for e in events["Hooked"]].count(True) == 3, "0.5 -> 0.25 -> 0.2, then at the floor"
    assert events["Hooked"][0].reason.startswith("warming up")


def test_stop_on_min_lr() -> None:
    flat = [1.0] * 30
    model = ScriptedValModel(flat, plateau(patience=0, factor=0.5, min_lr=0.25))
    cb = LRSchedulerCallback(stop_on_min_lr=True)
    trainer = quiet_trainer(callbacks=[cb], logger=False, max_epochs=30)
    trainer.fit(model)
    # epochs 1 and 2 reduce 1 -> 0.5 -> 0.25; epoch 3 is due again at the floor: stop there
    assert [e.lrs[0] for e in cb.plateau_events] == [1.0, 0.5, 0.25, 0.25]
    assert trainer.current_epoch == 4 and trainer.should_stop


def test_step_plateau_false_leaves_lightning_in_charge() -> None:
    model = ScriptedValModel(VALUES, plateau(patience=1))
    cb = LRSchedulerCallback(step_plateau=False)
    trainer = quiet_trainer(callbacks=[cb], logger=False, max_epochs=3)
    trainer.fit(model)
    assert cb.plateau_events == []
    assert trainer.lr_scheduler_configs[0].interval == "epoch"
    assert trainer.lr_scheduler_configs[0].scheduler.last_epoch == 3


def test_owned_configs_carry_the_callback_interval_during_fit() -> None:
    seen = []

    class Probe(ScriptedValModel):
        def on_train_epoch_start(self) -> None:
            seen.append(self.trainer.lr_scheduler_configs[0].interval)

    model = Probe(VALUES, plateau())
    quiet_trainer(callbacks=[LRSchedulerCallback()], logger=False, max_epochs=2).fit(model)
    assert seen == [CALLBACK_INTERVAL] * 2
