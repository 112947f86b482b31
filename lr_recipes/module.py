"""A LightningModule base that builds its optimizer and LR schedule from constructor arguments.

LightningCLI's own ``--lr_scheduler`` builds the scheduler before the Trainer exists and steps it per
epoch (Lightning #15340). :class:`RecipeModule` instead takes ``optimizer`` (a jsonargparse
``OptimizerCallable``) and ``schedule`` (a recipe spec), and builds both in ``configure_optimizers``,
when the run's length is known, so ``"30ep"`` and ``"10%"`` mean what they say.

YAML (LightningCLI)::

    model:
      optimizer:
        class_path: torch.optim.SGD
        init_args: {lr: 0.1, momentum: 0.9, weight_decay: 5.0e-4}
      schedule: {name: cosine, warmup: 5ep, min_lr_ratio: 0.01}
      scale_lr: linear        # optional: lr * global_batch / base_batch_size
      base_batch_size: 256
      param_groups:           # optional: first matching rule wins (see lr_recipes.param_groups)
        - {name: backbone, match: "model.layers.*", lr_mult: 0.1}
      no_weight_decay_on_norm_and_bias: true

Example::

    >>> import functools, torch
    >>> class Net(RecipeModule):
    ...     def __init__(self, **kwargs):
    ...         super().__init__(**kwargs)
    ...         self.layer = torch.nn.Linear(4, 2)
    >>> net = Net(optimizer=functools.partial(torch.optim.SGD, lr=0.1), schedule={"name": "cosine"})
    >>> net.schedule["name"]
    'cosine'
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import lightning.pytorch as pl
from lightning.pytorch.cli import OptimizerCallable
from lightning.pytorch.utilities.rank_zero import rank_zero_info

from lr_recipes.lint import schedule_free_double_warmup
from lr_recipes.param_groups import NO_DECAY_ON_NORM_AND_BIAS, ParamGroupRule, format_groups, resolve
from lr_recipes.registry import RecipeError, build, check_spec
from lr_recipes.schedule_free import ScheduleFreeCallback, ScheduleFreeError, is_schedule_free

ScaleRule = Literal["linear", "sqrt"]


class RecipeModule(pl.LightningModule):
    """Base class: ``configure_optimizers`` builds ``optimizer`` and the ``schedule`` recipe at fit time.

    Subclasses define the model and the steps. Param groups come from ``param_groups`` rules (matched
    against ``named_parameters()`` names; see :mod:`lr_recipes.param_groups`), ``layer_decay`` (over the
    layers :meth:`layer_groups` returns) and ``no_weight_decay_on_norm_and_bias``, or from an override of
    :meth:`optimizer_parameters`. Each group's LR is the optimizer's ``lr`` times its ``lr_mult``; the
    schedule then moves every group as a factor of its own base LR, and ``scale_lr`` scales them all. The
    groups (name, parameters, LR, weight decay) are printed at fit start.

    Args:
        optimizer: a callable taking the parameters and returning the optimizer
            (``functools.partial(torch.optim.SGD, lr=0.1)``, or ``class_path``/``init_args`` in YAML).
        schedule: a recipe name or spec dict, e.g. ``{"name": "cosine", "warmup": "5ep"}``.
        scale_lr: ``"linear"`` or ``"sqrt"`` to scale every group's LR by the global batch
            (per-device batch × world size × gradient accumulation) over ``base_batch_size``;
            ``None`` (default) leaves the LR as given.
        base_batch_size: the batch size the given LR was tuned for; ``None`` means the per-device batch
            size (the LR was tuned on one device without accumulation).
        param_groups: rules ``{name, match | regex | max_ndim, lr_mult, weight_decay, skip_frozen}``,
            tried in order, the first matching rule wins; unmatched parameters form the ``default`` group.
        layer_decay: multiply each parameter's LR by ``layer_decay ** depth``, its layer's depth below the
            top of :meth:`layer_groups` (the head keeps the full LR); ``None``: off.
        no_weight_decay_on_norm_and_bias: add the rule ``{name: no_decay, max_ndim: 1, weight_decay: 0}``
            after the others (biases and norm parameters get no weight decay).

    Raises:
        RecipeError: at construction, for an unknown recipe, parameter or type, a bad ``scale_lr`` or a
            malformed ``param_groups`` rule; at ``configure_optimizers``, for durations that do not fit the
            run, param group rules that do not fit the model (``ParamGroupError``), or a schedule-free
            optimizer whose own warmup the recipe doubles, or that trains without
            :class:`~lr_recipes.schedule_free.ScheduleFreeCallback` (``ScheduleFreeError``).

    Example::

        >>> import functools, torch
        >>> from lightning.pytorch.demos.boring_classes import BoringModel
        >>> class Boring(RecipeModule, BoringModel):
        ...     pass
        >>> Boring(optimizer=functools.partial(torch.optim.SGD, lr=0.1), schedule="constant").scale_lr is None
        True
    """

    def __init__(
        self,
        optimizer: OptimizerCallable,
        schedule: str | dict[str, Any] = "constant",
        scale_lr: ScaleRule | None = None,
        base_batch_size: int | None = None,
        param_groups: list[dict[str, Any]] | None = None,
        layer_decay: float | None = None,
        no_weight_decay_on_norm_and_bias: bool = False,
    ) -> None:
        super().__init__()
        if not callable(optimizer):
            raise RecipeError(
                f"optimizer={optimizer!r} is not callable; give a function of the parameters, e.g. "
                "functools.partial(torch.optim.SGD, lr=0.1), or class_path/init_args in YAML"
            )
        if scale_lr not in (None, "linear", "sqrt"):
            raise RecipeError(f"scale_lr={scale_lr!r} is not allowed; allowed: None, 'linear', 'sqrt'")
        if base_batch_size is not None and (
            isinstance(base_batch_size, bool) or not isinstance(base_batch_size, int) or base_batch_size < 1
        ):
            raise RecipeError(f"base_batch_size={base_batch_size!r} is not allowed; allowed: an integer >= 1 or None")
        self.optimizer = optimizer
        self.schedule = check_spec(schedule)
        self.scale_lr = scale_lr
        self.base_batch_size = base_batch_size
        self.lr_scaling: dict[str, Any] = {}
        if param_groups is not None and not isinstance(param_groups, (list, tuple)):
            raise RecipeError(f"param_groups={param_groups!r} must be a list of rules, e.g. [{{name: head, ...}}]")
        self.param_group_rules = [ParamGroupRule.from_config(r, i) for i, r in enumerate(param_groups or [])]
        names = [r.name for r in self.param_group_rules]
        if len(set(names)) != len(names):
            raise RecipeError(f"param_groups: names must be unique, got {names}")
        self.layer_decay = layer_decay
        self.no_weight_decay_on_norm_and_bias = no_weight_decay_on_norm_and_bias

    def layer_groups(self) -> list[list[str]] | None:
        """The model's layers from input to output, each a list of module names (for ``layer_decay``).

        ``None`` (the default) means the model's layers have no order; subclasses whose layers do, return
        e.g. ``[["model.stem"], ["model.layers.0", "model.layers.1"], ["model.fc"]]``.

        Example::

            >>> import functools, torch
            >>> RecipeModule(optimizer=functools.partial(torch.optim.SGD, lr=0.1)).layer_groups() is None
            True
        """
        return None

    def optimizer_parameters(self) -> Iterable[Any]:
        """What the optimizer callable receives: ``self.parameters()``, or the configured param groups.

        A group dict may carry ``lr_mult``: :meth:`make_optimizers` multiplies its LR by it.

        Raises:
            ParamGroupError: for rules that do not fit the model (see :mod:`lr_recipes.param_groups`).

        Example::

            >>> import functools, torch
            >>> m = RecipeModule(optimizer=functools.partial(torch.optim.SGD, lr=0.1))
            >>> list(m.optimizer_parameters())
            []
        """
        rules = list(self.param_group_rules)
        if self.no_weight_decay_on_norm_and_bias:
            rules.append(NO_DECAY_ON_NORM_AND_BIAS)
        if not rules and self.layer_decay is None:
            return self.parameters()
        # torch.compile wraps a submodule as `<name>._orig_mod`; rules name the module as written.
        named = [(n.replace("._orig_mod", ""), p) for n, p in self.named_parameters()]
        layers = self.layer_groups() if self.layer_decay is not None else None
        groups = resolve(named, rules, layers=layers, layer_decay=self.layer_decay)
        return [g.to_torch() for g in groups]

    def configure_optimizers(self) -> dict[str, Any]:
        """Build the optimizer and the schedule against the fitting trainer (see :meth:`make_optimizers`).

        Example::

            >>> # called by Lightning: {"optimizer": SGD(...), "lr_scheduler": {"scheduler": ..., ...}}
        """
        return self.make_optimizers(trainer=self.trainer)

    def make_optimizers(
        self,
        *,
        trainer: Any = None,
        total_steps: int | None = None,
        steps_per_epoch: int | None = None,
        global_batch_size: int | None = None,
        per_device_batch_size: int | None = None,
    ) -> dict[str, Any]:
        """Build the optimizer, scale its LRs if asked, and build the schedule for a run.

        Inside fit, pass ``trainer``; to preview a config without training (``python -m lr_recipes plot``),
        pass the run's ``total_steps``, ``steps_per_epoch`` and, with ``scale_lr``, ``global_batch_size`` and
        ``per_device_batch_size``.

        Raises:
            RecipeError: for durations that do not fit the run.

        Example::

            >>> import functools, torch
            >>> class Net(RecipeModule):
            ...     def __init__(self):
            ...         super().__init__(optimizer=functools.partial(torch.optim.SGD, lr=0.1), schedule="cosine")
            ...         self.layer = torch.nn.Linear(2, 2)
            >>> config = Net().make_optimizers(total_steps=10, steps_per_epoch=5)
            >>> config["lr_scheduler"]["scheduler"].lr_at(5)
            [0.05]
        """
        optimizer = self.optimizer(self.optimizer_parameters())
        for group in optimizer.param_groups:
            group["lr"] = group["lr"] * group.get("lr_mult", 1.0)
        if self.scale_lr is not None:
            factor = self._lr_scale_factor(trainer, global_batch_size, per_device_batch_size)
            for group in optimizer.param_groups:
                group["lr"] = group["lr"] * factor
        if trainer is not None:
            lr_scheduler = build(self.schedule, optimizer, trainer=trainer)
        else:
            lr_scheduler = build(self.schedule, optimizer, total_steps=total_steps, steps_per_epoch=steps_per_epoch)
        problem = schedule_free_double_warmup(lr_scheduler["scheduler"])
        if problem:
            raise ScheduleFreeError(problem)
        callbacks = getattr(trainer, "callbacks", None) or []
        if (
            trainer is not None
            and is_schedule_free(optimizer)
            and not any(isinstance(cb, ScheduleFreeCallback) for cb in callbacks)
        ):
            raise ScheduleFreeError(
                f"{type(optimizer).__name__} is schedule-free: it must be switched to eval() for evaluation and "
                "checkpoints and back to train() for training, which Lightning does not do; add "
                "lr_recipes.schedule_free.ScheduleFreeCallback to trainer.callbacks (recipes/schedule_free.yaml)"
            )
        if any("name" in g for g in optimizer.param_groups):
            rank_zero_info(f"lr_recipes: {format_groups(optimizer)}")
        return {"optimizer": optimizer, "lr_scheduler": lr_scheduler}

    def _lr_scale_factor(self, trainer: Any, global_batch: int | None, per_device: int | None) -> float:
        if global_batch is None:
            if trainer is None:
                raise RecipeError("scale_lr needs the global batch size: pass trainer= or global_batch_size=")
            trainer.estimated_stepping_batches  # noqa: B018 -- sets up the train dataloader if needed
            per_device = _batch_size(trainer.train_dataloader)
            global_batch = per_device * trainer.world_size * trainer.accumulate_grad_batches
            how = (
                f"{per_device} per device x {trainer.world_size} devices x "
                f"{trainer.accumulate_grad_batches} accumulation"
            )
        else:
            how = "as given"
        base = self.base_batch_size or per_device
        if base is None:
            raise RecipeError("scale_lr with base_batch_size=None needs the per-device batch size")
        ratio = global_batch / base
        factor = ratio if self.scale_lr == "linear" else math.sqrt(ratio)
        self.lr_scaling = {
            "lr_scale_rule": self.scale_lr,
            "lr_scale_factor": factor,
            "global_batch_size": global_batch,
            "base_batch_size": base,
        }
        rank_zero_info(
            f"lr_recipes: scale_lr={self.scale_lr}: global batch {global_batch} ({how}); "
            f"LR x {factor:.4g} (base batch {base})"
        )
        for logger in getattr(trainer, "loggers", None) or []:
            logger.log_hyperparams(self.lr_scaling)
        return factor


def _batch_size(loader: Any) -> int:
    if isinstance(loader, Mapping):
        loader = next(iter(loader.values()))
    elif isinstance(loader, (list, tuple)):
        loader = loader[0]
    size = getattr(loader, "batch_size", None)
    if size is None and getattr(loader, "batch_sampler", None) is not None:
        size = getattr(loader.batch_sampler, "batch_size", None)
    if not isinstance(size, int):
        raise RecipeError(
            "scale_lr needs the per-device batch size, but the train dataloader does not expose batch_size; "
            "set scale_lr: null and scale the LR yourself"
        )
    return size


__all__ = ["RecipeModule", "ScaleRule"]
