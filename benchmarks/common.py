"""What every benchmark script shares: the command line, machine facts, interleaved repeats, tables, JSON.

Each script in this folder measures one thing as a ratio (ours / the alternative) from one run: the
variants are timed in interleaved repeats (A B C, B C A, C A B, ...: the order rotates so no variant is
always first after a pause) and each ratio is a ratio of medians. Every script takes ``--smoke`` (a few
seconds on synthetic data, what ``tests/test_benchmarks.py`` runs), ``--repeats``, ``--threads`` and
``--out``, prints a markdown table and writes a JSON result.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results"
JPEG_CIFAR = REPO.parent / "shared" / "data" / "cifar10_jpeg.tar.gz"
CACHE_DIR = REPO / "data" / "cache"  # git-ignored


def positive_int(text: str) -> int:
    """An argparse type: a whole number above 0 (argparse prints the message and exits 2 otherwise).

    Example::

        >>> positive_int("20")
        20
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number, e.g. 20") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1, e.g. 20")
    return value


def parser(name: str, description: str, *, repeats: int) -> argparse.ArgumentParser:
    """The arguments every script has; ``--out`` defaults to ``benchmarks/results/<name>.json``."""
    p = argparse.ArgumentParser(prog=f"benchmarks/{name}.py", description=description)
    p.add_argument("--smoke", action="store_true", help="seconds, synthetic data: checks the script still runs")
    p.add_argument(
        "--repeats", type=positive_int, default=repeats, help=f"interleaved repeats per variant (default {repeats})"
    )
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1: see BENCHMARKS.md)")
    p.add_argument("--out", type=Path, default=RESULTS / f"{name}.json", help="the JSON result")
    return p


class LoadMonitor:
    """Samples the 1-minute load average in a daemon thread: other processes share the cores."""

    def __init__(self, every_s: float = 5.0) -> None:
        self.samples: list[float] = [os.getloadavg()[0]]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every_s,), daemon=True)
        self._thread.start()

    def _run(self, every_s: float) -> None:
        while not self._stop.wait(every_s):
            self.samples.append(os.getloadavg()[0])

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self.samples.append(os.getloadavg()[0])
        return {
            "min": min(self.samples),
            "median": round(statistics.median(self.samples), 2),
            "max": max(self.samples),
        }


def machine(threads: int) -> dict[str, Any]:
    """Cores, versions and the torch thread count the numbers were measured with."""
    import lightning
    import torchvision

    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "lightning": lightning.__version__,
        "torch_threads": threads,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "lr_recipes_sha256": code_fingerprint(),
    }


def code_fingerprint() -> str:
    """A hash of the package's sources: which version of lr_recipes a result measured (it changes often)."""
    digest = hashlib.sha256()
    for path in sorted((REPO / "lr_recipes").rglob("*.py")):
        digest.update(path.relative_to(REPO).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def interleave(variants: dict[str, Callable[[], Any]], repeats: int) -> dict[str, list[Any]]:
    """Run every variant once per repeat, rotating the order each repeat; return each one's results."""
    names = list(variants)
    results: dict[str, list[Any]] = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            results[name].append(variants[name]())
    return results


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A markdown table; floats keep 4 significant digits (whole numbers from 1000 up)."""

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.0f}" if abs(v) >= 1000 else f"{v:.4g}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def command() -> str:
    """The command line that produced a result, as it would be typed from the repository root."""
    script = Path(sys.argv[0]).resolve()
    shown = script.relative_to(REPO) if script.is_relative_to(REPO) else script
    return " ".join([".venv/bin/python", str(shown), *sys.argv[1:]])


def write(out: Path, result: dict[str, Any]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


class StepTimer(Callback):
    """Wall time of whole training steps: from the start of batch ``skip`` to the start of the last batch.

    Timing start to start counts everything a step costs (the optimizer and scheduler steps, logging,
    every callback hook), wherever this callback sits in the list. Both the wall time and the CPU time
    of the training thread are kept: on a shared machine the wall time also counts waits for a free
    core, the thread's CPU time (with ``torch.set_num_threads(1)`` all the step's work) does not. The
    first ``skip`` batches (lazy initialisation, allocator warm-up), setup, the sanity check and fit-end
    writing are excluded; a run of ``skip + n + 1`` batches times ``n`` steps. Validation that runs
    between timed batches is included. The last timer to finish is kept in ``StepTimer.last``, so a run
    made through the CLI (``class_path: common.StepTimer``) can be read back.

    Args:
        skip: training batches not timed at the start.
    """

    last: StepTimer | None = None

    def __init__(self, skip: int = 5) -> None:
        self.skip = skip
        self.seen = 0
        self.timed = 0
        self.images = 0
        self.start = self.end = self.cpu_start = self.cpu_end = 0.0
        self.threads = 0
        self._batch_images = 0

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, idx: int) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        if self.seen == self.skip:
            self.threads = torch.get_num_threads()
            self.start, self.cpu_start = now, cpu
        elif self.seen > self.skip:
            self.end, self.cpu_end = now, cpu
            self.timed += 1
            self.images += self._batch_images
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        self._batch_images = int(x.shape[0])
        self.seen += 1

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        StepTimer.last = self

    @property
    def seconds(self) -> float:
        return self.end - self.start

    @property
    def per_step(self) -> float:
        """Wall seconds per timed step."""
        if self.timed == 0:
            raise RuntimeError(f"no step was timed: {self.seen} batches ran, skip={self.skip}")
        return self.seconds / self.timed

    @property
    def cpu_per_step(self) -> float:
        """CPU seconds of the training thread per timed step."""
        if self.timed == 0:
            raise RuntimeError(f"no step was timed: {self.seen} batches ran, skip={self.skip}")
        return (self.cpu_end - self.cpu_start) / self.timed


def quiet() -> None:
    """Silence Lightning's per-run info lines and the warnings every run repeats (keeps the output readable)."""
    import logging
    import warnings

    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for message in (
        ".*does not have many workers.*",
        ".*You defined a `validation_step` but have no `val_dataloader`.*",
        ".*isinstance\\(treespec, LeafSpec\\)` is deprecated.*",
        ".*The number of training batches .* is smaller than the logging interval.*",
        ".*LightningCLI.s args parameter is intended to run from within Python.*",
    ):
        warnings.filterwarnings("ignore", message)
