"""The pack's end-of-fit summary: best validation accuracy, test accuracy, final LR, wall time, images/s.

Example::

    >>> from lightning.pytorch import Trainer
    >>> trainer = Trainer(callbacks=[FitSummary()], logger=False, enable_progress_bar=False)
"""

from __future__ import annotations

import json
import math
import os
import time
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities.rank_zero import rank_zero_info


class FitSummary(Callback):
    """Print (rank 0) and save ``summary.json`` in the log dir at the end of fit and of test.

    Images per second count training images over all ranks, divided by the wall time of the training
    loop (validation included, sanity check excluded). The batch size is read from the batch's shape,
    a host-side value, so counting adds no host-device synchronisation.

    Args:
        monitor: the validation accuracy metric to track the best value of.

    Example::

        >>> FitSummary().summary
        {}
    """

    def __init__(self, monitor: str = "val_acc") -> None:
        self.monitor = monitor
        self.summary: dict[str, Any] = {}
        self._start = 0.0
        self._images = 0
        self._best = -math.inf

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start, self._images, self._best = time.perf_counter(), 0, -math.inf

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        self._images += int(x.shape[0]) * trainer.world_size

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or self.monitor not in trainer.callback_metrics:
            return
        self._best = max(self._best, float(trainer.callback_metrics[self.monitor]))

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        wall = time.perf_counter() - self._start
        lrs = [float(g["lr"]) for opt in trainer.optimizers for g in opt.param_groups]
        self.summary.update(
            best_val_acc=None if self._best == -math.inf else self._best,
            final_lr=lrs,
            epochs=trainer.current_epoch,
            optimizer_steps=trainer.global_step,
            wall_time_s=round(wall, 2),
            train_images_per_s=round(self._images / wall, 1) if wall > 0 else None,
        )
        self._report(trainer, "fit")

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if "test_acc" in trainer.callback_metrics:
            self.summary["test_acc"] = float(trainer.callback_metrics["test_acc"])
            self._report(trainer, "test")

    def _report(self, trainer: pl.Trainer, stage: str) -> None:
        log_dir = trainer.log_dir or trainer.default_root_dir  # collective under DDP: every rank calls it
        if not trainer.is_global_zero:
            return
        lines = [f"lr_recipes summary ({stage}):"]
        for key, value in self.summary.items():
            shown = ", ".join(f"{v:.4g}" for v in value) if isinstance(value, list) else value
            shown = f"{shown:.4f}" if isinstance(shown, float) else shown
            lines.append(f"  {key:>20}: {shown}")
        rank_zero_info("\n".join(lines))
        os.makedirs(log_dir, exist_ok=True)
        with open(os.path.join(log_dir, "summary.json"), "w") as f:
            json.dump(self.summary, f, indent=2)
