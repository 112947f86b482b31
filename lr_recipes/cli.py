"""``python -m lr_recipes``: LightningCLI for the CIFAR-10 recipes, plus ``plot`` and ``list``.

Usage::

    python -m lr_recipes fit --config recipes/cosine.yaml                          # train
    python -m lr_recipes fit --config recipes/cosine.yaml --config recipes/smoke.yaml   # offline, ~1 min
    python -m lr_recipes plot --config recipes/onecycle.yaml --out onecycle.png    # preview, no training
    python -m lr_recipes list                                                      # recipes and parameters

``fit``, ``validate``, ``test`` and ``predict`` are LightningCLI's: several ``--config`` files merge left
to right, ``--print_config`` shows the merged result, and any key can be overridden
(``--model.schedule.warmup 5ep``, ``--trainer.max_epochs 30``).

Example::

    >>> print(recipes_help().splitlines()[0])
    Recipes (model.schedule: {name: <recipe>, ...parameters}; durations "30ep", "500st" or "10%"):
"""

from __future__ import annotations

import argparse
import math
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonargparse import DefaultHelpFormatter
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from lr_recipes.classifier import ImageClassifier
from lr_recipes.data import CIFAR10DataModule
from lr_recipes.lint import lint, lr_curve
from lr_recipes.registry import available, get_recipe
from lr_recipes.summary import FitSummary
from lr_recipes.units import Run


def recipes_help() -> str:
    """Every registered recipe with its parameters, types and defaults (``list`` and ``--help`` show it).

    Example::

        >>> "cosine: Cosine from the base LR down to ``min_lr``" in recipes_help()
        True
    """
    lines = ['Recipes (model.schedule: {name: <recipe>, ...parameters}; durations "30ep", "500st" or "10%"):']
    for name in available():
        lines.append("")
        lines.extend("  " + line for line in get_recipe(name).describe().splitlines())
    return "\n".join(lines)


