"""The one face: :class:`LRSchedulerCallback` wires the keys (:mod:`.naming`), the trace (:mod:`.trace`) and
the schedulers it steps itself (:mod:`.stepping`) into Lightning's hooks, and holds their checkpoint state."""

from __future__ import annotations

import os
from collections import deque
from dataclasses import asdict
from typing import Any, Literal

import lightning.pytorch as pl
from lightning.pytorch.trainer.states import RunningStage, TrainerFn
from lightning.pytorch.utilities.exceptions import MisconfigurationException
from lightning.pytorch.utilities.rank_zero import rank_zero_info, rank_zero_warn
from torch.optim import Optimizer
from typing_extensions import override

from lr_recipes.callback.naming import MonitorKeys, unwrap
from lr_recipes.callback.stepping import FrequencyStepper, PlateauEvent, PlateauStepper, event
from lr_recipes.callback.trace import LRTrace, draw_trace, read_trace

_FITTING, _SANITY = TrainerFn.FITTING.value, RunningStage.SANITY_CHECKING.value  # "fit", "sanity_check"
EVENTS_KEPT = 32  # plateau events kept in memory and in the checkpoint (all are logged as plateau/* metrics)
MARKS_KEPT = 256  # plateau reductions remembered for the picture


class LRSchedulerCallback(MonitorKeys):
    r"""Log the LR every step, stream a full LR trace to the log dir, and step plateau schedulers after validation.

    **Logging** is a superset of :class:`~lightning.pytorch.callbacks.LearningRateMonitor`: the same
    arguments and key names (``lr-SGD``, ``lr-Adam-1``, ``lr-Adam/pg1``, a param group's ``name``, a
    scheduler config's ``name``, ``…-momentum``, ``…-weight_decay``), logged at the same moments under
    ``log_every_n_steps``; with ``logging_interval=None`` epoch-interval schedulers are also logged at
    every logged step where their LR moved (a warmup moves it every step, a plateau at a validation). A
    param group added mid-run (``BaseFinetuning``) gets ``LearningRateMonitor``'s key from that step on.

    **The trace**: every optimizer step is recorded (global step, epoch, whether a ``GradScaler`` skipped
    it, the LR and momentum of every group) and streamed to ``<log_dir>/lr_trace.csv`` (rank 0), buffered
    and appended at log steps, validation, checkpoints and fit end; memory and checkpoint state stay a few
    KB however long the run (:attr:`trace_rows` is the last ``trace_tail`` rows, :meth:`read_trace` all of
    them). A resume into the same log dir continues the file without a duplicate or missing row; into a new
    one, the file starts at the resume step and ``lr_trace.json`` names the files of the earlier steps. At
    fit end ``lr_trace.png`` is drawn from the file (``trace_plot=False`` skips it) and, with a
    ``TensorBoardLogger``, added to TensorBoard as the image ``lr_trace``. Without a logger it warns and
    writes to ``default_root_dir``.

    **Plateau stepping** (every config with ``reduce_on_plateau``: torch's ``ReduceLROnPlateau`` and the
    ``plateau`` recipe) happens once after each completed validation run, never in the sanity check, with
    that run's value of the config's ``monitor`` averaged over DDP ranks, whatever
    ``val_check_interval`` and ``check_val_every_n_epoch`` are. Lightning's own epoch-end stepping of
    those schedulers (which raises, or steps on a stale value, when validation did not run in that epoch,
    and steps once per epoch when validation ran twice) is switched off while this callback runs. The
    decision (reduce? at the floor? why) is the plateau rule's, :meth:`lr_recipes.schedules.Plateau.decide`;
    each step is kept in :attr:`plateau_events` (the last 32) with its reason. What validation never logs stays
    Lightning's, stepped at epoch end as without this callback: a plateau on a training metric (``train_loss``)
    and every plateau of a fit without validation.

    **Frequency**: a step-interval scheduler with ``frequency: N`` is stepped after every N-th optimizer
    step of the whole run (Lightning counts batches inside each epoch, so an N that does not divide the
    epoch drifts and an N longer than an epoch never fires).

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
        trace: record the per-step trace to ``lr_trace.csv`` (and ``lr_trace.png`` at fit end).
        trace_plot: draw ``lr_trace.png`` at fit end (and send it to TensorBoard).
        trace_tail: rows of the trace kept in memory (:attr:`trace_rows`).
        step_frequency: take over the stepping of step-interval schedulers with ``frequency > 1``.
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
        trace_plot: bool = True,
        trace_tail: int = 1000,
        step_frequency: bool = True,
    ) -> None:
        super().__init__(logging_interval, log_momentum, log_weight_decay, log_key_prefix)
        if not isinstance(trace_tail, int) or trace_tail < 0:
            raise MisconfigurationException(f"trace_tail={trace_tail!r} must be a non-negative int, e.g. 1000")
        self.step_plateau = step_plateau
        self.step_frequency = step_frequency
        self.strict = strict
        self.stop_on_min_lr = stop_on_min_lr
        self.trace = trace
        self.trace_plot = trace_plot
        self.trace_all_ranks = trace_all_ranks
        self.lint = lint
        self._trace = LRTrace(tail=trace_tail)
        self._plateau = PlateauStepper(strict=strict, log_key_prefix=log_key_prefix)
        self._plateau.events = deque(maxlen=EVENTS_KEPT)  # type: ignore[assignment]
        self._frequency = FrequencyStepper()
        self._reductions: deque[int] = deque(maxlen=MARKS_KEPT)
        self._count_steps = False  # count real optimizer steps (a GradScaler may skip some)
        self._epoch_loop: Any = None  # the fit's training epoch loop (its step counter is read every batch)
        self._run: Any = None  # the trace's open run, for the fast path of on_before_optimizer_step
        self._epoch = 0
        self._loaded: dict[str, Any] | None = None  # the trace state of the checkpoint being resumed

    @property
    def plateau_events(self) -> list[PlateauEvent]:
        """The last 32 plateau steps made by this callback, in order (see :class:`PlateauEvent`).

        Example::

            >>> LRSchedulerCallback().plateau_events
            []
        """
        return [event(kept) for kept in self._plateau.events]

    @plateau_events.setter
    def plateau_events(self, events: list[PlateauEvent]) -> None:
        self._plateau.events = deque(events, maxlen=EVENTS_KEPT)  # type: ignore[assignment]

    # --- setup and teardown -------------------------------------------------------------------------

    @override
    def on_train_start(self, trainer: pl.Trainer, *args: Any, **kwargs: Any) -> None:
        """Resolve the log keys (as ``LearningRateMonitor``), open the trace, take over plateau and
        frequency stepping."""
        self._log_enabled = bool(trainer.loggers)
        if not self._log_enabled:
            rank_zero_warn(
                "LRSchedulerCallback: the Trainer has no logger, so nothing is logged; the LR trace and "
                "plateau stepping still work.",
                category=UserWarning,
            )
        self.start_names(trainer)
        self._epoch = trainer.current_epoch
        self._epoch_loop = trainer.fit_loop.epoch_loop
        if self.trace:
            self._open_trace(trainer)
        self._trace.next_step = trainer.global_step  # the step of the next optimizer step's row
        self._run = None
        if self.lint:
            from lr_recipes.lint import lint

            for config in trainer.lr_scheduler_configs:
                for warning in lint(config.scheduler):
                    rank_zero_warn(f"lr_recipes lint: {warning}", category=UserWarning)
        self._real_intervals = {}
        if self.step_plateau:
            self._real_intervals.update(self._plateau.take(trainer))
        if self.step_frequency:
            self._real_intervals.update(self._frequency.take(trainer))

    def _open_trace(self, trainer: pl.Trainer) -> None:
        self._trace.clear_layout()
        # Only a GradScaler skips an optimizer step after on_before_optimizer_step: count real steps then.
        self._count_steps = getattr(trainer.precision_plugin, "scaler", None) is not None
        names_by_optimizer = self.names_by_optimizer(trainer)
        for opt in trainer.optimizers:
            opt = unwrap(opt)
            self._trace.set_layout(opt, names_by_optimizer.get(id(opt), []), count_steps=self._count_steps)
        log_dir = trainer.log_dir or trainer.default_root_dir  # a collective call under DDP: every rank
        if trainer.is_global_zero:
            name = "lr_trace"
        elif self.trace_all_ranks:
            name = f"lr_trace-rank{trainer.global_rank}"
        else:
            return  # this rank keeps the in-memory tail only
        resumed = self._loaded
        if resumed is None and self._trace.path is not None and trainer.global_step > 0:
            resumed = self._trace.state_dict()  # a second fit() of the same Trainer continues the file
        if resumed is not None and not trainer.is_global_zero:
            resumed = {**resumed, "path": os.path.join(os.path.dirname(resumed["path"] or ""), f"{name}.csv")}
        path = self._trace.open(os.path.join(log_dir, f"{name}.csv"), trainer.global_step, resumed)
        self._loaded = None
        if len(self._trace.segments) > 1 and self._trace.segments[-1]["path"] == path:
            rank_zero_info(
                f"lr_recipes: {path} starts at step {trainer.global_step}; the earlier steps are in "
                f"{self._trace.segments[-2]['path']} (listed in lr_trace.json)."
            )

    @override
    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Hand the stepping back to Lightning, close the trace file and draw it (rank 0)."""
        self._release()
        self._trace.close()
        if not (self.trace and self.trace_plot and trainer.is_global_zero and self._trace.path):
            return
        rows = read_trace(self._trace.path)
        if not rows:
            return
        png = os.path.splitext(self._trace.path)[0] + ".png"
        figure = draw_trace(png, rows, marks=list(self._reductions))
        for logger in trainer.loggers:
            experiment = getattr(logger, "experiment", None)
            if type(logger).__name__ == "TensorBoardLogger" and hasattr(experiment, "add_image"):
                import torch

                from lr_recipes.plotting import figure_rgba

                height, width, data = figure_rgba(figure)
                image = torch.frombuffer(bytearray(data), dtype=torch.uint8).reshape(height, width, 4)[..., :3]
                experiment.add_image("lr_trace", image, trainer.global_step, dataformats="HWC")

    @override
    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self._trace.close()  # what was recorded reaches the file

    @override
    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._release()
        self._trace.close()

    def _release(self) -> None:
        self._plateau.release()
        self._frequency.release()
        self._real_intervals = {}

    # --- the per-step trace -------------------------------------------------------------------------

    @override
    def on_train_batch_start(self, trainer: pl.Trainer, *args: Any, **kwargs: Any) -> None:
        # The previous batch's optimizer step is done: step the frequency configs whose turn it is, then
        # (at a log step) append the trace buffer to the file and log the LRs this batch will use.
        if self._frequency.owned:
            self._frequency.before_batch(trainer)
        # log_step_due inlined (this runs every batch): Lightning's should_update_logs rule
        every = trainer.log_every_n_steps
        if every and (not (self._epoch_loop._batches_that_stepped + 1) % every or trainer.should_stop):
            self._trace.flush_if_full()
            self.log_at_batch_start(trainer)

    @override
    def on_train_epoch_start(self, trainer: pl.Trainer, *args: Any, **kwargs: Any) -> None:
        self._epoch = epoch = trainer.current_epoch  # read once per epoch, not at every step
        self._trace.set_epoch(epoch)
        super().on_train_epoch_start(trainer, *args, **kwargs)

    @override
    def on_before_optimizer_step(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: Optimizer
    ) -> None:
        """Record the LR and momentum every param group is about to step with (host values, no sync)."""
        if self.trace:
            # LRTrace.record's fast path, inline (this runs every optimizer step): the open run's optimizer has one
            # group whose momentum object is the one of the last recorded step; if its LR object is too, the step
            # only counts, and a new float LR (a schedule) is one change point. At the run's limit record() first
            # writes the rows.
            run = self._run  # the trace's open run as last seen (a closed one has no room: limit -1)
            if run is not None and optimizer is run.optimizer and run.end < run.limit:
                groups = optimizer.param_groups
                if len(groups) == 1:
                    group = groups[0]
                    if group.get(run.key) is run.m_obj:
                        lr = group["lr"]
                        if lr is run.lr_obj:
                            run.end += 1
                            return
                        if type(lr) is float:
                            run.add(lr, run.m_val, run.m_obj)
                            return
            trace = self._trace
            recorded = trace.record(optimizer, trace.next_step, self._epoch) or self._record_slowly(trainer, optimizer)
            if not recorded:
                trace.next_step += 1  # an optimizer the trace does not know: counted, not recorded
            self._run = trace.run

    def _record_slowly(self, trainer: pl.Trainer, optimizer: Optimizer) -> bool:
        """A wrapped optimizer, or one whose param groups changed: LearningRateMonitor's keys from now on,
        renamed in the file (``lr-SGD`` -> ``lr-SGD/pg1``), then record; ``False`` if nothing was recorded."""
        optimizer, trace = unwrap(optimizer), self._trace
        if trace.record(optimizer, trace.next_step, self._epoch):
            return True
        if not trace.knows(optimizer):
            return False
        old = trace.names(optimizer)
        new = self.names_by_optimizer(trainer).get(id(optimizer), [])
        trace.rename(dict(zip(old, new, strict=False)))
        trace.set_layout(optimizer, new, count_steps=self._count_steps)
        return trace.record(optimizer, trace.next_step, self._epoch)

    @property
    def trace_rows(self) -> list[dict[str, Any]]:
        """The last ``trace_tail`` rows of the trace, one dict per optimizer step (``step``, ``epoch``,
        ``skipped`` and each LR/momentum key); :meth:`read_trace` reads every row from the file.

        Example::

            >>> LRSchedulerCallback().trace_rows
            []
        """
        return self._trace.rows

    def read_trace(self) -> list[dict[str, Any]]:
        """Every row of this run's trace, read back from ``lr_trace.csv`` (and the files of the steps before
        a resume into a new log dir); ``[]`` before the first fit.

        Example::

            >>> LRSchedulerCallback().read_trace()
            []
        """
        if self._trace.path is None:
            return []
        self._trace.settle()
        self._trace.flush()
        return read_trace(self._trace.path)

    @property
    def trace_path(self) -> str | None:
        """The trace file of the last fit on this rank (``None`` before it, or on ranks that write none).

        Example::

            >>> LRSchedulerCallback().trace_path is None
            True
        """
        return self._trace.path

    @property
    def skipped_steps(self) -> int:
        """Optimizer steps a ``GradScaler`` skipped in the run so far (resumes included).

        Example::

            >>> LRSchedulerCallback().skipped_steps
            0
        """
        self._trace.settle()
        return self._trace.skipped

    # --- plateau stepping ---------------------------------------------------------------------------

    @override
    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._plateau.unconfirmed:  # until each plateau monitor has shown up in a validation run
            self._plateau.at_epoch_end(trainer)

    @override
    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._trace.flush_if_full()
        if self._plateau.owned:
            self._plateau.before_validation(trainer)

    @override
    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # trainer.sanity_checking and the fn, by the members' values: LightningEnum's == is a method that lowercases
        # both sides, and `is` would miss the members of the pytorch_lightning namespace's own enum classes
        state = trainer.state
        stage = state.stage
        if not self._plateau.owned or state.fn._value_ != _FITTING or (stage is not None and stage._value_ == _SANITY):
            return
        plateau = self._plateau
        stop = plateau.after_validation(trainer, self.log_stats)
        if plateau.reduced_at:  # marks for the picture
            self._reductions.extend(plateau.reduced_at)
            plateau.reduced_at.clear()
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
        """Plain values of constant size: where the trace file is (its rows are in the file, flushed now),
        the skipped-step count, the last plateau events and reductions.

        Example::

            >>> sorted(LRSchedulerCallback().state_dict())
            ['plateau_events', 'reductions', 'trace']
        """
        return {
            "trace": self._trace.state_dict(),
            "plateau_events": [asdict(event(kept)) for kept in self._plateau.events],
            "reductions": list(self._reductions),
        }

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the plateau history and where the trace continues (applied at train start).

        Example::

            >>> cb = LRSchedulerCallback()
            >>> cb.load_state_dict({"trace": {"path": None, "skipped": 2, "segments": []}, "plateau_events": []})
            >>> cb.plateau_events
            []
        """
        self._loaded = dict(state_dict.get("trace") or {}) or None
        if self._loaded is None and state_dict.get("trace_rows"):
            # A checkpoint from before the trace was streamed (it kept every row in the checkpoint): the new
            # file starts with those rows, so it still holds the whole run.
            self._loaded = {"path": None, "skipped": 0, "segments": [], "rows": list(state_dict["trace_rows"])}
        self.plateau_events = [PlateauEvent(**e) for e in state_dict.get("plateau_events", [])]
        self._reductions = deque(state_dict.get("reductions", []), maxlen=MARKS_KEPT)
