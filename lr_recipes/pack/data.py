"""CIFAR-10 as a LightningDataModule, decoded once to uint8 tensors and augmented a whole batch at a time.

Three sources give the same tensors: ``torchvision`` (the official pickled batches, downloaded if
needed), ``imagefolder`` (``train/<class>/*.jpg`` + ``test/<class>/*.jpg``, as a folder or a
``.tar.gz``) and ``synthetic`` (learnable class patterns for offline smoke runs). Decoded images are
cached with ``torch.save`` so later runs start in a fraction of a second.

The data path is built for speed: a batch is one fancy-index into a uint8 tensor (``__getitems__``),
and random crop, flip and cutout run vectorised on the batch after it reaches the device
(``on_after_batch_transfer``), so on a GPU the CPU only shuffles indices. On a CPU with ``num_workers > 0``
the workers augment whole batches instead (:class:`AugmentedImages`), in parallel with training. The loaders stay plain
``torch.utils.data.DataLoader`` objects, so Lightning still injects a ``DistributedSampler`` under DDP.

Example::

    >>> dm = CIFAR10DataModule(source="synthetic", synthetic_size=256, batch_size=64)
    >>> dm.prepare_data(); dm.setup("fit")
    >>> x, y = next(iter(dm.train_dataloader()))
    >>> x.shape, x.dtype, y.dtype
    (torch.Size([64, 3, 32, 32]), torch.uint8, torch.int64)
    >>> dm.on_after_batch_transfer((x, y), 0)[0].dtype
    torch.float32
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import pickle
import tarfile
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any, Literal, TypedDict, get_args

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".webp", ".tif", ".tiff")
SPLITS = ("train", "test")
CIFAR10_PER_CLASS = {"train": 5000, "test": 1000}
_CACHE_VERSION = 1

Source = Literal["torchvision", "imagefolder", "synthetic"]


class DataError(ValueError):
    """A data argument or a dataset on disk that cannot be used; the message says what is wrong and why.

    Example::

        >>> CIFAR10DataModule(batch_size=0)
        Traceback (most recent call last):
        ...
        lr_recipes.pack.data.DataError: batch_size must be a positive int, got 0
    """


class DataNotFoundError(FileNotFoundError):
    """The dataset is not where the config says and cannot be downloaded; the message names the ways out.

    Example::

        >>> issubclass(DataNotFoundError, FileNotFoundError)
        True
    """


def augment_batch(
    x: Tensor, *, crop_padding: int, flip: bool, cutout: int, generator: torch.Generator | None = None
) -> Tensor:
    """Random crop (zero padding), horizontal flip and cutout of a uint8 batch, each drawn per image.

    Runs on ``x``'s device with no host-device sync: the random offsets are drawn there (from
    ``generator``, else torch's global RNG for that device, which ``seed_everything`` seeds) and applied
    with two ``gather`` calls; the flip is folded into the column index. Cutout (DeVries & Taylor, 2017)
    zeroes a ``cutout``×``cutout`` square centred anywhere in the image, so it may be clipped at a border.

    Args:
        x: ``(B, C, H, W)`` uint8 images.
        crop_padding: Zero padding on each side before cropping back to ``H``×``W``; 0 disables the crop.
        flip: Flip each image left-right with probability 1/2.
        cutout: Side of the zeroed square; 0 disables cutout.
        generator: RNG on ``x``'s device; ``None`` uses the global one.

    Returns:
        A new ``(B, C, H, W)`` uint8 tensor; ``x`` is not modified.

    Example::

        >>> x = torch.arange(2 * 3 * 8 * 8, dtype=torch.uint8).view(2, 3, 8, 8)
        >>> augment_batch(x, crop_padding=2, flip=True, cutout=4).shape
        torch.Size([2, 3, 8, 8])
    """
    if x.dim() != 4:
        raise ValueError(f"augment_batch expects a (B, C, H, W) batch, got shape {tuple(x.shape)}")
    b, c, h, w = x.shape
    dev = x.device
    if crop_padding or flip:
        rows = torch.arange(h, device=dev).expand(b, h)
        cols = torch.arange(w, device=dev).expand(b, w)
        if crop_padding:
            x = F.pad(x, (crop_padding,) * 4)
            span = 2 * crop_padding + 1
            rows = rows + torch.randint(span, (b, 1), device=dev, generator=generator)
            cols = cols + torch.randint(span, (b, 1), device=dev, generator=generator)
        if flip:
            flipped = torch.randint(2, (b, 1), device=dev, generator=generator).bool()
            cols = torch.where(flipped, cols.flip(1), cols)
        x = x.gather(2, rows[:, None, :, None].expand(b, c, h, x.shape[3]))
        x = x.gather(3, cols[:, None, None, :].expand(b, c, h, w))
    if cutout:
        top = torch.randint(h, (b, 1, 1), device=dev, generator=generator) - cutout // 2
        left = torch.randint(w, (b, 1, 1), device=dev, generator=generator) - cutout // 2
        r = torch.arange(h, device=dev).view(1, h, 1)
        q = torch.arange(w, device=dev).view(1, 1, w)
        hole = (r >= top) & (r < top + cutout) & (q >= left) & (q < left + cutout)
        x = x.masked_fill(hole[:, None], 0)
    return x


@lru_cache(maxsize=16)
def _affine(mean: tuple[float, ...], std: tuple[float, ...], device: torch.device) -> tuple[Tensor, Tensor]:
    # Cached per device: building them with torch.tensor(..., device="cuda") each step would sync.
    scale = torch.tensor([1.0 / (255.0 * s) for s in std], device=device).view(1, -1, 1, 1)
    shift = torch.tensor([-m / s for m, s in zip(mean, std, strict=True)], device=device).view(1, -1, 1, 1)
    return scale, shift


def normalize_batch(
    x: Tensor,
    *,
    mean: Sequence[float] = CIFAR10_MEAN,
    std: Sequence[float] = CIFAR10_STD,
    channels_last: bool = False,
) -> Tensor:
    """uint8 ``(B, C, H, W)`` → float32 ``(x / 255 - mean) / std``, optionally in channels_last layout.

    Args:
        x: uint8 images.
        mean: Per-channel mean of ``x / 255``; ``(0, 0, 0)`` with ``std=(1, 1, 1)`` just rescales to [0, 1].
        std: Per-channel standard deviation of ``x / 255``.
        channels_last: Return a ``torch.channels_last`` tensor (faster convs with tensor cores).

    Example::

        >>> normalize_batch(torch.full((1, 3, 2, 2), 255, dtype=torch.uint8))[0, :, 0, 0]
        tensor([2.0591, 2.1265, 2.1158])
    """
    scale, shift = _affine(tuple(mean), tuple(std), x.device)
    out = torch.addcmul(shift, x.float(), scale)
    return out.contiguous(memory_format=torch.channels_last) if channels_last else out


class TensorImages(Dataset):
    """Images and labels held as tensors; ``__getitems__`` fetches a whole batch with one index.

    ``DataLoader`` calls ``__getitems__`` when the dataset has it; paired with a pass-through
    ``collate_fn`` a batch costs one fancy-index instead of ``batch_size`` Python calls.

    Args:
        images: ``(N, 3, H, W)`` uint8.
        labels: ``(N,)`` int64.

    Example::

        >>> ds = TensorImages(torch.zeros(4, 3, 32, 32, dtype=torch.uint8), torch.arange(4))
        >>> ds.__getitems__([3, 1])[1]
        tensor([3, 1])
    """

    def __init__(self, images: Tensor, labels: Tensor) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        return self.images[i], self.labels[i]

    def __getitems__(self, indices: list[int]) -> tuple[Tensor, Tensor]:
        idx = torch.as_tensor(indices)
        return self.images[idx], self.labels[idx]


class AugmentedImages(TensorImages):
    """:class:`TensorImages` whose batches come out augmented (random crop, flip, cutout; still uint8).

    A ``DataLoader`` worker fetches a whole batch with one ``__getitems__`` call, so with ``num_workers > 0``
    each worker augments whole batches in parallel with training, instead of the main process doing it after
    the transfer. Each worker draws from its own torch RNG, which the ``DataLoader`` seeds from the main
    process's (so ``seed_everything`` makes the augmentation reproducible).

    Args:
        images: ``(N, 3, H, W)`` uint8.
        labels: ``(N,)`` int64.
        crop_padding: see :func:`augment_batch`.
        flip: see :func:`augment_batch`.
        cutout: see :func:`augment_batch`.

    Example::

        >>> ds = AugmentedImages(torch.full((4, 3, 8, 8), 7, dtype=torch.uint8), torch.arange(4),
        ...                      crop_padding=2, flip=True, cutout=0)
        >>> x, y = ds.__getitems__([0, 2])
        >>> x.shape, y.tolist(), int(x.max())
        (torch.Size([2, 3, 8, 8]), [0, 2], 7)
    """

    def __init__(self, images: Tensor, labels: Tensor, *, crop_padding: int, flip: bool, cutout: int) -> None:
        super().__init__(images, labels)
        self.crop_padding, self.flip, self.cutout = crop_padding, flip, cutout

    def __getitems__(self, indices: list[int]) -> tuple[Tensor, Tensor]:
        x, y = super().__getitems__(indices)
        return augment_batch(x, crop_padding=self.crop_padding, flip=self.flip, cutout=self.cutout), y


def _passthrough(batch: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
    return batch


def make_synthetic(
    n: int, *, seed: int, num_classes: int = 10, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """``n`` 32×32 uint8 images whose class is learnable: a smooth colour pattern per class, shifted
    by up to 4 pixels, flipped, plus strong per-image noise. Classes are balanced.

    Args:
        n: Number of images.
        seed: Fixes the class patterns; two calls with one seed share them (train and test agree).
        num_classes: Number of classes.
        generator: Draws the per-image labels, shifts and noise; a fresh one seeded ``seed + 1`` if
            ``None``. Pass one generator to successive calls to get different images of the same classes.

    Example::

        >>> x, y = make_synthetic(20, seed=0)
        >>> x.shape, x.dtype, y.bincount().tolist()
        (torch.Size([20, 3, 32, 32]), torch.uint8, [2, 2, 2, 2, 2, 2, 2, 2, 2, 2])
    """
    g_class = torch.Generator().manual_seed(seed)
    coarse = torch.rand(num_classes, 3, 4, 4, generator=g_class)
    patterns = (F.interpolate(coarse, size=(32, 32), mode="bilinear") * 255).to(torch.uint8)
    g = generator if generator is not None else torch.Generator().manual_seed(seed + 1)
    labels = (torch.arange(n) % num_classes)[torch.randperm(n, generator=g)]
    x = augment_batch(patterns[labels], crop_padding=4, flip=True, cutout=0, generator=g).float()
    x = x + 48.0 * torch.randn(x.shape, generator=g)
    return x.clamp_(0, 255).round_().to(torch.uint8), labels


class _Decoded(TypedDict):
    classes: list[str]
    train: tuple[Tensor, Tensor]  # (N, 3, 32, 32) uint8 images, (N,) int64 labels
    test: tuple[Tensor, Tensor]


def _check_writable(cache_dir: Path) -> None:
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        probe = cache_dir / f".write-test-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as e:
        raise OSError(
            f"cannot write the decoded-image cache to {str(cache_dir)!r} ({e}); pass cache_dir: a writable folder"
        ) from e


def _missing_cifar_message(root: Path, download: bool, error: BaseException) -> str:
    cls = torchvision.datasets.CIFAR10
    return (
        f"CIFAR-10 not found in {str(root / cls.base_folder)!r} "
        f"(download={download}: {type(error).__name__}: {error}). Three ways out:\n"
        f"  1. fetch {cls.url} elsewhere and place {cls.filename} in {str(root)!r}; it is extracted on the "
        "next run;\n"
        "  2. use `source: imagefolder` with `root:` an ImageFolder tree (train/<class>/*.jpg, "
        "test/<class>/*.jpg) or the cifar10_jpeg.tar.gz archive of one;\n"
        "  3. use `source: synthetic` for an offline smoke run."
    )


def _decode_torchvision(root: Path, download: bool) -> _Decoded:
    cls = torchvision.datasets.CIFAR10
    archive = root / cls.filename
    splits = {}
    try:
        if not download and archive.is_file() and not (root / cls.base_folder).is_dir():
            torchvision.datasets.utils.extract_archive(str(archive), str(root))
        for split in SPLITS:
            ds = cls(str(root), train=split == "train", download=download)
            images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()
            splits[split] = (images, torch.tensor(ds.targets, dtype=torch.int64))
    # URLError is an OSError, a missing or bad file a RuntimeError, a truncated archive a TarError/EOFError.
    except (OSError, RuntimeError, EOFError, tarfile.TarError) as e:
        raise DataNotFoundError(_missing_cifar_message(root, download, e)) from e
    return _Decoded(classes=list(ds.classes), train=splits["train"], test=splits["test"])


def _decode_image(data: bytes, name: str) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as im:
            arr = np.asarray(im.convert("RGB"))
    except (OSError, SyntaxError, ValueError) as e:
        raise DataError(f"cannot decode image {name}: {e}") from e
    if arr.shape[:2] != (32, 32):
        raise DataError(
            f"image {name} is {arr.shape[1]}×{arr.shape[0]}; CIFAR-10 images must be 32×32 (resize the tree first)"
        )
    return arr


def _walk_folder(root: Path) -> Iterator[tuple[str, str, str, bytes | None]]:
    """``(split, class, name, bytes)``; ``bytes`` is ``None`` for a class folder itself."""
    for split in SPLITS:
        if not (root / split).is_dir():
            continue
        for class_dir in sorted(p for p in (root / split).iterdir() if p.is_dir() and not p.name.startswith(".")):
            yield split, class_dir.name, str(class_dir), None
            for f in sorted(class_dir.iterdir()):
                if f.suffix.lower() in IMG_EXTENSIONS and not f.name.startswith("."):
                    yield split, class_dir.name, str(f), f.read_bytes()


def _walk_archive(path: Path) -> Iterator[tuple[str, str, str, bytes | None]]:
    """Like ``_walk_folder`` but streamed from a tar archive, whose tree may sit in one top folder."""
    try:
        with tarfile.open(path, "r:*") as tar:
            for m in tar:
                parts = [p for p in PurePosixPath(m.name).parts if p != "."]
                if parts and parts[0] not in SPLITS:
                    parts = parts[1:]
                if len(parts) < 2 or parts[0] not in SPLITS or parts[1].startswith("."):
                    continue
                if m.isdir() and len(parts) == 2:
                    yield parts[0], parts[1], f"{m.name} in {path}", None
                elif m.isfile() and len(parts) == 3:
                    name = parts[2]
                    if Path(name).suffix.lower() in IMG_EXTENSIONS and not name.startswith("."):
                        yield parts[0], parts[1], f"{m.name} in {path}", tar.extractfile(m).read()
    except (tarfile.TarError, EOFError, OSError) as e:
        raise DataError(f"cannot read archive {str(path)!r} ({e}): truncated, corrupt or not a tar?") from e


def _decode_imagefolder(root: Path) -> _Decoded:
    """Decode an ImageFolder tree or archive; class order = sorted folder names, as torchvision's."""
    walk = _walk_archive(root) if root.is_file() else _walk_folder(root)
    found: dict[str, dict[str, list[tuple[str, np.ndarray]]]] = {split: {} for split in SPLITS}
    for split, cls, name, data in walk:
        images = found[split].setdefault(cls, [])
        if data is not None:
            images.append((name, _decode_image(data, name)))
    for split in SPLITS:
        if not found[split]:
            raise DataError(f"{str(root)!r} has no {split}/<class>/ folders; expected train/ and test/")
        for cls, images in found[split].items():
            if not images:
                raise DataError(f"class folder {split}/{cls} in {str(root)!r} holds no images")
    classes = sorted(found["train"])
    if classes != sorted(found["test"]):
        raise DataError(
            f"train and test classes differ in {str(root)!r}: train {classes}, test {sorted(found['test'])}"
        )
    splits = {}
    for split in SPLITS:
        arrays, labels = [], []
        for label, cls in enumerate(classes):
            for _, arr in sorted(found[split][cls], key=lambda item: item[0]):
                arrays.append(arr)
                labels.append(label)
        images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
        splits[split] = (images, torch.tensor(labels, dtype=torch.int64))
    return _Decoded(classes=classes, train=splits["train"], test=splits["test"])


