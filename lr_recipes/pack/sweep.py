"""``python -m lr_recipes sweep``: compare schedules and tune them at equal budget, with Optuna.

Usage::

    python -m lr_recipes sweep --config recipes/cosine.yaml --config recipes/smoke.yaml \\
        --space sweeps/schedules.yaml --trials 16 [--study NAME] [--storage URL] [--out DIR] \\
        [--metric val_acc --mode max] [--pruner median|halving|none] [any fit override, e.g. --trainer.max_epochs 3]

Each trial is a ``fit`` through :class:`~lr_recipes.pack.cli.RecipeCLI` (the same code path as
``python -m lr_recipes fit``) with the trial's values as one more ``--config`` overlay, in its own log dir
``<out>/trials/trial_NNNN`` (``metrics.csv``, ``lr_trace.csv``, ``summary.json``, ``config.yaml``; the overlay is
``trial_NNNN.yaml`` beside it). Trials do
not checkpoint and never touch the test set (``test_after_fit`` off): the objective is the best validation
value the trial logged. Results: the markdown table on stdout and in ``report.md``, ``trials.csv``,
``best.yaml`` (an overlay ``fit`` takes to reproduce the winner) and PNG plots, all in ``--out``
(:mod:`lr_recipes.pack.sweep_report`).

The study lives in ``--storage`` (default ``sqlite:///<out>/study.db``): rerunning the command resumes it,
and several workers (processes, machines) running the same command on one storage share it; ``--trials`` is
the study's total. Under ``torchrun`` every trial is a DDP run of all the launched processes: rank 0 talks to
the storage and sends each trial's configuration to the other ranks.

Example::

    >>> build_parser().parse_known_args(["--space", "s.yaml", "--trials", "3"])[0].trials
    3
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.exceptions import ExperimentalWarning
from optuna.trial import FrozenTrial, TrialState

from lr_recipes.pack.sweep_report import format_value, markdown_table, ranked, short_names, write_report
from lr_recipes.sweep.pruning import MetricNotLoggedError, TrialPruning
from lr_recipes.sweep.space import (
    SCHEDULE_KEY,
    SearchSpace,
    SweepSpaceError,
    check_keys,
    nested,
    trial_config,
)
from lr_recipes.sweep.study import TrialSeededTPESampler, make_pruner, mask_url, open_storage


class TrialFailed(Exception):
    """A trial that failed on its own (an error in its fit, a diverging run): recorded, and the sweep goes on."""


class _Surplus(Exception):
    """Another worker filled the study's trial count while this worker was asking for a trial."""


@dataclass
class Sweep:
    """One worker's view of a sweep: what it trains, where the study lives, and how trials are judged.

    Example::

        >>> Sweep(fit_args=["--config", "recipes/cosine.yaml"], space=SearchSpace.from_dict({"trainer.max_epochs": 2}),
        ...       trials=4, study_name="s", storage_url="sqlite:///s.db", out=Path("runs")).metric
        'val_acc'
    """

    fit_args: list[str]
    space: SearchSpace
    trials: int
    study_name: str
    storage_url: str
    out: Path
    metric: str = "val_acc"
    mode: str = "max"
    pruner: str = "median"
    prune_after: float = 0.25
    seed: int = 0
    heartbeat_s: int = 10
    top: int = 5
    base_schedule: dict[str, Any] | None = None
    total_steps: int | None = None
    rank: int = 0
    world_size: int = 1
    stopped_by_surplus: bool = field(default=False, repr=False)
    current_trial: Any = field(default=None, repr=False)  # the optuna.Trial this worker runs now

    @property
    def direction(self) -> str:
        """Optuna's direction for :attr:`mode`.

        Example::

            >>> Sweep([], SearchSpace.from_dict({"a.b": 1}), 1, "s", "sqlite://", Path("."), mode="min").direction
            'minimize'
        """
        return "maximize" if self.mode == "max" else "minimize"


# --- checks before any trial runs -----------------------------------------------------------------------------


