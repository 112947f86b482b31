"""The recipes compared on real CIFAR-10 (the JPEG copy in ../shared/data) under one short, shared budget.

Every recipe trains the same model from the same seeds with the same optimizer for the same number of
epochs, through ``lr_recipes.pack.cli.main(["fit", "--config", "recipes/<recipe>.yaml", "--config", <overlay>])``:
the recipe file keeps its callbacks (``LRSchedulerCallback``) and logger, the overlay sets the shared
budget: ResNet-20, SGD (LR 0.1, momentum 0.9, weight decay 5e-4; also for ``plateau``, whose file uses
Adam), batch 128, ``train_subset`` images (class-stratified), ``--epochs`` epochs, validation on the
5000 held-out images after every epoch, and the final weights tested on the official 10k test set. Each
recipe's schedule is the one in its file with durations rescaled to the short run (``SCHEDULES``:
e.g. ``step`` divides the LR by 10 at 1/3 and 2/3 of the run as step.yaml does at epochs 50 and 100 of
150). Seeds: ``seed_everything`` 0 (model initialisation, shuffling, augmentation) and data seed 0
(the train/val split and the subset).

Reported per recipe: test accuracy, best validation accuracy, the final LR, training images/s and wall
time; the ratio column is each recipe's test accuracy over ``constant``'s. Without the JPEG archive the
script says so and stops (``--smoke`` runs two recipes on synthetic data instead).

    .venv/bin/python benchmarks/real_cifar.py
"""

from __future__ import annotations

import csv
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import common
import torch
import yaml

from lr_recipes.pack.cli import main as cli_main

SEED = 0


def schedules(epochs: float) -> dict[str, dict[str, Any]]:
    """Each recipe file's schedule with its durations rescaled to a run of ``epochs`` epochs."""
    return {
        "constant": {"name": "constant", "warmup": "1%", "warmup_start_factor": 0.1},  # 1 of 100 epochs
        "step": {"name": "step", "step_size": f"{epochs / 3:g}ep", "gamma": 0.1},  # every 50 of 150 epochs
        "cosine": {"name": "cosine"},
        "onecycle": {
            "name": "onecycle",
            "pct_start": 0.25,
            "div_factor": 25.0,
            "final_div_factor": 1.0e4,
            "anneal": "cos",
        },
        "linear": {"name": "linear", "start_factor": 1.0, "end_factor": 0.0},
        # plateau.yaml: patience 5 of 200 validations; here one validation per epoch, so patience 1.
        "plateau": {"name": "plateau", "monitor": "val_loss", "factor": 0.316, "patience": 1, "min_lr": 5.0e-7},
        "wsd": {
            "name": "wsd",
            "warmup": "3%",
            "warmup_start_factor": 0.01,
            "decay": "20%",
            "decay_shape": "1-sqrt",
        },  # warmup 3 of 100 epochs
    }


def overlay(recipe: str, spec: dict[str, Any], args: Any, logdir: str) -> dict[str, Any]:
    trainer: dict[str, Any] = {
        "accelerator": "cpu",
        "devices": 1,
        "max_epochs": args.epochs,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "num_sanity_val_steps": 0,
        "logger": {
            "class_path": "lightning.pytorch.loggers.CSVLogger",
            "init_args": {"save_dir": logdir, "name": recipe},
        },
    }
    if args.smoke:
        data = {"source": "synthetic", "synthetic_size": 256, "val_size": 64, "batch_size": 32}
        trainer.update(limit_train_batches=3, limit_val_batches=1, limit_test_batches=1)
    else:
        data = {
            "source": "imagefolder",
            "root": str(common.JPEG_CIFAR),
            "cache_dir": str(common.CACHE_DIR),
            "train_subset": args.train_subset,
            "val_size": 5000,
            "batch_size": args.batch_size,
        }
    data.update(num_workers=0, pin_memory=False, seed=SEED)
    return {
        "seed_everything": SEED,
        "trainer": trainer,
        "model": {
            "arch": "tiny" if args.smoke else args.arch,
            "model_kwargs": None,
            "optimizer": {
                "class_path": "torch.optim.SGD",
                "init_args": {"lr": 0.1, "momentum": 0.9, "weight_decay": 5.0e-4},
            },
            "schedule": spec,
        },
        "data": data,
        "test_after_fit": True,
    }


