"""Schedule-free optimizers under ScheduleFreeCallback: the optimizer's mode in every stage, checkpoints that
hold the evaluated weights, BatchNorm recalibration at the evaluation weights, exact resume, the refused
doubled warmup and the plotted warmup."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
import torch
from lightning.pytorch import Trainer, seed_everything
from lightning.pytorch.callbacks import ModelCheckpoint
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lr_recipes
from lr_recipes.lint import lint
from lr_recipes.module import RecipeModule
from lr_recipes.pack.preview import preview
from lr_recipes.schedule_free import ScheduleFreeCallback, ScheduleFreeError, is_schedule_free

schedulefree = pytest.importorskip("schedulefree")

ROOT = Path(__file__).resolve().parents[1]


def _data(n: int, seed: int) -> TensorDataset:
    """Four Gaussian classes in 16 dimensions, off-centre (so BatchNorm's statistics matter)."""
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(4, 16, generator=torch.Generator().manual_seed(123)) * 1.5
    y = torch.randint(0, 4, (n,), generator=g)
    return TensorDataset(means[y] + torch.randn(n, 16, generator=g) * 2 + 3.0, y)


class Net(RecipeModule):
    """A 3-BatchNorm MLP trained with schedule-free SGD; records the optimizer's mode in every step."""

    def __init__(self, lr: float = 5.0, shuffle: bool = True, **kwargs: Any) -> None:
        optimizer = functools.partial(schedulefree.SGDScheduleFree, lr=lr, momentum=0.9)
        super().__init__(optimizer=optimizer, schedule="constant", **kwargs)
        layers: list[nn.Module] = []
        for d in (16, 32, 32):
            layers += [nn.Linear(d, 32), nn.BatchNorm1d(32), nn.ReLU()]
        self.net = nn.Sequential(*layers, nn.Linear(32, 4))
        self.shuffle = shuffle
        self.modes: dict[str, set[bool]] = {}
        self.val_losses: list[float] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def _mode(self, stage: str) -> None:
        opts = self.trainer.optimizers
        if opts:
            self.modes.setdefault(stage, set()).add(opts[0].param_groups[0]["train_mode"])

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        self._mode("train")
        return nn.functional.cross_entropy(self(batch[0]), batch[1])

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._mode("sanity" if self.trainer.sanity_checking else "val")
        self.log("val_loss", nn.functional.cross_entropy(self(batch[0]), batch[1]))

    def on_validation_epoch_end(self) -> None:
        if not self.trainer.sanity_checking and self.trainer.state.fn == "fit":
            self.val_losses.append(float(self.trainer.callback_metrics["val_loss"]))

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self._mode("test")

    def predict_step(self, batch: Any, batch_idx: int) -> Any:
        self._mode("predict")
        return self(batch[0])

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Runs after the callbacks' on_save_checkpoint: what the file will hold.
        self.modes.setdefault("checkpoint", set()).add(
            checkpoint["optimizer_states"][0]["param_groups"][0]["train_mode"]
        )

    def train_dataloader(self) -> DataLoader:
        return DataLoader(_data(512, 0), batch_size=32, shuffle=self.shuffle)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(_data(256, 1), batch_size=256)

    test_dataloader = val_dataloader
    predict_dataloader = val_dataloader


def _trainer(tmp_path: Path, callbacks: list[Any], **kwargs: Any) -> Trainer:
    torch.set_num_threads(1)
    kwargs.setdefault("max_epochs", 2)
    kwargs.setdefault("enable_checkpointing", any(isinstance(c, ModelCheckpoint) for c in callbacks))
    return Trainer(
        default_root_dir=tmp_path,
        callbacks=callbacks,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **kwargs,
    )


def test_the_optimizer_is_in_eval_mode_for_evaluation_and_checkpoints_and_in_train_mode_for_training(
    tmp_path: Path,
) -> None:
    seed_everything(0)
    model = Net()
    ckpt = ModelCheckpoint(dirpath=tmp_path, save_top_k=-1, every_n_train_steps=5)  # mid-epoch: train mode
    trainer = _trainer(tmp_path, [ScheduleFreeCallback(bn_batches=2), ckpt], num_sanity_val_steps=1)
    trainer.fit(model)
    assert trainer.optimizers[0].param_groups[0]["train_mode"] is False  # fit ends at the evaluation weights
    trainer.test(model, verbose=False)
    trainer.predict(model)
    assert model.modes == {
        "sanity": {False},
        "train": {True},
        "val": {False},
        "checkpoint": {False},
        "test": {False},
        "predict": {False},
    }


def test_a_reloaded_checkpoint_evaluates_to_the_loss_seen_during_training(tmp_path: Path) -> None:
    seed_everything(0)
    model = Net()
    ckpt = ModelCheckpoint(dirpath=tmp_path, save_top_k=-1, filename="{epoch}")
    trainer = _trainer(tmp_path, [ScheduleFreeCallback(bn_batches=4), ckpt])
    trainer.fit(model)
    for epoch, seen in enumerate(model.val_losses):
        path = tmp_path / f"epoch={epoch}.ckpt"
        state = torch.load(path, weights_only=True)["state_dict"]
        fresh = Net()
        fresh.load_state_dict(state)
        (result,) = _trainer(tmp_path, []).validate(fresh, verbose=False)
        assert result["val_loss"] == pytest.approx(seen, abs=1e-6)
    # The last checkpoint is the model fit ended with: the evaluation weights, not the training point.
    last = torch.load(tmp_path / f"epoch={len(model.val_losses) - 1}.ckpt", weights_only=True)["state_dict"]
    assert all(torch.equal(last[k], v) for k, v in model.state_dict().items())


def test_a_checkpoint_saved_while_training_holds_the_evaluation_weights(tmp_path: Path) -> None:
    seed_everything(0)
    model = Net()
    trainer = _trainer(tmp_path, [ScheduleFreeCallback(bn_batches=0)], max_steps=7, limit_val_batches=0)
    trainer.fit(model)  # ends in eval mode: the parameters are x
    x = {k: v.clone() for k, v in model.state_dict().items()}
    opt = trainer.optimizers[0]
    opt.train()  # back to the training point y, as inside a training epoch
    y = {k: v.clone() for k, v in model.state_dict().items()}
    trainer.save_checkpoint(tmp_path / "mid.ckpt")
    saved = torch.load(tmp_path / "mid.ckpt", weights_only=True)
    assert opt.param_groups[0]["train_mode"] is True  # saving did not leave training in eval mode
    assert saved["optimizer_states"][0]["param_groups"][0]["train_mode"] is False
    weights = [k for k in x if "running" not in k and "num_batches" not in k]
    assert any(not torch.allclose(x[k], y[k]) for k in weights)
    for k in weights:
        assert torch.allclose(saved["state_dict"][k], x[k], atol=1e-6)


def test_batchnorm_recalibration_changes_the_statistics_and_improves_the_evaluated_loss(tmp_path: Path) -> None:
    results = {}
    for batches in (0, 16):
        seed_everything(0)
        model = Net(lr=5.0)
        trainer = _trainer(tmp_path, [ScheduleFreeCallback(bn_batches=batches)], max_epochs=1, num_sanity_val_steps=0)
        trainer.fit(model)
        results[batches] = (model.val_losses[-1], {k: v.clone() for k, v in model.state_dict().items()})
    (stale, w0), (fresh, w16) = results[0], results[16]
    # Same training run (recalibration draws its batches from its own generator under a forked RNG) ...
    assert all(torch.equal(w0[k], w16[k]) for k in w0 if "running" not in k and "num_batches" not in k)
    # ... but statistics recomputed at the evaluation weights, and a clearly lower loss there.
    assert not torch.allclose(w0["net.1.running_mean"], w16["net.1.running_mean"])
    assert fresh < 0.8 * stale, (fresh, stale)


@pytest.mark.parametrize("validate", [True, False], ids=["saved-after-validation", "saved-while-training"])
def test_resume_continues_exactly(tmp_path: Path, validate: bool) -> None:
    def fit(max_epochs: int, ckpt_path: Path | None, root: Path) -> Net:
        seed_everything(0)
        model = Net(lr=1.0, shuffle=False)
        ckpt = ModelCheckpoint(dirpath=root, save_top_k=-1, filename="{epoch}", save_on_train_epoch_end=not validate)
        trainer = _trainer(
            root,
            [ScheduleFreeCallback(bn_batches=3), ckpt],
            max_epochs=max_epochs,
            limit_val_batches=1.0 if validate else 0,
            num_sanity_val_steps=0,
        )
        trainer.fit(model, ckpt_path=ckpt_path)
        return model

    straight = fit(4, None, tmp_path / "a")
    resumed = fit(4, tmp_path / "a" / "epoch=1.ckpt", tmp_path / "b")
    for key, value in straight.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key
    opt_a, opt_b = straight.trainer.optimizers[0], resumed.trainer.optimizers[0]
    for pa, pb in zip(opt_a.param_groups[0]["params"], opt_b.param_groups[0]["params"], strict=True):
        assert torch.equal(opt_a.state[pa]["z"], opt_b.state[pb]["z"])


def test_a_schedule_free_optimizer_without_the_callback_is_refused_before_training(tmp_path: Path) -> None:
    with pytest.raises(ScheduleFreeError, match=r"add lr_recipes\.schedule_free\.ScheduleFreeCallback"):
        _trainer(tmp_path, []).fit(Net())


def test_weights_only_checkpoints_are_refused(tmp_path: Path) -> None:
    trainer = _trainer(tmp_path, [ScheduleFreeCallback(), ModelCheckpoint(dirpath=tmp_path, save_weights_only=True)])
    with pytest.raises(ScheduleFreeError, match="save_weights_only"):
        trainer.fit(Net())


def test_a_recipe_warmup_on_top_of_the_optimizers_own_is_refused() -> None:
    class Warm(Net):
        def __init__(self) -> None:
            super().__init__()
            self.optimizer = functools.partial(schedulefree.SGDScheduleFree, lr=1.0, warmup_steps=10)
            self.schedule = lr_recipes.check_spec({"name": "constant", "warmup": "2ep"})

    with pytest.raises(ScheduleFreeError, match="warms up by itself"):
        Warm().make_optimizers(total_steps=100, steps_per_epoch=10)
    opt = schedulefree.SGDScheduleFree([nn.Parameter(torch.zeros(1))], lr=1.0)
    assert is_schedule_free(opt)
    cosine = lr_recipes.build("cosine", opt, total_steps=10, steps_per_epoch=5)["scheduler"]
    assert any("schedule-free" in w for w in lint(cosine))


def test_plot_draws_the_optimizers_own_warmup() -> None:
    args = ["--config", str(ROOT / "recipes" / "schedule_free.yaml"), "--config", str(ROOT / "recipes" / "smoke.yaml")]
    p = preview(args)
    warmup = 1760  # warmup_steps in the recipe; the smoke run (200 steps) stays inside it
    assert p.run.total_steps == 200
    assert [row[0] for row in p.lrs[:3]] == pytest.approx([1.0 / warmup, 2.0 / warmup, 3.0 / warmup])
    assert p.warnings == []