def check_sweep(sweep: Sweep) -> None:
    """Resolve the config as ``fit`` would and check every key and value of the space against it.

    Sets ``sweep.base_schedule`` and ``sweep.total_steps``. Checks: every key outside ``model.schedule`` exists
    in the resolved config; every choice (and both ends of a range) parses and instantiates with the recipe;
    every schedule a trial can build passes :func:`lr_recipes.check_spec` and fits the run (durations).

    Raises:
        SweepSpaceError: naming the key, the value and what went wrong.

    Example::

        >>> # check_sweep(sweep) before the first trial; python -m lr_recipes sweep does it
    """
    from lr_recipes.pack.cli import RecipeCLI
    from lr_recipes.pack.preview import estimate_run

    with _quiet():
        cli = RecipeCLI(args=list(sweep.fit_args), run=False, save_config_callback=None)
    config = cli.config
    keys = list(config.keys())
    check_keys(sweep.space, lambda key: key in keys, keys)
    schedule = config.get(SCHEDULE_KEY)
    sweep.base_schedule = {"name": schedule} if isinstance(schedule, str) else schedule
    parser = cli.parser
    parser.exit_on_error = False
    for param in sweep.space.params:
        if param.key.startswith(SCHEDULE_KEY + "."):
            continue
        for value in param.probe_values():
            _check_value(parser, sweep.fit_args, param.key, value, param.describe())
    if sweep.base_schedule is None:
        if any(p.key.startswith(SCHEDULE_KEY + ".") for p in sweep.space.params):
            raise SweepSpaceError(f"the space sets {SCHEDULE_KEY}.* but the config has no {SCHEDULE_KEY}")
        return
    with _quiet():
        run, _ = estimate_run(cli.trainer, cli.datamodule)
    sweep.total_steps = run.total_steps
    _check_schedules_fit(sweep.space, sweep.base_schedule, run)


def _check_value(parser: Any, fit_args: Sequence[str], key: str, value: Any, allowed: str) -> None:
    try:
        with _quiet():
            cfg = parser.parse_args([*fit_args, f"--{key}={json.dumps(value)}"])
            parser.instantiate_classes(cfg)
    except (Exception, SystemExit) as err:
        message = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
        raise SweepSpaceError(
            f"{key}={value!r} is rejected by the config: {message} (the space has {allowed})"
        ) from None


def _check_schedules_fit(space: SearchSpace, base: dict[str, Any], run: Any) -> None:
    import torch

    from lr_recipes.registry import RecipeError, build

    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    for spec in space.check_schedules(base):
        try:
            build(spec, optimizer, total_steps=run.total_steps, steps_per_epoch=run.steps_per_epoch)
        except RecipeError as err:
            raise SweepSpaceError(
                f"{SCHEDULE_KEY}={spec} does not fit the run ({run.total_steps} optimizer steps, "
                f"{run.steps_per_epoch} per epoch): {err}"
            ) from None


