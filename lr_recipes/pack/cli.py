"""``python -m lr_recipes``: LightningCLI for the CIFAR-10 recipes, plus ``plot`` and ``list``.

Usage::

    python -m lr_recipes fit --config recipes/cosine.yaml                          # train
    python -m lr_recipes fit --config recipes/cosine.yaml --config recipes/smoke.yaml   # offline, ~1 min
    python -m lr_recipes plot --config recipes/onecycle.yaml --out onecycle.png    # preview, no training
    python -m lr_recipes list                                                      # recipes and parameters

``fit``, ``validate``, ``test`` and ``predict`` are LightningCLI's: several ``--config`` files merge left
to right, ``--print_config`` shows the merged result, and any key can be overridden
(``--model.schedule.warmup 5ep``, ``--trainer.max_epochs 30``). ``python -m lr_recipes --help`` lists every
subcommand of :data:`COMMANDS`; a user's mistake prints ``error: <message>`` and exits 2 (see :func:`main`).

Example::

    >>> print(recipes_help().splitlines()[0])
    Recipes (model.schedule: {name: <recipe>, ...parameters}; durations "30ep", "500st" or "10%"):
"""

from __future__ import annotations

import difflib
import os
import sys
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from jsonargparse import DefaultHelpFormatter
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from lr_recipes.pack.classifier import ImageClassifier
from lr_recipes.pack.data import CIFAR10DataModule, DataNotFoundError
from lr_recipes.pack.resume import drop_disabled_checkpoints, parse_ckpt_path
from lr_recipes.pack.summary import FitSummary
from lr_recipes.registry import RecipeError, available, get_recipe
from lr_recipes.units import DurationError

LIGHTNING_SUBCOMMANDS = ("fit", "validate", "test", "predict")
"""The subcommands LightningCLI parses (its ``Trainer`` methods); the other ones in :data:`COMMANDS` are the pack's."""

_DESCRIPTION = (
    "Learning-rate recipes for PyTorch Lightning: train CIFAR-10 with a recipe from recipes/*.yaml, preview\n"
    "its LR curve, or list the recipes and their parameters."
)


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
        parser_kwargs: dict[str, Any] = {"formatter_class": _KeepNewlines, "epilog": recipes_help()}
        if kwargs.get("run", True):
            # jsonargparse names a subcommand's usage after its parent: "python -m lr_recipes [options] fit".
            subcommands = {sub: dict(parser_kwargs) for sub in LIGHTNING_SUBCOMMANDS}
            parser_kwargs = {"prog": program_name(), "description": _DESCRIPTION, **subcommands}
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


def _run_lightning(args: list[str]) -> int:
    with warnings.catch_warnings():
        # main() is the command line: args *is* sys.argv[1:] (less --traceback), not a second source of arguments.
        warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended", category=UserWarning)
        RecipeCLI(args=args)
    return 0


def end_process_group(synced: bool = True) -> bool:
    """Tear down the default process group if a command left one up (Lightning's DDP leaves it; so does a sweep
    under ``torchrun``); return whether there was one.

    A gloo group still up when the interpreter exits can abort the process (SIGABRT, "terminate called without
    an active exception") while its worker threads are destroyed, so a run that finished reports failure
    (torch #179291). With ``synced`` the ranks first meet at a barrier, so none closes its connections while
    another still talks; after an error that barrier could wait forever, so it is skipped.

    Example::

        >>> end_process_group()  # no group in this process
        False
    """
    dist = sys.modules.get("torch.distributed")  # never imported: no group to end (and no torch import for it)
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return False
    if synced:
        dist.barrier()
    dist.destroy_process_group()
    return True


def _lightning_main(subcommand: str, argv: list[str]) -> int:
    return _run_lightning([subcommand, *argv])


def _plot_main(argv: list[str]) -> int:
    from lr_recipes.pack.preview import plot_main

    return plot_main(argv)


def _find_main(argv: list[str]) -> int:
    from lr_recipes.pack.find_cmd import find_main

    return find_main(argv)


def _sweep_main(argv: list[str]) -> int:
    from lr_recipes.pack.sweep import sweep_main  # imports optuna only when sweeping

    return sweep_main(argv)


COMMANDS: dict[str, tuple[Callable[[list[str]], int], str]] = {
    "fit": (partial(_lightning_main, "fit"), "train a recipe (LightningCLI: --config FILE ..., any key overridable)"),
    "validate": (partial(_lightning_main, "validate"), "evaluate on the validation set (LightningCLI)"),
    "test": (partial(_lightning_main, "test"), "evaluate on the test set (LightningCLI)"),
    "predict": (partial(_lightning_main, "predict"), "predict (LightningCLI)"),
    "plot": (_plot_main, "draw a config's LR curve and lint it, without training"),
    "find": (_find_main, "LR range test on a config, run as fit would; writes an lr.yaml overlay for fit"),
    "list": (_list_main, "list the recipes with their parameters"),
    "sweep": (_sweep_main, "compare schedules and tune them at equal budget (Optuna; resumable, several workers)"),
}
"""Every subcommand of ``python -m lr_recipes``: its entry point (taking the rest of argv) and a one-line help.

The top-level ``--help`` is generated from this table, so a new subcommand is one line here."""

