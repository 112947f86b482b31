"""LearningRateMonitor-compatible keys and logging: the names users see (``lr-SGD``, ``lr-Adam-1``,
``lr-Adam/pg1``, a group's ``name``, a config's ``name``) are stable API, so they come from
``LearningRateMonitor``'s own naming code, with the key prefix made configurable.

Example::

    >>> MonitorKeys(log_key_prefix="optim/lr-").log_key_prefix
    'optim/lr-'
"""

from __future__ import annotations

import operator
import sys
from collections import defaultdict
from typing import Any, Literal

import lightning.pytorch as pl
import torch
from lightning.fabric.utilities.logger import _add_prefix
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


_LR = operator.itemgetter("lr")  # a param group's LR (map(_LR, groups): no list comprehension frame)
_CSV_MODULES = ("lightning.fabric.loggers.csv_logs", "lightning_fabric.loggers.csv_logs")  # both namespaces


def _writes_at_flush_steps(logger: Any) -> bool:
    """Whether ``logger`` logs with Fabric's ``CSVLogger.log_metrics`` (``lightning`` or ``lightning_fabric``)."""
    method = getattr(type(logger), "log_metrics", None)
    for name in _CSV_MODULES:
        module = sys.modules.get(name)
        if module is not None and method is module.CSVLogger.log_metrics:
            return True
    return False


def log_metrics(logger: Any, stats: dict[str, float], step: int) -> None:
    """``logger.log_metrics(stats, step=step)``, except that a ``CSVLogger`` is not made to write its file a
    second time for a step Lightning has just written.

    A ``CSVLogger`` writes ``metrics.csv`` whenever a row for a step ≡ -1 (mod ``flush_logs_every_n_steps``)
    arrives, and Lightning writes it after each of its own log calls. A row this callback sends after
    Lightning's at such a step (the ``plateau/*`` values after a validation, which Lightning logged and wrote
    just before) would open and append the file again for that one row. It is buffered instead, as
    ``CSVLogger`` buffers the rows of every other step, and reaches the file with the logger's next write
    (Lightning's next log call, or fit end): the file ends the same. If rows of earlier steps are still
    buffered (Lightning has written nothing since), the logger writes as it always does.

    Example::

        >>> import tempfile
        >>> from lightning.pytorch.loggers import CSVLogger
        >>> logger = CSVLogger(tempfile.mkdtemp())
        >>> log_metrics(logger, {"lr-SGD": 0.1}, step=99)  # nothing of an earlier step waits: buffered
        >>> logger.experiment.metrics
        [{'lr-SGD': 0.1, 'step': 99}]
    """
    every = getattr(logger, "_flush_logs_every_n_steps", None)
    if type(every) is int and every > 0 and (step + 1) % every == 0 and _writes_at_flush_steps(logger):
        experiment = logger.experiment  # on ranks other than 0 a stand-in without rows: logged as usual (no-op)
        buffered = getattr(experiment, "metrics", None)
        if type(buffered) is list and all(row.get("step") == step for row in buffered):
            # the keys as CSVLogger.log_metrics prefixes them, with the same function
            experiment.log_metrics(_add_prefix(stats, logger._prefix, logger.LOGGER_JOIN_CHAR), step)
            return
    logger.log_metrics(stats, step=step)


