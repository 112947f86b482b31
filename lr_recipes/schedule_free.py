r"""Schedule-free optimizers in Lightning: modes, BatchNorm statistics and checkpoints done right.

Schedule-free SGD and AdamW (Defazio et al., "The Road Less Scheduled", NeurIPS 2024; the ``schedulefree``
package) keep two points: the model's parameters hold the gradient point ``y`` while training and the
average ``x`` (the weights to evaluate and to ship) after ``optimizer.eval()``. Nothing in Lightning calls
those switches (Lightning #20441), and three things go wrong silently without them:

- evaluating at ``y``, not ``x`` (worse and noisier results, the method's whole point lost);
- BatchNorm running statistics that were collected along the ``y`` trajectory, not at ``x``;
- checkpoints of the training point: Lightning collects ``checkpoint["state_dict"]`` before any
  callback's ``on_save_checkpoint`` runs, so switching there is too late.

:class:`ScheduleFreeCallback` puts every schedule-free optimizer in ``eval()`` for validation, test, predict,
at the end of training and for every checkpoint, and back in ``train()`` before the next training batch.

Example::

    >>> from lightning.pytorch import Trainer
    >>> trainer = Trainer(callbacks=[ScheduleFreeCallback(bn_batches=20)], logger=False, enable_progress_bar=False)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.utilities.rank_zero import rank_zero_warn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.data import DataLoader, RandomSampler
from typing_extensions import override

from lr_recipes.registry import RecipeError


class ScheduleFreeError(RecipeError):
    """A schedule-free optimizer used in a way that cannot work (raised before training).

    Example::

        >>> isinstance(ScheduleFreeError("x"), ValueError)
        True
    """


def is_schedule_free(optimizer: Any) -> bool:
    """Whether ``optimizer`` (or the one a ``LightningOptimizer`` wraps) has schedule-free modes.

    The ``schedulefree`` contract: ``train()`` and ``eval()`` methods and a ``train_mode`` flag in every param
    group; the package itself is not imported (it is an optional dependency).

    Example::

        >>> import torch
        >>> is_schedule_free(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1))
        False
    """
    optimizer = getattr(optimizer, "_optimizer", optimizer)
    groups = getattr(optimizer, "param_groups", None)
    return (
        callable(getattr(optimizer, "train", None))
        and callable(getattr(optimizer, "eval", None))
        and bool(groups)
        and all("train_mode" in g for g in groups)
    )


def warmup_factors(optimizer: Any, steps: int) -> list[list[float]]:
    """The optimizer's own warmup factor of every param group at optimizer steps ``0 .. steps-1``.

    ``schedulefree`` optimizers step with ``lr * min(1, (k + 1) / warmup_steps)`` at their ``k``-th step;
    ``python -m lr_recipes plot`` multiplies the schedule's LR by this to draw what the optimizer does.
    Groups without ``warmup_steps`` get 1.

    Example::

        >>> import torch
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        >>> opt.param_groups[0]["warmup_steps"] = 4
        >>> [row[0] for row in warmup_factors(opt, 5)]
        [0.25, 0.5, 0.75, 1.0, 1.0]
    """
    warmups = [int(g.get("warmup_steps", 0) or 0) for g in optimizer.param_groups]
    return [[min(1.0, (k + 1) / w) if w > 0 else 1.0 for w in warmups] for k in range(steps)]


class ScheduleFreeCallback(Callback):
    r"""Switch schedule-free optimizers between ``train()`` and ``eval()`` wherever the weights are used.

    - **Modes**: ``eval()`` at the start of validation, test and predict, at the end of training and for
      every checkpoint; ``train()`` before each training batch. Optimizers without schedule-free modes
      are left alone.
    - **BatchNorm**: whenever the switch to ``eval()`` changes the weights, the running statistics of every
      BatchNorm layer are recomputed at the evaluation weights: reset, then ``bn_batches`` training batches
      are run forward without gradients (the model in eval mode except the BatchNorm layers, so dropout
      stays off). The batches are a random sample of the training set drawn by a private generator seeded
      with ``seed`` and the global step, through a loader of its own (``num_workers`` workers, not
      persistent), under a forked RNG: the training run's data order and augmentation are the same as
      without recalibration, and a resumed run recalibrates on the same images. The forward pass is
      ``pl_module(x)`` with ``x`` the batch's first element, or ``pl_module.recalibration_forward(batch)``
      when the module defines it.
    - **Checkpoints** hold the evaluation weights ``x`` and their optimizer state marked as in eval mode
      (what ``schedulefree`` asks for). A checkpoint saved right after validation holds exactly the weights
      and BatchNorm statistics that were evaluated. One saved during training (at a training epoch's end,
      or every ``n`` steps) is made by switching to ``eval()``, recollecting the state dict, and switching
      back; its BatchNorm statistics are the training ones (recomputing them there would need data).
    - **Resume** is exact: the checkpoint holds ``x`` and the optimizer's ``z``; the next training batch's
      ``train()`` recomputes the training point with the same floating-point operations as the run that
      saved it (which went through the same ``eval()``/``train()`` round trip).

    Works with single-device and DDP training (every rank holds the full parameters). With
    ``ModelCheckpoint(save_weights_only=True)`` Lightning runs no callback's ``on_save_checkpoint``, so the
    callback refuses it; for a weights-only file, save the full checkpoint or call ``optimizer.eval()``
    before ``trainer.save_checkpoint(..., weights_only=True)``.

    Args:
        bn_batches: training batches to recompute BatchNorm statistics with before an evaluation at new
            weights; 0 turns recalibration off. Cost: that many forward passes per validation.
        num_workers: data-loader workers for the recalibration batches.
        seed: seed of the recalibration sample (combined with the global step).
        log_scheduled_lr: log the LR the optimizer actually steps with (its own warmup included) as
            ``schedule_free/lr-<Optimizer>`` (``/<group name>`` with several groups) every training step.

    Raises:
        ScheduleFreeError: for a negative ``bn_batches`` or ``num_workers``; at fit start, for a
            ``ModelCheckpoint`` with ``save_weights_only=True``.

    Example::

        >>> from lightning.pytorch import Trainer
        >>> cb = ScheduleFreeCallback(bn_batches=0)
        >>> cb.bn_batches
        0

    In YAML (see ``recipes/schedule_free.yaml``)::

        trainer:
          callbacks:
            - class_path: lr_recipes.schedule_free.ScheduleFreeCallback
              init_args: {bn_batches: 20}
    """

    def __init__(
        self, bn_batches: int = 20, num_workers: int = 0, seed: int = 0, log_scheduled_lr: bool = True
    ) -> None:
        for key, value in (("bn_batches", bn_batches), ("num_workers", num_workers)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ScheduleFreeError(f"{key}={value!r} is not allowed; allowed: an integer >= 0")
        self.bn_batches = bn_batches
        self.num_workers = num_workers
        self.seed = seed
        self.log_scheduled_lr = log_scheduled_lr
        self.recalibrations = 0
        self._lr_keys: dict[int, list[str]] = {}

    @staticmethod
    def optimizers(trainer: pl.Trainer) -> list[torch.optim.Optimizer]:
        """The trainer's schedule-free optimizers.

        Example::

            >>> from lightning.pytorch import Trainer
            >>> ScheduleFreeCallback.optimizers(Trainer(logger=False, enable_progress_bar=False))
            []
        """
        return [opt for opt in trainer.optimizers if is_schedule_free(opt)]

    # --- modes ----------------------------------------------------------------------------------------

    @override
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        for cb in trainer.checkpoint_callbacks:
            if isinstance(cb, ModelCheckpoint) and cb.save_weights_only:
                raise ScheduleFreeError(
                    "ModelCheckpoint(save_weights_only=True) with ScheduleFreeCallback: Lightning runs no "
                    "callback's on_save_checkpoint for weights-only checkpoints, so they would hold the training "
                    "point y, not the evaluation weights; use save_weights_only=False"
                )

    @override
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self.optimizers(trainer):
            rank_zero_warn(
                "ScheduleFreeCallback: no optimizer has schedule-free train()/eval() modes; the callback does nothing",
                category=UserWarning,
            )
        self._lr_keys = {}

    @override
    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        for opt in self.optimizers(trainer):
            if not opt.param_groups[0]["train_mode"]:
                opt.train()

    @override
    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if not (self.log_scheduled_lr and trainer.loggers):
            return
        for opt in self.optimizers(trainer):
            keys = self._lr_keys.setdefault(id(opt), self._keys(opt))
            for key, group in zip(keys, opt.param_groups, strict=True):
                if "scheduled_lr" in group:
                    pl_module.log(key, float(group["scheduled_lr"]), on_step=True, on_epoch=False)

    @staticmethod
    def _keys(opt: torch.optim.Optimizer) -> list[str]:
        base = f"schedule_free/lr-{type(opt).__name__}"
        if len(opt.param_groups) == 1:
            return [base]
        return [f"{base}/{g.get('name', f'pg{i + 1}')}" for i, g in enumerate(opt.param_groups)]

    @override
    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.to_eval(trainer, pl_module)

    @override
    def on_test_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.to_eval(trainer, pl_module)

    @override
    def on_predict_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.to_eval(trainer, pl_module)

    @override
    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # The model leaves fit holding the weights to evaluate and ship, with their BatchNorm statistics.
        self.to_eval(trainer, pl_module)

    def to_eval(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> bool:
        """Switch every schedule-free optimizer in train mode to ``eval()``; recalibrate BatchNorm if so.

        Returns whether any weights changed.

        Example::

            >>> # called at validation, test and predict start and at train end
        """
        switched = [opt for opt in self.optimizers(trainer) if opt.param_groups[0]["train_mode"]]
        for opt in switched:
            opt.eval()
        if switched and self.bn_batches:
            self.recalibrate(trainer, pl_module)
        return bool(switched)

    # --- BatchNorm ------------------------------------------------------------------------------------

    def recalibrate(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> int:
        """Recompute every BatchNorm layer's running statistics on ``bn_batches`` training batches.

        Returns the number of batches run (0 without BatchNorm layers or a training loader).

        Example::

            >>> # ScheduleFreeCallback(bn_batches=20).recalibrate(trainer, model) -> 20
        """
        norms = [m for m in pl_module.modules() if isinstance(m, _BatchNorm) and m.track_running_stats]
        loader = self._loader(trainer)
        if not norms or loader is None:
            if norms:
                rank_zero_warn(
                    "ScheduleFreeCallback: no training data to recompute BatchNorm statistics at the evaluation "
                    "weights with; they stay as they were",
                    category=UserWarning,
                )
            return 0
        forward: Callable[[Any], Any] = getattr(pl_module, "recalibration_forward", None) or (
            lambda batch: pl_module(batch[0] if isinstance(batch, (tuple, list)) else batch)
        )
        saved = [(m.momentum, m.training) for m in norms]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # a cumulative average over the recalibration batches
            m.train()
        device = pl_module.device
        runs = 0
        try:
            devices = [device] if device.type == "cuda" else []
            with torch.random.fork_rng(devices=devices), torch.no_grad(), trainer.precision_plugin.train_step_context():
                for batch in loader:
                    forward(trainer.strategy.batch_to_device(batch))
                    runs += 1
                    if runs >= self.bn_batches:
                        break
        finally:
            for m, (momentum, training) in zip(norms, saved, strict=True):
                m.momentum = momentum
                m.train(training)
        self.recalibrations += 1
        return runs

    def _loader(self, trainer: pl.Trainer) -> DataLoader | None:
        loader = trainer.train_dataloader
        if isinstance(loader, dict):
            loader = next(iter(loader.values()), None)
        elif isinstance(loader, (list, tuple)):
            loader = loader[0] if loader else None
        if not isinstance(loader, DataLoader):
            return None
        if loader.batch_size is None:
            return loader  # a custom batch sampler: its own batches, under the forked RNG
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + trainer.global_step)
        # A loader of our own: iterating the training one would reset its persistent workers mid-epoch.
        return DataLoader(
            loader.dataset,
            batch_size=loader.batch_size,
            sampler=RandomSampler(loader.dataset, generator=generator),
            num_workers=self.num_workers,
            collate_fn=loader.collate_fn,
            drop_last=True,
        )

    # --- checkpoints ----------------------------------------------------------------------------------

    @override
    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        optimizers = self.optimizers(trainer)
        training = [opt for opt in optimizers if opt.param_groups[0]["train_mode"]]
        if training:
            for opt in training:
                opt.eval()
            # Lightning collected state_dict before this hook; collect it again at the evaluation weights,
            # as copies, since train() below moves the parameters back in place.
            state = trainer.strategy.lightning_module_state_dict()
            checkpoint["state_dict"] = {k: v.detach().clone() for k, v in state.items()}
            for opt in training:
                opt.train()
        states = checkpoint.get("optimizer_states", [])
        for opt, state in zip(trainer.optimizers, states, strict=False):
            if is_schedule_free(opt):
                for group in state["param_groups"]:
                    group["train_mode"] = False


__all__ = ["ScheduleFreeCallback", "ScheduleFreeError", "is_schedule_free", "warmup_factors"]
