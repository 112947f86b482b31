"""Training images/s of our Lightning module (through ``python -m lr_recipes fit``) vs a hand-written loop.

Both train the same model from the same seed (0) on the same data path, with the same optimizer (SGD,
LR 0.1, momentum 0.9, weight decay 5e-4) and the same schedule (the ``cosine`` recipe, one
``lr_recipes.build`` scheduler stepped per optimizer step):

- ``lightning``: ``lr_recipes.pack.cli.main(["fit", "--config", "recipes/cosine.yaml", "--config", <overlay>])``,
  i.e. ``ImageClassifier`` + ``CIFAR10DataModule`` + ``Trainer.fit`` with the recipe's
  ``LRSchedulerCallback`` and ``CSVLogger`` and the CLI's fit summary. The overlay sets the model,
  the data, the run length, no validation, no checkpointing and no progress bar;
- ``raw``: a plain loop over the same ``CIFAR10DataModule`` train loader, ``augment_batch`` +
  ``normalize_batch`` on each batch (what ``on_after_batch_transfer`` calls), forward, cross-entropy,
  backward, ``optimizer.step()``, ``scheduler.step()``. It logs nothing and computes no accuracy.

Images/s over the same steps, start-up excluded: the first steps are not timed, then whole steps are
timed start to start (``common.StepTimer`` in Lightning, the same clock points in the loop), all within
one epoch and without validation in either. Data: the JPEG CIFAR-10 in ``../shared/data`` if present,
else synthetic. Goal: lightning / raw >= 0.97.

    .venv/bin/python benchmarks/lightning_vs_raw.py
"""

from __future__ import annotations

import functools
import tempfile
import time
from pathlib import Path
from typing import Any

import common
import lightning.pytorch as pl
import torch
import torch.nn.functional as F
import yaml

import lr_recipes
from lr_recipes.pack.cli import main as cli_main
from lr_recipes.pack.data import CIFAR10DataModule, augment_batch, normalize_batch
from lr_recipes.pack.models import create_model

DEFAULT_STEPS = {"tiny": 300, "resnet20": 40}
SEED = 0


def data_args(smoke: bool, batch_size: int, total_batches: int) -> dict[str, Any]:
    """``CIFAR10DataModule`` arguments: one epoch must hold every step of the run."""
    if smoke or not common.JPEG_CIFAR.is_file():
        return {
            "source": "synthetic",
            "synthetic_size": max(512, total_batches * batch_size),
            "val_size": 64,
            "batch_size": batch_size,
            "num_workers": 0,
            "pin_memory": False,
        }
    return {
        "source": "imagefolder",
        "root": str(common.JPEG_CIFAR),
        "cache_dir": str(common.CACHE_DIR),
        "batch_size": batch_size,
        "num_workers": 0,
        "pin_memory": False,
    }


def lightning_run(arch: str, steps: int, skip: int, data: dict[str, Any], logdir: str) -> dict[str, float]:
    overlay = {
        "seed_everything": SEED,
        "trainer": {
            "accelerator": "cpu",
            "devices": 1,
            "max_steps": skip + steps + 1,
            "limit_val_batches": 0,
            "num_sanity_val_steps": 0,
            "enable_checkpointing": False,
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "logger": {"class_path": "lightning.pytorch.loggers.CSVLogger", "init_args": {"save_dir": logdir}},
            "callbacks+": [{"class_path": "common.StepTimer", "init_args": {"skip": skip}}],
        },
        "model": {
            "arch": arch,
            "model_kwargs": None,
            "optimizer": {
                "class_path": "torch.optim.SGD",
                "init_args": {"lr": 0.1, "momentum": 0.9, "weight_decay": 5.0e-4},
            },
            "schedule": {"name": "cosine"},
        },
        "data": data,
        "test_after_fit": False,
    }
    path = Path(logdir, "overlay.yaml")
    path.write_text(yaml.safe_dump(overlay))
    common.StepTimer.last = None
    cli_main(["fit", "--config", str(common.REPO / "recipes" / "cosine.yaml"), "--config", str(path)])
    timer = common.StepTimer.last
    assert timer is not None and timer.timed == steps, "the StepTimer did not time the run"
    return {"images_per_s": timer.images / timer.seconds, "cpu_per_step": timer.cpu_per_step, "threads": timer.threads}


