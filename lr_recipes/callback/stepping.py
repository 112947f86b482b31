"""The schedulers the callback steps itself: plateau schedulers once after every completed validation run
(:class:`PlateauStepper`), and step-interval schedulers with a ``frequency`` every ``frequency`` optimizer
steps of the whole run (:class:`FrequencyStepper`; Lightning tests ``batch_idx % frequency`` inside each
epoch, so a frequency that does not divide the epoch drifts and one longer than an epoch never fires).

Lightning steps a config whose interval is ``"step"`` or ``"epoch"``; while the callback owns a config it
carries :data:`CALLBACK_INTERVAL` instead, so Lightning's loop never steps it a second time. The plateau
*decision* is the rule's (:meth:`lr_recipes.schedules.Plateau.decide`); this module only reads the value,
asks the rule, steps the scheduler, and records what happened.

Example::

    >>> import torch
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    >>> sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0)
    >>> sched.step(1.0)
    >>> plateau_decision(sched, 2.0).reduce
    True
"""

from __future__ import annotations

import math
import operator
import warnings
from dataclasses import dataclass
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities.exceptions import MisconfigurationException
from lightning.pytorch.utilities.rank_zero import rank_zero_info, rank_zero_warn
from lightning.pytorch.utilities.types import LRSchedulerConfig

from lr_recipes.schedules.plateau import DeferredDecision, Plateau, PlateauDecision, PlateauState

CALLBACK_INTERVAL = "validation (lr_recipes.LRSchedulerCallback)"
_LR = operator.itemgetter("lr")  # a param group's LR (map(_LR, groups): no list comprehension frame)
_NONE = object()  # a scheduler without PlateauScheduler's _decided (torch's ReduceLROnPlateau)


