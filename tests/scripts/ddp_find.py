"""Run by tests/test_find.py: the range test under DDP with 2 CPU processes (gloo). Each rank sees its own
data (rank-dependent losses); every rank writes its own per-step losses and the result it got."""

from __future__ import annotations

import json
import os
import sys

import torch
from lightning.pytorch import LightningModule, Trainer
from torch.utils.data import DataLoader, TensorDataset

from lr_recipes.find import find_lr
from lr_recipes.pack.cli import end_process_group


class NoisyQuadratic(LightningModule):
    """0.5 * h * |w - x|^2 on a batch x whose scale depends on the rank: the ranks' losses differ."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(8, dtype=torch.float64))
        self.own: list[float] = []

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        x = batch[0].to(torch.float64) * (1 + self.trainer.global_rank)
        loss = 0.5 * 10.0 * ((self.w - x) ** 2).sum(dim=1).mean()
        self.own.append(float(loss.detach()))
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)

    def train_dataloader(self) -> DataLoader:
        data = torch.randn(256, 8, generator=torch.Generator().manual_seed(0)) * 0.01
        return DataLoader(TensorDataset(data), batch_size=4)


def main(out_dir: str) -> None:
    model = NoisyQuadratic()
    trainer = Trainer(
        accelerator="cpu",
        strategy="ddp",
        devices=2,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        max_epochs=1,
    )
    result = find_lr(model, trainer, min_lr=1e-3, max_lr=10.0, num_steps=30, verbose=False)
    with open(os.path.join(out_dir, f"rank{trainer.global_rank}.json"), "w") as f:
        json.dump({"losses": result.losses, "lr": result.lr, "suggestions": result.suggestions, "own": model.own}, f)


if __name__ == "__main__":
    main(sys.argv[1])
    end_process_group()  # a gloo group left up can abort the process at exit
