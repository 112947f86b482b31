"""``python -m lr_recipes find``: the LR range test on a recipe, built exactly as ``fit`` builds it; writes ``lr.yaml``.

Usage::

    python -m lr_recipes find --config recipes/polynomial.yaml                  # lr.yaml + lr_find.png
    python -m lr_recipes fit --config recipes/polynomial.yaml --config lr.yaml  # train at the suggestion
    python -m lr_recipes find --config recipes/polynomial.yaml --fit            # both in one command

The run (model, optimizer, data, precision, devices, accumulation) comes from the same ``--config`` files
and overrides as ``fit``. The LR found is the highest LR the schedule should reach, so ``lr.yaml`` sets what
puts the schedule's peak there: the optimizer's ``lr`` for most recipes (divided by the schedule's peak
factor, e.g. onecycle's ``peak_factor``), or the schedule's absolute ``max_lr`` for onecycle and cyclic
recipes that give one (cyclic's bottom, the optimizer's ``lr``, keeps the recipe's ratio to it).

Example::

    >>> lr_overlay({"name": "cyclic", "up": "4ep", "max_lr": 0.1}, 0.01, 0.5, 1.0, 1.0)[0]["model"]["schedule"]
    {'name': 'cyclic', 'up': '4ep', 'max_lr': 0.5}
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import yaml
from lightning.pytorch.utilities.rank_zero import rank_zero_only

from lr_recipes.find import RULES, FindError, LRFindResult, find_lr
from lr_recipes.lint import lr_curve
from lr_recipes.pack.cli import RecipeCLI
from lr_recipes.pack.preview import planned_optimizers
from lr_recipes.registry import get_recipe


def lr_overlay(
    schedule: dict[str, Any], config_lr: float, lr: float, ratio: float, peak_factor: float
) -> tuple[dict[str, Any], list[str]]:
    """The overlay that puts the schedule's peak (for param group 0) at the range test's ``lr``, and why.

    Args:
        schedule: the recipe spec (``model.schedule``).
        config_lr: the optimizer's ``lr`` in the config (``model.optimizer.init_args.lr``).
        lr: the suggestion, in units of the optimizer's ``lr``.
        ratio: param group 0's LR over the optimizer's ``lr`` (``scale_lr``, a per-group factor).
        peak_factor: the schedule's highest LR over its base LR, for param group 0 (1 for most recipes).

    Returns:
        ``(overlay, reasons)``: the nested dict to write, and one sentence per key set.

    Raises:
        FindError: for a plateau recipe.

    Example::

        >>> overlay, why = lr_overlay({"name": "cosine"}, 0.1, 0.05, 1.0, 1.0)
        >>> overlay
        {'model': {'optimizer': {'init_args': {'lr': 0.05}}}}
        >>> print(why[0])
        model.optimizer.init_args.lr = 0.05: the cosine schedule starts from the optimizer's lr and peaks at it
    """
    name = schedule["name"]
    if get_recipe(name).plateau:
        monitor = schedule.get("monitor", "val_loss")
        raise FindError(
            f"the {name} recipe sets its LR from the metric {monitor!r} after the start, so a range test cannot "
            "tell it a schedule; it can give the starting LR: run find with a fixed schedule, e.g. "
            "`python -m lr_recipes find --config <recipe> --model.schedule constant`, and train the plateau recipe "
            "with the lr.yaml it writes as a further --config (it sets only model.optimizer.init_args.lr)"
        )
    if "max_lr" in schedule and schedule["max_lr"] is not None:
        old = schedule["max_lr"]
        first = old[0] if isinstance(old, (list, tuple)) else old
        top = lr * ratio
        new_max = [_round(v * top / first) for v in old] if isinstance(old, (list, tuple)) else _round(top)
        overlay_schedule = {**schedule, "max_lr": new_max}
        reasons = [
            f"model.schedule.max_lr = {new_max}: the {name} schedule peaks at its max_lr (an absolute LR), "
            "so the range test's LR goes there"
        ]
        model: dict[str, Any] = {"schedule": overlay_schedule}
        if name == "cyclic":
            bottom = _round(config_lr * top / first)
            model["optimizer"] = {"init_args": {"lr": bottom}}
            reasons.append(
                f"model.optimizer.init_args.lr = {bottom}: the bottom of the cycle keeps the recipe's ratio "
                f"{config_lr:g}/{first:g} = {config_lr / first:.3g} to the top"
            )
        return {"model": model}, reasons
    new_lr = _round(lr / peak_factor)
    if math.isclose(peak_factor, 1.0, rel_tol=1e-9):
        why = f"the {name} schedule starts from the optimizer's lr and peaks at it"
    else:
        why = (
            f"the {name} schedule peaks at {peak_factor:.4g} x the optimizer's lr, so lr = {lr:.4g} / {peak_factor:.4g}"
        )
    return {"model": {"optimizer": {"init_args": {"lr": new_lr}}}}, [f"model.optimizer.init_args.lr = {new_lr}: {why}"]


def _round(x: float) -> float:
    return float(f"{x:.4g}")


def peak_factor(cli: Any) -> float:
    """The schedule's highest LR over its base LR for param group 0, over the run ``fit`` would do.

    Example::

        >>> # peak_factor(RecipeCLI(args=["--config", "recipes/fast.yaml"], run=False)) -> 1.0 (warmup, then linear)
    """
    run, config = planned_optimizers(cli)
    scheduler = config["lr_scheduler"]["scheduler"]
    assert run.total_steps is not None
    base = float(config["optimizer"].param_groups[0]["initial_lr"])
    return max(row[0] for row in lr_curve(scheduler, run.total_steps)) / base


def find(config_args: list[str], options: dict[str, Any], *, fit: bool = False) -> tuple[Any, LRFindResult, dict, list]:
    """Build the run as ``fit`` would and run the range test on it; return the CLI and what to write.

    Args:
        config_args: the ``--config`` files and overrides, as on the ``fit`` command line.
        options: keyword arguments of :func:`lr_recipes.find.find_lr` (``min_lr``, ``num_steps``, ...).
        fit: keep the CLI ready to train afterwards (its config is saved with the run).

    Returns:
        ``(cli, result, overlay, reasons)``: the built :class:`~lr_recipes.pack.cli.RecipeCLI`, the test's
        result, the ``lr.yaml`` overlay and one sentence per key it sets.

    Raises:
        FindError: for a plateau recipe (before the test), or as :func:`~lr_recipes.find.find_lr` raises.

    Example::

        >>> # cli, result, overlay, why = find(["--config", "recipes/polynomial.yaml"], {"num_steps": 100})
    """
    cli = RecipeCLI(args=config_args, run=False, **({} if fit else {"save_config_callback": None}))
    schedule = dict(cli.model.schedule)
    lr_overlay(schedule, 1.0, 1.0, 1.0, 1.0)  # a plateau recipe fails here, before any training
    factor = 1.0 if schedule.get("max_lr") is not None else peak_factor(cli)
    config_lr = float(cli.config["model.optimizer.init_args.lr"])
    result = find_lr(cli.model, cli.trainer, datamodule=cli.datamodule, **options)
    overlay, reasons = lr_overlay(schedule, config_lr, result.lr, result.group_ratios[0][0], factor)
    return cli, result, overlay, reasons


def fit_with(cli: Any, overlay: dict[str, Any]) -> None:
    """Train the CLI's run with the overlay applied (as ``fit --config lr.yaml`` would), then test if asked.

    Example::

        >>> # cli, result, overlay, _ = find(args, {}, fit=True); fit_with(cli, overlay)
    """
    _apply(cli, overlay)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    if cli.config.get("test_after_fit"):
        cli.trainer.test(cli.model, datamodule=cli.datamodule, verbose=False)


def _apply(cli: Any, overlay: dict[str, Any]) -> None:
    """Train the CLI's model with the overlay, and record it in the config the run saves."""
    from lr_recipes.find import apply_lr
    from lr_recipes.registry import check_spec

    model = overlay["model"]
    if "optimizer" in model:
        lr = model["optimizer"]["init_args"]["lr"]
        apply_lr(cli.model, lr)
        cli.config["model.optimizer.init_args.lr"] = lr
    if "schedule" in model:
        cli.model.schedule = check_spec(model["schedule"])
        cli.config["model.schedule"] = model["schedule"]


