"""Schedule-free SGD against the cosine and one-cycle recipes, then param-group fine-tuning, on real CIFAR-10.

**Part 1, schedules.** ResNet-20, the same data, seeds and epochs for every run, through
``lr_recipes.pack.cli.main(["fit", "--config", "recipes/<recipe>.yaml", "--config", <overlay>])``:
``cosine`` and ``onecycle`` (their files' schedules; SGD lr 0.1, momentum 0.9, weight decay 5e-4, as in
``real_cifar.py``) and ``schedule_free`` (SGDScheduleFree lr 1.0, momentum 0.9, weight decay 1e-4 as in its file,
the optimizer's own warmup over the first 10% of the steps, the ``constant`` recipe, ScheduleFreeCallback with
20 BatchNorm recalibration batches). Each validates after every epoch and tests its final weights on the official
10k test set.

**Part 2, param groups.** The cosine run's final weights, with a freshly initialised classifier, fine-tuned on
another class-stratified subset (data seed 1) for ``--finetune-epochs`` epochs with the cosine recipe (SGD lr 0.05)
three ways: one LR for everything (``uniform``); ``param_groups: [{name: backbone, match: "model.[sl]*", lr_mult:
0.1}]`` (stem and stages at 0.1x, the new head at the full LR); and ``layer_decay: 0.5``.

    .venv/bin/python benchmarks/schedule_free_groups.py --root ../shared/data/cifar10_jpeg.tar.gz
"""

from __future__ import annotations

import functools
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import common
import torch
import yaml
from lightning.pytorch import Trainer, seed_everything

from lr_recipes.pack.classifier import ImageClassifier
from lr_recipes.pack.cli import main as cli_main
from lr_recipes.pack.data import CIFAR10DataModule

SEED = 0


def _data(args: Any, seed: int) -> dict[str, Any]:
    if args.smoke:
        return {"source": "synthetic", "synthetic_size": 256, "val_size": 64, "batch_size": 32, "seed": seed}
    return {
        "source": "imagefolder",
        "root": args.root,
        "cache_dir": args.cache_dir,
        "train_subset": args.train_subset,
        "val_size": args.val_size,
        "batch_size": args.batch_size,
        "seed": seed,
        "num_workers": 0,
        "pin_memory": False,
    }


def _trainer(args: Any, epochs: int) -> dict[str, Any]:
    trainer: dict[str, Any] = {
        "accelerator": "cpu",
        "devices": 1,
        "max_epochs": epochs,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "num_sanity_val_steps": 0,
    }
    if args.smoke:
        trainer.update(limit_train_batches=3, limit_val_batches=1, limit_test_batches=1)
    return trainer


