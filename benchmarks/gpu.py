"""One-shot GPU measures (written for one H200 and about 10 minutes of device time), with a CPU ``--smoke``.

Drives the pack's module directly (``ImageClassifier`` + ``CIFAR10DataModule`` + ``Trainer``), not the CLI:
the device machine has torch, lightning, torchmetrics and torchvision but not jsonargparse. Parts, in
order, each skipped with a message once ``--budget-s`` is spent, the JSON rewritten after each:

1. ``sync_check``: ``torch.cuda.set_sync_debug_mode("error")`` from the start of training step
   ``--sync-skip`` to the end of the run (data fetch, transfer, augmentation, forward, backward, optimizer,
   scheduler, callbacks; no logging step and no progress bar inside the window), with fast.yaml's model
   and settings, for both data paths. Passes if no step synchronises; otherwise the failing call is
   recorded, and a second pass in ``"warn"`` mode lists every synchronising call site.
2. ``throughput``: training images/s of resnet9 and resnet18 with fast.yaml's settings (bf16-mixed,
   channels_last, batch 512, cutout 8), eager, timed after warm-up steps with a device synchronisation
   at both ends of the window; resnet9 also on the ``loader`` data path;
3. ``time_to_94``: recipes/fast.yaml as written (resnet9, batch 512, bf16-mixed, channels_last, label
   smoothing 0.2, cutout 8, 18 epochs, linear warmup + decay); the test set is evaluated after every epoch
   (untimed) and the training time until test accuracy first reaches 94% is reported, with the accuracy
   reached (the JPEG copy of CIFAR-10 scores a little below the original);
4. ``throughput_compiled``: as 2, with ``torch.compile`` (last: compiling takes minutes).

Data paths: ``resident`` (the DataModule's uint8 tensors moved to the GPU once; a batch is one index
there) and ``loader`` (the DataModule as shipped: CPU tensors, pinned, copied per batch). Augmentation
runs on the GPU in both (``on_after_batch_transfer``).

    python benchmarks/gpu.py --data /path/to/cifar10_jpeg.tar.gz --out $OUT/gpu.json
    .venv/bin/python benchmarks/gpu.py --smoke          # CPU, synthetic data: CUDA-only parts skipped
"""

from __future__ import annotations

import functools
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

import common
import lightning.pytorch as pl
import torch
import yaml
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import CSVLogger


def _importable_lr_recipes() -> None:
    """The device machine has no editable install (and no jsonargparse, which the CLI needs but the
    library does not): import the package from the checkout and drive the module directly."""
    sys.path.insert(0, str(common.REPO))


_importable_lr_recipes()

from lr_recipes import LRSchedulerCallback  # noqa: E402
from lr_recipes.pack.classifier import ImageClassifier  # noqa: E402
from lr_recipes.pack.data import CIFAR10DataModule, TensorImages  # noqa: E402

FAST = yaml.safe_load((common.REPO / "recipes" / "fast.yaml").read_text())
TARGET = 0.94


class SyncedTimer(Callback):
    """Images/s of training steps ``skip`` to ``skip + steps``, timed start to start, with a device
    synchronisation at both ends so queued GPU work is counted."""

    def __init__(self, skip: int, steps: int) -> None:
        self.skip, self.steps, self.seen, self.images = skip, steps, 0, 0
        self.start = self.end = 0.0

    def _now(self) -> float:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return time.perf_counter()

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, idx: int) -> None:
        if self.seen == self.skip:
            self.start = self._now()
        elif self.seen == self.skip + self.steps:
            self.end = self._now()
        if self.skip <= self.seen < self.skip + self.steps:
            self.images += int(batch[0].shape[0])
        self.seen += 1

    @property
    def images_per_s(self) -> float:
        if self.end <= self.start:
            raise RuntimeError(f"the run ended before step {self.skip + self.steps} ({self.seen} batches)")
        return self.images / (self.end - self.start)


