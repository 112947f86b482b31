"""Small Lightning modules shared by the tests: a BoringModel whose validation loss follows a script."""

from __future__ import annotations

import csv
import functools
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import Any

import torch
from lightning.pytorch import Trainer
from lightning.pytorch.demos.boring_classes import BoringModel


class ScriptedValModel(BoringModel):
    """BoringModel whose k-th real validation run logs ``val_loss = values[k]`` (from validation_step).

    ``make_scheduler(optimizer)`` returns the ``lr_scheduler`` entry of ``configure_optimizers`` (a
    scheduler or a config dict); the LR every optimizer step used is recorded in ``used_lrs``.
    """

    def __init__(
        self,
        values: Sequence[float],
        make_scheduler: Callable[[torch.optim.Optimizer], Any] | None = None,
        lr: float = 1.0,
        log_when: Callable[[int], bool] = lambda k: True,
        sync_dist: bool = False,
    ) -> None:
        super().__init__()
        self.values = list(values)
        self.make_scheduler = make_scheduler
        self.lr = lr
        self.log_when = log_when
        self.sync_dist = sync_dist
        self.val_runs = 0
        self.used_lrs: list[list[float]] = []

    def validation_step(self, batch: Any, batch_idx: int) -> Any:
        out = super().validation_step(batch, batch_idx)
        if self.trainer.sanity_checking:
            self.log("val_loss", 1e6)  # would poison the plateau if the sanity check were counted
        elif self.log_when(self.val_runs):
            self.log("val_loss", float(self.values[self.val_runs]), sync_dist=self.sync_dist)
        return out

    def on_validation_epoch_end(self) -> None:
        if not self.trainer.sanity_checking:
            self.val_runs += 1

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        self.used_lrs.append([float(g["lr"]) for g in optimizer.param_groups])

    def configure_optimizers(self) -> Any:
        opt = torch.optim.SGD(self.parameters(), lr=self.lr, momentum=0.9)
        if self.make_scheduler is None:
            return opt
        sched = self.make_scheduler(opt)
        config = sched if isinstance(sched, dict) else {"scheduler": sched, "monitor": "val_loss"}
        return {"optimizer": opt, "lr_scheduler": config}


def plateau(**kwargs: Any) -> Callable[[torch.optim.Optimizer], Any]:
    """A factory for torch's ReduceLROnPlateau with ``kwargs``."""
    return functools.partial(torch.optim.lr_scheduler.ReduceLROnPlateau, **kwargs)


def quiet_trainer(**kwargs: Any) -> Trainer:
    defaults: dict[str, Any] = {
        "accelerator": "cpu",
        "devices": 1,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "enable_checkpointing": False,
        "limit_train_batches": 4,
        "limit_val_batches": 2,
        "max_epochs": 4,
        "num_sanity_val_steps": 2,
    }
    defaults.update(kwargs)
    return Trainer(**defaults)


def read_csv(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def metric_rows(log_dir: str, key: str) -> list[tuple[int, float]]:
    """``(step, value)`` of every row of a CSVLogger's metrics.csv that has ``key``."""
    return [(int(r["step"]), float(r[key])) for r in read_csv(os.path.join(log_dir, "metrics.csv")) if r.get(key)]


def simulate_plateau(values: Sequence[float], lr: float = 1.0, **kwargs: Any) -> list[float]:
    """The LR after each ``ReduceLROnPlateau.step(v)`` of a fresh torch scheduler."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
    out = []
    for v in values:
        sched.step(v)
        out.append(opt.param_groups[0]["lr"])
    return out


def run_python(args: Sequence[str], cwd: str | os.PathLike[str], timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``python <args>`` in a fresh process (one thread per process, as DDP CPU tests want); assert rc 0."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("LOCAL_RANK", None)  # a launched child must not think it is a DDP worker already
    proc = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc
