"""One WSD run branched into cooldowns at several budgets, against a separate cosine run per budget (real CIFAR-10).

Warmup-stable-decay branching (Hu et al., MiniCPM, 2024; Hägele et al., "Scaling Laws and Compute-Optimal
Training Beyond Fixed Training Durations", 2024): one run at the stable LR, checkpointed every epoch; a finished
model at budget ``B`` is a cooldown of ``--cooldown`` epochs from the checkpoint at ``B - cooldown``, through the
pack's CLI exactly as a user would do it::

    python -m lr_recipes fit --config recipes/wsd.yaml --config <overlay> --ckpt_path <stable ckpt> \\
        --model.schedule.cooldown 1ep

The alternative trains a cosine run from scratch for each budget. Same model (ResNet-20), data (a class-stratified
``--train-subset`` of the JPEG copy, 1000 held-out validation images), optimizer (SGD 0.1, momentum 0.9, weight
decay 5e-4), batch 128, warmup (0.5 epoch from 0.1x) and seed. Reported: test accuracy per budget for both, and
the optimizer steps each way (the compute the branching saved).

    .venv/bin/python benchmarks/horizon.py --budgets 2 4 6 --cooldown 1 --train-subset 2500
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import common
import torch
import yaml
from lightning.pytorch.callbacks import Callback

from lr_recipes.pack.cli import main as cli_main

SEED = 0
ROOT = Path("/work/shared/data/cifar10_jpeg.tar.gz")
CACHE = Path("/work/coord/data/cache")


class StopAfter(Callback):
    """Stop a run after ``epochs`` epochs while its schedule stays planned for its full length (a stable phase).

    Example::

        >>> StopAfter(5).epochs
        5
    """

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.current_epoch + 1 >= self.epochs:
            trainer.should_stop = True


def overlay(name: str, schedule: dict[str, Any], args: Any, root: str, **trainer: Any) -> dict[str, Any]:
    callbacks: list[dict[str, Any]] = [{"class_path": "lr_recipes.callback.LRSchedulerCallback"}]
    callbacks += trainer.pop("extra_callbacks", [])
    trainer = {
        "accelerator": "cpu",
        "devices": 1,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "num_sanity_val_steps": 0,
        "enable_checkpointing": any("ModelCheckpoint" in c["class_path"] for c in callbacks),
        "limit_test_batches": args.test_batches,
        "callbacks": callbacks,
        "logger": {"class_path": "lightning.pytorch.loggers.CSVLogger", "init_args": {"save_dir": root, "name": name}},
        **trainer,
    }
    if args.smoke:
        data: dict[str, Any] = {"source": "synthetic", "synthetic_size": 256, "val_size": 64, "batch_size": 32}
        trainer.update(limit_train_batches=3, limit_val_batches=1, limit_test_batches=1)
    else:
        data = {
            "source": "imagefolder",
            "root": str(args.root),
            "cache_dir": str(args.cache_dir),
            "train_subset": args.train_subset,
            "val_size": 1000,
            "batch_size": 128,
        }
    data.update(num_workers=0, pin_memory=False, seed=SEED)
    return {
        "seed_everything": SEED,
        "trainer": trainer,
        "model": {
            "arch": "tiny" if args.smoke else "resnet20",
            "model_kwargs": None,
            "optimizer": {
                "class_path": "torch.optim.SGD",
                "init_args": {"lr": 0.1, "momentum": 0.9, "weight_decay": 5.0e-4},
            },
            "schedule": schedule,
        },
        "data": data,
        "test_after_fit": True,
    }


def fit(name: str, recipe: str, config: dict[str, Any], root: str, *extra: str, resume_step: int = 0) -> dict[str, Any]:
    path = Path(root, f"{name}.yaml")
    path.write_text(yaml.safe_dump(config))
    start = time.perf_counter()
    cli_main(["fit", "--config", str(common.REPO / "recipes" / recipe), "--config", str(path), *extra])
    log_dir = max(Path(root, name).glob("version_*"))
    summary = json.loads((log_dir / "summary.json").read_text())
    return {
        "test_acc": round(summary.get("test_acc", float("nan")), 4),
        "optimizer_steps": summary["optimizer_steps"],
        "trained_steps": summary["optimizer_steps"] - resume_step,
        "final_lr": summary["final_lr"][0],
        "wall_s": round(time.perf_counter() - start, 1),
    }


def main(argv: list[str] | None = None) -> dict[str, Any] | None:
    p = common.parser("horizon", __doc__.split("\n\n")[0], repeats=1)
    p.add_argument("--budgets", type=int, nargs="+", default=[2, 4, 6], help="training budgets in epochs")
    p.add_argument("--cooldown", type=int, default=1, help="cooldown length in epochs (each branch)")
    p.add_argument("--train-subset", type=int, default=2500)
    p.add_argument("--test-batches", type=int, default=20, help="test batches of 128 (of the 10k test set)")
    p.add_argument("--root", type=Path, default=ROOT)
    p.add_argument("--cache-dir", type=Path, default=CACHE)
    args = p.parse_args(argv)
    if not args.smoke and not args.root.exists():
        print(f"horizon: skipped, {args.root} is absent (--smoke runs on synthetic data)")
        return None
    if args.smoke:
        args.budgets, args.cooldown = [2, 3], 1
    torch.set_num_threads(args.threads)
    load = common.LoadMonitor()
    common.quiet()
    warmup = {"warmup": "0.5ep", "warmup_start_factor": 0.1}
    wsd = {"name": "wsd", **warmup, "decay": "20%", "decay_shape": "1-sqrt"}
    branches = [b - args.cooldown for b in args.budgets]
    results: dict[str, Any] = {"wsd": {}, "cosine": {}}
    with tempfile.TemporaryDirectory() as root:
        ckpt_dir = Path(root, "stable")
        checkpoint = {
            "class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
            "init_args": {"dirpath": str(ckpt_dir), "every_n_epochs": 1, "save_top_k": -1, "filename": "{epoch}"},
        }
        stop = {"class_path": "horizon.StopAfter", "init_args": {"epochs": max(branches)}}
        # The stable run is planned for 100 epochs (its decay never comes) and stopped at the last branch point.
        stable = overlay("stable", wsd, args, root, max_epochs=100, extra_callbacks=[checkpoint, stop])
        results["wsd"]["stable"] = fit("stable", "wsd.yaml", stable, root)
        print("stable:", results["wsd"]["stable"])
        for budget, branch in zip(args.budgets, branches, strict=True):
            ckpt = ckpt_dir / f"epoch={branch - 1}.ckpt"
            config = overlay(f"cooldown{budget}", wsd, args, root, max_epochs=100)
            cooldown = ("--ckpt_path", str(ckpt), "--model.schedule.cooldown", f"{args.cooldown}ep")
            step = torch.load(ckpt, weights_only=True, map_location="cpu")["global_step"]
            results["wsd"][budget] = fit(f"cooldown{budget}", "wsd.yaml", config, root, *cooldown, resume_step=step)
            print(f"wsd cooldown to {budget} epochs:", results["wsd"][budget])
        for budget in args.budgets:
            config = overlay(f"cosine{budget}", {"name": "cosine", **warmup}, args, root, max_epochs=budget)
            results["cosine"][budget] = fit(f"cosine{budget}", "cosine.yaml", config, root)
            print(f"cosine {budget} epochs:", results["cosine"][budget])
    stable_steps = results["wsd"]["stable"]["trained_steps"]
    wsd_steps = stable_steps + sum(results["wsd"][b]["trained_steps"] for b in args.budgets)
    cosine_steps = sum(results["cosine"][b]["trained_steps"] for b in args.budgets)
    rows = [
        [
            b,
            results["wsd"][b]["test_acc"],
            results["cosine"][b]["test_acc"],
            round(results["wsd"][b]["test_acc"] - results["cosine"][b]["test_acc"], 4),
        ]
        for b in args.budgets
    ]
    headers = ["budget (epochs)", "WSD branch test acc", "cosine test acc", "WSD - cosine"]
    table = common.table(headers, rows)
    saved = 1 - wsd_steps / cosine_steps
    summary = (
        f"optimizer steps trained for all budgets: WSD branching {wsd_steps} (stable run {stable_steps} + cooldowns), "
        f"separate cosine runs {cosine_steps}: branching saved {100 * saved:.0f}% of the training compute"
    )
    print(table)
    print(summary)
    result = {
        "benchmark": "horizon",
        "command": common.command(),
        "machine": common.machine(args.threads),
        "load_average_1min": load.stop(),
        "settings": {
            "arch": "tiny" if args.smoke else "resnet20",
            "budgets_epochs": args.budgets,
            "cooldown_epochs": args.cooldown,
            "train_subset": None if args.smoke else args.train_subset,
            "val_size": 1000,
            "test_images": None if args.smoke else args.test_batches * 128,
            "batch_size": 128,
            "optimizer": "SGD lr 0.1 momentum 0.9 weight_decay 5e-4",
            "warmup": "0.5ep from 0.1x",
            "seed_everything": SEED,
            "smoke": args.smoke,
        },
        "results": {k: {str(b): v for b, v in r.items()} for k, r in results.items()},
        "optimizer_steps": {"wsd_branching": wsd_steps, "cosine_runs": cosine_steps, "saved_fraction": round(saved, 3)},
        "table": table,
        "summary": summary,
    }
    common.write(args.out, result)
    return result


if __name__ == "__main__":
    main()
