"""Drop-in everywhere: the callback and the recipe schedulers in the shapes real projects have (issue 10).

Param groups added mid-run (BackboneFinetuning), AMP's skipped steps (a real GradScaler on CPU),
``frequency`` across epochs, long runs (the streamed trace), each logger, SWA, the pytorch_lightning
namespace. Each test is a small BoringModel fit on CPU.
"""

from __future__ import annotations

import os
import pickle
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from helpers import quiet_trainer, read_csv
from lightning.pytorch.callbacks import BackboneFinetuning, Callback, ModelCheckpoint, StochasticWeightAveraging
from lightning.pytorch.demos.boring_classes import BoringModel, RandomDataset
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.plugins.precision import MixedPrecision

import lr_recipes
from lr_recipes import LRSchedulerCallback
from lr_recipes.callback.trace import read_trace
from lr_recipes.schedules import Linear

# --- param groups added during training ------------------------------------------------------------


class Finetuned(BoringModel):
    """A frozen backbone that BackboneFinetuning unfreezes at epoch 1 (a new param group, lr = 0.1 x head's)."""

    def __init__(self, schedule: str = "recipe") -> None:
        super().__init__()
        self.backbone = torch.nn.Linear(32, 32)
        self.schedule = schedule
        self.used: list[list[float]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(self.backbone(x))

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        out = super().training_step(batch, batch_idx)
        self.log("train_loss", out["loss"], on_step=False, on_epoch=True)
        return out

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        self.used.append([float(g["lr"]) for g in optimizer.param_groups])

    def configure_optimizers(self) -> Any:
        opt = torch.optim.SGD(filter(lambda p: p.requires_grad, self.parameters()), lr=0.1)
        if self.schedule == "recipe":
            config = lr_recipes.build("linear", opt, trainer=self.trainer)
        elif self.schedule == "plateau":
            # no validation in these fits: a plateau on a training metric, which Lightning steps at epoch end
            spec = {"name": "plateau", "warmup": "6st", "monitor": "train_loss"}
            config = lr_recipes.build(spec, opt, trainer=self.trainer)
        else:
            config = {"scheduler": torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5), "interval": "step"}
        return {"optimizer": opt, "lr_scheduler": config}


