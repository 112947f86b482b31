"""Run by tests/test_callback_ddp.py: 2 CPU processes (gloo), a rank-dependent val_loss logged WITHOUT
sync_dist, a plateau scheduler; every rank writes the LR it used at each step and its plateau events."""

from __future__ import annotations

import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from helpers import ScriptedValModel, quiet_trainer

import lr_recipes
from lr_recipes import LRSchedulerCallback
from lr_recipes.pack.cli import end_process_group

# rank 0 sees a steadily improving loss, rank 1 a worsening one; only their mean plateaus
RANK_VALUES = {
    0: [1.0, 0.75, 0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625],
    1: [1.0, 1.25, 1.5, 1.875, 2.0, 2.25, 2.5, 2.75],
}


class RankModel(ScriptedValModel):
    def setup(self, stage: str) -> None:
        self.values = RANK_VALUES[self.trainer.global_rank]


def main(out_dir: str, recipe: str) -> None:
    def make(opt: torch.optim.Optimizer) -> object:
        if recipe == "torch":
            return torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=1, factor=0.5)
        spec = {"name": "plateau", "patience": 1, "factor": 0.5, "warmup": "3st", "warmup_start_factor": 0.25}
        return lr_recipes.build(spec, opt, trainer=model.trainer)

    model = RankModel(RANK_VALUES[0], make)
    cb = LRSchedulerCallback()
    trainer = quiet_trainer(
        strategy="ddp",
        devices=2,
        callbacks=[cb],
        logger=False,
        max_epochs=4,
        val_check_interval=0.5,
        limit_train_batches=4,
        limit_val_batches=2,
    )
    trainer.fit(model)
    result = {
        "rank": trainer.global_rank,
        "used_lrs": model.used_lrs,
        "events": [[e.step, e.value, e.lrs, e.reduced] for e in cb.plateau_events],
        "trace": [row["lr-SGD"] for row in cb.trace_rows],  # the in-memory tail: every rank has one
    }
    with open(os.path.join(out_dir, f"rank{trainer.global_rank}.json"), "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
    end_process_group()  # a gloo group left up can abort the process at exit