class SyncDebug(Callback):
    """``torch.cuda.set_sync_debug_mode(mode)`` from the start of training step ``skip`` to the end of training."""

    def __init__(self, skip: int, mode: str) -> None:
        self.skip, self.mode, self.seen, self.on = skip, mode, 0, False
        self.error: BaseException | None = None

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, idx: int) -> None:
        if self.seen == self.skip:
            torch.cuda.set_sync_debug_mode(self.mode)
            self.on = True
        self.seen += 1

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.off()

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self.error = exception  # the first synchronising call; switch off before Lightning's teardown runs
        self.off()

    def off(self) -> None:
        if self.on:
            torch.cuda.set_sync_debug_mode(0)
            self.on = False


class EpochAccuracy(Callback):
    """Training seconds (validation excluded, device synchronised) and the validation accuracy after each epoch."""

    def __init__(self) -> None:
        self.train_s = 0.0
        self.points: list[dict[str, float]] = []
        self._t0 = 0.0

    def _now(self) -> float:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return time.perf_counter()

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._t0 = self._now()

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            self.train_s += self._now() - self._t0

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            acc = float(trainer.callback_metrics["val_acc"])
            self.points.append(
                {"epoch": trainer.current_epoch + 1, "train_s": round(self.train_s, 2), "test_acc": round(acc, 4)}
            )


def datamodule(args: Any, path: str, batch_size: int, cutout: int) -> CIFAR10DataModule:
    cuda = torch.cuda.is_available()
    if args.smoke:
        dm = CIFAR10DataModule(
            source="synthetic",
            synthetic_size=256,
            val_size=64,
            batch_size=batch_size,
            cutout=cutout,
            channels_last=True,
            pin_memory=False,
        )
    else:
        dm = CIFAR10DataModule(
            source="imagefolder",
            root=args.data,
            cache_dir=args.cache_dir,
            batch_size=batch_size,
            cutout=cutout,
            channels_last=True,
            num_workers=0,
            pin_memory=cuda and path == "loader",
        )
    dm.prepare_data()
    dm.setup("fit")
    if path == "resident" and cuda:
        for ds in (dm.train_set, dm.val_set, dm.test_set):
            assert isinstance(ds, TensorImages)
            ds.images, ds.labels = ds.images.cuda(), ds.labels.cuda()
    return dm


def model(arch: str, compile_: bool, smoke: bool, short: bool = True) -> ImageClassifier:
    """fast.yaml's module; for a ``short`` run (tens of steps) its 5-epoch warmup becomes 20% of the run."""
    m = FAST["model"]
    opt = m["optimizer"]
    optimizer = functools.partial(getattr(torch.optim, opt["class_path"].rsplit(".", 1)[1]), **opt["init_args"])
    schedule = {**m["schedule"], "warmup": "20%"} if short and "warmup" in m["schedule"] else m["schedule"]
    return ImageClassifier(
        optimizer=optimizer,
        schedule=schedule,
        arch="tiny" if smoke else arch,
        label_smoothing=m["label_smoothing"],
        channels_last=m["channels_last"],
        no_weight_decay_on_norm_and_bias=m["no_weight_decay_on_norm_and_bias"],
        compile=compile_,
    )


def trainer(args: Any, logdir: str, callbacks: list[Callback], **kwargs: Any) -> pl.Trainer:
    cuda = torch.cuda.is_available()
    defaults: dict[str, Any] = {
        "accelerator": "gpu" if cuda else "cpu",
        "devices": 1,
        "precision": "bf16-mixed" if cuda else "32-true",
        "benchmark": cuda,
        "logger": CSVLogger(logdir),
        "log_every_n_steps": 50,
        "callbacks": [LRSchedulerCallback(log_momentum=True), *callbacks],
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "enable_checkpointing": False,
        "num_sanity_val_steps": 0,
        "max_epochs": FAST["trainer"]["max_epochs"],  # fast.yaml's run; a max_steps in kwargs cuts it
    }
    defaults.update(kwargs)
    return pl.Trainer(**defaults)


