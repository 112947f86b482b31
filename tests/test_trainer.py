"""The core inside a real Trainer.fit: one scheduler step per optimizer step, durations resolved from the
run (accumulation, max_steps, max_epochs), RecipeModule and LR scaling, and bit-exact resume."""

from __future__ import annotations

import functools
import math
from typing import Any

import pytest
import torch
from helpers import quiet_trainer
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.demos.boring_classes import BoringModel

import lr_recipes
from lr_recipes import RecipeError, RecipeModule
from lr_recipes.schedules import Cosine, Warmup


class CountingModel(RecipeModule, BoringModel):
    """BoringModel + RecipeModule that records the LR of every optimizer step and counts scheduler steps."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("optimizer", functools.partial(torch.optim.SGD, lr=0.1, momentum=0.9))
        super().__init__(**kwargs)
        self.used_lrs: list[float] = []
        self.scheduler_steps = 0

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        self.used_lrs.append(optimizer.param_groups[0]["lr"])

    def lr_scheduler_step(self, scheduler: Any, metric: Any) -> None:
        self.scheduler_steps += 1
        super().lr_scheduler_step(scheduler, metric)


@pytest.mark.parametrize(
    ("trainer_kwargs", "expected_steps"),
    [
        ({"max_epochs": 3, "limit_train_batches": 10, "accumulate_grad_batches": 3}, 12),  # ceil(10/3)=4 per epoch
        ({"max_epochs": 5, "max_steps": 7, "limit_train_batches": 10, "accumulate_grad_batches": 3}, 7),
        ({"max_epochs": 2, "limit_train_batches": 9, "accumulate_grad_batches": 3}, 6),
    ],
)
def test_one_scheduler_step_per_optimizer_step_and_closed_form_last_lr(
    trainer_kwargs: dict, expected_steps: int
) -> None:
    model = CountingModel(schedule={"name": "cosine", "warmup": "2st", "warmup_start_factor": 0.0})
    trainer = quiet_trainer(logger=False, limit_val_batches=0, **trainer_kwargs)
    trainer.fit(model)
    assert trainer.global_step == expected_steps
    assert len(model.used_lrs) == expected_steps
    assert model.scheduler_steps == expected_steps
    sched = trainer.lr_scheduler_configs[0].scheduler
    assert sched.last_epoch == expected_steps
    closed = Warmup(Cosine(0.1, 0.0, expected_steps - 2), steps=2, start_factor=0.0)
    assert model.used_lrs == [closed(t) for t in range(expected_steps)]
    assert model.used_lrs[-1] == closed(expected_steps - 1)
    assert sched.recipe["total_steps"] == expected_steps


def test_estimated_stepping_batches_undercount_is_not_inherited() -> None:
    """10 batches, accumulation 3, 2 epochs: Lightning steps 4 + 4 = 8 times; its estimate says 7."""
    model = CountingModel(schedule="linear")
    trainer = quiet_trainer(
        logger=False, limit_val_batches=0, max_epochs=2, limit_train_batches=10, accumulate_grad_batches=3
    )
    trainer.fit(model)
    assert trainer.global_step == 8
    assert trainer.lr_scheduler_configs[0].scheduler.recipe["total_steps"] == 8
    assert model.used_lrs[-1] == pytest.approx(0.1 / 8)  # reaches 0 exactly after the last step, not before


def test_epoch_units_resolve_against_the_sharded_accumulated_epoch() -> None:
    model = CountingModel(schedule={"name": "step", "step_size": "1ep", "gamma": 0.5})
    trainer = quiet_trainer(
        logger=False, limit_val_batches=0, max_epochs=3, limit_train_batches=6, accumulate_grad_batches=2
    )
    trainer.fit(model)
    assert model.used_lrs == [0.1] * 3 + [0.05] * 3 + [0.025] * 3


def test_bad_spec_fails_at_construction_before_any_training() -> None:
    with pytest.raises(RecipeError, match=r"no parameter 'min_lrr'.*did you mean 'min_lr'"):
        CountingModel(schedule={"name": "cosine", "min_lrr": 0.1})
    with pytest.raises(RecipeError, match="scale_lr='cube'"):
        CountingModel(scale_lr="cube")


def test_duration_past_the_run_fails_before_the_first_step() -> None:
    model = CountingModel(schedule={"name": "multistep", "milestones": ["2ep", "9ep"]})
    trainer = quiet_trainer(logger=False, limit_val_batches=0, max_epochs=3)
    with pytest.raises(RecipeError, match=r"milestones\[1\]='9ep' is 36 optimizer steps, past the end of the run"):
        trainer.fit(model)
    assert model.used_lrs == []


@pytest.mark.parametrize(("rule", "factor"), [("linear", 4 * 3 / 8), ("sqrt", math.sqrt(4 * 3 / 8))])
def test_scale_lr_by_global_batch(rule: str, factor: float) -> None:
    class Batched(CountingModel):
        def train_dataloader(self) -> Any:
            return torch.utils.data.DataLoader(torch.randn(64, 32), batch_size=4)

    model = Batched(schedule="constant", scale_lr=rule, base_batch_size=8)
    trainer = quiet_trainer(logger=False, limit_val_batches=0, max_epochs=1, accumulate_grad_batches=3)
    trainer.fit(model)
    assert model.used_lrs[0] == pytest.approx(0.1 * factor)
    assert model.lr_scaling["global_batch_size"] == 12
    assert model.lr_scaling["lr_scale_factor"] == pytest.approx(factor)


def test_param_groups_keep_their_own_base_lr() -> None:
    class TwoGroups(CountingModel):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.head = torch.nn.Linear(2, 2)

        def optimizer_parameters(self) -> Any:
            return [{"params": self.layer.parameters()}, {"params": self.head.parameters(), "lr": 0.01}]

        def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
            self.used_lrs.append([g["lr"] for g in optimizer.param_groups])

    model = TwoGroups(schedule={"name": "cosine", "min_lr": [0.001, 0.0001]})
    quiet_trainer(logger=False, limit_val_batches=0, max_epochs=1, limit_train_batches=10).fit(model)
    assert model.used_lrs[0] == [0.1, 0.01]
    assert model.used_lrs[-1] == pytest.approx([Cosine(0.1, 0.001, 10)(9), Cosine(0.01, 0.0001, 10)(9)], rel=1e-15)


@pytest.mark.parametrize(
    "schedule",
    [
        {"name": "onecycle", "warmup": "3st"},
        {"name": "cosine_restarts", "period": "5st", "period_mult": 1.5},
        {"name": "wsd", "warmup": "10%", "decay": "30%"},
    ],
)
def test_resume_from_a_checkpoint_is_bit_exact(schedule: dict, tmp_path: Any, recwarn: Any) -> None:
    class Interrupt(Callback):
        """Stops the run after 2 epochs, as a crash or a preempted job would."""

        def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            if trainer.current_epoch == 1:
                trainer.should_stop = True

    def fit(dirname: str, ckpt_path: str | None = None, interrupt: bool = False) -> CountingModel:
        torch.manual_seed(0)
        model = CountingModel(schedule=schedule)
        ckpt = ModelCheckpoint(dirpath=tmp_path / dirname, save_last=True)
        trainer = quiet_trainer(
            logger=False,
            limit_val_batches=0,
            max_epochs=5,
            limit_train_batches=7,
            callbacks=[ckpt, *([Interrupt()] if interrupt else [])],
            enable_checkpointing=True,
        )
        trainer.fit(model, ckpt_path=ckpt_path)
        return model

    full = fit("full")
    part = fit("part", interrupt=True)
    resumed = fit("resumed", ckpt_path=str(tmp_path / "part" / "last.ckpt"))
    assert part.used_lrs == full.used_lrs[:14]
    assert resumed.used_lrs == full.used_lrs[14:]
    assert not [w for w in recwarn if "loading a scheduler state saved with recipe" in str(w.message)]


def test_warmup_plateau_config_is_right_under_lightning_native_stepping() -> None:
    class Plateaued(CountingModel):
        def validation_step(self, batch: Any, batch_idx: int) -> Any:
            self.log("val_loss", 1.0)  # never improves
            return super().validation_step(batch, batch_idx)

    model = Plateaued(
        schedule={"name": "plateau", "patience": 0, "factor": 0.5, "warmup": "4st", "warmup_start_factor": 0.0}
    )
    trainer = quiet_trainer(logger=False, max_epochs=3, limit_train_batches=5, num_sanity_val_steps=0)
    trainer.fit(model)
    config = trainer.lr_scheduler_configs[0]
    assert (config.interval, config.reduce_on_plateau, config.monitor) == ("epoch", True, "val_loss")
    assert model.used_lrs[:5] == pytest.approx([0.0, 0.025, 0.05, 0.075, 0.1])
    # epoch 0 sets best=1.0, epoch 1 is bad (patience 0) and halves; epoch 2 halves again after fit
    assert model.used_lrs[5:] == pytest.approx([0.1] * 5 + [0.05] * 5)
    assert config.scheduler.state.num_observations == 3


def test_plain_torch_loop() -> None:
    """The scheduler is a torch LRScheduler: a loop without Lightning steps it the same way."""
    model = torch.nn.Linear(4, 1)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    sched = lr_recipes.build("wsd", opt, total_steps=100, steps_per_epoch=10, warmup="5st")["scheduler"]
    lrs = []
    for _ in range(100):
        lrs.append(opt.param_groups[0]["lr"])
        model(torch.randn(2, 4)).sum().backward()
        opt.step()
        opt.zero_grad()
        sched.step()
    assert lrs == [sched.lr_at(t)[0] for t in range(100)]
    assert max(lrs) == 1e-3 and lrs[-1] < 1e-4


def test_max_steps_alone_still_resolves_epoch_durations() -> None:
    """Trainer(max_steps=N) without max_epochs: Lightning's estimate returns early, the data must still load."""
    model = CountingModel(schedule={"name": "cosine", "warmup": "1ep"})
    trainer = quiet_trainer(logger=False, limit_val_batches=0, max_epochs=None, max_steps=10, limit_train_batches=4)
    trainer.fit(model)
    recipe = trainer.lr_scheduler_configs[0].scheduler.recipe
    assert (recipe["total_steps"], recipe["steps_per_epoch"]) == (10, 4)
    assert model.used_lrs[4] == 0.1  # warmup of one 4-step epoch, then the cosine's peak