def write_overlay(path: Path, overlay: dict[str, Any], reasons: list[str], header: list[str]) -> Path:
    """Write ``overlay`` as YAML with ``header`` and ``reasons`` as comments.

    Example::

        >>> import tempfile, pathlib
        >>> p = write_overlay(pathlib.Path(tempfile.mkdtemp()) / "lr.yaml",
        ...                   {"model": {"optimizer": {"init_args": {"lr": 0.05}}}}, ["why"], ["head"])
        >>> print(p.read_text())
        # head
        # why
        model:
          optimizer:
            init_args:
              lr: 0.05
        <BLANKLINE>
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    comments = "".join(f"# {line}\n" for line in [*header, *reasons])
    path.write_text(comments + yaml.safe_dump(overlay, sort_keys=False))
    return path


def find_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lr_recipes find",
        description="LR range test (Smith 2017) on a recipe, run as fit would run it; writes an lr.yaml overlay.",
        epilog="Any other argument (--config FILE, --trainer.devices 2, ...) is read as by `fit`. Train with "
        "`python -m lr_recipes fit --config <recipe> --config lr.yaml`, or add --fit.",
        allow_abbrev=False,
    )
    parser.add_argument("--out", default="lr.yaml", help="the overlay to write (default: lr.yaml)")
    parser.add_argument("--plot", default=None, help="the PNG to write (default: <out>_find.png, e.g. lr_find.png)")
    parser.add_argument("--min_lr", type=float, default=1e-5, help="the LR of the first step (default: 1e-5)")
    parser.add_argument("--max_lr", type=float, default=10.0, help="the LR of the last step (default: 10)")
    parser.add_argument("--num_steps", type=int, default=100, help="optimizer steps from min_lr to max_lr (100)")
    parser.add_argument("--rule", choices=RULES, default="valley", help="the suggestion to use (default: valley)")
    parser.add_argument("--beta", type=float, default=0.9, help="loss smoothing, EMA factor (default: 0.9)")
    parser.add_argument("--diverge", type=float, default=4.0, help="stop above this x the best loss (default: 4)")
    parser.add_argument("--max_epochs", type=int, default=3, help="passes over the training data allowed (3)")
    parser.add_argument("--fit", action="store_true", help="then train at the suggestion (find, then fit)")
    known, rest = parser.parse_known_args(argv)
    if not any(a == "--config" or a.startswith("--config=") for a in rest):
        parser.error("give the recipe, e.g. --config recipes/polynomial.yaml")
    options = {k: getattr(known, k) for k in ("min_lr", "max_lr", "num_steps", "rule", "beta", "diverge", "max_epochs")}
    cli, result, overlay, reasons = find(rest, options, fit=known.fit)
    out = Path(known.out)
    configs = [rest[i + 1] for i, a in enumerate(rest[:-1]) if a == "--config"]
    plot = Path(known.plot) if known.plot else out.with_name(f"{out.stem}_find.png")
    if rank_zero_only.rank == 0:
        header = [
            f"Written by `python -m lr_recipes find` for {' + '.join(configs)}: LR range test from "
            f"{known.min_lr:g} to {known.max_lr:g} over {known.num_steps} steps, rule {result.rule}, "
            f"suggested lr {result.lr:.4g}.",
            f"Train with: python -m lr_recipes fit {' '.join(f'--config {c}' for c in configs)} --config {out}",
        ]
        write_overlay(out, overlay, reasons, header)
        result.plot(str(plot), title=f"LR range test: {' + '.join(configs)}")
        for line in reasons:
            print(f"set {line}")
        print(f"wrote {out} and {plot}")
    if known.fit:
        fit_with(cli, overlay)
    return 0
