"""``sweep`` on real CIFAR-10: which schedule at equal budget, then the winner against the best hand-set recipe.

1. The sweep: ``python -m lr_recipes sweep`` over ``sweeps/schedules.yaml`` (cosine, onecycle, wsd, multistep and
   their parameters, the peak LR on a log scale) with a median pruner, ResNet-20 on a class-stratified
   ``--train-subset`` of the JPEG copy for ``--epochs`` epochs, validating twice per epoch
   (``val_check_interval 0.5``, so the pruner sees mid-epoch reports) on the first ``--val-batches`` batches of
   the 5,000 held-out images. Every trial has the same model, data, seed and number of optimizer steps.
2. The check: the winner (``--config best.yaml``) and the best hand-set recipe of BENCHMARKS.md section 4
   (``onecycle``: ``pct_start`` 0.25, ``div_factor`` 25, ``final_div_factor`` 1e4, peak LR 0.1) re-run on a larger
   split (``--final-subset``) for ``--final-epochs`` epochs, same model and seed, tested on the 10,000 test images.

Reported: the trial table, pruning's saving (optimizer steps trained over the steps of unpruned trials), the
per-trial overhead beyond the training loop (a trial's wall time minus its fit loop's), and the final pair.

    .venv/bin/python benchmarks/sweep_real.py --out-dir runs/sweep_real
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import torch
import yaml

from lr_recipes.pack.cli import main as cli_main

REPO = Path(__file__).resolve().parent.parent
HAND_SET = {"name": "onecycle", "pct_start": 0.25, "div_factor": 25.0, "final_div_factor": 1.0e4, "anneal": "cos"}


def overlay(args: argparse.Namespace, subset: int, epochs: int, log_dir: str, *, sweep: bool) -> dict[str, Any]:
    trainer: dict[str, Any] = {
        "accelerator": "cpu",
        "devices": 1,
        "max_epochs": epochs,
        "num_sanity_val_steps": 0,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "logger": {"class_path": "lightning.pytorch.loggers.CSVLogger", "init_args": {"save_dir": log_dir}},
    }
    if sweep:
        trainer.update(val_check_interval=0.5, limit_val_batches=args.val_batches)
    else:
        trainer.update(limit_val_batches=args.val_batches, limit_test_batches=args.test_batches)
    return {
        "seed_everything": 0,
        "trainer": trainer,
        "model": {
            "arch": "resnet20",
            "optimizer": {"class_path": "torch.optim.SGD", "init_args": {"lr": 0.1, "momentum": 0.9, "weight_decay": 5.0e-4}},
            "schedule": {"name": "cosine"},
        },
        "data": {
            "source": "imagefolder",
            "root": args.data_root,
            "cache_dir": args.cache_dir,
            "train_subset": subset,
            "val_size": 5000,
            "batch_size": args.batch_size,
            "num_workers": 0,
            "seed": 0,
        },
        "test_after_fit": not sweep,
    }


def final_fit(args: argparse.Namespace, name: str, extra: list[str], root: Path) -> dict[str, Any]:
    base = root / f"final-{name}.yaml"
    base.write_text(yaml.safe_dump(overlay(args, args.final_subset, args.final_epochs, str(root / "final"), sweep=False)))
    log = root / "final" / "lightning_logs"
    before = set(log.glob("version_*")) if log.exists() else set()
    start = time.perf_counter()
    cli_main(["fit", "--config", str(REPO / "recipes" / "cosine.yaml"), "--config", str(base), *extra])
    wall = time.perf_counter() - start
    (log_dir,) = set(log.glob("version_*")) - before
    summary = json.loads((log_dir / "summary.json").read_text())
    return {"name": name, "wall_s": round(wall, 1), **{k: summary[k] for k in ("test_acc", "best_val_acc", "optimizer_steps", "train_images_per_s")}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-root", default="/work/shared/data/cifar10_jpeg.tar.gz")
    p.add_argument("--cache-dir", default="/work/coord/data/cache")
    p.add_argument("--out-dir", default="runs/sweep_real")
    p.add_argument("--trials", type=int, default=16)
    p.add_argument("--train-subset", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--test-batches", type=int, default=40, help="test on the first N batches of the 10k test set")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--val-batches", type=int, default=4)
    p.add_argument("--final-subset", type=int, default=3000)
    p.add_argument("--final-epochs", type=int, default=2)
    p.add_argument("--skip-final", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(2)
    root = Path(args.out_dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    sweep_overlay = root / "sweep-overlay.yaml"
    sweep_overlay.write_text(yaml.safe_dump(overlay(args, args.train_subset, args.epochs, str(root / "unused"), sweep=True)))
    out = root / "sweep"
    start = time.perf_counter()
    cli_main(
        [
            "sweep",
            "--config", str(REPO / "recipes" / "cosine.yaml"),
            "--config", str(sweep_overlay),
            "--space", str(REPO / "sweeps" / "schedules.yaml"),
            "--trials", str(args.trials),
            "--out", str(out),
            "--pruner", "median",
        ]
    )  # fmt: skip
    sweep_wall = time.perf_counter() - start
    import csv

    rows = list(csv.DictReader(open(out / "trials.csv")))
    overheads = [float(r["overhead_s"]) for r in rows if r["overhead_s"]]
    result: dict[str, Any] = {
        "sweep_wall_s": round(sweep_wall, 1),
        "trials": rows,
        "overhead_s_median": statistics.median(overheads) if overheads else None,
        "overhead_s_max": max(overheads) if overheads else None,
        "report": (out / "report.md").read_text(),
    }
    if not args.skip_final:
        result["final"] = [
            final_fit(args, "sweep winner", ["--config", str(out / "best.yaml")], root),
            final_fit(args, "hand-set onecycle", [f"--model.schedule={json.dumps(HAND_SET)}"], root),
        ]
    (root / "result.json").write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k not in ("trials", "report")}, indent=2))


if __name__ == "__main__":
    main()