def _check_complete(data: _Decoded, root: Path) -> None:
    """A tree with exactly the CIFAR-10 classes must hold all of CIFAR-10: a partial extraction would
    otherwise train on a silently smaller dataset."""
    if sorted(data["classes"]) != sorted(CIFAR10_CLASSES):
        return
    for split in SPLITS:
        counts = torch.bincount(data[split][1], minlength=10).tolist()
        for cls, count in zip(data["classes"], counts, strict=True):
            if count != CIFAR10_PER_CLASS[split]:
                raise DataError(
                    f"{str(root)!r} has the CIFAR-10 classes but {split}/{cls} holds {count} images, not "
                    f"{CIFAR10_PER_CLASS[split]}: an incomplete extraction? Re-extract it, or pass "
                    "allow_partial=True to use what is there."
                )


def _fingerprint(source: str, root: Path) -> list[int]:
    """Cheap staleness check for the cache: file count, total size and newest mtime of the inputs."""
    if source == "torchvision":
        folder = root / torchvision.datasets.CIFAR10.base_folder
        files = [p for p in folder.iterdir() if p.is_file()] if folder.is_dir() else []
    elif root.is_file():
        files = [root]
    else:
        files = [Path(d, f) for split in SPLITS for d, _, fs in os.walk(root / split) for f in fs]
    stats = [f.stat() for f in files]
    return [len(stats), sum(s.st_size for s in stats), max((s.st_mtime_ns for s in stats), default=0)]