class MonitorKeys(LearningRateMonitor):
    """``LearningRateMonitor`` with a configurable key prefix, keys resolved once per fit (and again when a
    param group appears), and the LR logged at every logged step (``logging_interval=None`` logs
    epoch-interval schedulers at each logged step too, since a warmup moves them every step).

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
        self._log_plan: list[tuple[str | None, Optimizer, list[str], int]] | None = None
        self._last_logged_lr: dict[int, list[float]] = {}  # id(optimizer) -> LRs last logged (non-step configs)
        self._held_metrics: dict[str, tuple[Any, torch.Tensor]] = {}  # key -> (value, its tensor in callback_metrics)

    def start_names(self, trainer: pl.Trainer) -> None:
        """Resolve the keys at train start, as ``LearningRateMonitor`` does (which needs a logger)."""
        self._log_plan, self._last_logged_lr, self._held_metrics = None, {}, {}
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

    def log_step_due(self, trainer: pl.Trainer) -> bool:
        """Lightning's ``should_update_logs`` for the fit loop, inlined: this runs every batch and the
        property walks the loops (~7 µs); the rule is the same, ``(step + 1) % every == 0 or should_stop``."""
        every = trainer.log_every_n_steps
        return bool(every) and (
            not (trainer.fit_loop.epoch_loop._batches_that_stepped + 1) % every or trainer.should_stop
        )

    def log_at_batch_start(self, trainer: pl.Trainer) -> None:
        """What ``LearningRateMonitor.on_train_batch_start`` logs at a log step; with ``logging_interval=None``
        epoch-interval schedulers too while their LR moves (a warmup, a plateau reduction), since
        ``LearningRateMonitor`` would show them only at epoch starts."""
        if self._log_enabled and self.logging_interval != "epoch":
            self.log_stats(trainer, self._extract_stats(trainer, "moved" if self.logging_interval is None else "any"))

    @override
    def on_train_epoch_start(self, trainer: pl.Trainer, *args: Any, **kwargs: Any) -> None:
        if not self._log_enabled or self.logging_interval == "step":
            return
        if self.logging_interval is None and self.log_step_due(trainer):
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
                log_metrics(logger, stats, step)

    @override
    def _extract_stats(self, trainer: pl.Trainer, interval: str) -> dict[str, float]:
        """``LearningRateMonitor._extract_stats`` with the keys resolved once (again when a param group
        appears), configs the callback steps itself read at their real interval, and no ever-growing
        history (``LearningRateMonitor`` appends every logged LR to ``self.lrs``)."""
        plan = self._log_plan
        if plan is not None:
            for _, opt, _, n in plan:  # a loop, not any(genexpr): no generator frame on this path
                if len(opt.param_groups) != n:
                    plan = None
                    break
        if plan is None:
            plan = self._log_plan = self._make_log_plan(trainer)
        stats: dict[str, float] = {}
        last = self._last_logged_lr
        for config_interval, opt, names, _ in plan:
            if config_interval is not None and interval not in (config_interval, "any"):
                # "moved": step-interval configs, and the others only if their LR changed since last logged
                if interval != "moved":
                    continue
                if config_interval != "step":
                    lrs = [*map(_LR, opt.param_groups)]
                    if last.get(id(opt)) == lrs:
                        continue
                    last[id(opt)] = lrs
            elif config_interval is not None and config_interval != "step":
                last[id(opt)] = [*map(_LR, opt.param_groups)]
            use_betas = "betas" in opt.defaults
            for group, name in zip(opt.param_groups, names, strict=True):
                stats[name] = group["lr"]
                if self.log_momentum:
                    stats[f"{name}-momentum"] = group["betas"][0] if use_betas else group.get("momentum", 0)
                if self.log_weight_decay:
                    stats[f"{name}-weight_decay"] = group["weight_decay"]
        if stats:
            # the store behind trainer.callback_metrics (the property re-reads every logged metric first)
            store = getattr(trainer._logger_connector, "_callback_metrics", None)
            store = store if isinstance(store, dict) else trainer.callback_metrics
            held, device = self._held_metrics, None
            for name, value in stats.items():
                # A float LR that has not moved keeps the tensor already stored for it (if nobody replaced it).
                kept = held.get(name)
                if kept is not None and type(value) is float and kept[0] == value and store.get(name) is kept[1]:
                    continue
                if device is None:
                    device = trainer.strategy.root_device
                tensor = store[name] = torch.tensor(value, device=device)
                held[name] = (value, tensor)
        return stats

    def _make_log_plan(self, trainer: pl.Trainer) -> list[tuple[str | None, Optimizer, list[str], int]]:
        """(interval or ``None`` for an optimizer without scheduler, optimizer, group keys, group count)."""
        sched_names, seen, seen_types = self._find_names_from_schedulers(trainer.lr_scheduler_configs)
        self._remap_keys(sched_names)
        plan: list[tuple[str | None, Optimizer, list[str], int]] = []
        for names, config in zip(sched_names, trainer.lr_scheduler_configs, strict=True):
            opt = config.scheduler.optimizer
            interval = self._real_intervals.get(id(config), config.interval)
            plan.append((interval, opt, names, len(opt.param_groups)))
        opt_names, without = self._find_names_from_optimizers(trainer.optimizers, seen, seen_types)
        self._remap_keys(opt_names)
        plan.extend((None, opt, names, len(opt.param_groups)) for opt, names in zip(without, opt_names, strict=True))
        for names in sched_names + opt_names:
            for name in names:
                self.lrs[name] = []  # the keys, as LearningRateMonitor has them; values go to the loggers
        return plan

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
