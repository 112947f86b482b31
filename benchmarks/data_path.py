"""Training images/s of our CIFAR-10 data path vs torchvision's ``CIFAR10`` + PIL transforms.

Both produce the same thing, shuffled batches of augmented, normalised float32 images on the CPU, from
the same pixels, with no model:

- ``ours``: the ``CIFAR10DataModule`` train loader (a batch is one fancy-index into a uint8 tensor) and its
  ``on_after_batch_transfer`` (random crop with 4-pixel padding, flip, normalise, on the whole batch);
- ``torchvision``: ``torchvision.datasets.CIFAR10`` with ``RandomCrop(32, 4)``, ``RandomHorizontalFlip()``,
  ``ToTensor()``, ``Normalize(mean, std)`` per image and the default collate.

Torchvision's dataset reads the pickled batches (``cifar-10-batches-py``); they are written into a
temporary folder from the JPEG copy of CIFAR-10 in ``../shared/data`` (or synthetic images without it, or
with ``--smoke``), and its md5 checks (``CIFAR10._check_integrity`` and the meta file's) are bypassed
because the files are not the official ones. Same batch size, shuffling, ``num_workers`` (0 and 2;
persistent workers for both) and ``torch.set_num_threads``. A run is the first ``--batches`` batches of a
training epoch (150, 19200 images); a few batches of each loader (worker start-up) are not timed. The CPU time
per batch of the main process and of the workers is measured too: unlike images/s it does not depend on the
load from other processes.

    .venv/bin/python benchmarks/data_path.py
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import pickle
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import common
import torch
import torchvision
from torch.utils.data import DataLoader
from torchvision import transforms

from lr_recipes.pack.data import CIFAR10_MEAN, CIFAR10_STD, CIFAR10DataModule, augment_batch


def datamodule(args: Any, num_workers: int) -> CIFAR10DataModule:
    if args.smoke or not common.JPEG_CIFAR.is_file():
        dm = CIFAR10DataModule(source="synthetic", synthetic_size=512, val_size=64, batch_size=args.batch_size)
    else:
        dm = CIFAR10DataModule(
            source="imagefolder",
            root=str(common.JPEG_CIFAR),
            cache_dir=str(common.CACHE_DIR),
            batch_size=args.batch_size,
        )
    dm.num_workers = num_workers
    dm.pin_memory = False
    dm.prepare_data()
    dm.setup("fit")
    # on_after_batch_transfer augments only while a trainer is training: stand in for that trainer.
    dm.trainer = SimpleNamespace(training=True)  # type: ignore[assignment]
    return dm


def write_cifar_batches(dm: CIFAR10DataModule, root: Path) -> None:
    """The DataModule's images (train + val split = the whole training set, and test) as torchvision's
    ``cifar-10-batches-py`` pickles: ``data`` rows are the 3072 bytes of one CHW image."""
    assert dm.train_set is not None and dm.val_set is not None and dm.test_set is not None
    folder = root / torchvision.datasets.CIFAR10.base_folder
    folder.mkdir(parents=True)
    images = torch.cat([dm.train_set.images, dm.val_set.images])
    labels = torch.cat([dm.train_set.labels, dm.val_set.labels])
    chunks = zip(images.chunk(5), labels.chunk(5), strict=True)
    splits = [(f"data_batch_{i + 1}", x, y) for i, (x, y) in enumerate(chunks)]
    splits.append(("test_batch", dm.test_set.images, dm.test_set.labels))
    for name, x, y in splits:
        entry = {
            "batch_label": name,
            "labels": y.tolist(),
            "data": x.reshape(len(x), -1).numpy(),
            "filenames": [f"{name}_{i}.png" for i in range(len(x))],
        }
        with open(folder / name, "wb") as f:
            pickle.dump(entry, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": list(dm.classes), "num_cases_per_batch": 10000, "num_vis": 3072}, f)


@contextlib.contextmanager
def no_md5_check() -> Iterator[None]:
    """Our pickles are not the official files: skip the md5 of the batches and of ``batches.meta``."""
    cls, module = torchvision.datasets.CIFAR10, torchvision.datasets.cifar
    originals = cls._check_integrity, module.check_integrity
    cls._check_integrity = lambda self: True  # type: ignore[method-assign]
    module.check_integrity = lambda fpath, md5=None: os.path.isfile(fpath)
    try:
        yield
    finally:
        cls._check_integrity, module.check_integrity = originals  # type: ignore[method-assign]


def torchvision_loader(root: Path, batch_size: int, num_workers: int) -> DataLoader:
    augment = transforms.Compose(
        [
            transforms.RandomCrop(32, padding=4),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(CIFAR10_MEAN, CIFAR10_STD),
        ]
    )
    with no_md5_check():
        dataset = torchvision.datasets.CIFAR10(str(root), train=True, transform=augment, download=False)
    return DataLoader(
        dataset, batch_size=batch_size, shuffle=True, num_workers=num_workers, persistent_workers=num_workers > 0
    )


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (Linux ``/proc``; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def batches(loader: DataLoader, finish: Callable[[Any], Any], n: int) -> tuple[float, dict[str, float]]:
    """Images/s of the first ``n`` batches of an epoch, and the statistics of the last (both paths must agree)
    with the CPU milliseconds per batch spent in the main process and in the worker processes.

    The CPU times do not depend on how busy the machine is: the main process's is what a training step
    waits for when the workers have cores of their own. The iterator is made before the clock starts: with
    persistent workers that is where the previous, interrupted epoch's prefetched batches are drained.
    """
    images = 0
    it = iter(loader)
    workers = [w.pid for w in getattr(it, "_workers", [])]
    worker_cpu = sum(_cpu_seconds(pid) for pid in workers)
    main_cpu, start = time.process_time(), time.perf_counter()
    for batch in itertools.islice(it, n):
        x, _ = finish(batch)
        images += len(x)
    seconds = time.perf_counter() - start
    main_ms = 1000 * (time.process_time() - main_cpu) / n
    workers_ms = 1000 * (sum(_cpu_seconds(pid) for pid in workers) - worker_cpu) / n
    assert x.dtype == torch.float32 and x.shape[1:] == (3, 32, 32)
    stats = {"mean": round(float(x.mean()), 3), "std": round(float(x.std()), 3)}
    return images / seconds, {
        **stats,
        "main_cpu_ms_per_batch": round(main_ms, 2),
        "worker_cpu_ms_per_batch": round(workers_ms, 2),
    }


class Paths:
    """The loaders for one ``num_workers`` setting, warmed up (persistent workers started).

    With workers there is a third, ``ours_main_augments``: the same loader with the augmentation moved back to
    the main process after the transfer (the design before the workers augmented), for comparison.
    """

    def __init__(self, dm: CIFAR10DataModule, cifar_root: Path, batch_size: int, workers: int, n: int) -> None:
        self.dm, self.n = dm, n
        self.loaders = {
            "ours": dm.train_dataloader(),
            "torchvision": torchvision_loader(cifar_root, batch_size, workers),
        }
        if workers:
            self.loaders["ours_main_augments"] = dm._loader(dm.train_set, train=True)
        self.stats: dict[str, dict[str, float]] = {}
        self.cpu: dict[str, list[tuple[float, float]]] = {name: [] for name in self.loaders}
        for name, loader in self.loaders.items():
            batches(loader, functools.partial(self.finish, name), 4)  # starts the persistent workers; not timed

    def finish(self, name: str, batch: Any) -> Any:
        if name == "ours_main_augments":
            x, y = batch
            dm = self.dm
            batch = augment_batch(x, crop_padding=dm.crop_padding, flip=dm.flip, cutout=dm.cutout), y
        return batch if name == "torchvision" else self.dm.on_after_batch_transfer(batch, 0)

    def run(self, name: str) -> float:
        rate, stats = batches(self.loaders[name], functools.partial(self.finish, name), self.n)
        self.cpu[name].append((stats.pop("main_cpu_ms_per_batch"), stats.pop("worker_cpu_ms_per_batch")))
        self.stats[name] = stats
        return rate


def measure(args: Any, workers: int, cifar_root: Path, repeats: int) -> tuple[dict[str, Any], list[Any]]:
    dm = datamodule(args, workers)
    if not (cifar_root / torchvision.datasets.CIFAR10.base_folder).is_dir():
        write_cifar_batches(dm, cifar_root)
    n = 4 if args.smoke else args.batches
    paths = Paths(dm, cifar_root, args.batch_size, workers, n)
    rates = common.interleave({name: functools.partial(paths.run, name) for name in paths.loaders}, repeats)
    med = {name: common.median(r) for name, r in rates.items()}
    ratio = med["ours"] / med["torchvision"]
    cpu = {
        name: {"main": common.median([m for m, _ in runs]), "workers": common.median([w for _, w in runs])}
        for name, runs in paths.cpu.items()
    }
    entry = {
        "images_per_s": {name: [round(r, 1) for r in rs] for name, rs in rates.items()},
        "median_images_per_s": {name: round(r, 1) for name, r in med.items()},
        "timed_batches": n,
        "cpu_ms_per_batch": cpu,
        "last_batch_stats": paths.stats,
        "source": dm.source,
        "ratio": round(ratio, 2),
        "goal_met": bool(ratio >= 10),
    }
    print(
        f"num_workers={workers}: ours {med['ours']:.0f} img/s, torchvision {med['torchvision']:.0f} img/s, "
        f"ratio {ratio:.1f}; ours' CPU ms per batch: main {cpu['ours']['main']:.1f}, "
        f"workers {cpu['ours']['workers']:.1f}"
    )
    row = [workers, med["ours"], med["torchvision"], ratio, ratio >= 10, cpu["ours"]["main"], cpu["ours"]["workers"]]
    return entry, row


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = common.parser("data_path", __doc__.split("\n\n")[0], repeats=5)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--batches", type=int, default=150, help="timed batches per run (default 150)")
    p.add_argument("--workers", type=int, nargs="+", default=None, help="num_workers settings (default 0 2)")
    args = p.parse_args(argv)
    if args.workers is None:
        args.workers = [0] if args.smoke else [0, 2]
    repeats = 1 if args.smoke else args.repeats
    torch.set_num_threads(args.threads)
    load = common.LoadMonitor()
    common.quiet()

    measured: dict[str, Any] = {}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for workers in args.workers:
            measured[f"num_workers={workers}"], row = measure(args, workers, Path(tmp), repeats)
            rows.append(row)

    best = max(r[1] for r in rows) / max(r[2] for r in rows)
    headers = [
        "num_workers",
        "ours img/s",
        "torchvision img/s",
        "ratio ours/torchvision",
        "goal >= 10 met",
        "ours: main-process CPU ms/batch",
        "ours: workers' CPU ms/batch",
    ]
    print(common.table(headers, rows))
    print(f"best of ours / best of torchvision: {best:.1f}")
    result = {
        "benchmark": "data_path",
        "command": common.command(),
        "machine": common.machine(args.threads),
        "load_average_1min": load.stop(),
        "settings": {
            "batch_size": args.batch_size,
            "batches": args.batches,
            "repeats": repeats,
            "smoke": args.smoke,
            "workers": args.workers,
        },
        "goal": "ours images/s / torchvision CIFAR10 + PIL transforms images/s >= 10",
        "results": measured,
        "best_ratio": round(best, 2),
        "table": common.table(headers, rows),
    }
    common.write(args.out, result)
    return result


if __name__ == "__main__":
    main()