def split_indices(n: int, val_size: int, seed: int) -> tuple[Tensor, Tensor]:
    """Seeded random ``(train, val)`` index split of ``range(n)``: train sorted, val in the seeded random order.

    Val keeps the random order because the image-folder sources are stored class by class: sorted, the first
    ``limit_val_batches`` batches would hold one or two classes and score a biased accuracy.

    Example::

        >>> train, val = split_indices(10, 3, seed=0)
        >>> len(train), len(val), sorted(train.tolist() + val.tolist()) == list(range(10))
        (7, 3, True)
    """
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return perm[val_size:].sort().values, perm[:val_size]


def stratified_subset(labels: Tensor, size: int, seed: int) -> Tensor:
    """Sorted indices of ``size`` samples drawn without replacement, keeping the class proportions.

    Each class gets its proportional share rounded down; the leftover slots go to the classes with the
    largest remainders, so the total is exactly ``size``.

    Example::

        >>> labels = torch.tensor([0] * 60 + [1] * 30 + [2] * 10)
        >>> labels[stratified_subset(labels, 10, seed=0)].bincount().tolist()
        [6, 3, 1]
    """
    counts = torch.bincount(labels)
    share = counts.double() * size / len(labels)
    quota = share.floor().long()
    leftover = size - int(quota.sum())
    quota[torch.argsort(share - quota, descending=True, stable=True)[:leftover]] += 1
    g = torch.Generator().manual_seed(seed)
    picked = []
    for cls, k in enumerate(quota.tolist()):
        members = (labels == cls).nonzero().flatten()
        picked.append(members[torch.randperm(len(members), generator=g)[:k]])
    return torch.cat(picked).sort().values