def raw_run(arch: str, steps: int, skip: int, data: dict[str, Any]) -> dict[str, float]:
    pl.seed_everything(SEED, verbose=False)
    model = create_model(arch)
    dm = CIFAR10DataModule(**data)
    dm.prepare_data()
    dm.setup("fit")
    loader = dm.train_dataloader()
    total = skip + steps + 1
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5.0e-4)
    sched = lr_recipes.build("cosine", opt, total_steps=total, steps_per_epoch=len(loader))["scheduler"]
    model.train()
    images = 0
    start = cpu_start = 0.0
    for i, (x, y) in enumerate(loader):
        if i == skip:
            threads = torch.get_num_threads()
            start, cpu_start = time.perf_counter(), time.thread_time()
        if i == skip + steps:
            seconds, cpu = time.perf_counter() - start, time.thread_time() - cpu_start
            break
        if i >= skip:
            images += len(x)
        x = normalize_batch(augment_batch(x, crop_padding=dm.crop_padding, flip=dm.flip, cutout=dm.cutout))
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    else:
        raise RuntimeError(f"the loader ran out before step {skip + steps}: make the epoch longer")
    return {"images_per_s": images / seconds, "cpu_per_step": cpu / steps, "threads": threads}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = common.parser("lightning_vs_raw", __doc__.split("\n\n")[0], repeats=5)
    p.add_argument("--archs", nargs="+", default=["resnet20", "tiny"], help="models (default resnet20 tiny)")
    p.add_argument("--steps", type=int, default=None, help=f"timed steps per run (default {DEFAULT_STEPS})")
    p.add_argument("--batch-size", type=int, default=128)
    args = p.parse_args(argv)
    archs = ["tiny"] if args.smoke else args.archs
    repeats = 1 if args.smoke else args.repeats
    skip = 2 if args.smoke else 5
    torch.set_num_threads(args.threads)
    load = common.LoadMonitor()
    common.quiet()

    measured: dict[str, Any] = {}
    rows = []
    for arch in archs:
        steps = 4 if args.smoke else args.steps or DEFAULT_STEPS.get(arch, 40)
        data = data_args(args.smoke, args.batch_size if not args.smoke else 32, skip + steps + 2)
        with tempfile.TemporaryDirectory() as logdir:
            variants = {
                "lightning": functools.partial(lightning_run, arch, steps, skip, data, logdir),
                "raw": functools.partial(raw_run, arch, steps, skip, data),
            }
            runs = common.interleave(variants, repeats)
        med = {name: common.median([r["images_per_s"] for r in rs]) for name, rs in runs.items()}
        cpu = {name: common.median([r["cpu_per_step"] for r in rs]) for name, rs in runs.items()}
        ratio = med["lightning"] / med["raw"]
        cpu_ratio = cpu["raw"] / cpu["lightning"]
        measured[arch] = {
            "images_per_s": {name: [round(r["images_per_s"], 1) for r in rs] for name, rs in runs.items()},
            "median_images_per_s": {name: round(v, 1) for name, v in med.items()},
            "median_cpu_ms_per_step": {name: round(v * 1e3, 3) for name, v in cpu.items()},
            "threads": sorted({r["threads"] for rs in runs.values() for r in rs}),
            "timed_steps": steps,
            "ratio": round(ratio, 3),
            "ratio_cpu_time": round(cpu_ratio, 3),
            "goal_met": bool(ratio >= 0.97),
        }
        rows.append([arch, steps, med["lightning"], med["raw"], ratio, cpu_ratio, ratio >= 0.97])
        print(f"{arch}: lightning {med['lightning']:.1f} img/s, raw {med['raw']:.1f} img/s, ratio {ratio:.3f}")

    headers = [
        "model",
        "timed steps",
        "lightning img/s",
        "raw img/s",
        "ratio lightning/raw",
        "ratio (CPU time)",
        "goal >= 0.97 met",
    ]
    print(common.table(headers, rows))
    result = {
        "benchmark": "lightning_vs_raw",
        "command": common.command(),
        "machine": common.machine(args.threads),
        "load_average_1min": load.stop(),
        "settings": {
            "archs": archs,
            "skip": skip,
            "repeats": repeats,
            "smoke": args.smoke,
            "data": data["source"],
            "batch_size": data["batch_size"],
            "seed": SEED,
        },
        "goal": "lightning images/s / raw loop images/s >= 0.97",
        "results": measured,
        "table": common.table(headers, rows),
    }
    common.write(args.out, result)
    return result


if __name__ == "__main__":
    main()
