"""The one face: :class:`LRSchedulerCallback` wires the keys (:mod:`.naming`), the trace (:mod:`.trace`) and
the plateau stepping (:mod:`.stepping`) into Lightning's hooks, and holds their checkpoint state."""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Any, Literal

import lightning.pytorch as pl
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.rank_zero import rank_zero_info, rank_zero_warn
from torch.optim import Optimizer
from typing_extensions import override

from lr_recipes.callback.naming import MonitorKeys, unwrap
from lr_recipes.callback.stepping import PlateauEvent, PlateauStepper
from lr_recipes.callback.trace import LRTrace, plain


class LRSchedulerCallback(MonitorKeys):
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
    and steps once per epoch when validation ran twice) is switched off while this callback runs. The
    decision (reduce? at the floor? why) is the plateau rule's, :meth:`lr_recipes.schedules.Plateau.decide`;
    each step is kept in :attr:`plateau_events` with its reason.

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
        super().__init__(logging_interval, log_momentum, log_weight_decay, log_key_prefix)
        self.step_plateau = step_plateau
        self.strict = strict
        self.stop_on_min_lr = stop_on_min_lr
        self.trace = trace
        self.trace_all_ranks = trace_all_ranks
        self.lint = lint
        self._trace = LRTrace()
        self._plateau = PlateauStepper(strict=strict, log_key_prefix=log_key_prefix)
        self._next_step = 0

    @property
    def plateau_events(self) -> list[PlateauEvent]:
        """Every plateau step made by this callback, in order (see :class:`PlateauEvent`).

        Example::

            >>> LRSchedulerCallback().plateau_events
            []
        """
        return self._plateau.events

    @plateau_events.setter
    def plateau_events(self, events: list[PlateauEvent]) -> None:
        self._plateau.events = list(events)

    # --- setup and teardown -------------------------------------------------------------------------

    @override
    def on_train_start(self, trainer: pl.Trainer, *args: Any, **kwargs: Any) -> None:
        """Resolve the log keys (as ``LearningRateMonitor``), lay out the trace, take over plateau stepping."""
        self._log_enabled = bool(trainer.loggers)
        if not self._log_enabled:
            rank_zero_warn(
                "LRSchedulerCallback: the Trainer has no logger, so nothing is logged; the LR trace and "
                "plateau stepping still work.",
                category=UserWarning,
            )
        self.start_names(trainer)
        self._trace.clear_layout()
        names_by_optimizer = self.names_by_optimizer(trainer)
        for opt in trainer.optimizers:
            opt = unwrap(opt)
            self._trace.set_layout(opt, names_by_optimizer.get(id(opt), []))
        self._next_step = trainer.global_step
        if self.lint:
            from lr_recipes.lint import lint

            for config in trainer.lr_scheduler_configs:
                for warning in lint(config.scheduler):
                    rank_zero_warn(f"lr_recipes lint: {warning}", category=UserWarning)
        if self.step_plateau:
            self._real_intervals = self._plateau.take(trainer)

    @override
    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Hand plateau stepping back to Lightning and write the trace (rank 0)."""
        self._release()
        if not self.trace:
            return
        log_dir = trainer.log_dir or trainer.default_root_dir  # a collective call under DDP: every rank
        if not len(self._trace):
            return
        if trainer.is_global_zero:
            self.write_trace(log_dir)
        elif self.trace_all_ranks:
            self.write_trace(log_dir, name=f"lr_trace-rank{trainer.global_rank}", plot=False)

    @override
    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._release()

    def _release(self) -> None:
        self._plateau.release()
        self._real_intervals = {}

    # --- the per-step trace -------------------------------------------------------------------------

    @override
    def on_before_optimizer_step(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: Optimizer
    ) -> None:
        """Record the LR and momentum every param group is about to step with (host values, no sync)."""
        if not self.trace:
            return
        if not self._trace.knows(optimizer):
            optimizer = unwrap(optimizer)
        # One call per optimizer step, so counting them here is trainer.global_step without its property chain.
        self._trace.record(optimizer, self._next_step, trainer.current_epoch)
        self._next_step += 1

    @property
    def trace_rows(self) -> list[dict[str, Any]]:
        """The per-step trace: one dict per optimizer step with ``step``, ``epoch`` and each LR/momentum key.

        Example::

            >>> LRSchedulerCallback().trace_rows
            []
        """
        return self._trace.rows

    @trace_rows.setter
    def trace_rows(self, rows: list[dict[str, Any]]) -> None:
        self._trace.rows = rows

    def trace_columns(self) -> list[str]:
        """Column names of the trace, in order: ``step``, ``epoch``, then each LR (and momentum) key.

        Example::

            >>> LRSchedulerCallback().trace_columns()
            ['step', 'epoch']
        """
        return self._trace.columns()

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
        marks = [e.step for e in self.plateau_events if e.reduced]
        return self._trace.write(directory, name=name, plot=plot, marks=marks)

    # --- plateau stepping ---------------------------------------------------------------------------

    @override
    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._plateau.before_validation(trainer)

    @override
    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or trainer.state.fn != TrainerFn.FITTING or not self._plateau.owned:
            return
        stop = self._plateau.after_validation(trainer, lambda stats: self.log_stats(trainer, stats))
        if self.stop_on_min_lr:
            stop = trainer.strategy.reduce_boolean_decision(stop, all=False)
            if stop:
                trainer.should_stop = True
                rank_zero_info(
                    "lr_recipes: every param group is at its min_lr and the plateau persisted for another "
                    "patience window; stopping training (stop_on_min_lr=True)."
                )

    # --- checkpointing ------------------------------------------------------------------------------

    @override
    def state_dict(self) -> dict[str, Any]:
        """The trace and plateau history so far (the plateau counters live in the scheduler's state).

        Example::

            >>> sorted(LRSchedulerCallback().state_dict())
            ['plateau_events', 'trace_rows']
        """
        return {
            "trace_rows": [{k: plain(v) for k, v in row.items()} for row in self.trace_rows],
            "plateau_events": [asdict(e) for e in self.plateau_events],
        }

    @override
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
