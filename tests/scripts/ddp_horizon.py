"""Run by tests/test_horizon.py: a cosine run planned for 4 epochs on 2 CPU processes (gloo), stopped after 2; rank 0
keeps the checkpoint of epoch 2 and writes its plan and the LR of its resume step. The test resumes it on 1."""

from __future__ import annotations

import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from helpers import ScriptedValModel, quiet_trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.demos.boring_classes import RandomDataset
from torch.utils.data import DataLoader

import lr_recipes
from lr_recipes.pack.cli import end_process_group


class SmallRun(ScriptedValModel):
    """32 training samples (16 per process on 2), planned for 4 epochs and stopped after 2, as a preempted job."""

    def train_dataloader(self) -> DataLoader:
        return DataLoader(RandomDataset(32, 32))

    def on_train_epoch_end(self) -> None:
        if self.current_epoch == 1:
            self.trainer.should_stop = True


def main(out_dir: str) -> None:
    model = SmallRun(
        [1.0] * 50,
        lambda opt: lr_recipes.build({"name": "cosine", "warmup": "1ep"}, opt, trainer=model.trainer),
        lr=0.1,
    )
    ckpt_dir = os.path.join(out_dir, "ckpt")
    checkpoint = ModelCheckpoint(dirpath=ckpt_dir, every_n_epochs=1, save_top_k=-1, filename="{epoch}")
    trainer = quiet_trainer(
        strategy="ddp",
        devices=2,
        max_epochs=4,
        limit_train_batches=1.0,
        accumulate_grad_batches=4,
        callbacks=[checkpoint],
        enable_checkpointing=True,
        logger=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(model)
    if trainer.global_rank == 0:
        sched = trainer.lr_scheduler_configs[0].scheduler
        shutil.copy(os.path.join(ckpt_dir, "epoch=1.ckpt"), os.path.join(out_dir, "ddp.ckpt"))
        plan = {**sched.plan, "lr_at_resume": sched.lr_at(8)[0]}
        with open(os.path.join(out_dir, "plan.json"), "w") as f:
            json.dump(plan, f)


if __name__ == "__main__":
    main(sys.argv[1])
    end_process_group()  # a gloo group left up can abort the process at exit