USER_ERRORS: tuple[type[BaseException], ...] = (RecipeError, DurationError, DataNotFoundError)
"""Exceptions that are a user's mistake: :func:`main` prints their message alone and exits 2.

Every ``ValueError`` subclass defined in ``lr_recipes`` counts too (see :func:`is_user_error`); add a
type here for a mistake that is not a ``ValueError`` (as ``DataNotFoundError``, a ``FileNotFoundError``)."""

TRACEBACK_ENV = "LR_RECIPES_TRACEBACK"


def is_user_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a user's mistake (printed without a traceback) rather than a bug.

    A user error is an instance of :data:`USER_ERRORS` or of a ``ValueError`` subclass the project defines
    (a bare ``ValueError`` may come from anywhere, so it keeps its traceback).

    Example::

        >>> is_user_error(RecipeError("unknown recipe 'cosin'")), is_user_error(ValueError("?"))
        (True, False)
    """
    if isinstance(exc, USER_ERRORS):
        return True
    return any(
        issubclass(cls, ValueError) and cls is not ValueError and cls.__module__.split(".")[0] == "lr_recipes"
        for cls in type(exc).__mro__
    )


def program_name() -> str:
    """The program as the user typed it: ``lr-recipes`` for the console script, else ``python -m lr_recipes``.

    Example::

        >>> program_name() in ("python -m lr_recipes", "lr-recipes")
        True
    """
    script = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    return "lr-recipes" if script == "lr-recipes" else "python -m lr_recipes"


def main_help() -> str:
    """The top-level ``--help``: what the program is and every subcommand of :data:`COMMANDS`.

    Example::

        >>> "  plot " in main_help() and "  list " in main_help()
        True
    """
    prog = program_name()
    width = max(len(name) for name in COMMANDS) + 2
    commands = "\n".join(f"  {name:<{width}}{text}" for name, (_, text) in COMMANDS.items())
    return f"""usage: {prog} [--traceback] <command> [options]

{_DESCRIPTION}

commands:
{commands}

options:
  -h, --help   show this help and exit
  --traceback  show the full traceback of an error (or set {TRACEBACK_ENV}=1)

Run `{prog} <command> --help` for a command's options. Examples:
  {prog} fit --config recipes/cosine.yaml --config recipes/smoke.yaml
  {prog} plot --config recipes/onecycle.yaml --out onecycle.png
"""


def _unknown_command(name: str) -> str:
    close = difflib.get_close_matches(name, list(COMMANDS), n=1, cutoff=0.5)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown command {name!r}{hint}; commands: {', '.join(COMMANDS)} (see `{program_name()} --help`)"


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m lr_recipes`` and the ``lr-recipes`` script.

    ``argv[0]`` picks a subcommand of :data:`COMMANDS`, which gets the rest. A user error (see
    :func:`is_user_error`) prints ``error: <message>`` on stderr and exits with status 2, as argparse's do
    (``SystemExit(2)``, so a Python caller cannot miss it); ``--traceback`` anywhere in ``argv`` or
    ``LR_RECIPES_TRACEBACK=1`` re-raises it with its traceback instead. jsonargparse's own errors
    (a bad key or type in a config) keep their format and status 2.

    Example::

        >>> main(["list"])  # doctest: +ELLIPSIS
        Recipes ...
        0
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    show_traceback = "--traceback" in argv or os.environ.get(TRACEBACK_ENV, "") not in ("", "0")
    argv = [a for a in argv if a != "--traceback"]
    if not argv or argv[0] in ("-h", "--help"):
        print(main_help(), end="")
        return 0
    if argv[0].startswith("-"):  # LightningCLI's top-level options, e.g. `--config defaults.yaml fit ...`
        command, rest = _run_lightning, argv
    elif argv[0] in COMMANDS:
        command, rest = COMMANDS[argv[0]][0], argv[1:]
    else:
        print(f"error: {_unknown_command(argv[0])}", file=sys.stderr)
        raise SystemExit(2)
    finished = False
    try:
        status = command(rest)
        finished = True
        return status
    except Exception as exc:
        if show_traceback or not is_user_error(exc):
            raise
        # Lightning's trainer re-raises what a hook raised unchanged (call._call_and_handle_interrupt), so
        # a RecipeError from configure_optimizers or a DataNotFoundError from prepare_data arrives as is.
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    finally:
        end_process_group(synced=finished)