def sync_check(args: Any, logdir: str) -> dict[str, Any]:
    if not torch.cuda.is_available():
        return {"skipped": "no CUDA device: the sync debug mode is CUDA-only"}
    batch = FAST["data"]["batch_size"]
    out: dict[str, Any] = {"window": f"training steps {args.sync_skip} to {args.sync_skip + args.sync_steps}"}
    for path in ("resident", "loader"):
        dm = datamodule(args, path, batch, FAST["data"]["cutout"])
        result: dict[str, Any] = {}
        debug = SyncDebug(args.sync_skip, "error")
        t = trainer(
            args,
            logdir,
            [debug],
            max_steps=args.sync_skip + args.sync_steps,
            limit_val_batches=0,
            log_every_n_steps=10_000,
        )
        try:
            t.fit(model("resnet9", False, args.smoke), datamodule=dm)
            result["ok"] = True
        except Exception as err:  # the sync debug mode raises RuntimeError at the first synchronising call
            first = debug.error or err
            result["ok"] = False
            result["error"] = f"{type(first).__name__}: {first}"[:500]
            result["traceback"] = _frames(traceback.extract_tb(first.__traceback__), keep=12)
        finally:
            debug.off()
        if not result["ok"]:
            result["sync_sites"] = _warn_pass(args, logdir, dm)
        out[path] = result
        print(f"sync_check {path}: {result}")
    return out


def _frames(stack: traceback.StackSummary, keep: int = 8) -> list[str]:
    """The innermost frames, skipping the warnings machinery."""
    frames = [f for f in stack if "warnings.py" not in f.filename]
    return [f"{f.filename}:{f.lineno} {f.name}: {f.line}" for f in frames[-keep:]]


