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

import sys
from collections.abc import Callable
from typing import Any

from jsonargparse import DefaultHelpFormatter
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from lr_recipes.pack.classifier import ImageClassifier
from lr_recipes.pack.data import CIFAR10DataModule
from lr_recipes.pack.resume import drop_disabled_checkpoints, parse_ckpt_path
from lr_recipes.pack.summary import FitSummary
from lr_recipes.registry import available, get_recipe


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
    """LightningCLI with :class:`~lr_recipes.pack.classifier.ImageClassifier` and
    :class:`~lr_recipes.pack.data.CIFAR10DataModule`, the fit summary, and ``--test_after_fit``.

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

    def before_instantiate_classes(self) -> None:
        drop_disabled_checkpoints(self.config[self.subcommand] if self.subcommand else self.config)

    def _parse_ckpt_path(self) -> None:
        # LightningCLI would replace model.schedule by the checkpoint's: lay what was given back over it.
        parse_ckpt_path(self, super()._parse_ckpt_path)

    def after_fit(self) -> None:
        if self.config[self.subcommand].get("test_after_fit"):
            # The summary prints test_acc; Lightning's table would repeat it.
            self.trainer.test(self.model, datamodule=self.datamodule, verbose=False)


def _list_main(argv: list[str]) -> int:
    print(recipes_help())
    return 0


def _lightning_main(argv: list[str]) -> int:
    RecipeCLI(args=argv)
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        # Lightning leaves the DDP process group up; tearing it down here lets gloo's threads exit cleanly.
        dist.destroy_process_group()
    return 0


def _plot_main(argv: list[str]) -> int:
    from lr_recipes.pack.preview import plot_main

    return plot_main(argv)


COMMANDS: dict[str, tuple[Callable[[list[str]], int], str]] = {
    "fit": (_lightning_main, "train a recipe (LightningCLI: --config FILE ..., any key overridable)"),
    "validate": (_lightning_main, "evaluate on the validation set (LightningCLI)"),
    "test": (_lightning_main, "evaluate on the test set (LightningCLI)"),
    "predict": (_lightning_main, "predict (LightningCLI)"),
    "plot": (_plot_main, "draw a config's LR curve and lint it, without training"),
    "list": (_list_main, "list the recipes with their parameters"),
}
"""Every subcommand of ``python -m lr_recipes``: its entry point (taking the rest of argv) and a one-line help."""


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m lr_recipes`` and the ``lr-recipes`` script.

    Example::

        >>> main(["list"])  # doctest: +ELLIPSIS
        Recipes ...
        0
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in COMMANDS and argv[0] not in ("fit", "validate", "test", "predict"):
        return COMMANDS[argv[0]][0](argv[1:])
    return _lightning_main(argv)
