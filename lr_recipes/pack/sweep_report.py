"""The results of a ``sweep`` a person can read: the ranked trial table (markdown and ``trials.csv``), the
``best.yaml`` overlay that ``fit`` takes to reproduce the winner, and the PNG plots (objective per trial, the
top trials' LR and validation curves from their log dirs, parameter importances).

Every URL a trial's error or the storage line holds is masked (:func:`~lr_recipes.sweep.study.mask_url`).

Example::

    >>> short_names(["model.schedule.name", "model.optimizer.init_args.lr", "trainer.max_epochs"]).values()
    dict_values(['schedule', 'lr', 'trainer.max_epochs'])
"""

from __future__ import annotations

import csv
import json
import math
import os
import shlex
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
import yaml
from optuna.trial import FrozenTrial, TrialState

from lr_recipes.sweep.space import SCHEDULE_KEY, nested
from lr_recipes.sweep.study import mask_url

if TYPE_CHECKING:
    from lr_recipes.pack.sweep import Sweep


def short_names(keys: Sequence[str]) -> dict[str, str]:
    """Column names for config keys: ``schedule`` for the schedule's name, the last part for schedule and
    optimizer parameters, the full key otherwise (and wherever two short names would clash).

    Example::

        >>> short_names(["model.schedule.gamma", "data.batch_size"])
        {'model.schedule.gamma': 'gamma', 'data.batch_size': 'data.batch_size'}
    """

    def short(key: str) -> str:
        if key == f"{SCHEDULE_KEY}.name":
            return "schedule"
        for prefix in (SCHEDULE_KEY + ".", "model.optimizer.init_args."):
            if key.startswith(prefix):
                return key[len(prefix) :]
        return key

    names = {k: short(k) for k in keys}
    clashes = {n for n in names.values() if list(names.values()).count(n) > 1}
    return {k: (k if n in clashes else n) for k, n in names.items()}


def format_value(value: Any) -> str:
    """A parameter value as the table shows it: 4 significant digits, lists in brackets.

    Example::

        >>> format_value(0.123456), format_value(["30%", "60%"])
        ('0.1235', '[30%,60%]')
    """
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ",".join(format_value(v) for v in value) + "]"
    return str(value)


def ranked(study: optuna.Study, mode: str) -> list[FrozenTrial]:
    """The study's trials, best first: finished by objective, then pruned by their best value, then the rest.

    Example::

        >>> # ranked(study, "max")[0] is study.best_trial
    """
    order = {TrialState.COMPLETE: 0, TrialState.PRUNED: 1, TrialState.FAIL: 2, TrialState.RUNNING: 3}
    sign = -1.0 if mode == "max" else 1.0

    def key(t: FrozenTrial) -> tuple[int, float, int]:
        value = t.value if t.state == TrialState.COMPLETE else t.user_attrs.get("best_value")
        return (order.get(t.state, 4), sign * value if isinstance(value, float) else math.inf, t.number)

    return sorted((t for t in study.get_trials(deepcopy=False) if not t.user_attrs.get("surplus")), key=key)


def _objective_of(t: FrozenTrial) -> float | None:
    value = t.value if t.state == TrialState.COMPLETE else t.user_attrs.get("best_value")
    return value if isinstance(value, float) else None


def _note(t: FrozenTrial) -> str:
    parts = []
    if t.state == TrialState.PRUNED:
        parts.append(f"pruned at step {t.user_attrs.get('steps')}")
    if t.state == TrialState.FAIL and "error" not in t.user_attrs:
        parts.append("interrupted (its configuration is queued again)")
    if "error" in t.user_attrs:
        parts.append(str(t.user_attrs["error"]).replace("|", "/").replace("\n", " "))
    if "retry_of" in t.user_attrs:
        parts.append(f"retry of #{t.user_attrs['retry_of']}")
    return "; ".join(parts)


