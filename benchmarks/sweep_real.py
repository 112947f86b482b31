"""``sweep`` on real CIFAR-10: which schedule at equal budget, then the winner against the best hand-set recipe.

1. The sweep: ``python -m lr_recipes sweep`` over ``sweeps/schedules.yaml`` (cosine, onecycle, wsd, multistep and
   their parameters, the peak LR on a log scale) with a median pruner, ResNet-20 on a class-stratified
   ``--train-subset`` of the JPEG copy for ``--epochs`` epochs at batch ``--batch-size``, validating every
   ``--val-every`` epoch (so the pruner sees mid-epoch reports) on ``--val-size`` held-out images. ``--workers``
   sweep processes (one thread each) share the study through its SQLite file. Every trial has the same model,
   data, seed and number of optimizer steps.
2. The check: the winner (``--config best.yaml``) and the best hand-set recipe of BENCHMARKS.md section 4
   (``onecycle``: ``pct_start`` 0.25, ``div_factor`` 25, ``final_div_factor`` 1e4, peak LR 0.1) re-run side by
   side on the whole 45k training split (``--final-subset 0``) for ``--final-epochs`` epochs, same model and
   seed, validated on ``--final-val-size`` held-out images (a superset of the sweep's) and tested on the
   official test set, which no trial saw.

Reported (``<out-dir>/result.json``): the trial table, pruning's saving (optimizer steps trained over the steps
of unpruned trials), the per-trial overhead beyond the training loop (a trial's wall time minus its fit loop's),
and the final pair.

    .venv/bin/python benchmarks/sweep_real.py --out-dir runs/sweep_real
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

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
        trainer.update(val_check_interval=args.val_every)
    return {
        "seed_everything": 0,
        "trainer": trainer,
        "model": {
            "arch": "resnet20",
            "optimizer": {
                "class_path": "torch.optim.SGD",
                "init_args": {"lr": 0.1, "momentum": 0.9, "weight_decay": 5.0e-4},
            },
            "schedule": {"name": "cosine"},
        },
        "data": {
            "source": "imagefolder",
            "root": args.data_root,
            "cache_dir": args.cache_dir,
            "train_subset": subset or None,  # 0: the whole training split
            # A smaller held-out split, not limit_val_batches: the split is in class order, so its first
            # batches hold one class only.
            "val_size": args.val_size if sweep else args.final_val_size,
            "batch_size": args.batch_size,
            "num_workers": 0,
            "seed": 0,
        },
        # The final pair is also scored on the official test set, which no trial saw (the sweep's held-out
        # images are part of the final pair's validation split).
        "test_after_fit": not sweep,
    }


def final_cmd(args: argparse.Namespace, name: str, extra: list[str], root: Path) -> tuple[list[str], Path]:
    base = root / f"final-{name}.yaml"
    log_root = root / "final" / name
    base.write_text(yaml.safe_dump(overlay(args, args.final_subset, args.final_epochs, str(log_root), sweep=False)))
    cmd = [sys.executable, "-m", "lr_recipes", "fit", "--config", str(REPO / "recipes" / "cosine.yaml"),
           "--config", str(base), *extra]  # fmt: skip
    return cmd, log_root


def final_result(name: str, log_root: Path, wall: float) -> dict[str, Any]:
    (log_dir,) = log_root.glob("*/version_*")  # the recipe names the CSVLogger run
    summary = json.loads((log_dir / "summary.json").read_text())
    keys = ("best_val_acc", "test_acc", "optimizer_steps", "train_images_per_s", "wall_time_s")
    return {"name": name, "wall_s": round(wall, 1), **{k: summary.get(k) for k in keys}}


def run_all(cmds: list[list[str]], log: Path) -> float:
    """Run the commands side by side (one thread each); return the wall time."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    start = time.perf_counter()
    with open(log, "a") as f:
        procs = [subprocess.Popen(c, env=env, stdout=f, stderr=subprocess.STDOUT) for c in cmds]
        codes = [p.wait() for p in procs]
    if any(codes):
        raise SystemExit(f"a command failed ({codes}); see {log}")
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-root", default="/work/shared/data/cifar10_jpeg.tar.gz")
    p.add_argument("--cache-dir", default=str(REPO / "data" / "cache"))
    p.add_argument("--out-dir", default="runs/sweep_real")
    p.add_argument("--trials", type=int, default=16)
    p.add_argument("--workers", type=int, default=2, help="sweep workers side by side on one SQLite storage")
    p.add_argument("--train-subset", type=int, default=6000)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--val-every", type=float, default=0.5, help="val_check_interval of the sweep's trials")
    p.add_argument("--prune-after", type=float, default=0.4)

    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--val-size", type=int, default=1000, help="held-out images the sweep validates on")
    p.add_argument("--final-val-size", type=int, default=5000, help="held-out images the final pair validates on")
    p.add_argument("--final-subset", type=int, default=0, help="training images of the final pair (0: all)")
    p.add_argument("--final-epochs", type=int, default=3)
    p.add_argument("--skip-final", action="store_true")
    args = p.parse_args()
    root = Path(args.out_dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    sweep_overlay = root / "sweep-overlay.yaml"
    sweep_overlay.write_text(
        yaml.safe_dump(overlay(args, args.train_subset, args.epochs, str(root / "unused"), sweep=True))
    )
    out = root / "sweep"
    sweep = [sys.executable, "-m", "lr_recipes", "sweep",
             "--config", str(REPO / "recipes" / "cosine.yaml"), "--config", str(sweep_overlay),
             "--space", str(REPO / "sweeps" / "schedules.yaml"), "--trials", str(args.trials), "--out", str(out),
             "--pruner", "median", "--prune-after", str(args.prune_after)]  # fmt: skip
    sweep_wall = run_all([sweep] * args.workers, root / "sweep.log")
    with open(out / "trials.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    overheads = [float(r["overhead_s"]) for r in rows if r["overhead_s"]]
    result: dict[str, Any] = {
        "args": vars(args),
        "sweep_wall_s": round(sweep_wall, 1),
        "trials": rows,
        "overhead_s_median": statistics.median(overheads) if overheads else None,
        "overhead_s_max": max(overheads) if overheads else None,
        "report": (out / "report.md").read_text(),
    }
    if not args.skip_final:
        finals = {
            "sweep winner": ["--config", str(out / "best.yaml")],
            "hand-set onecycle": [f"--model.schedule={json.dumps(HAND_SET)}"],
        }
        cmds = {name: final_cmd(args, name.replace(" ", "_"), extra, root) for name, extra in finals.items()}
        wall = run_all([c for c, _ in cmds.values()], root / "final.log")
        result["final"] = [final_result(name, log_root, wall) for name, (_, log_root) in cmds.items()]
    (root / "result.json").write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k not in ("trials", "report")}, indent=2))


if __name__ == "__main__":
    main()
