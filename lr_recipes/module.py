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

from lr_recipes.registry import RecipeError, build, check_spec

ScaleRule = Literal["linear", "sqrt"]


class RecipeModule(pl.LightningModule):
    """Base class: ``configure_optimizers`` builds ``optimizer`` and the ``schedule`` recipe at fit time.

    Subclasses define the model and the steps; override :meth:`optimizer_parameters` to return param
    groups (e.g. no weight decay on norms and biases). Each group keeps its own base LR.

    Args:
        optimizer: a callable taking the parameters and returning the optimizer
            (``functools.partial(torch.optim.SGD, lr=0.1)``, or ``class_path``/``init_args`` in YAML).
        schedule: a recipe name or spec dict, e.g. ``{"name": "cosine", "warmup": "5ep"}``.
        scale_lr: ``"linear"`` or ``"sqrt"`` to scale every group's LR by the global batch
            (per-device batch × world size × gradient accumulation) over ``base_batch_size``;
            ``None`` (default) leaves the LR as given.
        base_batch_size: the batch size the given LR was tuned for; ``None`` means the per-device batch
            size (the LR was tuned on one device without accumulation).

    Raises:
        RecipeError: at construction, for an unknown recipe, parameter or type, or a bad ``scale_lr``;
            at ``configure_optimizers``, for durations that do not fit the run.

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

    def optimizer_parameters(self) -> Iterable[Any]:
        """What the optimizer callable receives: ``self.parameters()`` by default, or param groups.

        Example::

            >>> import functools, torch
            >>> m = RecipeModule(optimizer=functools.partial(torch.optim.SGD, lr=0.1))
            >>> list(m.optimizer_parameters())
            []
        """
        return self.parameters()

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
        if self.scale_lr is not None:
            factor = self._lr_scale_factor(trainer, global_batch_size, per_device_batch_size)
            for group in optimizer.param_groups:
                group["lr"] = group["lr"] * factor
        if trainer is not None:
            lr_scheduler = build(self.schedule, optimizer, trainer=trainer)
        else:
            lr_scheduler = build(self.schedule, optimizer, total_steps=total_steps, steps_per_epoch=steps_per_epoch)
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
