"""A Lightning callback that feeds an Optuna trial the validation metric and stops the fit when it is pruned.

Optuna's own ``PyTorchLightningPruningCallback`` reports at the epoch (so ``val_check_interval < 1`` reports
twice at one step, optuna #2932), raises ``TrialPruned`` inside the training loop and reaches into
Trainer internals under DDP (optuna #4935, #6043). :class:`TrialPruning` uses only public Lightning API:

- it reports at ``trainer.global_step`` after every validation run (sanity check excluded), so several
  validation runs per epoch are several reports; the last one (at the run's last step) never prunes;
- the trial lives on rank 0 only: rank 0 reports and decides, ``trainer.strategy.broadcast`` sends the
  decision to every rank, and all ranks stop together through ``trainer.should_stop`` (as ``EarlyStopping``
  does), so no rank is left waiting in a collective;
- a non-finite loss or metric stops the run as diverged (the sweep records it as failed, with the reason).

The caller turns the outcome into the trial's state: ``pruned`` -> ``optuna.TrialPruned``, ``diverged`` -> a
failure, otherwise :attr:`best` is the objective.

Example::

    >>> import optuna
    >>> trial = optuna.create_study(direction="maximize").ask()
    >>> callback = TrialPruning(trial, monitor="val_acc", mode="max")
    >>> callback.best is None
    True
"""

from __future__ import annotations

import math
from typing import Any, Literal, Protocol

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback
from typing_extensions import override


class MetricNotLoggedError(ValueError):
    """The monitored metric is not among the values the model logs at validation (a sweep setup mistake).

    Example::

        >>> str(MetricNotLoggedError("val_accuracy", ["val_acc", "val_loss"]))
        "metric 'val_accuracy' is not logged at validation (did you mean 'val_acc'?); logged: val_acc, val_loss"
    """

    def __init__(self, metric: str, logged: list[str]) -> None:
        import difflib

        close = difflib.get_close_matches(metric, logged, n=1, cutoff=0.5)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        super().__init__(f"metric {metric!r} is not logged at validation{hint}; logged: {', '.join(logged) or 'none'}")


class ReportingTrial(Protocol):
    """What :class:`TrialPruning` needs of a trial (``optuna.Trial`` has both)."""

    def report(self, value: float, step: int) -> None: ...

    def should_prune(self) -> bool: ...


_GO, _PRUNE, _DIVERGED = 0, 1, 2


class TrialPruning(Callback):
    """Report ``monitor`` to an Optuna trial at the global step after every validation run; stop when pruned.

    Args:
        trial: the trial on rank 0; ``None`` on the other ranks of a DDP run (they follow rank 0's decision).
        monitor: the logged validation metric (``val_acc``, ``val_loss``, ...).
        mode: ``"max"`` or ``"min"``: which way is better (the objective is the best value seen).
        divergence_keys: logged metrics whose non-finite value stops the run as diverged; a key matches
            itself and its ``_step``/``_epoch`` variants.

    Attributes:
        history: ``(global_step, value)`` of every validation run.
        best: the best value of ``monitor``, ``None`` before the first validation run.
        pruned: whether the trial was pruned (the fit stopped early).
        diverged: why the run diverged, or ``None``.

    Raises:
        ValueError: for a bad ``mode``.
        MetricNotLoggedError: at the first validation run, if ``monitor`` was not logged.

    Example::

        >>> TrialPruning(None, mode="best")
        Traceback (most recent call last):
        ...
        ValueError: mode='best' is not allowed; allowed: 'max', 'min'
    """

    def __init__(
        self,
        trial: ReportingTrial | None,
        monitor: str = "val_acc",
        mode: Literal["max", "min"] = "max",
        divergence_keys: tuple[str, ...] = ("train_loss", "val_loss"),
    ) -> None:
        if mode not in ("max", "min"):
            raise ValueError(f"mode={mode!r} is not allowed; allowed: 'max', 'min'")
        self.trial = trial
        self.monitor = monitor
        self.mode = mode
        self.divergence_keys = divergence_keys
        self.history: list[tuple[int, float]] = []
        self.pruned = False
        self.diverged: str | None = None

    @property
    def best(self) -> float | None:
        """The best monitored value so far (``max`` or ``min`` by ``mode``).

        Example::

            >>> cb = TrialPruning(None, mode="min")
            >>> cb.history = [(10, 0.5), (20, 0.3)]
            >>> cb.best
            0.3
        """
        values = [v for _, v in self.history]
        if not values:
            return None
        return max(values) if self.mode == "max" else min(values)

    @override
    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        metrics = trainer.callback_metrics
        if self.monitor not in metrics:
            raise MetricNotLoggedError(self.monitor, sorted(metrics))
        value = float(metrics[self.monitor])
        step = trainer.global_step
        self.history.append((step, value))
        decision = _GO
        if trainer.is_global_zero:
            bad = self._non_finite(metrics, value)
            if bad:
                self.diverged = f"{bad} at step {step}"
                decision = _DIVERGED
            elif self.trial is not None:
                self.trial.report(value, step)
                # The last validation run: the trial is as good as complete, and pruning it would only discard
                # its result. It is the last if the next one, as far off as this one was from the one before,
                # would fall after the run's end (validation need not come at the very last step).
                since = step - (self.history[-2][0] if len(self.history) > 1 else 0)
                final = step + since > trainer.estimated_stepping_batches
                decision = _PRUNE if not final and self.trial.should_prune() else _GO
        decision = trainer.strategy.broadcast(decision, src=0)
        if decision == _DIVERGED and self.diverged is None:
            self.diverged = f"non-finite loss at step {step} (rank 0)"
        self.pruned = decision == _PRUNE
        if decision != _GO:
            trainer.should_stop = True

    def _non_finite(self, metrics: dict[str, Any], value: float) -> str | None:
        if not math.isfinite(value):
            return f"{self.monitor}={value}"
        for key, tensor in metrics.items():
            if key in self.divergence_keys or key.rsplit("_", 1)[0] in self.divergence_keys:
                x = float(tensor)
                if not math.isfinite(x):
                    return f"{key}={x}"
        return None


__all__ = ["MetricNotLoggedError", "ReportingTrial", "TrialPruning"]
