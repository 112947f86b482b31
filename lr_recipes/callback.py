r"""
LR Scheduler Callback
=====================

One callback for any Lightning project: it logs the learning rate like ``LearningRateMonitor`` (same
arguments, same keys) and more, keeps a per-step trace of every LR and momentum, and steps
``ReduceLROnPlateau``-style schedulers correctly after every validation run.

Example::

    >>> from lightning.pytorch import Trainer
    >>> from lr_recipes import LRSchedulerCallback
    >>> trainer = Trainer(callbacks=[LRSchedulerCallback()], logger=False, enable_progress_bar=False)
"""

from __future__ import annotations

import csv
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import LearningRateMonitor
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.exceptions import MisconfigurationException
from lightning.pytorch.utilities.rank_zero import rank_zero_info, rank_zero_warn
from lightning.pytorch.utilities.types import LRSchedulerConfig
from torch.optim import Optimizer

# Lightning steps a config whose interval is "step" or "epoch"; while this callback owns a plateau
# scheduler its config carries this interval instead, so Lightning's loop never steps it a second time.
CALLBACK_INTERVAL = "validation (lr_recipes.LRSchedulerCallback)"


@dataclass
class PlateauEvent:
    """One plateau step made by the callback: what it saw and what it did.

    ``step`` is ``trainer.global_step``, the optimizer steps completed when the validation ran. Logged
    metrics (Lightning's ``val_loss`` and this callback's ``plateau/*``) carry Lightning's logging step,
    which at that moment is one lower when validation runs inside a training epoch.

    Example::

        >>> PlateauEvent(step=10, epoch=0, monitor="val_loss", value=0.5, best=0.5, num_bad_epochs=0,
        ...              cooldown_counter=0, lrs=[0.1], reduced=False).reduced
        False
    """

    step: int
    epoch: int
    monitor: str
    value: float
    best: float
    num_bad_epochs: int
    cooldown_counter: int
    lrs: list[float]
    reduced: bool