def _int_in(low: int, high: float = math.inf) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and low <= v <= high


def _optional(ok: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: v is None or ok(v)


def _is_bool(v: Any) -> bool:
    return isinstance(v, bool)


def _is_path(v: Any) -> bool:
    return isinstance(v, (str, os.PathLike)) and str(v) != ""


# Every constructor argument: (accepts the value?, what is allowed). Checked at construction so a bad
# YAML value fails before any data is touched.
_ARG_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "source": (lambda v: v in get_args(Source), f"one of {get_args(Source)}"),
    "root": (_is_path, "a non-empty path"),
    "cache_dir": (_optional(_is_path), "a non-empty path or None"),
    "download": (_is_bool, "True or False"),
    "batch_size": (_int_in(1), "a positive int"),
    "eval_batch_size": (_optional(_int_in(1)), "a positive int or None"),
    "num_workers": (_int_in(0), "an int >= 0"),
    "val_size": (_int_in(0), "an int >= 0"),
    "seed": (_int_in(0, 2**32 - 1), "an int in [0, 2**32 - 1]"),
    "crop_padding": (_int_in(0, 16), "an int in [0, 16]"),
    "flip": (_is_bool, "True or False"),
    "cutout": (_int_in(0, 32), "an int in [0, 32] (0 = off)"),
    "normalize": (_is_bool, "True or False"),
    "channels_last": (_is_bool, "True or False"),
    "train_subset": (_optional(_int_in(1)), "a positive int or None"),
    "synthetic_size": (_int_in(40), "an int >= 40 (so its quarter-size test set holds every class)"),
    "allow_partial": (_is_bool, "True or False"),
    "drop_last": (_is_bool, "True or False"),
    "pin_memory": (_optional(_is_bool), "True, False or None"),
}