def overlay(recipe: str, args: Any, logdir: str) -> dict[str, Any]:
    """The shared budget over ``recipes/<recipe>.yaml``: model, data, epochs; each file keeps its own optimizer."""
    trainer = _trainer(args, args.epochs)
    trainer["logger"] = {
        "class_path": "lightning.pytorch.loggers.CSVLogger",
        "init_args": {"save_dir": logdir, "name": recipe},
    }
    model: dict[str, Any] = {"arch": "tiny" if args.smoke else "resnet20", "model_kwargs": None}
    if recipe == "schedule_free":
        steps = _steps_per_epoch(args) * args.epochs
        model["optimizer"] = {
            "class_path": "schedulefree.SGDScheduleFree",
            "init_args": {
                "lr": args.sf_lr,
                "momentum": 0.9,
                "weight_decay": 1.0e-4,
                "warmup_steps": max(1, steps // 10),
            },
        }
        trainer["callbacks"] = [
            {"class_path": "lr_recipes.callback.LRSchedulerCallback", "init_args": {"log_momentum": True}},
            {
                "class_path": "lr_recipes.schedule_free.ScheduleFreeCallback",
                "init_args": {"bn_batches": args.bn_batches},
            },
        ]
    else:  # the shared SGD of real_cifar.py (onecycle.yaml's own peak 0.4 is for batch 256)
        model["optimizer"] = {
            "class_path": "torch.optim.SGD",
            "init_args": {"lr": 0.1, "momentum": 0.9, "weight_decay": 5.0e-4},
        }
    return {
        "seed_everything": SEED,
        "trainer": trainer,
        "model": model,
        "data": _data(args, SEED),
        "test_after_fit": not args.no_test,
    }


def _steps_per_epoch(args: Any) -> int:
    if args.smoke:
        return 3
    train = args.train_subset
    return -(-train // args.batch_size)


def fit_recipe(recipe: str, args: Any, root: str) -> dict[str, Any]:
    path = Path(root, f"{recipe}-overlay.yaml")
    config = overlay(recipe, args, root)
    path.write_text(yaml.safe_dump(config))
    start = time.perf_counter()
    cli_main(["fit", "--config", str(common.REPO / "recipes" / f"{recipe}.yaml"), "--config", str(path)])
    wall = time.perf_counter() - start
    log_dir = max(Path(root, recipe).glob("version_*"))
    summary = json.loads((log_dir / "summary.json").read_text())
    (ckpt,) = (log_dir / "checkpoints").glob("*.ckpt")
    return {
        "optimizer": config["model"]["optimizer"],
        "test_acc": round(summary["test_acc"], 4) if "test_acc" in summary else None,
        "final_val_acc": _val_accs(log_dir)[-1],
        "best_val_acc": round(summary["best_val_acc"], 4),
        "val_acc_per_epoch": _val_accs(log_dir),
        "optimizer_steps": summary["optimizer_steps"],
        "train_images_per_s": summary["train_images_per_s"],
        "wall_s": round(wall, 1),
        "checkpoint": str(ckpt),
    }


def _val_accs(log_dir: Path) -> list[float]:
    import csv

    with open(log_dir / "metrics.csv") as f:
        return [round(float(r["val_acc"]), 4) for r in csv.DictReader(f) if r.get("val_acc")]


def variants(smoke: bool) -> dict[str, dict[str, Any]]:
    """The fine-tuning configs: ResNet-20's stem and stages are ``model.stem``/``model.layers``."""
    backbone = "model.net.[0-5]*" if smoke else "model.[sl]*"
    return {
        "uniform": {},
        "backbone 0.1x": {"param_groups": [{"name": "backbone", "match": backbone, "lr_mult": 0.1}]},
        "layer_decay 0.5": {"layer_decay": 0.5},
    }


def finetune(variant: str, pretrained: str, args: Any) -> dict[str, Any]:
    seed_everything(SEED)
    model = ImageClassifier(
        arch="tiny" if args.smoke else "resnet20",
        optimizer=functools.partial(torch.optim.SGD, lr=0.05, momentum=0.9, weight_decay=5e-4),
        schedule="cosine",
        **variants(args.smoke)[variant],
    )
    state = torch.load(pretrained, weights_only=True)["state_dict"]
    head = [k for k in state if k.startswith(("model.fc.", "model.net.9."))]
    missing = model.load_state_dict({k: v for k, v in state.items() if k not in head}, strict=False).missing_keys
    assert sorted(missing) == sorted(head), missing  # only the classifier starts fresh
    data = CIFAR10DataModule(**_data(args, seed=1))
    trainer = Trainer(**_trainer(args, args.finetune_epochs), logger=False, enable_checkpointing=False)
    start = time.perf_counter()
    trainer.fit(model, datamodule=data)
    val_acc = float(trainer.callback_metrics["val_acc"])
    test_acc = None if args.no_test else float(trainer.test(model, datamodule=data, verbose=False)[0]["test_acc"])
    groups = trainer.optimizers[0].param_groups
    return {
        "config": variants(args.smoke)[variant],
        "groups": {str(g.get("name", "all")): round(float(g["initial_lr"]), 6) for g in groups},
        "test_acc": None if test_acc is None else round(test_acc, 4),
        "val_acc": round(val_acc, 4),
        "wall_s": round(time.perf_counter() - start, 1),
    }


def main(argv: list[str] | None = None) -> dict[str, Any] | None:
    p = common.parser("schedule_free_groups", __doc__.split("\n\n")[0], repeats=1)
    p.add_argument("--root", default=str(common.JPEG_CIFAR), help="the JPEG CIFAR-10 .tar.gz or folder")
    p.add_argument("--cache-dir", default=str(common.CACHE_DIR))
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--finetune-epochs", type=int, default=2)
    p.add_argument("--train-subset", type=int, default=4000)
    p.add_argument("--val-size", type=int, default=2000)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--recipes", nargs="+", default=["cosine", "onecycle", "schedule_free"])
    p.add_argument("--sf-lr", type=float, default=1.0, help="SGDScheduleFree's lr (default 1.0, as its recipe)")
    p.add_argument("--bn-batches", type=int, default=20, help="ScheduleFreeCallback's BatchNorm recalibration batches")
    p.add_argument("--part", choices=["all", "schedules", "finetune"], default="all")
    p.add_argument("--pretrained", default=None, help="checkpoint to fine-tune (default: part 1's cosine run)")
    p.add_argument("--no-test", action="store_true", help="skip the 10k test set; compare validation accuracy")
    args = p.parse_args(argv)
    if not args.smoke and not Path(args.root).exists():
        print(f"schedule_free_groups: skipped, {args.root} is absent (--smoke runs on synthetic data)")
        return None
    if args.smoke:
        args.epochs, args.finetune_epochs = 3, 1  # onecycle needs 2 steps per phase
    torch.set_num_threads(args.threads)
    load = common.LoadMonitor()
    common.quiet()
    schedules: dict[str, Any] = {}
    tuned: dict[str, Any] = {}
    key = "final_val_acc" if args.no_test else "test_acc"
    tables = []
    with tempfile.TemporaryDirectory() as root:
        if args.part in ("all", "schedules"):
            for recipe in args.recipes:
                schedules[recipe] = fit_recipe(recipe, args, root)
                print(f"{recipe}: {schedules[recipe]}", flush=True)
            base = schedules[args.recipes[0]][key]
            rows1 = [
                [
                    r,
                    m["test_acc"],
                    m["best_val_acc"],
                    " / ".join(map(str, m["val_acc_per_epoch"])),
                    round(m[key] / base, 3),
                ]
                for r, m in schedules.items()
            ]
            headers = ["recipe", "test acc", "best val acc", "val acc per epoch", f"{key} / {args.recipes[0]}'s"]
            tables.append(common.table(headers, rows1))
        if args.part in ("all", "finetune"):
            pretrained = args.pretrained or schedules["cosine"]["checkpoint"]
            for variant in variants(args.smoke):
                tuned[variant] = finetune(variant, pretrained, args)
                print(f"{variant}: {tuned[variant]}", flush=True)
            key2 = "val_acc" if args.no_test else "test_acc"
            base = tuned["uniform"][key2]
            rows2 = [[v, m["test_acc"], m["val_acc"], round(m[key2] / base, 3)] for v, m in tuned.items()]
            tables.append(common.table(["fine-tuning", "test acc", "val acc", f"{key2} / uniform's"], rows2))
    for m in schedules.values():
        del m["checkpoint"]
    print(*tables, sep="\n\n")
    result = {
        "benchmark": "schedule_free_groups",
        "command": common.command(),
        "machine": common.machine(args.threads),
        "load_average_1min": load.stop(),
        "settings": {k: v for k, v in vars(args).items() if k != "out"},
        "results": {"schedules": schedules, "finetune": tuned},
        "tables": tables,
    }
    common.write(args.out, result)
    return result


if __name__ == "__main__":
    main()