@contextmanager
def _quiet() -> Iterator[list[warnings.WarningMessage]]:
    """Lightning's info lines and Python warnings off (a trial's own files keep what matters)."""
    loggers = [logging.getLogger(name) for name in ("lightning.pytorch", "lightning.fabric", "lightning")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield caught
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


# --- the study --------------------------------------------------------------------------------------------------


def open_study(sweep: Sweep) -> optuna.Study:
    """Create or load the study of ``sweep`` (seeded TPE, the chosen pruner, heartbeats on RDB storages).

    Example::

        >>> # study = open_study(sweep); study.trials
    """
    storage = open_storage(sweep.storage_url, heartbeat_s=sweep.heartbeat_s)
    warmup = int(sweep.prune_after * sweep.total_steps) if sweep.total_steps else 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        study = optuna.create_study(
            storage=storage,
            study_name=sweep.study_name,
            direction=sweep.direction,
            sampler=TrialSeededTPESampler(seed=sweep.seed, multivariate=True, group=True),
            pruner=make_pruner(sweep.pruner, warmup_steps=warmup),
            load_if_exists=True,
        )
    if study.direction.name.lower() != sweep.direction:
        raise SweepSpaceError(
            f"study {sweep.study_name!r} in {mask_url(sweep.storage_url)} was created to "
            f"{study.direction.name.lower()} its objective; --mode {sweep.mode} asks to {sweep.direction}: "
            "give another --study"
        )
    recorded = study.user_attrs.get("space")
    current = {p.key: p.describe() for p in sweep.space.params}
    if recorded is None:
        study.set_user_attr("space", current)
        study.set_user_attr("metric", sweep.metric)
        study.set_user_attr("fit_args", sweep.fit_args)
    elif recorded != current:
        print(f"sweep: warning: study {sweep.study_name!r} was started with another search space: {recorded}")
    return study


def counts_toward_total(trial: FrozenTrial) -> bool:
    """Whether a trial counts toward ``--trials``: finished, pruned, failed on its own, or running.

    A trial interrupted from outside (killed, Ctrl-C) does not count: its configuration runs again.

    Example::

        >>> import optuna
        >>> counts_toward_total(optuna.create_trial(state=optuna.trial.TrialState.FAIL, user_attrs={"error": "x"}))
        True
    """
    if trial.user_attrs.get("surplus"):
        return False
    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING):
        return True
    return trial.state == TrialState.FAIL and "error" in trial.user_attrs


def _fail_stale(study: optuna.Study) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def run_worker(sweep: Sweep, study: optuna.Study) -> None:
    """Run trials until the study has ``sweep.trials`` of them (this worker's and others' together).

    Example::

        >>> # run_worker(sweep, open_study(sweep))
    """
    sweep.out.mkdir(parents=True, exist_ok=True)
    while not sweep.stopped_by_surplus:
        _fail_stale(study)
        if sum(counts_toward_total(t) for t in study.get_trials(deepcopy=False)) >= sweep.trials:
            break
        try:
            study.optimize(
                lambda trial: _objective(trial, sweep),
                n_trials=1,
                catch=(TrialFailed, _Surplus),
                callbacks=[lambda st, ft: _progress(st, ft, sweep)],
                gc_after_trial=True,
            )
        except KeyboardInterrupt:
            raise
        except Exception as error:
            # Ctrl-C while Optuna stores the finished trial: Optuna 5.0's _run_trial then raises an
            # UnboundLocalError from its `finally` (the KeyboardInterrupt is its context) and the trial stays RUNNING.
            if not _caused_by_interrupt(error):
                raise
            _interrupted_while_stored(study, sweep)
            raise KeyboardInterrupt from None


def _caused_by_interrupt(error: BaseException) -> bool:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, KeyboardInterrupt):
            return True
        seen = seen.__context__
    return False


def _interrupted_while_stored(study: optuna.Study, sweep: Sweep) -> None:
    """The trial Ctrl-C caught while Optuna stored it, if it is still RUNNING: failed as interrupted, and its
    configuration queued to run again (as a trial interrupted while training is)."""
    trial = sweep.current_trial
    if trial is None:
        return
    frozen = next((t for t in study.get_trials(deepcopy=False) if t.number == trial.number), None)
    if frozen is None or frozen.state != TrialState.RUNNING:
        return  # stored before the interrupt: it stands
    _requeue_interrupted(trial)
    study.tell(trial, state=TrialState.FAIL)


def _requeue_interrupted(trial: optuna.Trial) -> None:
    """Mark a trial Ctrl-C stopped as interrupted (it did not fail on its own) and queue its configuration again."""
    trial.set_user_attr("interrupted", True)
    trial.study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})