class LRSchedulerCallback(LearningRateMonitor):
    r"""Log the LR every step, keep a full LR trace, and step plateau schedulers after every validation.

    **Logging** is a superset of :class:`~lightning.pytorch.callbacks.LearningRateMonitor`: the same
    arguments and key names (``lr-SGD``, ``lr-Adam-1``, ``lr-Adam/pg1``, a param group's ``name``, a
    scheduler config's ``name``, ``…-momentum``, ``…-weight_decay``), logged at the same moments under
    ``log_every_n_steps``; with ``logging_interval=None`` epoch-interval schedulers are logged at every
    logged step too, since a warmup moves them every step. Every optimizer step is also recorded (global
    step, epoch, LR and momentum of every group) and written at fit end to the log dir as
    ``lr_trace.csv`` and ``lr_trace.png`` (rank 0). Without a logger it warns and keeps the trace.

    **Plateau stepping** (every config with ``reduce_on_plateau``: torch's ``ReduceLROnPlateau`` and the
    ``plateau`` recipe) happens once after each completed validation run, never in the sanity check, with
    that run's value of the config's ``monitor`` averaged over DDP ranks, whatever
    ``val_check_interval`` and ``check_val_every_n_epoch`` are. Lightning's own epoch-end stepping of
    those schedulers (which raises, or steps on a stale value, when validation did not run in that epoch,
    and steps once per epoch when validation ran twice) is switched off while this callback runs.

    Args:
        logging_interval: ``"step"``, ``"epoch"`` or ``None`` (each scheduler at its own interval), as
            in ``LearningRateMonitor``.
        log_momentum: also log momentum (or Adam's beta1).
        log_weight_decay: also log weight decay.
        log_key_prefix: prefix of the default keys (``"lr-"`` gives ``lr-SGD``).
        step_plateau: take over the stepping of plateau schedulers (default ``True``).
        strict: raise when a plateau scheduler's ``monitor`` was not logged by a validation run; with
            ``False``, warn and skip that step.
        stop_on_min_lr: stop training (as ``EarlyStopping`` does) when a plateau reduction is due but
            every param group is already at its ``min_lr``.
        trace: keep the per-step trace and write ``lr_trace.csv`` / ``lr_trace.png`` at fit end.
        trace_all_ranks: under DDP, every other rank also writes its trace as ``lr_trace-rank<N>.csv``
            (to check that all ranks stepped with the same LRs).
        lint: at train start, warn about schedules built by :func:`lr_recipes.build` that waste part of
            the run (see :func:`lr_recipes.lint.lint`).

    Raises:
        MisconfigurationException: for a bad ``logging_interval``; during fit, when a plateau scheduler's
            monitored metric is missing and ``strict`` is true.

    Example::

        >>> from lightning.pytorch import Trainer
        >>> from lightning.pytorch.loggers import CSVLogger
        >>> cb = LRSchedulerCallback(log_momentum=True, stop_on_min_lr=True)
        >>> trainer = Trainer(callbacks=[cb], logger=CSVLogger("logs"), enable_progress_bar=False)

    Use it with any ``configure_optimizers``::

        def configure_optimizers(self):
            opt = torch.optim.SGD(self.parameters(), lr=0.1)
            plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=3)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": plateau, "monitor": "val_loss"}}
    """

    def __init__(
        self,
        logging_interval: Literal["step", "epoch"] | None = None,
        log_momentum: bool = False,
        log_weight_decay: bool = False,
        log_key_prefix: str = "lr-",
        step_plateau: bool = True,
        strict: bool = True,
        stop_on_min_lr: bool = False,
        trace: bool = True,
        trace_all_ranks: bool = False,
        lint: bool = True,
    ) -> None:
        super().__init__(logging_interval, log_momentum, log_weight_decay)
        if not isinstance(log_key_prefix, str):
            raise MisconfigurationException(f"log_key_prefix={log_key_prefix!r} must be a string, e.g. 'lr-'")
        self.log_key_prefix = log_key_prefix
        self.step_plateau = step_plateau
        self.strict = strict
        self.stop_on_min_lr = stop_on_min_lr
        self.trace = trace
        self.trace_all_ranks = trace_all_ranks
        self.lint = lint
        # The per-step trace, compact: (step, epoch, layout, values) with values in layout order.
        self._trace: list[tuple[int, int, tuple[str, ...], list[Any]]] = []
        self._rows: list[dict[str, Any]] = []  # rows restored from a checkpoint or set by hand
        self.plateau_events: list[PlateauEvent] = []
        self._log_enabled = True
        # id(optimizer) -> (column names, momentum source: "betas" | "momentum" | None)
        self._trace_layout: dict[int, tuple[tuple[str, ...], str | None]] = {}
        self._next_step = 0
        self._owned: list[tuple[LRSchedulerConfig, str]] = []
        self._before_validation: dict[str, Any] = {}

    # --- setup and teardown -------------------------------------------------------------------------

    def on_train_start(self, trainer: pl.Trainer, *args: Any, **kwargs: Any) -> None:
        """Resolve the log keys (as ``LearningRateMonitor``) and take over plateau stepping."""
        self._log_enabled = bool(trainer.loggers)
        if not self._log_enabled:
            rank_zero_warn(
                "LRSchedulerCallback: the Trainer has no logger, so nothing is logged; the LR trace and "
                "plateau stepping still work.",
                category=UserWarning,
            )
        if self._log_enabled:
            super().on_train_start(trainer, *args, **kwargs)
        else:
            self._find_all_names(trainer)
        self._trace_layout = {}
        names_by_optimizer = self._names_by_optimizer(trainer)
        for opt in trainer.optimizers:
            opt = getattr(opt, "_optimizer", opt)
            names = names_by_optimizer.get(id(opt), [])
            kind = "betas" if "betas" in opt.defaults else "momentum" if "momentum" in opt.defaults else None
            columns = tuple(names) + (tuple(f"{name}-momentum" for name in names) if kind else ())
            self._trace_layout[id(opt)] = (columns, kind)
        self._next_step = trainer.global_step
        if self.lint:
            from lr_recipes.lint import lint

            for config in trainer.lr_scheduler_configs:
                for warning in lint(config.scheduler):
                    rank_zero_warn(f"lr_recipes lint: {warning}", category=UserWarning)
        if self.step_plateau:
            self._owned = []
            for config in trainer.lr_scheduler_configs:
                if config.reduce_on_plateau and config.interval != CALLBACK_INTERVAL:
                    self._owned.append((config, config.interval))
                    config.interval = CALLBACK_INTERVAL

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Hand plateau stepping back to Lightning and write the trace (rank 0)."""
        self._release(trainer)
        if not self.trace:
            return
        log_dir = trainer.log_dir or trainer.default_root_dir  # a collective call under DDP: every rank
        if not (self._rows or self._trace):
            return
        if trainer.is_global_zero:
            self.write_trace(log_dir)
        elif self.trace_all_ranks:
            self.write_trace(log_dir, name=f"lr_trace-rank{trainer.global_rank}", plot=False)

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._release(trainer)

    def _release(self, trainer: pl.Trainer) -> None:
        for config, interval in self._owned:
            config.interval = interval
        self._owned = []

    # --- logging ------------------------------------------------------------------------------------

    def on_train_batch_start(self, trainer: pl.Trainer, *args: Any, **kwargs: Any) -> None:
        if not self._log_enabled or self.logging_interval == "epoch":
            return
        # Lightning's `should_update_logs` for the fit loop, inlined: this runs every batch and the
        # property walks the loops (~7 µs); the rule is the same, `(step + 1) % every == 0 or should_stop`.
        every = trainer.log_every_n_steps
        if every == 0 or ((trainer.fit_loop.epoch_loop._batches_that_stepped + 1) % every and not trainer.should_stop):
            return
        # "any": epoch-interval schedulers too, since warmup or a plateau change them between epochs.
        self._log(trainer, self._extract_stats(trainer, "any"))

    def on_train_epoch_start(self, trainer: pl.Trainer, *args: Any, **kwargs: Any) -> None:
        if not self._log_enabled or self.logging_interval == "step":
            return
        if self.logging_interval is None and trainer._logger_connector.should_update_logs:
            return  # the batch about to start logs every scheduler at this same step
        self._log(trainer, self._extract_stats(trainer, "epoch" if self.logging_interval is None else "any"))

    def _log(self, trainer: pl.Trainer, stats: dict[str, float]) -> None:
        if stats:
            step = trainer.fit_loop.epoch_loop._batches_that_stepped
            for logger in trainer.loggers:
                logger.log_metrics(stats, step=step)

    def _extract_stats(self, trainer: pl.Trainer, interval: str) -> dict[str, float]:
        # Configs owned by this callback carry CALLBACK_INTERVAL; log them under their real interval.
        real = {id(config): original for config, original in self._owned}
        saved = [(config, config.interval) for config in trainer.lr_scheduler_configs if id(config) in real]
        for config, _ in saved:
            config.interval = real[id(config)]
        try:
            return super()._extract_stats(trainer, interval)
        finally:
            for config, interval_now in saved:
                config.interval = interval_now

    def _find_names_from_schedulers(
        self, lr_scheduler_configs: list[LRSchedulerConfig]
    ) -> tuple[list[list[str]], list[Optimizer], Any]:
        from collections import defaultdict

        names = []
        seen_optimizers: list[Optimizer] = []
        seen_types: defaultdict[type[Optimizer], int] = defaultdict(int)
        for config in lr_scheduler_configs:
            opt = config.scheduler.optimizer
            name = config.name if config.name is not None else self.log_key_prefix + type(opt).__name__
            names.append(self._check_duplicates_and_update_name(opt, name, seen_optimizers, seen_types, config))
        return names, seen_optimizers, seen_types

    def _find_names_from_optimizers(
        self, optimizers: list[Any], seen_optimizers: list[Optimizer], seen_optimizer_types: Any
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

    def _find_all_names(self, trainer: pl.Trainer) -> None:
        sched_names, seen, seen_types = self._find_names_from_schedulers(trainer.lr_scheduler_configs)
        opt_names, _ = self._find_names_from_optimizers(trainer.optimizers, seen, seen_types)
        self.lrs = {name: [] for group in sched_names + opt_names for name in group}

    def _names_by_optimizer(self, trainer: pl.Trainer) -> dict[int, list[str]]:
        sched_names, seen, seen_types = self._find_names_from_schedulers(trainer.lr_scheduler_configs)
        opt_names, without = self._find_names_from_optimizers(trainer.optimizers, list(seen), seen_types)
        by_id: dict[int, list[str]] = {}
        for config, names in zip(trainer.lr_scheduler_configs, sched_names, strict=True):
            by_id.setdefault(id(config.scheduler.optimizer), names)
        for opt, names in zip(without, opt_names, strict=True):
            by_id.setdefault(id(opt), names)
        return by_id

    # --- the per-step trace -------------------------------------------------------------------------

    def on_before_optimizer_step(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: Optimizer
    ) -> None:
        """Record the LR and momentum every param group is about to step with (host values, no sync)."""
        if not self.trace:
            return
        layout = self._trace_layout.get(id(optimizer))
        if layout is None:
            layout = self._trace_layout.get(id(getattr(optimizer, "_optimizer", optimizer)))
            if layout is None:
                return
        columns, kind = layout
        groups = optimizer.param_groups
        values = [g["lr"] for g in groups]
        if kind == "betas":
            values += [g["betas"][0] for g in groups]
        elif kind == "momentum":
            values += [g.get("momentum", 0) for g in groups]
        if isinstance(values[0], torch.Tensor):  # capturable optimizers: copy now, read back at fit end
            values = [v.detach().clone() if isinstance(v, torch.Tensor) else v for v in values]
        # One call per optimizer step, so counting them here is trainer.global_step without its property chain.
        self._trace.append((self._next_step, trainer.current_epoch, columns, values))
        self._next_step += 1

    @property
    def trace_rows(self) -> list[dict[str, Any]]:
        """The per-step trace: one dict per optimizer step with ``step``, ``epoch`` and each LR/momentum key.

        Example::

            >>> LRSchedulerCallback().trace_rows
            []
        """
        rows = list(self._rows)
        for step, epoch, columns, values in self._trace:
            row: dict[str, Any] = {"step": step, "epoch": epoch}
            row.update(zip(columns, values, strict=True))
            rows.append(row)
        return rows

    @trace_rows.setter
    def trace_rows(self, rows: list[dict[str, Any]]) -> None:
        self._rows, self._trace = list(rows), []

    def trace_columns(self) -> list[str]:
        """Column names of the trace, in order: ``step``, ``epoch``, then each LR (and momentum) key.

        Example::

            >>> LRSchedulerCallback().trace_columns()
            ['step', 'epoch']
        """
        columns = ["step", "epoch"]
        for row in self._rows:
            columns.extend(key for key in row if key not in columns)
        for layout in dict.fromkeys(entry[2] for entry in self._trace):
            columns.extend(key for key in layout if key not in columns)
        return columns

    def write_trace(
        self, directory: str | os.PathLike[str], name: str = "lr_trace", plot: bool = True
    ) -> tuple[str, str | None]:
        """Write ``<name>.csv`` and (with ``plot``) ``<name>.png`` into ``directory``; return their paths.

        Example::

            >>> import tempfile
            >>> cb = LRSchedulerCallback()
            >>> cb.trace_rows = [{"step": 0, "epoch": 0, "lr-SGD": 0.1}, {"step": 1, "epoch": 0, "lr-SGD": 0.05}]
            >>> csv_path, png_path = cb.write_trace(tempfile.mkdtemp())
            >>> open(csv_path).read().splitlines()[1]
            '0,0,0.1'
        """
        os.makedirs(directory, exist_ok=True)
        csv_path = os.path.join(directory, f"{name}.csv")
        png_path = os.path.join(directory, f"{name}.png") if plot else None
        columns = self.trace_columns()
        rows = [{k: _plain(v) for k, v in row.items()} for row in self.trace_rows]
        with open(csv_path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
        if png_path is not None:
            self._plot(png_path, columns, rows)
        return csv_path, png_path

    def _plot(self, path: str, columns: Sequence[str], rows: list[dict[str, Any]]) -> None:
        from lr_recipes.plotting import draw_lr

        def series(cols: list[str]) -> dict[str, tuple[list[float], list[float]]]:
            return {c: ([r["step"] for r in rows if c in r], [r[c] for r in rows if c in r]) for c in cols}

        lr_cols = [c for c in columns[2:] if not c.endswith("-momentum")]
        mom_cols = [c for c in columns[2:] if c.endswith("-momentum")]
        reductions = [e.step for e in self.plateau_events if e.reduced]
        draw_lr(series(lr_cols), series(mom_cols), out=path, marks=reductions)

    # --- plateau stepping ---------------------------------------------------------------------------

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Remember what the monitored metrics were, to tell a value logged by this run from a stale one.
        if self._owned:
            metrics = _stored_callback_metrics(trainer)
            self._before_validation = {config.monitor: metrics.get(config.monitor) for config, _ in self._owned}

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or trainer.state.fn != TrainerFn.FITTING or not self._owned:
            return
        stop = False
        for index, (config, _) in enumerate(self._owned):
            value = self._monitored_value(trainer, config.monitor)
            if value is None:
                continue
            stop |= self._step_plateau(trainer, config, value, index)
        if self.stop_on_min_lr:
            stop = trainer.strategy.reduce_boolean_decision(stop, all=False)
            if stop:
                trainer.should_stop = True
                rank_zero_info(
                    "lr_recipes: every param group is at its min_lr and the plateau persisted for another "
                    "patience window; stopping training (stop_on_min_lr=True)."
                )

    def _monitored_value(self, trainer: pl.Trainer, monitor: str | None) -> float | None:
        metrics = _stored_callback_metrics(trainer)  # updated with this run's epoch values by now
        current = metrics.get(monitor) if monitor else None
        stale = current is not None and current is self._before_validation.get(monitor)
        if current is None or stale:
            available = sorted(k for k in metrics if not k.startswith(self.log_key_prefix))
            what = "was not logged by this validation run" if stale else "is not available"
            message = (
                f"LRSchedulerCallback: the plateau scheduler monitors {monitor!r}, which {what}. "
                f"Available metrics: {available}. Log it in validation_step (self.log({monitor!r}, ...)) "
                "or set the scheduler config's 'monitor'."
            )
            if self.strict:
                raise MisconfigurationException(message + " (strict=False warns and skips instead)")
            rank_zero_warn(message + " Skipping this plateau step.", category=RuntimeWarning)
            return None
        tensor = torch.as_tensor(current, dtype=torch.float64 if current.device.type == "cpu" else torch.float32)
        # Mean over ranks: each rank may have logged its own shard's value without sync_dist.
        value = float(trainer.strategy.reduce(tensor.detach().clone(), reduce_op="mean"))
        if not math.isfinite(value):
            rank_zero_warn(
                f"LRSchedulerCallback: {monitor}={value} at epoch {trainer.current_epoch}, step "
                f"{trainer.global_step}; counted as no improvement.",
                category=RuntimeWarning,
            )
            value = math.nan
        return value

    def _step_plateau(self, trainer: pl.Trainer, config: LRSchedulerConfig, value: float, index: int) -> bool:
        """Step one plateau scheduler; return whether training should stop (``stop_on_min_lr``)."""
        sched = config.scheduler
        optimizer = sched.optimizer
        before = [float(g["lr"]) for g in optimizer.param_groups]
        due = _reduction_due(sched, value)
        at_floor = _all_at_floor(sched, before)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="plateau: monitored value", category=RuntimeWarning)
            call = trainer.lightning_module.lr_scheduler_step
            call(sched, value)
        after = [float(g["lr"]) for g in optimizer.param_groups]
        reduced = any(b - a > 0 for a, b in zip(after, before, strict=True))
        event = PlateauEvent(
            step=trainer.global_step,
            epoch=trainer.current_epoch,
            monitor=str(config.monitor),
            value=value,
            best=float(getattr(sched, "best", math.nan)),
            num_bad_epochs=int(getattr(sched, "num_bad_epochs", 0)),
            cooldown_counter=int(getattr(sched, "cooldown_counter", 0)),
            lrs=after,
            reduced=reduced,
        )
        self.plateau_events.append(event)
        key = "plateau" if len(self._owned) == 1 else f"plateau-{index}"
        if self._log_enabled:
            self._log(
                trainer,
                {
                    "epoch": float(trainer.current_epoch),
                    f"{key}/{config.monitor}": value,
                    f"{key}/best": event.best,
                    f"{key}/num_bad_epochs": float(event.num_bad_epochs),
                    f"{key}/cooldown_counter": float(event.cooldown_counter),
                    f"{key}/reduced": float(reduced),
                },
            )
        if reduced:
            lrs = ", ".join(f"{lr:.4g}" for lr in after)
            rank_zero_info(
                f"lr_recipes: {config.monitor} has not improved on {event.best:.6g}; LR reduced to [{lrs}] "
                f"(epoch {trainer.current_epoch}, step {trainer.global_step})."
            )
        return due and at_floor

    # --- checkpointing ------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The trace and plateau history so far (the plateau counters live in the scheduler's state).

        Example::

            >>> sorted(LRSchedulerCallback().state_dict())
            ['plateau_events', 'trace_rows']
        """
        return {
            "trace_rows": [{k: _plain(v) for k, v in row.items()} for row in self.trace_rows],
            "plateau_events": [asdict(e) for e in self.plateau_events],
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the trace and plateau history of a resumed run.

        Example::

            >>> cb = LRSchedulerCallback()
            >>> cb.load_state_dict({"trace_rows": [{"step": 0, "epoch": 0}], "plateau_events": []})
            >>> len(cb.trace_rows)
            1
        """
        self.trace_rows = list(state_dict.get("trace_rows", []))
        self.plateau_events = [PlateauEvent(**e) for e in state_dict.get("plateau_events", [])]


def _stored_callback_metrics(trainer: pl.Trainer) -> dict[str, Any]:
    """Lightning's stored callback metrics; the ``callback_metrics`` property recomputes every logged
    metric on each access (hundreds of µs), while the store is already up to date at validation start
    (the previous values) and end (this run's epoch values)."""
    stored = getattr(trainer._logger_connector, "_callback_metrics", None)
    return stored if isinstance(stored, dict) else trainer.callback_metrics


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, torch.Tensor) else value


def _is_better(sched: Any, a: float, best: float) -> bool:
    fn = getattr(sched, "_is_better", None) or sched.is_better
    return bool(fn(a, best))


def _reduction_due(sched: Any, value: float) -> bool:
    """Whether ``sched.step(value)`` will want a reduction (torch's counter logic, read before stepping)."""
    if getattr(sched, "in_warmup", False):
        return False
    bad = 0 if _is_better(sched, value, sched.best) else sched.num_bad_epochs + 1
    if sched.cooldown_counter > 0:
        bad = 0
    return bad > sched.patience


def _all_at_floor(sched: Any, lrs: Sequence[float]) -> bool:
    if hasattr(sched, "at_min_lr"):
        return bool(sched.at_min_lr())
    return all(lr - max(lr * sched.factor, floor) <= sched.eps for lr, floor in zip(lrs, sched.min_lrs, strict=True))