@dataclass
class PlateauEvent:
    """One plateau step made by the callback: what it saw, what the rule decided and why, what it did.

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
    reason: str = ""


def event(kept: Any) -> PlateauEvent:
    """A kept plateau step as a :class:`PlateauEvent` (the stepper keeps a tuple ending with its decision, so
    the reason text is written only for the events that are read).

    Example::

        >>> from lr_recipes.schedules import PlateauDecision
        >>> event((10, 0, "val_loss", 0.5, 0.5, 0, 0, [0.1], False, PlateauDecision(False, False, "improved"))).reason
        'improved'
        >>> from lr_recipes.schedules import Plateau
        >>> event((10, 0, "val_loss", 0.5, 0.5, 0, 0, [0.1], False, (Plateau(), False, False, None, 0.5, None))).reason
        'warming up: the result only sets best'
    """
    if isinstance(kept, PlateauEvent):
        return kept
    *fields, decision = kept
    return PlateauEvent(*fields, reason=_as_decision(decision).reason)


def _as_decision(decision: Any) -> Any:
    """A :class:`PlateauDecision`, or a :class:`~lr_recipes.PlateauScheduler`'s ``_decided`` (the arguments of a
    :class:`~lr_recipes.schedules.plateau.DeferredDecision`, made only when read) as its ``DeferredDecision``."""
    return DeferredDecision(*decision) if type(decision) is tuple else decision


def plateau_decision(scheduler: Any, value: float) -> PlateauDecision:
    """What stepping ``scheduler`` with ``value`` will do, asked of the plateau rule before stepping.

    ``scheduler`` is torch's ``ReduceLROnPlateau`` (its rule and counters are read from its attributes)
    or anything with a ``decide(value)`` method (:class:`~lr_recipes.PlateauScheduler`).

    Example::

        >>> import torch
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        >>> sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, min_lr=1.0, patience=0)
        >>> sched.step(1.0)
        >>> plateau_decision(sched, 2.0).stop
        True
    """
    decide = getattr(scheduler, "decide", None)
    if decide is not None:
        return decide(value)
    state = PlateauState(
        best=scheduler.best, num_bad_epochs=scheduler.num_bad_epochs, cooldown_counter=scheduler.cooldown_counter
    )
    lrs = [float(g["lr"]) for g in scheduler.optimizer.param_groups]
    return torch_plateau_rule(scheduler).decide(state, value, lrs, scheduler.min_lrs)


def torch_plateau_rule(scheduler: Any) -> Plateau:
    """The rule of torch's ``ReduceLROnPlateau`` ``scheduler``, read from its attributes.

    Example::

        >>> import torch
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        >>> torch_plateau_rule(torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=3)).patience
        3
    """
    return Plateau(
        mode=scheduler.mode,
        factor=scheduler.factor,
        patience=scheduler.patience,
        threshold=scheduler.threshold,
        threshold_mode=scheduler.threshold_mode,
        cooldown=scheduler.cooldown,
        eps=scheduler.eps,
    )


def stored_callback_metrics(trainer: pl.Trainer) -> dict[str, Any]:
    """Lightning's stored callback metrics; the ``callback_metrics`` property recomputes every logged
    metric on each access (hundreds of µs), while the store is already up to date at validation start
    (the previous values) and end (this run's epoch values).

    Example::

        >>> from lightning.pytorch import Trainer
        >>> stored_callback_metrics(Trainer(logger=False))
        {}
    """
    stored = getattr(trainer._logger_connector, "_callback_metrics", None)
    return stored if isinstance(stored, dict) else trainer.callback_metrics


def logged_in_training(trainer: pl.Trainer, monitor: str | None) -> bool:
    """Whether the training loop has logged ``monitor`` in this fit (a name in its result collection, the
    ``_step``/``_epoch`` names of ``on_step=True, on_epoch=True`` included).

    Example::

        >>> from lightning.pytorch import Trainer
        >>> logged_in_training(Trainer(logger=False), "train_loss")
        False
    """
    results = getattr(trainer.fit_loop.epoch_loop, "_results", None) or {}
    for result in results.values():
        meta = getattr(result, "meta", None)
        if meta is not None and monitor in (meta.name, meta.forked_name(True), meta.forked_name(False)):
            return True
    return False


class _ConfigOwner:
    """Takes some scheduler configs from Lightning's loop (their interval set to ``CALLBACK_INTERVAL``, so the
    loop never steps them) and hands them back; subclasses say which configs with :meth:`wants`."""

    def __init__(self) -> None:
        self.owned: list[tuple[LRSchedulerConfig, str]] = []

    def wants(self, trainer: pl.Trainer, config: LRSchedulerConfig) -> bool:
        raise NotImplementedError

    def take(self, trainer: pl.Trainer) -> dict[int, str]:
        """Take over every config this stepper steps; return ``id(config) -> its real interval``."""
        self.owned = []
        for config in trainer.lr_scheduler_configs:
            if config.interval != CALLBACK_INTERVAL and self.wants(trainer, config):
                self.owned.append((config, config.interval))
                config.interval = CALLBACK_INTERVAL
        return {id(config): interval for config, interval in self.owned}

    def release(self) -> None:
        """Hand the configs back to Lightning (their real interval)."""
        for config, interval in self.owned:
            config.interval = interval
        self.owned = []


class PlateauStepper(_ConfigOwner):
    """Owns the plateau configs of a fit: takes them from Lightning at train start, steps each once after
    every completed validation run with that run's monitored value (averaged over DDP ranks), hands them
    back at fit end.

    What validation never logs stays Lightning's, stepped at epoch end as without the callback: every plateau
    config of a fit without validation (``trainer.enable_validation`` false: ``limit_val_batches=0``, no
    ``validation_step`` or val dataloader), and a config whose monitor training logs (``train_loss``) and no
    validation run has logged yet, handed back at the first validation that lacks it or the first epoch end
    (:meth:`at_epoch_end`), whichever comes first.

    Args:
        strict: raise when a monitored metric was not logged by a validation run; else warn and skip.
        log_key_prefix: the LR key prefix (excluded from the "available metrics" of the error message).

    Example::

        >>> PlateauStepper().owned
        []
    """

    def __init__(self, strict: bool = True, log_key_prefix: str = "lr-") -> None:
        super().__init__()
        self.strict = strict
        self.log_key_prefix = log_key_prefix
        self.events: list[Any] = []  # the last plateau steps: PlateauEvents, or tuples until read (event())
        self._monitors: tuple[Any, ...] = ()  # per owned config: its monitor
        self.unconfirmed: set[int] = set()  # id() of the owned configs whose monitor no validation has logged yet
        self._before_validation: tuple[Any, ...] = ()  # per owned config: the monitored value when validation began
        self._keys: list[tuple[str, ...]] = []  # per owned config: its plateau/* keys
        self._world_size = 1
        self._module: Any = None
        self._steps_done: Any = None  # the progress counter behind trainer.global_step (see take)
        self._default_hook = False
        self.reduced_at: list[int] = []  # global steps of the reductions made since the caller last cleared it

    def wants(self, trainer: pl.Trainer, config: LRSchedulerConfig) -> bool:
        return bool(config.reduce_on_plateau)

    def take(self, trainer: pl.Trainer) -> dict[int, str]:
        """Take over every plateau config (none when the fit has no validation); their ``plateau/*`` keys are
        named once here."""
        if getattr(trainer, "enable_validation", True):
            taken = super().take(trainer)
        else:
            self.owned, taken = [], {}
        self.unconfirmed = {id(config) for config, _ in self.owned}
        self._world_size = trainer.world_size  # fixed for the fit; the property walks the strategy
        self._module = trainer.lightning_module  # its lr_scheduler_step steps them (a user may override it)
        # trainer.global_step is a chain of five properties; its counter is read directly at each validation
        # (the rule of _TrainingEpochLoop.global_step, checked in tests/test_lightning_internals.py). Lightning marks
        # configs reduce_on_plateau under automatic optimization only, so that is the counter.
        self._steps_done = trainer.fit_loop.epoch_loop.automatic_optimization.optim_progress.optimizer.step.total
        # Lightning's own hook is scheduler.step(metric): then call that directly (one call less per validation).
        self._default_hook = (
            getattr(type(self._module), "lr_scheduler_step", None) is pl.LightningModule.lr_scheduler_step
        )
        one = len(self.owned) == 1
        self._monitors = tuple(config.monitor for config, _ in self.owned)
        self._before_validation = (None,) * len(self.owned)
        self._keys = []
        for index, (config, _) in enumerate(self.owned):
            key = "plateau" if one else f"plateau-{index}"
            names = (f"{key}/{config.monitor}", "best", "num_bad_epochs", "cooldown_counter", "reduced")
            self._keys.append((names[0], *(f"{key}/{name}" for name in names[1:])))
        return taken

    def before_validation(self, trainer: pl.Trainer) -> None:
        """Remember the monitored metrics, to tell a value logged by this run from a stale one."""
        if self.owned:
            self._before_validation = tuple(map(stored_callback_metrics(trainer).get, self._monitors))

    def after_validation(self, trainer: pl.Trainer, log: Any) -> bool:
        """Step every owned config with this run's value; ``log(trainer, stats)`` logs; return whether to stop
        (a reduction was due with every group at its floor)."""
        stop = False
        metrics = stored_callback_metrics(trainer)  # updated with this run's epoch values by now
        one_rank, unconfirmed = self._world_size == 1, self.unconfirmed
        steps = zip(self.owned, self._monitors, self._before_validation, self._keys, strict=True)
        for (config, _), monitor, before, keys in steps:
            current = metrics.get(monitor) if monitor else None
            # the common case inline: a fresh, finite value on one process
            if current is None or current is before or not one_rank or not math.isfinite(value := float(current)):
                value = self._monitored_value(trainer, config, current, metrics, before)  # type: ignore[assignment]
                if value is None:
                    continue
            if unconfirmed:
                unconfirmed.discard(id(config))  # a validation metric: this callback steps it
            stop |= self._step(trainer, config, value, keys, log)
        return stop

    def at_epoch_end(self, trainer: pl.Trainer) -> None:
        """Before Lightning's epoch-end stepping: hand back the configs whose monitor training logs and no
        validation has yet (``check_val_every_n_epoch=2`` has no validation in epoch 0)."""
        for config, _ in self.owned:
            if id(config) in self.unconfirmed and logged_in_training(trainer, config.monitor):
                self._hand_back(config)

    def _hand_back(self, config: LRSchedulerConfig) -> None:
        """Give one config back to Lightning, which steps it at epoch end with its monitored (training) metric."""
        kept = [i for i, (owned, _) in enumerate(self.owned) if owned is not config]
        for owned, interval in self.owned:
            if owned is config:
                config.interval = interval
        self.owned = [self.owned[i] for i in kept]
        self._monitors = tuple(self._monitors[i] for i in kept)
        self._before_validation = tuple(self._before_validation[i] for i in kept)
        self._keys = [self._keys[i] for i in kept]
        self.unconfirmed.discard(id(config))
        rank_zero_info(
            f"LRSchedulerCallback: the plateau scheduler monitors {config.monitor!r}, which training logs and "
            "validation does not: Lightning steps it at each epoch end, as it would without this callback."
        )

    def _monitored_value(
        self, trainer: pl.Trainer, config: LRSchedulerConfig, current: Any, metrics: dict[str, Any], before: Any
    ) -> float | None:
        """The monitored value to step with (averaged over DDP ranks, NaN for a non-finite one, with a warning);
        ``None`` when this validation run did not log it and ``strict`` is false (else it raises), or when no
        validation has logged it and training does (the config is handed back to Lightning)."""
        monitor = config.monitor
        stale = current is not None and current is before
        if (current is None or stale) and id(config) in self.unconfirmed and logged_in_training(trainer, monitor):
            self._hand_back(config)
            return None
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
        if self._world_size > 1:
            tensor = torch.as_tensor(current, dtype=torch.float64 if current.device.type == "cpu" else torch.float32)
            # Mean over ranks: each rank may have logged its own shard's value without sync_dist.
            value = float(trainer.strategy.reduce(tensor.detach().clone(), reduce_op="mean"))
        else:
            value = float(current)
        if not math.isfinite(value):
            rank_zero_warn(
                f"LRSchedulerCallback: {monitor}={value} at epoch {trainer.current_epoch}, step "
                f"{trainer.global_step}; counted as no improvement.",
                category=RuntimeWarning,
            )
            value = math.nan
        return value

    def _step(
        self, trainer: pl.Trainer, config: LRSchedulerConfig, value: float, keys: tuple[str, ...], log: Any
    ) -> bool:
        sched = config.scheduler
        last = getattr(sched, "_decided", _NONE)
        if last is not _NONE and self._default_hook and not math.isnan(value):
            # PlateauScheduler stepped directly: it says what it decided (DeferredDecision's arguments, the reason
            # written only if read), the LRs it left (_last_lr) and its counters. A reduction was made when one
            # was due with a group still above its floor.
            sched.step(value)
            decision = sched._decided
            after, reduced, state = list(sched._last_lr), decision[1] and not decision[2], sched.state
            best, bad, cooldown = state.best, state.num_bad_epochs, state.cooldown_counter
        else:
            decision, after, reduced, (best, bad, cooldown) = self._step_any(sched, value, last)
        step, epoch = self._steps_done.completed, trainer.fit_loop.epoch_progress.current.completed
        # Kept as a tuple; the PlateauEvent (and the decision's reason text) is made when read (event()).
        self.events.append((step, epoch, str(config.monitor), value, best, bad, cooldown, after, reduced, decision))
        if reduced:
            self.reduced_at.append(step)
        value_key, best_key, bad_key, cooldown_key, reduced_key = keys
        log(
            trainer,
            {
                "epoch": float(epoch),
                value_key: value,
                best_key: best,
                bad_key: float(bad),
                cooldown_key: float(cooldown),
                reduced_key: float(reduced),
            },
        )
        if reduced:  # %-arguments: formatted only where the line is emitted (rank 0, INFO enabled)
            rank_zero_info(
                "lr_recipes: %s has not improved on %.6g; LR reduced to [%s] (epoch %d, step %d).",
                config.monitor, best, _Numbers(after), epoch, step,
            )  # fmt: skip
        return decision[1] and decision[2] if type(decision) is tuple else decision.stop  # reduce and at_floor

    def _step_any(self, sched: Any, value: float, last: Any) -> tuple[Any, list[float], bool, tuple[float, int, int]]:
        """Step any plateau scheduler through the LightningModule's ``lr_scheduler_step`` (torch's
        ``ReduceLROnPlateau`` is asked what it will do first); return the decision, the LRs after, whether one
        fell, and the counters."""
        groups = sched.optimizer.param_groups
        before = [*map(float, map(_LR, groups))]
        decision: Any = plateau_decision(sched, value) if last is _NONE else None
        module = self._module
        if math.isnan(value):  # warned about above, with the epoch and step; not again by PlateauScheduler
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="plateau: monitored value", category=RuntimeWarning)
                module.lr_scheduler_step(sched, value)
        elif self._default_hook:
            sched.step(value)
        else:
            module.lr_scheduler_step(sched, value)
        if decision is None:
            made = sched._decided
            # The LightningModule's lr_scheduler_step may not have stepped it: then say what a step would do.
            decision = made if made is not last and made is not None else plateau_decision(sched, value)
        after = [*map(float, map(_LR, groups))]
        reduced = after != before and any(b > a for a, b in zip(after, before, strict=True))
        state = getattr(sched, "state", None)  # PlateauScheduler's counters, or torch's attributes
        state = state if type(state) is PlateauState else sched
        counters = (
            float(getattr(state, "best", math.nan)),
            int(getattr(state, "num_bad_epochs", 0)),
            int(getattr(state, "cooldown_counter", 0)),
        )
        return decision, after, reduced, counters


class _Numbers:
    """Numbers written ``0.1, 0.05`` (4 significant digits) when a log line that shows them is emitted.

    Example::

        >>> str(_Numbers([0.1, 0.05]))
        '0.1, 0.05'
    """

    __slots__ = ("values",)

    def __init__(self, values: list[float]) -> None:
        self.values = values

    def __str__(self) -> str:
        return ", ".join(f"{value:.4g}" for value in self.values)


class FrequencyStepper(_ConfigOwner):
    """Owns the step-interval configs with ``frequency > 1`` (automatic optimization): steps each after
    every ``frequency``-th optimizer step of the run, counted by ``trainer.global_step`` (which a resume
    restores, so the rhythm continues across epochs and resumes).

    Example::

        >>> FrequencyStepper().owned
        []
    """

    def __init__(self) -> None:
        super().__init__()
        self._done = -1  # the global_step the configs were last considered at

    def take(self, trainer: pl.Trainer) -> dict[int, str]:
        """Take over every step-interval config with a frequency above 1; return ``id(config) -> "step"``."""
        self._done = -1
        return super().take(trainer)

    def wants(self, trainer: pl.Trainer, config: LRSchedulerConfig) -> bool:
        # Under manual optimization Lightning steps no scheduler: the user does, so there is nothing to take.
        automatic = trainer.lightning_module.automatic_optimization
        return automatic and config.interval == "step" and config.frequency > 1 and not config.reduce_on_plateau

    def before_batch(self, trainer: pl.Trainer) -> None:
        """Before a training batch: step the configs whose turn came with the optimizer step just made.

        Stepping here rather than after the batch sets the same LR for the next optimizer step, and a
        checkpoint saved in between holds the scheduler before this step (``global_step % frequency == 0``
        then), so a resume makes it at its first batch, exactly once. ``_done`` keeps a second batch at the
        same ``global_step`` (gradient accumulation) from stepping twice."""
        step = trainer.global_step
        if step == self._done:
            return
        self._done = step
        if step == 0:
            return
        for config, _ in self.owned:
            if step % config.frequency == 0:
                trainer.lightning_module.lr_scheduler_step(config.scheduler, None)