def _objective(trial: optuna.Trial, sweep: Sweep) -> float:
    sweep.current_trial = trial
    trials = trial.study.get_trials(deepcopy=False)
    if sum(counts_toward_total(t) for t in trials if t.number < trial.number) >= sweep.trials:
        trial.set_user_attr("surplus", True)
        sweep.stopped_by_surplus = True
        raise _Surplus()
    values = sweep.space.suggest(trial)
    config = trial_config(values, sweep.base_schedule)
    trial.set_user_attr("values", values)
    trial.set_user_attr("config", config)
    frozen = next(t for t in trials if t.number == trial.number)
    stale_retry = optuna.storages.RetryHeartbeatStaleTrialCallback.retried_trial_number
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        retry_of = stale_retry(frozen)
    retry_of = trial.user_attrs.get("retry_of") if retry_of is None else retry_of
    if retry_of is not None:
        trial.set_user_attr("retry_of", retry_of)
    log_dir = sweep.out / "trials" / f"trial_{trial.number:04d}"
    trial.set_user_attr("log_dir", str(log_dir))
    if sweep.world_size > 1:
        import torch.distributed as dist

        dist.broadcast_object_list([(trial.number, config)], src=0)
    start = time.perf_counter()
    try:
        callback = run_trial(sweep, trial.number, config, trial)
    except MetricNotLoggedError:
        raise
    except (KeyboardInterrupt, SystemExit):
        # Ctrl-C (Lightning turns it into SystemExit): the trial did not fail on its own, so it runs again.
        _requeue_interrupted(trial)
        raise KeyboardInterrupt from None
    except Exception as err:
        trial.set_user_attr("error", mask_url(f"{type(err).__name__}: {err}")[:500])
        trial.set_user_attr("wall_s", round(time.perf_counter() - start, 2))
        raise TrialFailed(str(err)) from err
    wall = time.perf_counter() - start
    fit_s = _read_json(log_dir / "summary.json").get("wall_time_s")
    trial.set_user_attr("wall_s", round(wall, 2))
    trial.set_user_attr("overhead_s", round(wall - fit_s, 2) if fit_s is not None else None)
    trial.set_user_attr("steps", callback.history[-1][0] if callback.history else 0)
    trial.set_user_attr("best_value", callback.best)
    if callback.diverged:
        trial.set_user_attr("error", f"diverged: {callback.diverged}")
        raise TrialFailed(callback.diverged)
    if callback.pruned:
        raise optuna.TrialPruned(f"pruned at step {callback.history[-1][0]}")
    if callback.best is None:
        trial.set_user_attr("error", f"no validation run logged {sweep.metric}")
        raise TrialFailed("no validation run")
    return callback.best


def run_trial(sweep: Sweep, number: int, config: Mapping[str, Any], trial: optuna.Trial | None) -> TrialPruning:
    """Fit one trial's configuration through ``RecipeCLI`` (as ``fit`` would) in ``trials/trial_NNNN``.

    ``trial`` is ``None`` on the non-zero ranks of a DDP sweep.

    Example::

        >>> # callback = run_trial(sweep, 3, {"model.optimizer.init_args.lr": 0.1}, trial); callback.best
    """
    from lr_recipes.pack.cli import RecipeCLI

    log_dir = sweep.out / "trials" / f"trial_{number:04d}"
    log_dir.parent.mkdir(parents=True, exist_ok=True)
    overlay = _deep_merge(
        nested(dict(config)),
        {
            "trainer": {
                "logger": {
                    "class_path": "lightning.pytorch.loggers.CSVLogger",
                    "init_args": {"save_dir": str(sweep.out), "name": "trials", "version": log_dir.name},
                },
                "enable_checkpointing": False,
                "enable_progress_bar": False,
                "enable_model_summary": False,
            },
            "test_after_fit": False,
        },
    )
    overlay_path = log_dir.with_suffix(".yaml")  # beside the log dir: CSVLogger wants an empty one
    overlay_path.write_text(yaml.safe_dump(overlay, sort_keys=False))
    callback = TrialPruning(trial, monitor=sweep.metric, mode=sweep.mode)  # type: ignore[arg-type]
    with _quiet() as caught:
        try:
            RecipeCLI(
                args=["fit", *sweep.fit_args, "--config", str(overlay_path)],
                trainer_defaults={"callbacks": [callback]},
            )
        finally:
            notes = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
            log_dir.mkdir(parents=True, exist_ok=True)
            (log_dir / "warnings.txt").write_text("\n".join(notes) + ("\n" if notes else ""))
    return callback