def val_accuracies(log_dir: Path) -> list[float]:
    with open(log_dir / "metrics.csv") as f:
        return [round(float(row["val_acc"]), 4) for row in csv.DictReader(f) if row.get("val_acc")]


def train(recipe: str, spec: dict[str, Any], args: Any, root: str) -> dict[str, Any]:
    path = Path(root, f"{recipe}-overlay.yaml")
    path.write_text(yaml.safe_dump(overlay(recipe, spec, args, root)))
    start = time.perf_counter()
    cli_main(["fit", "--config", str(common.REPO / "recipes" / f"{recipe}.yaml"), "--config", str(path)])
    wall = time.perf_counter() - start
    log_dir = max(Path(root, recipe).glob("version_*"))
    summary = json.loads((log_dir / "summary.json").read_text())
    return {
        "schedule": spec,
        "test_acc": round(summary["test_acc"], 4),
        "best_val_acc": round(summary["best_val_acc"], 4),
        "val_acc_per_epoch": val_accuracies(log_dir),
        "final_lr": summary["final_lr"][0],
        "optimizer_steps": summary["optimizer_steps"],
        "train_images_per_s": summary["train_images_per_s"],
        "fit_wall_s": summary["wall_time_s"],
        "wall_s": round(wall, 1),
    }


def main(argv: list[str] | None = None) -> dict[str, Any] | None:
    p = common.parser("real_cifar", __doc__.split("\n\n")[0], repeats=1)
    p.add_argument("--recipes", nargs="+", default=list(schedules(1)), help="recipes to run (default: all seven)")
    p.add_argument("--arch", default="resnet20")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--train-subset", type=int, default=10000)
    p.add_argument("--batch-size", type=int, default=128)
    args = p.parse_args(argv)
    if not args.smoke and not common.JPEG_CIFAR.is_file():
        print(
            f"real_cifar: skipped, {common.JPEG_CIFAR} is absent (it needs the JPEG copy of CIFAR-10; "
            "--smoke runs on synthetic data)"
        )
        return None
    if args.smoke:
        args.recipes, args.epochs = ["cosine", "plateau"], 2
    torch.set_num_threads(args.threads)
    load = common.LoadMonitor()
    common.quiet()

    specs = schedules(args.epochs)
    measured: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as root:
        for recipe in args.recipes:
            measured[recipe] = train(recipe, specs[recipe], args, root)
            print(f"{recipe}: {measured[recipe]}")
    base = measured.get("constant", {}).get("test_acc")
    rows = [
        [
            r,
            m["test_acc"],
            m["best_val_acc"],
            f"{m['final_lr']:.3g}",
            m["train_images_per_s"],
            m["wall_s"],
            round(m["test_acc"] / base, 3) if base else "n/a",
        ]
        for r, m in measured.items()
    ]
    headers = ["recipe", "test acc", "best val acc", "final LR", "train img/s", "wall s", "test acc / constant's"]
    print(common.table(headers, rows))
    result = {
        "benchmark": "real_cifar",
        "command": common.command(),
        "machine": common.machine(args.threads),
        "load_average_1min": load.stop(),
        "settings": {
            "arch": "tiny" if args.smoke else args.arch,
            "epochs": args.epochs,
            "train_subset": None if args.smoke else args.train_subset,
            "val_size": 5000,
            "batch_size": args.batch_size,
            "optimizer": "SGD lr 0.1 momentum 0.9 weight_decay 5e-4",
            "seed_everything": SEED,
            "data_seed": SEED,
            "smoke": args.smoke,
            "data": "synthetic" if args.smoke else str(common.JPEG_CIFAR.name),
        },
        "results": measured,
        "table": common.table(headers, rows),
    }
    common.write(args.out, result)
    return result


if __name__ == "__main__":
    main()
