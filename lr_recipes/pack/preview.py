"""``python -m lr_recipes plot``: resolve a config as ``fit`` would, draw its LR curve and lint it, without training.

Example::

    >>> p = preview(["--config", "recipes/cosine.yaml", "--config", "recipes/smoke.yaml"])  # doctest: +SKIP
    >>> p.run.total_steps  # doctest: +SKIP
    400
"""

from __future__ import annotations

import argparse
import math
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lr_recipes.lint import lint, lr_curve
from lr_recipes.pack.classifier import ImageClassifier
from lr_recipes.pack.cli import RecipeCLI, program_name
from lr_recipes.pack.data import CIFAR10DataModule
from lr_recipes.plotting import draw_lr, draw_resume
from lr_recipes.registry import RecipeError
from lr_recipes.schedule_free import is_schedule_free, warmup_factors
from lr_recipes.scheduler import PlateauScheduler
from lr_recipes.units import Run


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
    groups: list[str] = field(default_factory=list)


def estimate_run(trainer: Any, datamodule: CIFAR10DataModule) -> tuple[Run, int]:
    """The run a config will do, without training: ``(Run, per-device batch size)``.

    Counts as Lightning does: the training split sharded over ``devices × num_nodes`` processes (a
    ``DistributedSampler`` pads to equal shards), ``limit_train_batches``, then one optimizer step per
    ``accumulate_grad_batches`` batches and one for the last partial window of each epoch.

    Raises:
        RecipeError: for an open-ended run (``max_epochs: -1`` and ``max_steps: -1``).

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
        raise RecipeError("the run is open-ended (max_epochs -1 and max_steps -1); plot needs its length")
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


def planned_optimizers(cli: Any) -> tuple[Run, dict[str, Any]]:
    """The run a CLI's config will do and the optimizer + scheduler config its model builds for it, no training.

    Example::

        >>> # run, config = planned_optimizers(RecipeCLI(args=["--config", "recipes/fast.yaml"], run=False))
        >>> # config["lr_scheduler"]["scheduler"].lr_at(0)
    """
    run, per_device = estimate_run(cli.trainer, cli.datamodule)
    trainer = cli.trainer
    config = cli.model.make_optimizers(
        total_steps=run.total_steps,
        steps_per_epoch=run.steps_per_epoch,
        global_batch_size=per_device * trainer.num_devices * trainer.num_nodes * trainer.accumulate_grad_batches,
        per_device_batch_size=per_device,
    )
    return run, config


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
    run, config = planned_optimizers(cli)
    model: ImageClassifier = cli.model
    scheduler = config["lr_scheduler"]["scheduler"]
    assert run.total_steps is not None
    lrs = lr_curve(scheduler, run.total_steps)
    optimizer = config["optimizer"]
    if is_schedule_free(optimizer):
        # A schedule-free optimizer steps with its own warmup on top of the schedule's LR: draw that.
        lrs = [
            [lr * f for lr, f in zip(row, fs, strict=True)]
            for row, fs in zip(lrs, warmup_factors(optimizer, len(lrs)), strict=True)
        ]
    if hasattr(scheduler, "momentum_at"):
        momenta = [scheduler.momentum_at(t) for t in range(run.total_steps)]
    else:
        momenta = [[None] * len(lrs[0])] * run.total_steps
    result = Preview(run, scheduler.recipe["name"], lrs, momenta, lint(scheduler), None)
    result.groups = [str(g.get("name", f"param group {i}")) for i, g in enumerate(optimizer.param_groups)]
    if out is not None:
        # A plateau's reductions are not known before training: the curve shows the LR without any.
        note = "reductions depend on the monitored metric" if isinstance(scheduler, PlateauScheduler) else None
        result.path = _draw(result, Path(out), model.schedule, note)
    return result


@dataclass
class ResumePreview:
    """What ``plot --ckpt_path`` computed: the checkpoint's plan, the resume step and the plan the run continues with.

    ``error`` holds the message of a resume that would be refused (a changed plan without ``on_resume``); ``after``
    is then this run's plan as it would have been.

    Example::

        >>> ResumePreview(4, [[0.1]] * 10, [[0.1]] * 20, "cosine", None, None).resume_step
        4
    """

    resume_step: int
    before: list[list[float]]
    after: list[list[float]]
    recipe: str
    error: str | None
    path: Path | None


def preview_resume(config_args: list[str], ckpt_path: str, out: str | None = None) -> ResumePreview:
    """Resolve a resume of ``ckpt_path`` as ``fit --ckpt_path`` would, and draw the old and the new plan.

    The schedule keys the config gives are laid over the checkpoint's (as ``fit`` does, see
    :mod:`lr_recipes.pack.resume`), a cooldown sets the run's end, and the scheduler built for this run loads the
    checkpoint's scheduler state, so ``on_resume`` and ``cooldown`` act exactly as in training.

    Example::

        >>> p = preview_resume(["--config", "recipes/wsd.yaml"], "wsd-epoch=39.ckpt", "resume.png")  # doctest: +SKIP
    """
    from lr_recipes.pack.resume import ResumeError, cooldown_end, load_checkpoint, merge_schedule
    from lr_recipes.registry import check_spec

    checkpoint = load_checkpoint(ckpt_path)
    states = checkpoint.get("lr_schedulers") or []
    if not states:
        raise ResumeError(f"{ckpt_path} has no LR scheduler state: nothing to preview")
    state = states[0]
    cli = RecipeCLI(args=config_args, run=False, save_config_callback=None)
    model: ImageClassifier = cli.model
    given = cli.config.model.schedule
    default = cli.parser.get_defaults().model.schedule
    saved_schedule = (checkpoint.get("hyper_parameters") or {}).get("schedule", state["recipe"]["name"])
    schedule = merge_schedule(saved_schedule, None if given == default else given)
    if isinstance(schedule, dict) and schedule.get("cooldown") is not None:
        end = cooldown_end(schedule, checkpoint, ckpt_path)
        # As fit's CLI sets trainer.max_steps and max_epochs -1 for a cooldown (the trainer is built already here).
        cli.trainer.fit_loop.epoch_loop.max_steps, cli.trainer.fit_loop.max_epochs = end, -1
    run, per_device = estimate_run(cli.trainer, cli.datamodule)
    plan = state.get("plan") or state["recipe"]
    trainer = cli.trainer
    batch = dict(
        global_batch_size=per_device * trainer.num_devices * trainer.num_nodes * trainer.accumulate_grad_batches,
        per_device_batch_size=per_device,
    )
    resume_step = int(state["last_epoch"])

    def scheduler_for(spec: Any, total: int, per_epoch: int | None) -> Any:
        model.schedule = check_spec(spec)
        return model.make_optimizers(total_steps=total, steps_per_epoch=per_epoch, **batch)["lr_scheduler"]["scheduler"]

    old = scheduler_for(saved_schedule, plan["total_steps"], plan["steps_per_epoch"])
    old.load_state_dict(state)  # the checkpoint's own plan (with any phases it had): exactly what it ran
    old_end = max(plan.get("end") or plan["total_steps"], resume_step)
    new = scheduler_for(schedule, run.total_steps or old_end, run.steps_per_epoch)
    error = None
    try:
        new.load_state_dict(state)
    except RecipeError as err:
        error = str(err)
    new_end = (new.plan or {}).get("end") or run.total_steps or old_end
    result = ResumePreview(
        resume_step,
        lr_curve(old, old_end + 1),
        lr_curve(new, new_end + 1),
        new.recipe["name"],
        error,
        None,
    )
    if out is not None:
        mode = "refused by fit, the LR would jump" if error else _mode(schedule)
        before = {f"checkpoint's plan ({old_end} steps)": (range(old_end + 1), [r[0] for r in result.before])}
        after = {f"this run: {mode} (ends at step {new_end})": (range(new_end + 1), [r[0] for r in result.after])}
        note = "a changed plan: set on_resume (replan, keep) or cooldown" if error else None
        title = f"{result.recipe}: resumed at step {resume_step} from {Path(ckpt_path).name}"
        draw_resume(before, after, resume_step, out=out, title=title, note=note)
        result.path = Path(out)
    return result


def _mode(schedule: Any) -> str:
    if isinstance(schedule, dict) and schedule.get("cooldown") is not None:
        return f"cooldown {schedule['cooldown']}"
    on_resume = schedule.get("on_resume", "error") if isinstance(schedule, dict) else "error"
    return "unchanged plan" if on_resume == "error" else f"on_resume {on_resume}"


def _draw(p: Preview, out: Path, spec: dict[str, Any], note: str | None) -> Path:
    steps = list(range(len(p.lrs)))
    labels = p.groups or [f"param group {g}" for g in range(len(p.lrs[0]))]
    lrs = {label: (steps, [row[g] for row in p.lrs]) for g, label in enumerate(labels)}
    momenta = {label: (steps, [row[g] for row in p.momenta]) for g, label in enumerate(labels)}
    every = p.run.steps_per_epoch * max(1, len(p.lrs) // p.run.steps_per_epoch // 10) if p.run.steps_per_epoch else 0
    # The parameters the config sets (the spec as written), wrapped to the figure's width.
    params = textwrap.fill(", ".join(f"{k}={v}" for k, v in spec.items() if k != "name") or "defaults", 110)
    title = f"{p.recipe}: {p.run.total_steps} optimizer steps, {p.run.steps_per_epoch} per epoch\n{params}"
    draw_lr(lrs, momenta, out=out, title=title, epoch_lines=range(0, len(steps), every) if every else (), note=note)
    return out


def plot_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog=f"{program_name()} plot",
        description="Draw the LR curve of a config without training, and lint it.",
        epilog="Any other argument (--config FILE, --trainer.max_epochs 10, ...) is read as by `fit`.",
    )
    parser.add_argument("--out", default=None, help="PNG to write (default: <last config name>_lr.png)")
    parser.add_argument(
        "--ckpt_path",
        default=None,
        help="draw a resume of this checkpoint: its plan, the resume step and the plan the run continues with",
    )
    known, rest = parser.parse_known_args(argv)
    if not rest:
        parser.error("give the config to preview, e.g. --config recipes/cosine.yaml")
    configs = [rest[i + 1] for i, a in enumerate(rest[:-1]) if a == "--config"]
    out = known.out or f"{Path(configs[-1]).stem if configs else 'schedule'}_lr.png"
    if known.ckpt_path:
        r = preview_resume(rest, known.ckpt_path, out)
        print(
            f"{r.recipe}: resumed at step {r.resume_step}; the checkpoint's plan ends at step {len(r.before) - 1}, "
            f"this run at step {len(r.after) - 1}; LR at the resume step {_fmt(r.after[r.resume_step])}"
        )
        if r.error:
            print(f"fit would refuse this resume:\n{r.error}")
        print(f"wrote {r.path}")
        return 0
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
