"""LearningRateMonitor-compatible keys and logging: the names users see (``lr-SGD``, ``lr-Adam-1``,
``lr-Adam/pg1``, a group's ``name``, a config's ``name``) are stable API, so they come from
``LearningRateMonitor``'s own naming code, with the key prefix made configurable.

Example::

    >>> MonitorKeys(log_key_prefix="optim/lr-").log_key_prefix
    'optim/lr-'
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Literal

import lightning.pytorch as pl
from lightning.pytorch.callbacks import LearningRateMonitor
from lightning.pytorch.utilities.exceptions import MisconfigurationException
from lightning.pytorch.utilities.types import LRSchedulerConfig
from torch.optim import Optimizer
from typing_extensions import override


def unwrap(optimizer: Any) -> Optimizer:
    """The torch optimizer inside Lightning's ``LightningOptimizer`` (or DeepSpeed's) wrapper.

    Example::

        >>> import torch
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        >>> unwrap(opt) is opt
        True
    """
    inner = getattr(optimizer, "_optimizer", None)
    if inner is None and hasattr(optimizer, "optimizer") and isinstance(optimizer.optimizer, Optimizer):
        inner = optimizer.optimizer
    return inner if inner is not None else optimizer


class MonitorKeys(LearningRateMonitor):
    """``LearningRateMonitor`` with a configurable key prefix, keys cached per optimizer, and the LR logged
    at every logged step (``logging_interval=None`` logs epoch-interval schedulers at each logged step too,
    since a warmup moves them every step).

    Args:
        logging_interval: ``"step"``, ``"epoch"`` or ``None``, as in ``LearningRateMonitor``.
        log_momentum: also log momentum (or Adam's beta1).
        log_weight_decay: also log weight decay.
        log_key_prefix: prefix of the default keys (``"lr-"`` gives ``lr-SGD``).

    Raises:
        MisconfigurationException: for a bad ``logging_interval`` or a ``log_key_prefix`` that is not a string.

    Example::

        >>> MonitorKeys(log_key_prefix=3)
        Traceback (most recent call last):
        ...
        lightning.fabric.utilities.exceptions.MisconfigurationException: log_key_prefix=3 must be a string, e.g. 'lr-'
    """

    def __init__(
        self,
        logging_interval: Literal["step", "epoch"] | None = None,
        log_momentum: bool = False,
        log_weight_decay: bool = False,
        log_key_prefix: str = "lr-",
    ) -> None:
        super().__init__(logging_interval, log_momentum, log_weight_decay)
        if not isinstance(log_key_prefix, str):
            raise MisconfigurationException(f"log_key_prefix={log_key_prefix!r} must be a string, e.g. 'lr-'")
        self.log_key_prefix = log_key_prefix
        self._log_enabled = True
        # id(config) -> its real interval, for configs whose stepping the callback has taken over
        self._real_intervals: dict[int, str] = {}

    def start_names(self, trainer: pl.Trainer) -> None:
        """Resolve the keys at train start, as ``LearningRateMonitor`` does (which needs a logger)."""
        if self._log_enabled:
            super().on_train_start(trainer)
        else:
            sched_names, seen, seen_types = self._find_names_from_schedulers(trainer.lr_scheduler_configs)
            opt_names, _ = self._find_names_from_optimizers(trainer.optimizers, seen, seen_types)
            self.lrs = {name: [] for group in sched_names + opt_names for name in group}

    def names_by_optimizer(self, trainer: pl.Trainer) -> dict[int, list[str]]:
        """``id(optimizer)`` -> the key of each of its param groups, as logged right now.

        Example::

            >>> from lightning.pytorch import Trainer
            >>> MonitorKeys().names_by_optimizer(Trainer(logger=False))
            {}
        """
        sched_names, seen, seen_types = self._find_names_from_schedulers(trainer.lr_scheduler_configs)
        opt_names, without = self._find_names_from_optimizers(trainer.optimizers, list(seen), seen_types)
        by_id: dict[int, list[str]] = {}
        for config, names in zip(trainer.lr_scheduler_configs, sched_names, strict=True):
            by_id.setdefault(id(config.scheduler.optimizer), names)
        for opt, names in zip(without, opt_names, strict=True):
            by_id.setdefault(id(opt), names)
        return by_id

    # --- logging ------------------------------------------------------------------------------------

    @override
    def on_train_batch_start(self, trainer: pl.Trainer, *args: Any, **kwargs: Any) -> None:
        if not self._log_enabled or self.logging_interval == "epoch":
            return
        # Lightning's `should_update_logs` for the fit loop, inlined: this runs every batch and the
        # property walks the loops (~7 µs); the rule is the same, `(step + 1) % every == 0 or should_stop`.
        every = trainer.log_every_n_steps
        if every == 0 or ((trainer.fit_loop.epoch_loop._batches_that_stepped + 1) % every and not trainer.should_stop):
            return
        # "any": epoch-interval schedulers too, since warmup or a plateau change them between epochs.
        self.log_stats(trainer, self._extract_stats(trainer, "any"))

    @override
    def on_train_epoch_start(self, trainer: pl.Trainer, *args: Any, **kwargs: Any) -> None:
        if not self._log_enabled or self.logging_interval == "step":
            return
        if self.logging_interval is None and trainer._logger_connector.should_update_logs:
            return  # the batch about to start logs every scheduler at this same step
        self.log_stats(trainer, self._extract_stats(trainer, "epoch" if self.logging_interval is None else "any"))

    def log_stats(self, trainer: pl.Trainer, stats: dict[str, float]) -> None:
        """Send ``stats`` to every logger at Lightning's logging step (a no-op without a logger).

        Example::

            >>> from lightning.pytorch import Trainer
            >>> MonitorKeys().log_stats(Trainer(logger=False), {"lr-SGD": 0.1})
        """
        if stats and trainer.loggers:
            step = trainer.fit_loop.epoch_loop._batches_that_stepped
            for logger in trainer.loggers:
                logger.log_metrics(stats, step=step)

    @override
    def _extract_stats(self, trainer: pl.Trainer, interval: str) -> dict[str, float]:
        # Configs whose stepping the callback owns carry its own interval; log them under their real one.
        if not self._real_intervals:
            return super()._extract_stats(trainer, interval)
        saved = [(c, c.interval) for c in trainer.lr_scheduler_configs if id(c) in self._real_intervals]
        for config, _ in saved:
            config.interval = self._real_intervals[id(config)]
        try:
            return super()._extract_stats(trainer, interval)
        finally:
            for config, interval_now in saved:
                config.interval = interval_now

    @override
    def _find_names_from_schedulers(
        self, lr_scheduler_configs: list[LRSchedulerConfig]
    ) -> tuple[list[list[str]], list[Optimizer], defaultdict[type[Optimizer], int]]:
        names = []
        seen_optimizers: list[Optimizer] = []
        seen_types: defaultdict[type[Optimizer], int] = defaultdict(int)
        for config in lr_scheduler_configs:
            opt = config.scheduler.optimizer
            name = config.name if config.name is not None else self.log_key_prefix + type(opt).__name__
            names.append(self._check_duplicates_and_update_name(opt, name, seen_optimizers, seen_types, config))
        return names, seen_optimizers, seen_types

    @override
    def _find_names_from_optimizers(
        self,
        optimizers: list[Any],
        seen_optimizers: list[Optimizer],
        seen_optimizer_types: defaultdict[type[Optimizer], int],
    ) -> tuple[list[list[str]], list[Optimizer]]:
        names, without_scheduler = [], []
        for optimizer in optimizers:
            optimizer = optimizer.optimizer if hasattr(optimizer, "optimizer") else optimizer
            if optimizer in seen_optimizers:
                continue
            name = self.log_key_prefix + type(optimizer).__name__
            names.append(
                self._check_duplicates_and_update_name(optimizer, name, seen_optimizers, seen_optimizer_types, None)
            )
            without_scheduler.append(optimizer)
        return names, without_scheduler