class StopAfter(Callback):
    """Stops the run after epoch ``epoch``, as a preempted job would."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.current_epoch == self.epoch:
            trainer.should_stop = True


def _finetune(
    tmp_path: Any, schedule: str, epochs: int = 4, ckpt_path: str | None = None, name: str = "a", stop: int = -1
) -> tuple:
    model = Finetuned(schedule)
    cb = LRSchedulerCallback()
    ckpt = ModelCheckpoint(dirpath=tmp_path / f"ckpt-{name}", save_last=True)
    finetuning = BackboneFinetuning(unfreeze_backbone_at_epoch=1, backbone_initial_ratio_lr=0.1, should_align=False)
    trainer = quiet_trainer(
        callbacks=[cb, finetuning, ckpt, StopAfter(stop)],
        logger=CSVLogger(tmp_path, name=name),
        max_epochs=epochs,
        limit_val_batches=0,
        log_every_n_steps=1,
        enable_checkpointing=True,
    )
    trainer.fit(model, ckpt_path=ckpt_path)
    return model, cb, trainer


@pytest.mark.filterwarnings("ignore:.*lambda_func.*")
def test_a_group_added_mid_run_follows_the_recipe_as_a_factor_and_resumes(tmp_path: Any) -> None:
    model, cb, trainer = _finetune(tmp_path, "recipe")
    schedule = Linear(0.1, 1.0, 0.0, 16)  # 4 epochs x 4 steps
    assert [u[0] for u in model.used] == pytest.approx([schedule(t) for t in range(16)], rel=1e-12)
    assert all(len(u) == 2 for u in model.used[4:])
    # at step 4 the backbone appears with 0.1 x the head's LR and keeps that ratio, step by step; at epoch 2
    # BackboneFinetuning sets its LR again (x1.5 of its own record): the recipe follows from that value
    ratios = [u[1] / u[0] for u in model.used[4:]]
    assert ratios[:4] == pytest.approx([0.1] * 4, rel=1e-9)
    assert ratios[4:8] == pytest.approx([ratios[4]] * 4, rel=1e-9) and ratios[4] != pytest.approx(0.1)
    rows = cb.read_trace()
    assert [r["step"] for r in rows] == list(range(16))
    assert "lr-SGD/pg1" in rows[0] and "lr-SGD/pg2" not in rows[0], "renamed as LearningRateMonitor does"
    assert [r.get("lr-SGD/pg2") for r in rows[4:]] == pytest.approx([u[1] for u in model.used[4:]], rel=1e-12)
    logged = read_csv(os.path.join(trainer.logger.log_dir, "metrics.csv"))
    assert {"lr-SGD/pg1", "lr-SGD/pg2"} <= set(logged[0])
    state = trainer.lr_scheduler_configs[0].scheduler.state_dict()
    assert [g["step"] for g in state["added_groups"]] == [4]
    pickle.dumps(state)  # plain values: a weights_only checkpoint loads it

    _finetune(tmp_path, "recipe", name="part", stop=2)
    resumed, _, _ = _finetune(tmp_path, "recipe", ckpt_path=str(tmp_path / "ckpt-part" / "last.ckpt"), name="b")
    assert resumed.used == model.used[12:]


@pytest.mark.filterwarnings("ignore:.*lambda_func.*")
def test_a_group_added_mid_run_with_the_plateau_recipe_follows_its_warmup(tmp_path: Any) -> None:
    model, _, _ = _finetune(tmp_path, "plateau", epochs=2)
    head = [u[0] for u in model.used]
    assert head[0] < head[3] < head[5] < head[6] == head[7] == 0.1, "warms up over 6 steps"
    assert [u[1] / u[0] for u in model.used[4:]] == pytest.approx([0.1] * 4), "the backbone warms up with it"


@pytest.mark.filterwarnings("ignore:.*lambda_func.*")
def test_a_group_added_mid_run_with_a_torch_scheduler_is_traced(tmp_path: Any) -> None:
    model, cb, _ = _finetune(tmp_path, "torch", epochs=2)
    rows = cb.read_trace()
    assert len(rows) == 8
    assert [r["lr-SGD/pg1"] for r in rows] == [u[0] for u in model.used]
    assert [r.get("lr-SGD/pg2") for r in rows] == [None] * 4 + [u[1] for u in model.used[4:]]


# --- AMP: optimizer steps a GradScaler skipped -----------------------------------------------------


class Overflowing(BoringModel):
    """The loss is inf at the given global steps, so the GradScaler finds inf gradients and skips the step."""

    def __init__(self, inf_at: tuple[int, ...] = (0, 5)) -> None:
        super().__init__()
        self.inf_at = inf_at
        self.used: list[float] = []
        self.ran = 0

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        out = super().training_step(batch, batch_idx)
        if self.trainer.global_step in self.inf_at:
            out["loss"] = out["loss"] * float("inf")
        return out

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        self.used.append(float(optimizer.param_groups[0]["lr"]))

    def on_train_start(self) -> None:
        def count(*_: Any) -> None:
            self.ran += 1

        self.trainer.optimizers[0].register_step_post_hook(count)

    def configure_optimizers(self) -> Any:
        opt = torch.optim.SGD(self.parameters(), lr=0.1)
        return {"optimizer": opt, "lr_scheduler": lr_recipes.build("linear", opt, total_steps=12, steps_per_epoch=4)}


def test_skipped_amp_steps_do_not_advance_the_recipe_and_are_traced(tmp_path: Any) -> None:
    model, cb = Overflowing(), LRSchedulerCallback()
    precision = MixedPrecision("16-mixed", "cpu", scaler=torch.amp.GradScaler("cpu", init_scale=2.0**8))
    trainer = quiet_trainer(plugins=[precision], callbacks=[cb], logger=False, max_epochs=3, limit_val_batches=0)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*lr_scheduler.step.*before.*optimizer.step")
        trainer.fit(model)
    skipped = trainer.global_step - model.ran
    assert skipped == 2, "the scaler skipped exactly the two overflowing steps"
    sched = trainer.lr_scheduler_configs[0].scheduler
    assert sched.skipped_steps == skipped and sched.last_epoch == trainer.global_step - skipped
    schedule = Linear(0.1, 1.0, 0.0, 12)
    clock = [t - (t > 0) - (t > 5) for t in range(12)]  # steps 0 and 5 ran nothing: the clock waits
    assert model.used == pytest.approx([schedule(t) for t in clock], rel=1e-12)
    rows = cb.read_trace()
    assert [r["skipped"] for r in rows] == [int(t in (0, 5)) for t in range(12)]
    assert cb.skipped_steps == 2


def test_amp_resume_is_exact(tmp_path: Any) -> None:
    def run(epochs: int, ckpt_path: str | None = None, name: str = "a") -> Overflowing:
        model = Overflowing(inf_at=(1, 6))
        precision = MixedPrecision("16-mixed", "cpu", scaler=torch.amp.GradScaler("cpu", init_scale=2.0**8))
        ckpt = ModelCheckpoint(dirpath=tmp_path / name, save_last=True)
        trainer = quiet_trainer(
            plugins=[precision],
            callbacks=[LRSchedulerCallback(), ckpt],
            logger=False,
            max_epochs=epochs,
            limit_val_batches=0,
            enable_checkpointing=True,
        )
        trainer.fit(model, ckpt_path=ckpt_path)
        return model

    full = run(3, name="full")
    run(2, name="part")
    resumed = run(3, ckpt_path=str(tmp_path / "part" / "last.ckpt"), name="resumed")
    assert resumed.used == full.used[8:]


# --- frequency across epochs -----------------------------------------------------------------------


class Frequency(BoringModel):
    def __init__(self, batches: int = 64) -> None:
        super().__init__()
        self.batches = batches
        self.used: list[float] = []

    def train_dataloader(self) -> Any:
        return torch.utils.data.DataLoader(RandomDataset(32, self.batches), batch_size=1)

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        self.used.append(float(optimizer.param_groups[0]["lr"]))

    def configure_optimizers(self) -> Any:
        opt = torch.optim.SGD(self.parameters(), lr=1.0)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step", "frequency": 6}}


def test_frequency_counts_optimizer_steps_of_the_whole_run(tmp_path: Any) -> None:
    model = Frequency()
    trainer = quiet_trainer(callbacks=[LRSchedulerCallback()], logger=False, max_epochs=5, limit_val_batches=0)
    trainer.fit(model)
    assert model.used == [0.5 ** (t // 6) for t in range(20)], "stepped after optimizer steps 6, 12, 18"
    assert trainer.lr_scheduler_configs[0].interval == "step", "handed back after fit"


def test_frequency_with_accumulation_and_resume(tmp_path: Any) -> None:
    def run(epochs: int, ckpt_path: str | None = None, name: str = "a") -> Frequency:
        model = Frequency()
        ckpt = ModelCheckpoint(dirpath=tmp_path / name, save_last=True)
        trainer = quiet_trainer(
            callbacks=[LRSchedulerCallback(), ckpt],
            logger=False,
            max_epochs=epochs,
            limit_val_batches=0,
            limit_train_batches=8,
            accumulate_grad_batches=2,  # 4 optimizer steps per epoch
            enable_checkpointing=True,
        )
        trainer.fit(model, ckpt_path=ckpt_path)
        return model

    full = run(4)
    assert full.used == [0.5 ** (t // 6) for t in range(16)]
    run(1, name="part")
    assert run(4, ckpt_path=str(tmp_path / "part" / "last.ckpt"), name="resumed").used == full.used[4:]


# --- long runs: the trace is streamed, state stays small -----------------------------------------


def test_checkpoint_state_and_memory_do_not_grow_with_the_run(tmp_path: Any) -> None:
    def state_size(batches: int) -> int:
        cb = LRSchedulerCallback(trace_tail=50, trace_plot=False)
        model = Frequency(batches)
        trainer = quiet_trainer(
            callbacks=[cb], logger=False, max_epochs=1, limit_train_batches=batches, default_root_dir=tmp_path
        )
        trainer.fit(model)
        assert len(cb.read_trace()) == batches and len(cb.trace_rows) == 50
        return len(pickle.dumps(cb.state_dict()))

    small, large = state_size(60), state_size(600)
    assert small == large < 2000, (small, large)


def test_resume_into_the_same_log_dir_continues_the_file(tmp_path: Any) -> None:
    class CrashAfterCheckpoint(Callback):
        """Stops at step 10 after the epoch-2 checkpoint (at step 8) was written: rows 8-9 are after it."""

        def on_train_batch_end(self, trainer: Any, *args: Any) -> None:
            if trainer.global_step == 10:
                raise RuntimeError("crash")

    def run(ckpt_path: str | None = None, crash: bool = False) -> LRSchedulerCallback:
        cb = LRSchedulerCallback(trace_plot=False)
        trainer = quiet_trainer(
            callbacks=[cb, ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)]
            + ([CrashAfterCheckpoint()] if crash else []),
            logger=CSVLogger(tmp_path, name="run", version=0),  # the same log dir both times
            max_epochs=4,
            limit_val_batches=0,
            log_every_n_steps=1,
            enable_checkpointing=True,
        )
        trainer.fit(Frequency(), ckpt_path=ckpt_path)
        return cb

    with pytest.raises(RuntimeError, match="crash"):
        run(crash=True)
    path = tmp_path / "run" / "version_0" / "lr_trace.csv"
    assert [r["step"] for r in read_trace(path)] == list(range(10)), "flushed at every log step"
    cb = run(ckpt_path=str(tmp_path / "ckpt" / "last.ckpt"))
    assert [r["step"] for r in read_trace(path)] == list(range(16)), "no duplicate, no missing row"
    assert cb.trace_path == str(path)


def test_resume_into_a_new_log_dir_names_the_earlier_file(tmp_path: Any) -> None:
    def run(name: str, epochs: int, ckpt_path: str | None = None) -> LRSchedulerCallback:
        cb = LRSchedulerCallback(trace_plot=False)
        trainer = quiet_trainer(
            callbacks=[cb, ModelCheckpoint(dirpath=tmp_path / name, save_last=True)],
            logger=CSVLogger(tmp_path, name=name),
            max_epochs=epochs,
            limit_val_batches=0,
            enable_checkpointing=True,
        )
        trainer.fit(Frequency(), ckpt_path=ckpt_path)
        return cb

    first = run("first", 2)
    second = run("second", 4, ckpt_path=str(tmp_path / "first" / "last.ckpt"))
    assert [r["step"] for r in read_trace(second.trace_path, follow=False)] == list(range(8, 16))
    assert [r["step"] for r in second.read_trace()] == list(range(16))
    meta = os.path.splitext(second.trace_path)[0] + ".json"
    with open(meta) as f:
        assert first.trace_path in f.read()


def test_resume_from_a_checkpoint_of_the_in_memory_trace_keeps_its_rows(tmp_path: Any) -> None:
    # Checkpoints written before the trace was streamed hold every row under "trace_rows" (no "trace").
    def run(name: str, epochs: int, ckpt_path: str | None = None) -> LRSchedulerCallback:
        cb = LRSchedulerCallback(trace_plot=False)
        trainer = quiet_trainer(
            callbacks=[cb, ModelCheckpoint(dirpath=tmp_path / name, save_last=True)],
            logger=CSVLogger(tmp_path, name=name),
            max_epochs=epochs,
            limit_val_batches=0,
            enable_checkpointing=True,
        )
        trainer.fit(Frequency(), ckpt_path=ckpt_path)
        return cb

    straight = run("straight", 4).read_trace()
    first = run("first", 2)
    ckpt = torch.load(tmp_path / "first" / "last.ckpt", weights_only=False)
    (key,) = [k for k in ckpt["callbacks"] if k.startswith("LRSchedulerCallback")]
    old_rows = [{k: v for k, v in r.items() if k != "skipped"} for r in first.read_trace()]  # the old row shape
    ckpt["callbacks"][key] = {"trace_rows": old_rows, "plateau_events": []}
    torch.save(ckpt, tmp_path / "old.ckpt")
    resumed = run("resumed", 4, ckpt_path=str(tmp_path / "old.ckpt"))
    rows = read_trace(resumed.trace_path, follow=False)
    assert [r["step"] for r in rows] == list(range(16)), "the old rows, then the resumed run's, in one file"
    assert rows == straight
    assert not os.path.exists(os.path.splitext(resumed.trace_path)[0] + ".json"), "no earlier file to name"


# --- loggers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("loggers", ["csv", "tensorboard", "none", "csv+tensorboard"])
def test_each_logger(loggers: str, tmp_path: Any) -> None:
    made = {
        "csv": lambda: CSVLogger(tmp_path, name="csv"),
        "tensorboard": lambda: TensorBoardLogger(tmp_path, name="tb"),
    }
    logger = False if loggers == "none" else [made[name]() for name in loggers.split("+")]
    cb = LRSchedulerCallback()
    trainer = quiet_trainer(
        callbacks=[cb], logger=logger, max_epochs=2, limit_val_batches=0, log_every_n_steps=2, default_root_dir=tmp_path
    )
    if loggers == "none":
        with pytest.warns(UserWarning, match="no logger"):
            trainer.fit(Frequency())
    else:
        trainer.fit(Frequency())
    log_dir = trainer.log_dir or str(tmp_path)
    assert len(read_trace(os.path.join(log_dir, "lr_trace.csv"))) == 8
    assert os.path.getsize(os.path.join(log_dir, "lr_trace.png")) > 5000
    if "csv" in loggers:
        rows = read_csv(os.path.join(trainer.loggers[0].log_dir, "metrics.csv"))
        assert [int(r["step"]) for r in rows if r.get("lr-SGD")] == [1, 3, 5, 7]
    if "tensorboard" in loggers:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

        tb = next(lg for lg in trainer.loggers if isinstance(lg, TensorBoardLogger))
        events = EventAccumulator(tb.log_dir, size_guidance={"images": 1, "scalars": 0})
        events.Reload()
        assert "lr_trace" in events.Tags()["images"], "the picture also goes to TensorBoard"
        assert [e.step for e in events.Scalars("lr-SGD")] == [1, 3, 5, 7]


class CountWrites(Callback):
    """Counts the writes of metrics.csv that put rows on disk, and which steps were on disk when ``peek`` began."""

    def __init__(self, peek: int = -1) -> None:
        self.writes, self.peek, self.on_disk = 0, peek, []
        self._save: Any = None

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        experiment = trainer.logger.experiment
        save = experiment.save

        def counted() -> None:
            self.writes += bool(experiment.metrics)
            save()

        experiment.save = counted

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
        path = os.path.join(trainer.logger.log_dir, "metrics.csv")
        if trainer.global_step == self.peek and os.path.exists(path):
            self.on_disk = [int(r["step"]) for r in read_csv(path)]


def _csv_fit(
    tmp_path: Any, name: str, model: Any, peek: int = -1, prefix: str = "", **kwargs: Any
) -> tuple[str, CountWrites]:
    counter = CountWrites(peek)
    logger = CSVLogger(tmp_path, name=name, flush_logs_every_n_steps=5, prefix=prefix)
    quiet_trainer(callbacks=[counter, LRSchedulerCallback()], logger=logger, limit_train_batches=5, **kwargs).fit(model)
    with open(os.path.join(logger.log_dir, "metrics.csv")) as f:
        return f.read(), counter


def _plain_log_metrics(logger: Any, stats: dict, step: int) -> None:
    logger.log_metrics(stats, step=step)


@pytest.mark.parametrize("prefix", ["", "run"])
def test_csv_rows_at_a_step_lightning_just_wrote_wait_for_its_next_write(
    prefix: str, tmp_path: Any, monkeypatch: Any
) -> None:
    """CSVLogger writes metrics.csv for every row at a step = -1 (mod flush_logs_every_n_steps); the plateau/*
    row after a validation at such a step (Lightning logged and wrote val_loss there just before) waits for the
    next write instead of opening the file for itself: one write fewer per validation, the same file."""
    from helpers import ScriptedValModel, plateau

    values = [1.0, 0.9, 0.95, 0.97]  # validations at steps 4, 9, 14, 19: each a flush step
    kwargs = {"prefix": prefix, "num_sanity_val_steps": 0}
    ours, counted = _csv_fit(tmp_path, "ours", ScriptedValModel(values, plateau(patience=1)), **kwargs)
    monkeypatch.setattr("lr_recipes.callback.naming.log_metrics", _plain_log_metrics)
    plain, counted_plain = _csv_fit(tmp_path, "plain", ScriptedValModel(values, plateau(patience=1)), **kwargs)
    assert ours == plain
    assert ("run-plateau/best" if prefix else "plateau/best") in ours.splitlines()[0].split(",")
    # Lightning writes after each val_loss; the plain way writes again for each plateau/* row but the last,
    # which waits for the write at fit end either way
    assert (counted.writes, counted_plain.writes) == (len(values) + 1, 2 * len(values))


def test_csv_rows_of_earlier_steps_are_still_written_at_flush_steps(tmp_path: Any, monkeypatch: Any) -> None:
    """With nothing else logging, the LR rows reach metrics.csv at every flush step, as CSVLogger writes them."""
    seen = {}
    for name in ("ours", "plain"):
        if name == "plain":
            monkeypatch.setattr("lr_recipes.callback.naming.log_metrics", _plain_log_metrics)
        text, counted = _csv_fit(tmp_path, name, Frequency(), peek=12, limit_val_batches=0, log_every_n_steps=1)
        seen[name] = (text, counted.on_disk)
    assert seen["ours"] == seen["plain"]
    assert seen["ours"][1] == list(range(10)), "the rows up to step 9 are on disk when step 12 starts"


def test_trace_plot_false_skips_the_picture(tmp_path: Any) -> None:
    trainer = quiet_trainer(
        callbacks=[LRSchedulerCallback(trace_plot=False)], logger=CSVLogger(tmp_path), max_epochs=1, limit_val_batches=0
    )
    trainer.fit(Frequency())
    assert os.path.exists(os.path.join(trainer.log_dir, "lr_trace.csv"))
    assert not os.path.exists(os.path.join(trainer.log_dir, "lr_trace.png"))


# --- SWA, the pytorch_lightning namespace ----------------------------------------------------------


def test_swa_scheduler_swap_is_traced(tmp_path: Any) -> None:
    class Swa(BoringModel):
        def configure_optimizers(self) -> Any:
            opt = torch.optim.SGD(self.parameters(), lr=0.1)
            return {"optimizer": opt, "lr_scheduler": lr_recipes.build("cosine", opt, trainer=self.trainer)}

    cb = LRSchedulerCallback()
    swa = StochasticWeightAveraging(swa_lrs=0.05, swa_epoch_start=2, annealing_epochs=1)
    trainer = quiet_trainer(callbacks=[cb, swa], logger=False, max_epochs=4, limit_val_batches=0)
    trainer.fit(Swa())
    rows = cb.read_trace()
    assert len(rows) == 16
    assert rows[3]["lr-SGD"] > rows[7]["lr-SGD"] != 0.05, "the recipe's cosine before SWA starts"
    assert [r["lr-SGD"] for r in rows[12:]] == pytest.approx([0.05] * 4), "SWALR's constant LR after its anneal"


def test_pytorch_lightning_namespace(tmp_path: Any) -> None:
    pl = pytest.importorskip("pytorch_lightning")
    from pytorch_lightning.demos.boring_classes import BoringModel as PLBoring

    class PlateauModel(PLBoring):
        def validation_step(self, batch: Any, batch_idx: int) -> Any:
            self.log("val_loss", 1.0)
            return super().validation_step(batch, batch_idx)

        def configure_optimizers(self) -> Any:
            opt = torch.optim.SGD(self.parameters(), lr=1.0)
            sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "monitor": "val_loss"}}

    cb = LRSchedulerCallback()
    trainer = pl.Trainer(
        accelerator="cpu",
        max_epochs=3,
        limit_train_batches=2,
        limit_val_batches=1,
        num_sanity_val_steps=0,
        logger=pl.loggers.CSVLogger(tmp_path),
        log_every_n_steps=1,
        callbacks=[cb],
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
    )
    trainer.fit(PlateauModel())
    assert [e.reduced for e in cb.plateau_events] == [False, True, True]
    assert [r["lr-SGD"] for r in cb.read_trace()] == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5]
    assert "lr-SGD" in read_csv(os.path.join(trainer.log_dir, "metrics.csv"))[0]


@pytest.mark.slow
def test_tensorboard_overlay_runs_the_pack(tmp_path: Any) -> None:
    from lr_recipes.pack.cli import main

    recipes = Path(__file__).resolve().parents[1] / "recipes"
    torch.set_num_threads(1)
    main(
        [
            "fit",
            *("--config", str(recipes / "constant.yaml")),
            *("--config", str(recipes / "smoke.yaml")),
            *("--config", str(recipes / "loggers" / "tensorboard.yaml")),
            *("--trainer.enable_progress_bar", "false", "--data.cache_dir", str(tmp_path / "cache")),
        ]
    )
    run_dir = tmp_path / "runs" / "tensorboard" / "version_0"
    assert (run_dir / "lr_trace.csv").exists() and (run_dir / "metrics.csv").exists()
    assert list((tmp_path / "runs" / "tensorboard" / "tb").rglob("events.out.tfevents.*")), "TensorBoard's events"


def test_trace_flush_policy_bounds_what_a_hard_kill_loses(tmp_path: Any) -> None:
    """Rows reach the file at a flush point (log step, validation) once 500 wait, and by themselves when 1000
    wait (no flush point came); a checkpoint (state_dict) writes every row recorded so far."""
    from lr_recipes.callback.trace import LRTrace

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    trace = LRTrace()
    trace.set_layout(opt, ["lr-SGD"])
    path = trace.open(str(tmp_path / "lr_trace.csv"), first_step=0)
    step = 0

    def record(n: int, epoch: int = 0) -> None:
        nonlocal step
        for _ in range(n):
            assert trace.record(opt, step, epoch)
            step += 1

    def in_file() -> int:
        return len(read_trace(path))

    record(499)
    trace.flush_if_full()
    assert in_file() == 0, "fewer than 500 waiting: a flush point writes nothing"
    record(1, epoch=1)
    trace.flush_if_full()
    assert in_file() == 500
    record(1000)
    assert in_file() == 500, "no flush point yet"
    record(1)
    assert in_file() == 1500, "the 1000-row buffer filled: written before the next row is kept"
    record(7)
    trace.state_dict()
    assert [r["step"] for r in read_trace(path)] == list(range(1508)), "a checkpoint writes every row"
    assert {r["epoch"] for r in read_trace(path)} == {0, 1}


def test_a_constant_lr_with_no_flush_point_still_reaches_the_file(tmp_path: Any) -> None:
    """The callback's inline fast path (the LR and momentum objects held: the step only counts) stops at the
    buffer's size too: with no log step and no validation in the run, rows reach the file every buffer_rows."""
    seen: list[int] = []

    class Peek(Callback):
        def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
            path = callback.trace_path
            seen.append(len(read_trace(path, follow=False)) if path and os.path.exists(path) else 0)

    callback = LRSchedulerCallback()
    callback._trace.buffer_rows, callback._trace.flush_rows = 10, 5
    model = BoringModel()
    trainer = quiet_trainer(
        callbacks=[callback, Peek()], logger=CSVLogger(tmp_path), max_steps=25, limit_train_batches=25,
        limit_val_batches=0, log_every_n_steps=1000,
    )  # fmt: skip
    trainer.fit(model)
    # Before batch b, b rows were recorded; the first 10 reach the file at step 10, the next 10 at step 20.
    assert seen[:11] == [0] * 11 and seen[11:21] == [10] * 10 and seen[21:] == [20] * 4
    assert [r["step"] for r in callback.read_trace()] == list(range(25))


class ManualPlateau(BoringModel):
    """Manual optimization stepping its own ReduceLROnPlateau after each validation, as Lightning's docs say to."""

    def __init__(self) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.used: list[float] = []

    def training_step(self, batch: Any, batch_idx: int) -> None:
        opt = self.optimizers()
        opt.zero_grad()
        self.manual_backward(self.layer(batch).sum())
        self.used.append(opt.param_groups[0]["lr"])
        opt.step()

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self.log("val_loss", 1.0)

    def on_validation_epoch_end(self) -> None:
        if not self.trainer.sanity_checking:
            self.lr_schedulers().step(self.trainer.callback_metrics["val_loss"])

    def configure_optimizers(self) -> Any:
        opt = torch.optim.SGD(self.parameters(), lr=1.0)
        return {"optimizer": opt, "lr_scheduler": torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0)}


def test_manual_optimization_keeps_stepping_its_own_plateau(tmp_path: Any) -> None:
    """Under manual optimization the user steps the schedulers (Lightning never marks a config reduce_on_plateau
    there): the callback traces and logs, and the plateau is stepped once per validation, by the user."""
    runs = {}
    for name, callbacks in (("plain", []), ("callback", [LRSchedulerCallback()])):
        model = ManualPlateau()
        trainer = quiet_trainer(
            callbacks=callbacks, logger=CSVLogger(tmp_path, name=name), max_epochs=4, limit_train_batches=2
        )
        trainer.fit(model)
        runs[name] = model.used
    assert runs["callback"] == runs["plain"] == pytest.approx([1.0, 1.0, 1.0, 1.0, 0.1, 0.1, 0.01, 0.01])
    assert callbacks[0].plateau_events == []
    assert [r["lr-SGD"] for r in callbacks[0].read_trace()] == runs["plain"]


class TrainMetricPlateau(BoringModel):
    """ReduceLROnPlateau on a training metric, which Lightning steps at each epoch end."""

    def __init__(self) -> None:
        super().__init__()
        self.used: list[float] = []

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        self.log("train_loss", 1.0, on_step=False, on_epoch=True)
        return super().training_step(batch, batch_idx)

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        self.used.append(optimizer.param_groups[0]["lr"])

    def configure_optimizers(self) -> Any:
        opt = torch.optim.SGD(self.parameters(), lr=1.0)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "monitor": "train_loss"}}


@pytest.mark.parametrize(
    "trainer_kwargs",
    [{"limit_val_batches": 0}, {}, {"check_val_every_n_epoch": 2}, {"val_check_interval": 0.5}],
    ids=["no-validation", "validation-every-epoch", "check_val_every_n_epoch=2", "mid-epoch-validation"],
)
def test_what_validation_never_logs_stays_lightnings(trainer_kwargs: dict, caplog: pytest.LogCaptureFixture) -> None:
    """A plateau on a training metric, or any plateau in a fit without validation: Lightning steps it at each
    epoch end exactly as without the callback (before: never stepped without validation, an error with it)."""
    used = {}
    for name, callbacks in (("plain", []), ("callback", [LRSchedulerCallback(trace=False)])):
        model = TrainMetricPlateau()
        with caplog.at_level("INFO", logger="lightning.pytorch"):
            quiet_trainer(callbacks=callbacks, max_epochs=4, limit_train_batches=4, **trainer_kwargs).fit(model)
        used[name] = model.used
        if callbacks:
            assert callbacks[0].plateau_events == []
    assert used["callback"] == used["plain"] == [1.0] * 8 + [0.5] * 4 + [0.25] * 4
    handed_back = [r for r in caplog.records if "training logs and validation does not" in r.getMessage()]
    assert len(handed_back) == (0 if trainer_kwargs.get("limit_val_batches") == 0 else 1)