def table_rows(sweep: Sweep, trials: Sequence[FrozenTrial]) -> tuple[list[str], list[list[str]]]:
    """The report's header and rows, one per trial (ranked): rank, trial, state, objective, parameters, ...

    Example::

        >>> # header, rows = table_rows(sweep, ranked(study, sweep.mode))
    """
    keys = list(dict.fromkeys([*sweep.space.keys, *(k for t in trials for k in t.user_attrs.get("values", {}))]))
    names = short_names(keys)
    header = ["rank", "trial", "state", sweep.metric, *(names[k] for k in keys), "steps", "wall s", "note"]
    rows = []
    for rank, t in enumerate(trials, 1):
        values = t.user_attrs.get("values", {})
        objective = _objective_of(t)
        rows.append(
            [
                str(rank),
                str(t.number),
                t.state.name.lower(),
                f"{objective:.4f}" if objective is not None else "",
                *(format_value(values[k]) if k in values else "" for k in keys),
                str(t.user_attrs.get("steps", "")),
                str(t.user_attrs.get("wall_s", "")),
                _note(t),
            ]
        )
    return header, rows


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub markdown table.

    Example::

        >>> print(markdown_table(["a", "b"], [["1", "2"]]))
        | a | b |
        |---|---|
        | 1 | 2 |
    """
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def write_report(sweep: Sweep, study: optuna.Study) -> str:
    """Write ``trials.csv``, ``report.md``, ``best.yaml`` and the plots into ``sweep.out``; return the table.

    Workers that finish at about the same time each write the report; one whose snapshot of the study went
    stale while it drew (another worker finished a trial meanwhile, and writes its own report) keeps its
    hands off the files, so the newest report wins.

    Example::

        >>> # print(write_report(sweep, study))
    """
    out = sweep.out
    out.mkdir(parents=True, exist_ok=True)
    snapshot = _finished(study)
    trials = ranked(study, sweep.mode)
    header, rows = table_rows(sweep, trials)
    table = markdown_table(header, rows)
    files = {"trials.csv": _csv_text(sweep, trials)}
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    states = {s: sum(t.state == s for t in trials) for s in TrialState}
    steps_run = sum(int(t.user_attrs.get("steps") or 0) for t in trials)
    full = sweep.total_steps or 0
    lines = [
        f"# Sweep {sweep.study_name}",
        "",
        f"storage `{mask_url(sweep.storage_url)}`, objective: {sweep.mode} {sweep.metric}, "
        f"{len(trials)} trials: {states[TrialState.COMPLETE]} complete, {states[TrialState.PRUNED]} pruned, "
        f"{states[TrialState.FAIL]} failed, {states[TrialState.RUNNING]} running",
    ]
    if full and trials:
        lines.append(
            f"optimizer steps trained: {steps_run} of {full * len(trials)} without pruning "
            f"({1 - steps_run / (full * len(trials)):.0%} saved)"
        )
    lines += ["", table, ""]
    if complete:
        best = complete[0]
        files["best.yaml"] = best_overlay(sweep, best)
        lines.append(f"best: trial {best.number}, {sweep.metric} {best.value:.4f}; reproduce with")
        lines.append(f"`python -m lr_recipes fit {shlex.join(sweep.fit_args)} --config {out / 'best.yaml'}`")
    drafts = out / f".report-{os.getpid()}"
    plots = draw_plots(sweep, study, trials, drafts)
    lines += ["", "plots: " + ", ".join(p.name for p in plots)]
    files["report.md"] = "\n".join(lines) + "\n"
    if _finished(study) == snapshot:
        for name, text in files.items():
            _write_atomic(out / name, mask_url(text))
        for plot in plots:
            os.replace(plot, out / plot.name)
    for leftover in drafts.glob("*"):
        leftover.unlink()
    if drafts.exists():
        drafts.rmdir()
    return mask_url(table)


def _finished(study: optuna.Study) -> int:
    return sum(t.state.is_finished() for t in study.get_trials(deepcopy=False))


def _csv_text(sweep: Sweep, trials: Sequence[FrozenTrial]) -> str:
    import io

    keys = list(dict.fromkeys([*sweep.space.keys, *(k for t in trials for k in t.user_attrs.get("values", {}))]))
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["rank", "trial", "state", sweep.metric, *keys, "steps", "wall_s", "overhead_s", "log_dir", "note"])
    for rank, t in enumerate(trials, 1):
        values = t.user_attrs.get("values", {})
        objective = _objective_of(t)
        writer.writerow(
            [
                rank,
                t.number,
                t.state.name.lower(),
                "" if objective is None else objective,
                *(
                    json.dumps(values[k]) if isinstance(values.get(k), (list, dict)) else values.get(k, "")
                    for k in keys
                ),
                t.user_attrs.get("steps", ""),
                t.user_attrs.get("wall_s", ""),
                t.user_attrs.get("overhead_s", ""),
                t.user_attrs.get("log_dir", ""),
                _note(t),
            ]
        )
    return mask_url(buf.getvalue())


def best_overlay(sweep: Sweep, best: FrozenTrial) -> str:
    """``best.yaml``: the winner's values as an overlay for ``fit``, with where it came from in comments.

    Example::

        >>> # python -m lr_recipes fit --config recipes/cosine.yaml --config <out>/best.yaml
    """
    header = [
        f"# Best trial of sweep {sweep.study_name!r} ({mask_url(sweep.storage_url)}): trial {best.number}, "
        f"{sweep.metric} {best.value:.4f} ({sweep.mode}).",
        "# Reproduce the winner (trials ran without checkpoints and test set; this runs the recipe as configured):",
        f"#   python -m lr_recipes fit {shlex.join(sweep.fit_args)} --config {sweep.out / 'best.yaml'}",
    ]
    body = yaml.safe_dump(nested(best.user_attrs["config"]), sort_keys=False)
    return mask_url("\n".join(header) + "\n" + body)


def _write_atomic(path: Path, text: str) -> None:
    # Several workers may finish together: each replaces the file whole, none sees a half-written one.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def draw_plots(sweep: Sweep, study: optuna.Study, trials: Sequence[FrozenTrial], out: Path) -> list[Path]:
    """``objective.png``, ``lr_top.png``, ``val_top.png`` and (enough finished trials) ``importance.png`` in ``out``.

    Example::

        >>> # [p.name for p in draw_plots(sweep, study, ranked(study, "max"), sweep.out)]
    """
    from lr_recipes.plotting import draw_bars, draw_curves, draw_lr, draw_trials

    paths = []
    points = {state: [] for state in ("complete", "pruned", "fail")}
    for t in trials:
        value = _objective_of(t)
        state = t.state.name.lower()
        if state in points and value is not None:
            points[state].append((t.number, value))
    draw_trials(
        points,
        out=out / "objective.png",
        ylabel=sweep.metric,
        mode=sweep.mode,
        title=f"{sweep.study_name}: {sweep.metric} per trial",
    )
    paths.append(out / "objective.png")
    names = short_names(sweep.space.keys)
    top = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)][: sweep.top]
    lrs: dict[str, tuple[list[float], list[float]]] = {}
    vals: dict[str, tuple[list[float], list[float]]] = {}
    for t in top:
        label = f"#{t.number} " + " ".join(
            f"{names.get(k, k)}={format_value(v)}" for k, v in t.user_attrs.get("values", {}).items()
        )
        log_dir = Path(t.user_attrs.get("log_dir", ""))
        trace = _read_csv(log_dir / "lr_trace.csv")
        lr_col = next(
            (c for c in (trace[0] if trace else {}) if c.startswith("lr-") and not c.endswith("-momentum")), None
        )
        if lr_col:
            rows = [r for r in trace if r.get(lr_col)]
            lrs[label] = ([float(r["step"]) for r in rows], [float(r[lr_col]) for r in rows])
        metrics = [r for r in _read_csv(log_dir / "metrics.csv") if r.get(sweep.metric)]
        if metrics:
            vals[label] = ([float(r["step"]) for r in metrics], [float(r[sweep.metric]) for r in metrics])
    if lrs:
        draw_lr(lrs, out=out / "lr_top.png", title=f"LR of the top {len(lrs)} trials")
        paths.append(out / "lr_top.png")
    if vals:
        draw_curves(
            vals, out=out / "val_top.png", ylabel=sweep.metric, title=f"{sweep.metric} of the top {len(vals)} trials"
        )
        paths.append(out / "val_top.png")
    importances = _importances(study)
    if importances:
        draw_bars(
            {names.get(k, k): v for k, v in importances.items()},
            out=out / "importance.png",
            title="parameter importance (PED-ANOVA, finished trials)",
        )
        paths.append(out / "importance.png")
    return paths


def _importances(study: optuna.Study) -> dict[str, float]:
    complete = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    if len(complete) < 5:
        return {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # PED-ANOVA needs nothing beyond numpy (fANOVA, Optuna's default, needs scikit-learn).
            return optuna.importance.get_param_importances(
                study, evaluator=optuna.importance.PedAnovaImportanceEvaluator()
            )
    except (RuntimeError, ValueError, ImportError):
        return {}  # e.g. no parameter common to every finished trial


def _read_csv(path: Path) -> list[dict[str, str]]:
    try:
        with open(path, newline="") as f:
            return list(csv.DictReader(f))
    except OSError:
        return []


__all__ = [
    "best_overlay",
    "draw_plots",
    "format_value",
    "markdown_table",
    "ranked",
    "short_names",
    "table_rows",
    "write_report",
]
