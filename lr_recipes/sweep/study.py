"""Optuna pieces of a sweep: the storage (with heartbeats), a per-trial seeded TPE sampler, the pruner.

Workers coordinate only through the storage:

- ``sqlite:///path.db`` (one machine; several local workers are fine), ``postgresql://user:pw@host/db`` or
  ``mysql+pymysql://...`` (a cluster): Optuna's ``RDBStorage`` with a heartbeat, so a trial whose process died
  (killed, preempted, out of memory) is marked failed by the next worker that starts or asks for a trial, and
  :class:`optuna.storages.RetryHeartbeatStaleTrialCallback` queues its configuration again;
- ``journal:path.log``: Optuna's journal file (a shared file system, no database server). It has no heartbeat:
  a killed trial stays ``RUNNING`` (the sweep reports it) and is not retried.

Example::

    >>> mask_url("postgresql://sweeper:s3cret@db.example.org:5432/optuna")
    'postgresql://sweeper:***@db.example.org:5432/optuna'
"""

from __future__ import annotations

import re
import time
import warnings
from typing import Any

import optuna
from optuna.exceptions import ExperimentalWarning

_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s]*:)(?P<password>[^@\s]*)(?P<at>@)")


def mask_url(text: str) -> str:
    """Replace the password of every ``scheme://user:password@host`` URL in ``text`` with ``***``.

    Example::

        >>> mask_url("storage mysql+pymysql://root:hunter2@10.0.0.5/optuna, study lr")
        'storage mysql+pymysql://root:***@10.0.0.5/optuna, study lr'
        >>> mask_url("sqlite:///runs/sweep/study.db")
        'sqlite:///runs/sweep/study.db'
    """
    return _PASSWORD.sub(lambda m: m["head"] + "***" + m["at"], text)


def open_storage(url: str, *, heartbeat_s: int = 10, max_retry: int = 3) -> optuna.storages.BaseStorage:
    """The Optuna storage of ``url``: an ``RDBStorage`` with a heartbeat and retries, or a journal file.

    Args:
        url: a SQLAlchemy URL (``sqlite:///x.db``, ``postgresql://...``) or ``journal:<path>``.
        heartbeat_s: seconds between a running trial's heartbeats; a trial silent for twice as long is stale.
        max_retry: how many times a stale trial's configuration is queued again.

    Example::

        >>> import tempfile, os
        >>> storage = open_storage("sqlite:///" + os.path.join(tempfile.mkdtemp(), "s.db"), heartbeat_s=5)
        >>> storage.get_heartbeat_interval()
        5
    """
    if url.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        return JournalStorage(JournalFileBackend(url[len("journal:") :]))
    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        # Several local workers write one SQLite file: wait for the lock instead of failing at once.
        engine_kwargs["connect_args"] = {"timeout": 60}
    import sqlalchemy.exc

    def rdb() -> optuna.storages.RDBStorage:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            return optuna.storages.RDBStorage(
                url,
                engine_kwargs=engine_kwargs,
                heartbeat_interval=heartbeat_s,
                grace_period=2 * heartbeat_s,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=max_retry),
            )

    for attempt in range(4):
        try:
            return rdb()
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.OperationalError):
            # Workers started together race to create the tables of a new database; the loser tries again.
            time.sleep(0.5 * (attempt + 1))
    return rdb()


class TrialSeededTPESampler(optuna.samplers.TPESampler):
    """TPE whose random state is reseeded from ``(seed, trial.number)`` before each trial.

    One seed makes a one-worker sweep reproducible, and workers sharing a study never draw the same random
    startup points (each trial number is given to one worker by the storage), which one seed per process
    would do. Relies on ``TPESampler._rng`` and ``_random_sampler._rng`` (checked by the tests).

    Example::

        >>> sampler = TrialSeededTPESampler(seed=0)
        >>> study = optuna.create_study(sampler=sampler)
        >>> a = study.ask().suggest_float("x", 0, 1)
        >>> b = optuna.create_study(sampler=TrialSeededTPESampler(seed=0)).ask().suggest_float("x", 0, 1)
        >>> a == b
        True
    """

    def __init__(self, seed: int = 0, **kwargs: Any) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            super().__init__(seed=seed, **kwargs)
        self.seed = seed

    def before_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        """Reseed from ``(seed, trial.number)``, then do TPE's own preparation.

        Example::

            >>> # called by Optuna when a trial starts
        """
        seed = (self.seed * 1_000_003 + trial.number) % 2**32
        self._rng.rng.seed(seed)
        self._random_sampler._rng.rng.seed(seed)
        super().before_trial(study, trial)


def make_pruner(kind: str, warmup_steps: int = 0, startup_trials: int = 4) -> optuna.pruners.BasePruner:
    """``median`` (MedianPruner), ``halving`` (SuccessiveHalvingPruner) or ``none``.

    Args:
        kind: the pruner's name.
        warmup_steps: no pruning before this global step (a schedule that decays late looks worse early).
        startup_trials: ``median`` prunes nothing until this many trials finished.

    Raises:
        ValueError: for an unknown ``kind``.

    Example::

        >>> type(make_pruner("median", warmup_steps=100)).__name__
        'MedianPruner'
    """
    if kind == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=startup_trials, n_warmup_steps=warmup_steps)
    if kind == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=max(1, warmup_steps), reduction_factor=3)
    if kind == "none":
        return optuna.pruners.NopPruner()
    raise ValueError(f"pruner={kind!r} is not allowed; allowed: 'median', 'halving', 'none'")


__all__ = ["TrialSeededTPESampler", "make_pruner", "mask_url", "open_storage"]
