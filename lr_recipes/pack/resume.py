"""``--ckpt_path`` in the pack's CLI: a schedule changed at resume takes effect, and a cooldown sets the run's end.

Given ``--ckpt_path``, LightningCLI (``_parse_ckpt_path``) replaces the model's config with the hyperparameters
saved in the checkpoint, so a ``model.schedule`` given on the command line or in a ``--config`` would be
dropped without a word. :func:`parse_ckpt_path` runs LightningCLI's step and then lays the schedule keys that were
given back over the checkpoint's: the same recipe keeps the checkpoint's other keys, another recipe replaces it.
Nothing given (the parser's default) keeps the checkpoint's spec.

With ``cooldown`` in the resulting spec, the run ends when the cooldown does: ``trainer.max_steps`` is set to
its last step and ``trainer.max_epochs`` to -1, with the durations resolved against the checkpoint's plan (as
the scheduler resolves them)::

    python -m lr_recipes fit --config recipes/wsd.yaml --ckpt_path runs/wsd/.../epoch=39.ckpt \\
        --model.schedule.cooldown 10ep

Example::

    >>> merge_schedule({"name": "wsd", "decay": "20%"}, {"cooldown": "2000st"})
    {'name': 'wsd', 'decay': '20%', 'cooldown': '2000st'}
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lr_recipes.units import Duration, DurationError


class ResumeError(ValueError):
    """A ``--ckpt_path`` resume that cannot do what the command line asks (the CLI prints it, exit 2).

    Example::

        >>> issubclass(ResumeError, ValueError)
        True
    """


def merge_schedule(saved: Any, given: Any) -> Any:
    """The schedule a resumed run uses: the keys ``given`` at resume laid over the checkpoint's spec.

    ``given`` is ``None`` when nothing was given; a spec naming another recipe replaces the checkpoint's.

    Example::

        >>> merge_schedule({"name": "cosine"}, {"name": "wsd"})
        {'name': 'wsd'}
        >>> merge_schedule("cosine", {"on_resume": "replan"})
        {'name': 'cosine', 'on_resume': 'replan'}
    """
    if given is None:
        return saved
    saved_spec = {"name": saved} if isinstance(saved, str) else dict(saved or {})
    given_spec = {"name": given} if isinstance(given, str) else dict(given)
    if "name" in given_spec and given_spec["name"] != saved_spec.get("name"):
        return given_spec
    return {**saved_spec, **given_spec}


def parse_ckpt_path(cli: Any, lightning_parse: Callable[[], None]) -> None:
    """LightningCLI's ``_parse_ckpt_path``, then the given schedule keys over the checkpoint's (and the cooldown).

    Args:
        cli: the :class:`~lr_recipes.pack.cli.RecipeCLI` being set up (its ``config`` is parsed).
        lightning_parse: LightningCLI's own ``_parse_ckpt_path`` (bound), which loads the hyperparameters.

    Raises:
        ResumeError: a cooldown asked of a checkpoint without a scheduler state.

    Example::

        >>> # RecipeCLI._parse_ckpt_path: parse_ckpt_path(self, super()._parse_ckpt_path)
    """
    sub = cli.config.get("subcommand")
    cfg = cli.config.get(sub) if sub else None
    ckpt_path = cfg.get("ckpt_path") if cfg is not None else None
    if not ckpt_path or not Path(ckpt_path).is_file():
        lightning_parse()
        return
    given = _given_schedule(cli, sub)
    lightning_parse()
    cfg = cli.config[sub]
    schedule = merge_schedule(cfg.model.schedule, given)
    cfg.model.schedule = schedule
    if isinstance(schedule, Mapping) and schedule.get("cooldown") is not None:
        end = cooldown_end(schedule, load_checkpoint(ckpt_path), ckpt_path)
        cfg.trainer.max_steps, cfg.trainer.max_epochs = end, -1
        print(f"cooldown: the run ends at optimizer step {end} (trainer.max_steps={end})", file=sys.stderr)


def drop_disabled_checkpoints(config: Any) -> None:
    """With ``trainer.enable_checkpointing: false`` (the smoke overlay), drop the recipe's checkpoint callbacks.

    ``recipes/wsd.yaml`` keeps stable-phase checkpoints to branch from; Lightning refuses a checkpoint callback
    when checkpointing is off, so the overlay that turns it off turns those off too.

    Example::

        >>> from jsonargparse import Namespace
        >>> cfg = Namespace(trainer=Namespace(enable_checkpointing=False, callbacks=[
        ...     Namespace(class_path="lightning.pytorch.callbacks.ModelCheckpoint")]))
        >>> drop_disabled_checkpoints(cfg); cfg.trainer.callbacks
        []
    """
    trainer = config.get("trainer")
    if trainer is None or trainer.get("enable_checkpointing") is not False or not trainer.get("callbacks"):
        return
    trainer.callbacks = [
        cb for cb in trainer.callbacks if not str(getattr(cb, "class_path", "")).endswith(".ModelCheckpoint")
    ]


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint's plain contents (``torch.load(weights_only=True)``, as LightningCLI reads it).

    Example::

        >>> # load_checkpoint("epoch=9.ckpt")["lr_schedulers"][0]["plan"]
    """
    import torch

    return torch.load(path, weights_only=True, map_location="cpu")


def cooldown_end(schedule: Mapping[str, Any], checkpoint: Mapping[str, Any], where: Any = "the checkpoint") -> int:
    """The optimizer step a cooldown resumed from ``checkpoint`` ends at (the run's new ``max_steps``).

    The cooldown starts at ``cooldown_start`` or at the resume step (one already under way keeps its window), and
    its durations resolve against the checkpoint's plan, as the scheduler resolves them.

    Raises:
        ResumeError: the checkpoint has no scheduler state, or a duration cannot be resolved.

    Example::

        >>> state = {"last_epoch": 400, "plan": {"total_steps": 1000, "steps_per_epoch": 100}}
        >>> cooldown_end({"name": "wsd", "cooldown": "2ep"}, {"lr_schedulers": [state]})
        600
    """
    states = checkpoint.get("lr_schedulers") or []
    if not states:
        raise ResumeError(
            f"model.schedule.cooldown={schedule['cooldown']!r}: {where} has no LR scheduler state to cool down from "
            "(was it saved by a run with an lr_recipes schedule?)"
        )
    state = states[0]
    for phase in (state.get("horizon") or {}).get("phases", []):
        if phase["kind"] == "cooldown":
            return int(phase["start"] + phase["steps"])
    plan = state.get("plan") or state.get("recipe") or {}
    total, per_epoch = plan.get("total_steps"), plan.get("steps_per_epoch")
    try:
        steps = Duration.parse(schedule["cooldown"], param="cooldown").to_steps(total, per_epoch, param="cooldown")
        start = int(state.get("last_epoch", checkpoint.get("global_step", 0)))
        if schedule.get("cooldown_start") is not None:
            start = Duration.parse(schedule["cooldown_start"], param="cooldown_start").to_steps(
                total, per_epoch, param="cooldown_start"
            )
    except DurationError as err:
        raise ResumeError(f"model.schedule: {err}") from None
    return start + steps


def _given_schedule(cli: Any, sub: str) -> Any:
    """The ``model.schedule`` the command line and config files gave, or ``None`` when it is the default."""
    value = cli.config[sub].model.schedule
    default = cli._subcommand_parsers[sub].get_defaults().model.schedule
    return None if _plain(value) == _plain(default) else _plain(value)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping) or hasattr(value, "as_dict"):
        items = value.as_dict().items() if hasattr(value, "as_dict") else value.items()
        return {k: _plain(v) for k, v in items}
    return value
