"""DDP with 2 CPU processes (gloo): the callback averages the monitored value over ranks, so a
rank-dependent val_loss logged without sync_dist still gives the same LR on both ranks at every step."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import run_python, simulate_plateau

SCRIPT = Path(__file__).parent / "scripts" / "ddp_plateau.py"


@pytest.mark.parametrize("recipe", ["torch", "lr_recipes"])
def test_ddp_ranks_agree_on_every_lr(recipe: str, tmp_path: Path) -> None:
    run_python([str(SCRIPT), str(tmp_path), recipe], cwd=tmp_path, timeout=300)
    rank0 = json.loads((tmp_path / "rank0.json").read_text())
    rank1 = json.loads((tmp_path / "rank1.json").read_text())
    assert rank0["used_lrs"] == rank1["used_lrs"]
    assert rank0["trace"] == rank1["trace"] == [lr[0] for lr in rank0["used_lrs"]]
    assert rank0["events"] == rank1["events"]
    means = [
        (a + b) / 2
        for a, b in zip(
            [1.0, 0.75, 0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625],
            [1.0, 1.25, 1.5, 1.875, 2.0, 2.25, 2.5, 2.75],
            strict=True,
        )
    ]
    assert [e[1] for e in rank0["events"]] == means
    if recipe == "torch":
        assert [e[2][0] for e in rank0["events"]] == simulate_plateau(means, patience=1, factor=0.5)
    assert any(e[3] for e in rank0["events"]), "the mean curve must trigger a reduction"