class _KeepNewlines(DefaultHelpFormatter):
    """jsonargparse's help formatter, but the epilog (the recipe list) keeps its line breaks."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "".join(indent + line for line in text.splitlines(keepends=True))


class RecipeCLI(LightningCLI):
    """LightningCLI with :class:`~lr_recipes.classifier.ImageClassifier` and
    :class:`~lr_recipes.data.CIFAR10DataModule`, the fit summary, and ``--test_after_fit``.

    The optimizer and schedule come from ``model.optimizer`` and ``model.schedule`` (LightningCLI's own
    ``--optimizer``/``--lr_scheduler`` are off: they build the scheduler before the run's length is known).

    Args:
        kwargs: passed to ``LightningCLI`` (e.g. ``args=[...]``, ``run=False``).

    Example::

        >>> cli = RecipeCLI(args=["--config", "recipes/cosine.yaml", "--config", "recipes/smoke.yaml"],
        ...                 run=False)  # doctest: +SKIP
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("model_class", ImageClassifier)
        kwargs.setdefault("datamodule_class", CIFAR10DataModule)
        kwargs.setdefault("auto_configure_optimizers", False)
        kwargs.setdefault("save_config_kwargs", {"overwrite": True})
        parser_kwargs = {"formatter_class": _KeepNewlines, "epilog": recipes_help()}
        if kwargs.get("run", True):
            parser_kwargs = {sub: dict(parser_kwargs) for sub in ("fit", "validate", "test", "predict")}
        kwargs.setdefault("parser_kwargs", parser_kwargs)
        super().__init__(**kwargs)

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_lightning_class_args(FitSummary, "summary")
        parser.add_argument(
            "--test_after_fit",
            type=bool,
            default=False,
            help="After fit, evaluate the final weights on the test set (test_acc goes into the summary).",
        )

    def after_fit(self) -> None:
        if self.config[self.subcommand].get("test_after_fit"):
            # The summary prints test_acc; Lightning's table would repeat it.
            self.trainer.test(self.model, datamodule=self.datamodule, verbose=False)


# --- plot -------------------------------------------------------------------------------------------


@dataclass
class Preview:
    """What ``plot`` computed: the run, the LR (and momentum) curve, the lint, and where the picture went.

    Example::

        >>> Preview(Run(10, 5), "cosine", [[0.1]] * 10, [], [], None).run.total_steps
        10
    """

    run: Run
    recipe: str
    lrs: list[list[float]]
    momenta: list[list[float | None]]
    warnings: list[str]
    path: Path | None


def estimate_run(trainer: Any, datamodule: CIFAR10DataModule) -> tuple[Run, int]:
    """The run a config will do, without training: ``(Run, per-device batch size)``.

    Counts as Lightning does: the training split sharded over ``devices × num_nodes`` processes (a
    ``DistributedSampler`` pads to equal shards), ``limit_train_batches``, then one optimizer step per
    ``accumulate_grad_batches`` batches and one for the last partial window of each epoch.

    Raises:
        ValueError: for an open-ended run (``max_epochs: -1`` and ``max_steps: -1``).

    Example::

        >>> # estimate_run(cli.trainer, cli.datamodule) -> (Run(total_steps=70400, steps_per_epoch=352), 128)
    """
    samples = _train_samples(datamodule)
    world = int(trainer.num_devices) * int(trainer.num_nodes)
    if world > 1:
        samples = math.ceil(samples / world)
    batch = datamodule.batch_size
    batches = samples // batch if datamodule.drop_last else math.ceil(samples / batch)
    limit = trainer.limit_train_batches
    if isinstance(limit, int):
        batches = min(batches, limit)
    elif limit != 1.0:
        batches = int(batches * limit)
    run = Run.from_counts(batches, trainer.accumulate_grad_batches, trainer.max_steps, trainer.max_epochs)
    if run.total_steps is None:
        raise ValueError("the run is open-ended (max_epochs -1 and max_steps -1); plot needs its length")
    return run, batch


def _train_samples(datamodule: CIFAR10DataModule) -> int:
    """Training images per epoch; CIFAR-10 from torchvision need not be on disk to be counted."""
    download, datamodule.download = datamodule.download, False  # a preview never downloads 170 MB
    try:
        datamodule.prepare_data()
    except FileNotFoundError:
        if datamodule.source != "torchvision":
            raise
        train = 50_000 - datamodule.val_size
        samples = train if datamodule.train_subset is None else min(datamodule.train_subset, train)
        print(f"CIFAR-10 is not in {str(datamodule.root)!r}; counting its 50,000 training images - val_size = {train}")
        return samples
    finally:
        datamodule.download = download
    datamodule.setup("fit")
    return len(datamodule.train_dataloader().dataset)


def preview(config_args: list[str], out: str | None = None) -> Preview:
    """Resolve a config exactly as ``fit`` would, compute its LR curve, lint it and draw it to ``out``.

    Args:
        config_args: the ``--config`` files and overrides, as on the ``fit`` command line.
        out: the PNG to write; ``None`` draws nothing.

    Example::

        >>> p = preview(["--config", "recipes/cosine.yaml", "--config", "recipes/smoke.yaml"])  # doctest: +SKIP
        >>> p.run  # doctest: +SKIP
        Run(total_steps=16, steps_per_epoch=16)
    """
    cli = RecipeCLI(args=config_args, run=False, save_config_callback=None)
    run, per_device = estimate_run(cli.trainer, cli.datamodule)
    trainer = cli.trainer
    model: ImageClassifier = cli.model
    config = model.make_optimizers(
        total_steps=run.total_steps,
        steps_per_epoch=run.steps_per_epoch,
        global_batch_size=per_device * trainer.num_devices * trainer.num_nodes * trainer.accumulate_grad_batches,
        per_device_batch_size=per_device,
    )
    scheduler = config["lr_scheduler"]["scheduler"]
    assert run.total_steps is not None
    lrs = lr_curve(scheduler, run.total_steps)
    if hasattr(scheduler, "momentum_at"):
        momenta = [scheduler.momentum_at(t) for t in range(run.total_steps)]
    else:
        momenta = [[None] * len(lrs[0])] * run.total_steps
    result = Preview(run, scheduler.recipe["name"], lrs, momenta, lint(scheduler), None)
    if out is not None:
        result.path = _draw(result, Path(out), model.schedule)
    return result


def _draw(p: Preview, out: Path, spec: dict[str, Any]) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    has_momentum = any(m is not None for row in p.momenta for m in row)
    fig = Figure(figsize=(8, 5.5 if has_momentum else 3.8), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2 if has_momentum else 1, 1, sharex=True, squeeze=False)[:, 0]
    steps = range(len(p.lrs))
    for g in range(len(p.lrs[0])):
        axes[0].plot(steps, [row[g] for row in p.lrs], label=f"param group {g}", linewidth=1.4)
    axes[0].set_ylabel("learning rate")
    if has_momentum:
        for g in range(len(p.momenta[0])):
            axes[1].plot(steps, [row[g] for row in p.momenta], linewidth=1.2)
        axes[1].set_ylabel("momentum")
    for ax in axes:
        ax.grid(alpha=0.3)
        if p.run.steps_per_epoch:
            for epoch_start in range(
                0, len(p.lrs), p.run.steps_per_epoch * max(1, len(p.lrs) // p.run.steps_per_epoch // 10)
            ):
                ax.axvline(epoch_start, color="0.85", linewidth=0.6, zorder=0)
    # The parameters the config sets (the spec as written), wrapped to the figure's width.
    params = textwrap.fill(", ".join(f"{k}={v}" for k, v in spec.items() if k != "name") or "defaults", 110)
    title = f"{p.recipe}: {p.run.total_steps} optimizer steps, {p.run.steps_per_epoch} per epoch"
    axes[0].set_title(f"{title}\n{params}", fontsize=9)
    if len(p.lrs[0]) > 1:
        axes[0].legend(fontsize="small")
    if p.recipe == "plateau":
        axes[0].text(
            0.99,
            0.95,
            "reductions depend on the monitored metric",
            transform=axes[0].transAxes,
            ha="right",
            va="top",
            fontsize=8,
            color="0.4",
        )
    axes[-1].set_xlabel("optimizer step")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    return out


def _plot_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lr_recipes plot",
        description="Draw the LR curve of a config without training, and lint it.",
        epilog="Any other argument (--config FILE, --trainer.max_epochs 10, ...) is read as by `fit`.",
    )
    parser.add_argument("--out", default=None, help="PNG to write (default: <last config name>_lr.png)")
    known, rest = parser.parse_known_args(argv)
    if not rest:
        parser.error("give the config to preview, e.g. --config recipes/cosine.yaml")
    configs = [rest[i + 1] for i, a in enumerate(rest[:-1]) if a == "--config"]
    out = known.out or f"{Path(configs[-1]).stem if configs else 'schedule'}_lr.png"
    p = preview(rest, out)
    lrs = p.lrs
    print(
        f"{p.recipe}: {p.run.total_steps} optimizer steps ({p.run.steps_per_epoch} per epoch); "
        f"LR first {_fmt(lrs[0])}, peak {_fmt([max(c) for c in zip(*lrs, strict=True)])}, last {_fmt(lrs[-1])}"
    )
    for warning in p.warnings:
        print(f"lint: {warning}")
    print(f"wrote {p.path}")
    return 0


def _fmt(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:.4g}" for v in values) + "]"


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m lr_recipes`` and the ``lr-recipes`` script.

    Example::

        >>> main(["list"])  # doctest: +ELLIPSIS
        Recipes ...
        0
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "list":
        print(recipes_help())
        return 0
    if argv and argv[0] == "plot":
        return _plot_main(argv[1:])
    RecipeCLI(args=argv)
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        # Lightning leaves the DDP process group up; tearing it down here lets gloo's threads exit cleanly.
        dist.destroy_process_group()
    return 0