def _warn_pass(args: Any, logdir: str, dm: CIFAR10DataModule) -> dict[str, int]:
    """Every call site that synchronises in the window, with how often (sync debug mode "warn")."""
    sites: dict[str, int] = {}

    def record(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
        if "synchroniz" in str(message).lower():
            key = " <- ".join(reversed(_frames(traceback.extract_stack()[:-1], keep=6)))
            sites[key] = sites.get(key, 0) + 1

    debug = SyncDebug(args.sync_skip, "warn")
    t = trainer(
        args, logdir, [debug], max_steps=args.sync_skip + args.sync_steps, limit_val_batches=0, log_every_n_steps=10_000
    )
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = record
        try:
            t.fit(model("resnet9", False, args.smoke), datamodule=dm)
        finally:
            debug.off()
    return sites


def throughput(args: Any, logdir: str, compiled: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if compiled:
        if not torch.cuda.is_available():
            return {"skipped": "no CUDA device (the CPU smoke run checks the eager path only)"}
        cases = [(arch, True, "resident") for arch in args.archs]
    else:
        cases = [(arch, False, "resident") for arch in args.archs]
        if torch.cuda.is_available():
            cases.append(("resnet9", False, "loader"))
    steps, skip = (3, 2) if args.smoke else (args.steps, args.skip)
    batch = 32 if args.smoke else FAST["data"]["batch_size"]
    for arch, compile_, path in cases:
        key = f"{'tiny' if args.smoke else arch}/{'compiled' if compile_ else 'eager'}/{path}"
        if _over_budget(args):
            out[key] = "skipped: over --budget-s"
            continue
        dm = datamodule(args, path, batch, FAST["data"]["cutout"])
        timer = SyncedTimer(skip=skip + (5 if compile_ else 0), steps=steps)
        t = trainer(args, logdir, [timer], max_steps=timer.skip + steps + 1, limit_val_batches=0)
        start = time.perf_counter()
        t.fit(model(arch, compile_, args.smoke), datamodule=dm)
        out[key] = {
            "images_per_s": round(timer.images_per_s, 1),
            "fit_wall_s": round(time.perf_counter() - start, 1),
            "timed_steps": steps,
            "batch_size": batch,
        }
        print(f"throughput {key}: {out[key]}")
    return out


def time_to_target(args: Any, logdir: str) -> dict[str, Any]:
    batch = 32 if args.smoke else FAST["data"]["batch_size"]
    dm = datamodule(args, "resident", batch, FAST["data"]["cutout"])
    dm.val_dataloader = dm.test_dataloader  # type: ignore[method-assign]  # validate on the official test set
    clock = EpochAccuracy()
    limits = {"limit_train_batches": 1, "limit_val_batches": 1} if args.smoke else {}
    pl.seed_everything(FAST["seed_everything"], verbose=False)
    t = trainer(args, logdir, [clock], **limits)
    start = time.perf_counter()
    t.fit(model("resnet9", False, args.smoke, short=False), datamodule=dm)
    reached = next((p for p in clock.points if p["test_acc"] >= TARGET), None)
    return {
        "target": TARGET,
        "reached": reached is not None,
        "train_s_to_target": reached["train_s"] if reached else None,
        "epoch_reached": reached["epoch"] if reached else None,
        "final_test_acc": clock.points[-1]["test_acc"] if clock.points else None,
        "best_test_acc": max((p["test_acc"] for p in clock.points), default=None),
        "train_s_total": round(clock.train_s, 2),
        "fit_wall_s": round(time.perf_counter() - start, 1),
        "per_epoch": clock.points,
    }


def _over_budget(args: Any) -> bool:
    return time.perf_counter() - args.start > args.budget_s


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = common.parser("gpu", __doc__.split("\n\n")[0], repeats=1)
    p.add_argument("--data", default=str(common.JPEG_CIFAR), help="the JPEG CIFAR-10 archive or folder")
    p.add_argument("--cache-dir", default=None, help="where the decoded tensors go (default: a temporary folder)")
    p.add_argument("--archs", nargs="+", default=["resnet9", "resnet18"])
    p.add_argument("--steps", type=int, default=60, help="timed steps per throughput run (default 60)")
    p.add_argument("--skip", type=int, default=10, help="untimed warm-up steps (+5 when compiled; default 10)")
    p.add_argument("--sync-skip", type=int, default=3, help="steps before the sync check starts (default 3)")
    p.add_argument("--sync-steps", type=int, default=20, help="steps inside the sync check (default 20)")
    p.add_argument(
        "--parts",
        nargs="+",
        default=["sync_check", "throughput", "time_to_94", "throughput_compiled"],
        help="what to run, in order (default: all four; the compiled runs last, as compiling takes minutes)",
    )
    p.add_argument("--budget-s", type=float, default=540, help="skip the parts left after this many seconds")
    args = p.parse_args(argv)
    args.start = time.perf_counter()
    torch.set_num_threads(args.threads)
    common.quiet()
    if not args.smoke and not Path(args.data).exists():
        raise SystemExit(f"gpu.py: {args.data} does not exist; pass --data <the JPEG CIFAR-10 archive>")
    if not torch.cuda.is_available():
        print("gpu.py: no CUDA device: sync_check skipped, throughput and time_to_94 run on the CPU (smoke only)")
        if not args.smoke:
            raise SystemExit("gpu.py: without a CUDA device only --smoke makes sense")
    parts = {
        "sync_check": sync_check,
        "throughput": throughput,
        "time_to_94": time_to_target,
        "throughput_compiled": functools.partial(throughput, compiled=True),
    }
    result: dict[str, Any] = {
        "benchmark": "gpu",
        "command": common.command(),
        "machine": common.machine(args.threads),
        "settings": {
            "fast_yaml": FAST["model"] | {"data": FAST["data"], "max_epochs": FAST["trainer"]["max_epochs"]},
            "smoke": args.smoke,
            "archs": args.archs,
            "steps": args.steps,
            "skip": args.skip,
            "budget_s": args.budget_s,
        },
        "results": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        if args.cache_dir is None:
            args.cache_dir = str(Path(tmp, "cache"))
        for name in args.parts:
            if _over_budget(args):
                result["results"][name] = {"skipped": f"over --budget-s {args.budget_s}"}
            else:
                start = time.perf_counter()
                try:
                    result["results"][name] = parts[name](args, tmp)
                except Exception as err:  # one shot on a lent machine: record it, go on with the next part
                    traceback.print_exc()
                    result["results"][name] = {
                        "error": f"{type(err).__name__}: {err}"[:1000],
                        "traceback": _frames(traceback.extract_tb(err.__traceback__)),
                    }
                result["results"][name]["part_wall_s"] = round(time.perf_counter() - start, 1)
            common.write(args.out, result)
    result["wall_s"] = round(time.perf_counter() - args.start, 1)
    common.write(args.out, result)
    return result


if __name__ == "__main__":
    main()