class CIFAR10DataModule(L.LightningDataModule):
    """CIFAR-10 (or a look-alike) as uint8 tensors: seeded train/val split, batch-wise GPU augmentation.

    ``prepare_data`` (rank 0 only under DDP) decodes the source once into ``cache_dir``; ``setup`` loads
    the cache and splits ``val_size`` images off the training set with ``seed``; test is the official
    10k test set. Loaders yield uint8 ``(images, labels)``; ``on_after_batch_transfer`` then, on the
    training device, augments training batches (random crop with zero padding, flip, cutout) and turns
    every batch into normalised float32 (CIFAR-10 ``mean``/``std``).

    Args:
        source: ``"torchvision"`` (official batches, downloaded to ``root``), ``"imagefolder"`` (a tree
            ``train/<class>/*``, ``test/<class>/*`` or a ``.tar.gz`` of one; images must be 32×32, class
            order is sorted folder names) or ``"synthetic"`` (generated, no disk or network).
        root: torchvision: download/extract folder. imagefolder: the tree or archive (never written to).
        cache_dir: Where decoded tensors are cached. Default ``<root>/cache`` for torchvision,
            ``data/cache`` otherwise. An archive is decoded straight from the stream, never extracted.
        download: torchvision only: download the dataset if it is not in ``root``.
        batch_size: Training batch size.
        eval_batch_size: Validation/test batch size; ``None`` means ``batch_size``.
        num_workers: DataLoader worker processes. With workers and a CPU run, the workers also augment the
            training batches (see :class:`AugmentedImages`); on a GPU the augmentation stays on the device.
            Workers need free cores to help: receiving a batch from one costs the main process about as
            much as augmenting it, so when training already uses every core, 0 is the cheaper choice.
        val_size: Training images held out for validation; 0 disables validation. For the synthetic
            source it is capped at ``synthetic_size // 4``.
        seed: Seeds the train/val split, ``train_subset`` and the synthetic images.
        crop_padding: Zero padding for the random crop; 0 disables it.
        flip: Random horizontal flips.
        cutout: Side of the cutout square; 0 disables it.
        normalize: Standardise with the CIFAR-10 mean/std; if False, only rescale to [0, 1].
        channels_last: Hand the model channels_last batches.
        train_subset: Train on this many images of the training split, class-stratified and seeded by
            ``seed`` (for quick comparisons); ``None`` uses all.
        synthetic_size: Training images of the synthetic source; its test set has a quarter as many.
        allow_partial: Accept a tree with the CIFAR-10 class names but fewer than 5000/1000 images per
            class (by default that is an error, as it usually means an interrupted extraction).
        drop_last: Drop the last incomplete training batch.
        pin_memory: Pin loader memory; ``None`` pins when CUDA is available.

    Raises:
        DataError: At construction, for any argument out of range (the message names it); in ``setup``,
            for a dataset on disk that cannot be used. A ``ValueError``.
        DataNotFoundError: In ``prepare_data``, if the data is absent and cannot be downloaded; the
            message names the folder and the ways out. A ``FileNotFoundError``.

    Example::

        >>> dm = CIFAR10DataModule(source="synthetic", synthetic_size=400, val_size=40, train_subset=100)
        >>> dm.setup("fit")
        >>> len(dm.train_set), len(dm.val_set), len(dm.test_set)
        (100, 40, 100)
    """

    num_classes: int = 10
    classes: tuple[str, ...] = CIFAR10_CLASSES
    dims: tuple[int, int, int] = (3, 32, 32)
    mean: tuple[float, float, float] = CIFAR10_MEAN
    std: tuple[float, float, float] = CIFAR10_STD

    def __init__(
        self,
        source: Source = "torchvision",
        root: str = "data",
        cache_dir: str | None = None,
        download: bool = True,
        batch_size: int = 128,
        eval_batch_size: int | None = None,
        num_workers: int = 0,
        val_size: int = 5000,
        seed: int = 0,
        crop_padding: int = 4,
        flip: bool = True,
        cutout: int = 0,
        normalize: bool = True,
        channels_last: bool = False,
        train_subset: int | None = None,
        synthetic_size: int = 2048,
        allow_partial: bool = False,
        drop_last: bool = False,
        pin_memory: bool | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        for name, (ok, allowed) in _ARG_RULES.items():
            if not ok(self.hparams[name]):
                raise DataError(f"{name} must be {allowed}, got {self.hparams[name]!r}")

        self.source, self.root, self.download = source, Path(root), download
        default_cache = self.root / "cache" if source == "torchvision" else Path("data", "cache")
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size or batch_size
        self.num_workers, self.val_size, self.seed = num_workers, val_size, seed
        self.crop_padding, self.flip, self.cutout = crop_padding, flip, cutout
        self.normalize, self.channels_last = normalize, channels_last
        self.train_subset, self.synthetic_size = train_subset, synthetic_size
        self.allow_partial, self.drop_last = allow_partial, drop_last
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else pin_memory
        self.train_set: TensorImages | None = None
        self.val_set: TensorImages | None = None
        self.test_set: TensorImages | None = None
        self._augmented_in_workers = False

    @property
    def cache_path(self) -> Path:
        """The cache file for this source and root (unused by the synthetic source)."""
        key = hashlib.sha1(str(self.root.resolve()).encode()).hexdigest()[:12]
        return self.cache_dir / f"cifar10-{self.source}-{key}.pt"

    def _read_cache(self) -> _Decoded | None:
        path = self.cache_path
        if not path.is_file():
            return None
        try:  # mmap: checking the fingerprint must not read 180 MB of pixels
            cached = torch.load(path, mmap=True, weights_only=True)
        except (RuntimeError, EOFError, pickle.UnpicklingError):
            return None  # unreadable (e.g. from another torch version): decode again
        fresh = cached.get("version") == _CACHE_VERSION and cached.get("fingerprint") == _fingerprint(
            self.source, self.root
        )
        return _Decoded(classes=cached["classes"], train=cached["train"], test=cached["test"]) if fresh else None

    def prepare_data(self) -> None:
        """Decode the source into the cache unless a fresh cache exists (Lightning: local rank 0 only)."""
        if self.source == "synthetic" or self._read_cache() is not None:
            return
        if self.source == "imagefolder" and not self.root.exists():
            raise DataNotFoundError(f"imagefolder root {str(self.root)!r} does not exist")
        _check_writable(self.cache_dir)
        if self.source == "torchvision":
            data = _decode_torchvision(self.root, self.download)
        else:
            data = _decode_imagefolder(self.root)
        payload = {"version": _CACHE_VERSION, "fingerprint": _fingerprint(self.source, self.root), **data}
        tmp = self.cache_path.with_suffix(f".tmp{os.getpid()}")
        torch.save(payload, tmp)
        os.replace(tmp, self.cache_path)  # atomic: a killed run never leaves a half-written cache

    def _val_count(self) -> int:
        # The synthetic training pool is synthetic_size + this, so training keeps synthetic_size images.
        return min(self.val_size, self.synthetic_size // 4) if self.source == "synthetic" else self.val_size

    def _load(self) -> _Decoded:
        if self.source == "synthetic":
            g = torch.Generator().manual_seed(self.seed + 1)
            train = make_synthetic(self.synthetic_size + self._val_count(), seed=self.seed, generator=g)
            test = make_synthetic(self.synthetic_size // 4, seed=self.seed, generator=g)
            return _Decoded(classes=list(CIFAR10_CLASSES), train=train, test=test)
        data = self._read_cache()
        if data is None:  # setup() without prepare_data(), e.g. outside a Trainer
            self.prepare_data()
            data = self._read_cache()
        assert data is not None
        if self.source == "imagefolder" and not self.allow_partial:
            _check_complete(data, self.root)
        return data

    def setup(self, stage: str | None = None) -> None:
        """Load the decoded images and make the train/val/test datasets (once; every stage gets all)."""
        if self.test_set is not None:
            return
        data = self._load()
        self.classes, self.num_classes = tuple(data["classes"]), len(data["classes"])
        images, labels = data["train"]
        val_size = self._val_count()
        if val_size >= len(labels):
            raise DataError(f"val_size={self.val_size} leaves no training images: the training split has {len(labels)}")
        train_idx, val_idx = split_indices(len(labels), val_size, self.seed)
        if self.train_subset is not None:
            if self.train_subset > len(train_idx):
                raise DataError(f"train_subset={self.train_subset} exceeds the {len(train_idx)} training images")
            train_idx = train_idx[stratified_subset(labels[train_idx], self.train_subset, self.seed)]
        self.train_set = TensorImages(images[train_idx], labels[train_idx])
        self.val_set = TensorImages(images[val_idx], labels[val_idx])
        self.test_set = TensorImages(data["test"][0].clone(), data["test"][1].clone())

    def _loader(self, dataset: TensorImages | None, train: bool = False) -> DataLoader:
        if dataset is None:
            raise RuntimeError("call setup() before asking for a dataloader")
        return DataLoader(
            dataset,
            batch_size=self.batch_size if train else self.eval_batch_size,
            shuffle=train,
            drop_last=train and self.drop_last,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
            collate_fn=_passthrough,
        )

    def _augment_in_workers(self) -> bool:
        """Augment in the loader's workers: there are some, and the batches stay on the CPU, where the main
        process would otherwise augment them between training steps (a GPU does it faster on the device)."""
        if self.num_workers == 0 or self.train_set is None:
            return False
        device = getattr(getattr(self.trainer, "strategy", None), "root_device", None)
        return device is None or device.type == "cpu"

    def train_dataloader(self) -> DataLoader:
        """Shuffled uint8 training batches, augmented by the workers (CPU run with ``num_workers > 0``) or
        later, on the device, by :meth:`on_after_batch_transfer`."""
        self._augmented_in_workers = self._augment_in_workers()
        if not self._augmented_in_workers:
            return self._loader(self.train_set, train=True)
        assert self.train_set is not None
        augmented = AugmentedImages(
            self.train_set.images,
            self.train_set.labels,
            crop_padding=self.crop_padding,
            flip=self.flip,
            cutout=self.cutout,
        )
        return self._loader(augmented, train=True)

    def val_dataloader(self) -> DataLoader | list:
        """Validation batches in fixed order; an empty list (no validation) when ``val_size`` is 0."""
        return self._loader(self.val_set) if self.val_set is not None and len(self.val_set) else []

    def test_dataloader(self) -> DataLoader:
        """The official 10k test set in fixed order."""
        return self._loader(self.test_set)

    def predict_dataloader(self) -> DataLoader:
        """The test set, for ``trainer.predict``."""
        return self._loader(self.test_set)

    def on_after_batch_transfer(self, batch: tuple[Tensor, Tensor], dataloader_idx: int) -> tuple[Tensor, Tensor]:
        """Augment training batches on the device (unless the workers did), then make every batch normalised float."""
        x, y = batch
        if self.trainer is not None and self.trainer.training and not self._augmented_in_workers:
            x = augment_batch(x, crop_padding=self.crop_padding, flip=self.flip, cutout=self.cutout)
        if self.normalize:
            x = normalize_batch(x, channels_last=self.channels_last)
        else:
            x = normalize_batch(x, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), channels_last=self.channels_last)
        return x, y