def follow(sweep: Sweep) -> None:
    """The loop of a non-zero rank under ``torchrun``: run each configuration rank 0 sends, until it says stop.

    Example::

        >>> # follow(sweep) on ranks 1..N-1; rank 0 runs run_worker
    """
    import torch.distributed as dist

    while True:
        message: list[Any] = [None]
        dist.broadcast_object_list(message, src=0)
        if message[0] is None:
            return
        number, config = message[0]
        with contextlib.suppress(Exception):  # rank 0 records a failure; this rank goes on to the next one
            run_trial(sweep, number, config, None)


def _deep_merge(a: dict[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for key, value in b.items():
        out[key] = (
            _deep_merge(out[key], value) if isinstance(out.get(key), dict) and isinstance(value, Mapping) else value
        )
    return out


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _progress(study: optuna.Study, trial: FrozenTrial, sweep: Sweep) -> None:
    if trial.user_attrs.get("surplus"):
        return
    trials = study.get_trials(deepcopy=False)
    done = sum(counts_toward_total(t) and t.state != TrialState.RUNNING for t in trials)
    value = trial.value if trial.state == TrialState.COMPLETE else trial.user_attrs.get("best_value")
    shown = f"{sweep.metric} {value:.4f}" if isinstance(value, float) else f"{sweep.metric} -"
    try:
        best = f"best {study.best_value:.4f} (#{study.best_trial.number})"
    except ValueError:
        best = "best -"
    names = short_names(sweep.space.keys)
    params = " ".join(f"{names[k]}={format_value(v)}" for k, v in trial.user_attrs.get("values", {}).items())
    note = trial.user_attrs.get("error", "")
    if trial.state == TrialState.PRUNED:
        note = f"pruned at step {trial.user_attrs.get('steps')}"
    wall = trial.user_attrs.get("wall_s")
    print(
        f"sweep {sweep.study_name}: trial {trial.number:>3} [{done}/{sweep.trials}] {trial.state.name:<8} {shown}  "
        f"{best}  {wall if wall is not None else '-'}s  {params}{'  ' + note if note else ''}",
        flush=True,
    )


# --- the command ------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The ``sweep`` options; anything else (``--config``, ``--trainer.max_epochs 3``) goes to every trial's fit.

    Example::

        >>> build_parser().parse_known_args(["--space", "s.yaml", "--trials", "4", "--config", "c.yaml"])[0].trials
        4
    """
    parser = argparse.ArgumentParser(
        prog="python -m lr_recipes sweep",
        description="Compare schedules and tune their hyperparameters at equal budget, with Optuna.",
        epilog="Any other argument (--config FILE, --trainer.max_epochs 3, ...) is passed to every trial's fit.",
    )
    parser.add_argument("--space", required=True, help="the search space YAML (see sweeps/*.yaml)")
    parser.add_argument(
        "--trials", required=True, type=_positive_int, help="the study's total number of trials (all workers)"
    )
    parser.add_argument("--study", default=None, help="study name (default: the space file's name)")
    parser.add_argument(
        "--storage",
        default=None,
        help="sqlite:///x.db, postgresql://..., mysql://..., journal:<file> (default: sqlite:///<out>/study.db)",
    )
    parser.add_argument("--out", default=None, help="output dir (default: runs/sweep/<study>)")
    parser.add_argument("--metric", default="val_acc", help="the logged validation metric to optimize")
    parser.add_argument(
        "--mode", choices=("max", "min"), default=None, help="default: min for a *loss metric, else max"
    )
    parser.add_argument("--pruner", choices=("median", "halving", "none"), default="median")
    parser.add_argument(
        "--prune-after", type=float, default=0.25, help="no pruning before this fraction of the run (default 0.25)"
    )
    parser.add_argument("--seed", type=int, default=0, help="the sampler's seed (trial k's draw depends on seed and k)")
    parser.add_argument("--heartbeat", type=int, default=10, help="seconds between a running trial's heartbeats")
    parser.add_argument("--top", type=int, default=5, help="how many top trials the curve plots show")
    return parser


def sweep_main(argv: list[str]) -> int:
    """Entry point of ``python -m lr_recipes sweep``.

    Raises:
        SweepSpaceError: for a bad space or option (the CLI prints it and exits 2).

    Example::

        >>> # sweep_main(["--config", "recipes/cosine.yaml", "--space", "sweeps/schedules.yaml", "--trials", "16"])
    """
    args, fit_args = build_parser().parse_known_args(argv)
    if not any(a == "--config" or a.startswith("--config=") for a in fit_args):
        raise SweepSpaceError("give the recipe to sweep, e.g. --config recipes/cosine.yaml")
    if args.trials < 0:
        raise SweepSpaceError(f"--trials {args.trials}: must be >= 0")
    if not 0.0 <= args.prune_after < 1.0:
        raise SweepSpaceError(f"--prune-after {args.prune_after}: must be in [0, 1)")
    if args.heartbeat < 1:
        raise SweepSpaceError(f"--heartbeat {args.heartbeat}: must be >= 1 second")
    space = SearchSpace.from_yaml(args.space)
    study_name = args.study or Path(args.space).stem
    out = Path(args.out or os.path.join("runs", "sweep", study_name))
    storage = args.storage or f"sqlite:///{(out / 'study.db').resolve()}"
    mode = args.mode or ("min" if args.metric.endswith("loss") else "max")
    sweep = Sweep(
        fit_args=fit_args,
        space=space,
        trials=args.trials,
        study_name=study_name,
        storage_url=storage,
        out=out,
        metric=args.metric,
        mode=mode,
        pruner=args.pruner,
        prune_after=args.prune_after,
        seed=args.seed,
        heartbeat_s=args.heartbeat,
        top=args.top,
        rank=int(os.environ.get("RANK", 0)),
        world_size=int(os.environ.get("WORLD_SIZE", 1)),
    )
    check_sweep(sweep)
    out.mkdir(parents=True, exist_ok=True)
    if sweep.world_size > 1:
        _init_process_group()
        if sweep.rank != 0:
            follow(sweep)
            return 0
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    optimize_log = logging.getLogger("optuna.study._optimize")
    if not any(isinstance(f, _TrialFailureLog) for f in optimize_log.filters):
        optimize_log.addFilter(_TrialFailureLog())
    study = open_study(sweep)
    print(
        f"sweep {study_name}: {args.trials} trials in {mask_url(storage)}, {len(study.trials)} there already; "
        f"{mode} {sweep.metric}; trials in {out / 'trials'}",
        flush=True,
    )
    interrupted = False
    try:
        run_worker(sweep, study)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if sweep.world_size > 1:
            import torch.distributed as dist

            dist.broadcast_object_list([None], src=0)
    print(write_report(sweep, study))
    best = f"best overlay in {out / 'best.yaml'}" if (out / "best.yaml").exists() else "no finished trial, no best.yaml"
    print(f"sweep {study_name}: report in {out / 'report.md'}, {best}")
    if interrupted:
        print(f"sweep {study_name}: interrupted; run the same command again to resume")
        return 130
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed: a positive int (the study's total of trials)")
    return value


class _TrialFailureLog(logging.Filter):
    """Drops Optuna's "Trial N failed ... because of the following error" warnings (with a traceback even for
    Ctrl-C or a diverging LR): the sweep's own progress line and table say how each trial ended and why."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith("Trial ") and " failed with " in message)


def _init_process_group() -> None:
    """One process group for the sweep's ranks; Lightning's DDP reuses an initialized group for every trial."""
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo")


__all__ = [
    "Sweep",
    "TrialFailed",
    "check_sweep",
    "counts_toward_total",
    "markdown_table",
    "open_study",
    "ranked",
    "run_trial",
    "run_worker",
    "short_names",
    "sweep_main",
    "write_report",
]
