"""Every picture lr_recipes draws: LR (and momentum) curves against the optimizer step.

One function, :func:`draw_lr`, serves the callback's ``lr_trace.png``, ``python -m lr_recipes plot`` and the
notebooks. It uses matplotlib's object-oriented API on the Agg canvas: no pyplot, no global backend switch, so
it is safe inside training processes and notebooks alike. Other tools add their pictures here, so the look
(size, grid, labels) is the same everywhere.

Example::

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "lr.png")
    >>> fig = draw_lr({"lr-SGD": ([0, 1, 2], [0.1, 0.05, 0.0])}, out=path, title="cosine")
    >>> os.path.exists(path)
    True
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

Series = Mapping[str, tuple[Sequence[float], Sequence[float | None]]]
"""Curves by label: ``{label: (steps, values)}``."""


def new_figure(rows: int = 1, *, height: float = 3.8, width: float = 8.0) -> tuple[Any, list[Any]]:
    """A constrained-layout Agg figure with ``rows`` stacked axes sharing x.

    Example::

        >>> fig, axes = new_figure(2)
        >>> len(axes)
        2
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = list(fig.subplots(rows, 1, sharex=True, squeeze=False)[:, 0])
    return fig, axes


def save(fig: Any, out: str | os.PathLike[str]) -> str:
    """Write ``fig`` as a PNG (creating the folder); return the path.

    Example::

        >>> import tempfile, os
        >>> fig, _ = new_figure()
        >>> save(fig, os.path.join(tempfile.mkdtemp(), "sub", "x.png")).endswith("x.png")
        True
    """
    out = os.fspath(out)
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    fig.savefig(out, dpi=110)
    return out


def _finish(fig: Any, ax: Any, title: str | None, out: str | os.PathLike[str] | None, note: str | None = None) -> Any:
    """The common end of every ``draw_*``: title and note on ``ax``, the PNG to ``out`` if given; the figure."""
    if title:
        ax.set_title(title, fontsize=9)
    if note:
        ax.text(0.99, 0.95, note, transform=ax.transAxes, ha="right", va="top", fontsize=8, color="0.4")
    if out is not None:
        save(fig, out)
    return fig


def draw_lr(
    lrs: Series,
    momenta: Series | None = None,
    *,
    out: str | os.PathLike[str] | None = None,
    title: str | None = None,
    marks: Sequence[float] = (),
    epoch_lines: Sequence[float] = (),
    note: str | None = None,
) -> Any:
    """Draw LR curves (and a momentum panel when some momentum moves); save to ``out`` if given.

    Args:
        lrs: LR curves by label, ``{label: (steps, values)}``.
        momenta: momentum curves by label; a panel is drawn only if some curve is not flat.
        out: the PNG to write, or ``None``.
        title: the figure's title.
        marks: steps to mark with a dotted line (plateau reductions, a resume point).
        epoch_lines: steps to draw faint epoch boundaries at.
        note: a short grey note in the top-right corner.

    Returns:
        The matplotlib ``Figure``.

    Example::

        >>> fig = draw_lr({"lr": ([0, 1], [0.1, 0.1])}, {"m": ([0, 1], [0.9, 0.85])})
        >>> len(fig.axes)
        2
    """
    moving = {k: v for k, v in (momenta or {}).items() if len({x for x in v[1] if x is not None}) > 1}
    fig, axes = new_figure(2 if moving else 1, height=5.5 if moving else 3.8)
    panels = [(axes[0], lrs, "learning rate")] + ([(axes[1], moving, "momentum")] if moving else [])
    for ax, series, label in panels:
        for name, (steps, values) in series.items():
            ax.plot(list(steps), list(values), label=name, linewidth=1.3)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if len(series) > 1:
            ax.legend(fontsize="small")
    for ax in axes:
        for x in epoch_lines:
            ax.axvline(x, color="0.85", linewidth=0.6, zorder=0)
        for x in marks:
            ax.axvline(x, color="grey", linestyle=":", linewidth=1)
    axes[-1].set_xlabel("optimizer step")
    return _finish(fig, axes[0], title, out, note)


def draw_lr_find(
    lrs: Sequence[float],
    losses: Sequence[float],
    curve_lrs: Sequence[float],
    smoothed: Sequence[float],
    suggestions: Mapping[str, float],
    *,
    chosen: str | None = None,
    diverged_at: float | None = None,
    out: str | os.PathLike[str] | None = None,
    title: str | None = None,
) -> Any:
    """Draw an LR range test: loss against LR (log x), each suggestion marked, the chosen one labelled.

    Args:
        lrs: the LR of each raw loss.
        losses: the raw losses (drawn faint; non-finite ones are left out).
        curve_lrs: the LR of each smoothed value.
        smoothed: the smoothed losses.
        suggestions: LR by rule name, each drawn as a vertical line.
        chosen: the rule whose line is drawn solid and labelled with its value.
        diverged_at: the LR where the test stopped on divergence (a grey dotted line).
        out: the PNG to write, or ``None``.
        title: the figure's title.

    Returns:
        The matplotlib ``Figure``.

    Example::

        >>> fig = draw_lr_find([1e-3, 1e-2, 1e-1], [2.3, 2.0, 9.0], [1e-3, 1e-2], [2.3, 2.1],
        ...                    {"valley": 1e-2}, chosen="valley", diverged_at=1e-2)
        >>> fig.axes[0].get_xscale()
        'log'
    """
    import math

    fig, (ax,) = new_figure()
    finite = [(x, y) for x, y in zip(lrs, losses, strict=True) if math.isfinite(y)]
    if finite:
        ax.plot(*zip(*finite, strict=True), color="0.7", linewidth=0.8, label="loss per step")
    ax.plot(list(curve_lrs), list(smoothed), color="C0", linewidth=1.6, label="smoothed")
    colors = iter(["C1", "C2", "C3", "C4", "C5"])
    for name, lr in suggestions.items():
        is_chosen = name == chosen
        label = f"{name} {lr:.3g}" + (" (chosen)" if is_chosen else "")
        ax.axvline(
            lr, color=next(colors), linestyle="-" if is_chosen else "--", linewidth=2 if is_chosen else 1, label=label
        )
    if diverged_at is not None:
        ax.axvline(diverged_at, color="grey", linestyle=":", linewidth=1, label=f"stopped (diverged) {diverged_at:.3g}")
    if smoothed:
        # The raw loss explodes at the end; keep the smoothed curve's range in view.
        low, high = min(smoothed), max(smoothed)
        pad = 0.1 * (high - low or abs(high) or 1.0)
        ax.set_ylim(low - pad, high + 3 * pad)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (the optimizer's lr)")
    ax.set_ylabel("training loss")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    return _finish(fig, ax, title, out)


def draw_curves(
    curves: Series,
    *,
    out: str | os.PathLike[str] | None = None,
    ylabel: str = "value",
    title: str | None = None,
    xlabel: str = "optimizer step",
) -> Any:
    """Overlay curves (a metric of several runs against the step); save to ``out`` if given.

    Example::

        >>> fig = draw_curves({"#1": ([10, 20], [0.3, 0.5]), "#4": ([10, 20], [0.2, 0.4])}, ylabel="val_acc")
        >>> fig.axes[0].get_ylabel()
        'val_acc'
    """
    fig, axes = new_figure(1, height=4.2)
    ax = axes[0]
    for name, (steps, values) in curves.items():
        ax.plot(list(steps), list(values), label=name, linewidth=1.3, marker="." if len(steps) < 30 else None)
    ax.set_ylabel(ylabel)
    ax.set_xlabel(xlabel)
    ax.grid(alpha=0.3)
    if curves:
        ax.legend(fontsize="x-small")
    return _finish(fig, ax, title, out)


def draw_trials(
    points: Mapping[str, Sequence[tuple[float, float]]],
    *,
    mode: str = "max",
    out: str | os.PathLike[str] | None = None,
    ylabel: str = "objective",
    title: str | None = None,
) -> Any:
    """The objective of every trial by trial number, one marker per state, and the best so far as a step line.

    Args:
        points: ``{state: [(trial number, value), ...]}``; the ``"complete"`` ones make the best-so-far line.
        mode: ``"max"`` or ``"min"``: which way the best-so-far line moves.
        out: the PNG to write, or ``None``.
        ylabel: the objective's name.
        title: the figure's title.

    Example::

        >>> fig = draw_trials({"complete": [(0, 0.4), (2, 0.6)], "pruned": [(1, 0.3)]})
        >>> len(fig.axes[0].lines)
        3
    """
    fig, axes = new_figure(1, height=4.0)
    ax = axes[0]
    markers = {"complete": ("o", "C0"), "pruned": ("x", "C1"), "fail": ("v", "C3")}
    for state, pts in points.items():
        if pts:
            marker, color = markers.get(state, ("s", "0.5"))
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker, color=color, label=state, linestyle="none")
    done = sorted(points.get("complete", []))
    if done:
        best, xs, ys = None, [], []
        for x, y in done:
            best = y if best is None else (max(best, y) if mode == "max" else min(best, y))
            xs.append(x)
            ys.append(best)
        ax.step(xs, ys, where="post", color="C2", linewidth=1.2, label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small")
    else:  # every trial so far failed or was interrupted before a validation
        ax.text(0.5, 0.5, "no trial has a value yet", ha="center", va="center", transform=ax.transAxes)
    return _finish(fig, ax, title, out)


def draw_bars(
    values: Mapping[str, float], *, out: str | os.PathLike[str] | None = None, title: str | None = None
) -> Any:
    """Horizontal bars, largest on top (parameter importances).

    Example::

        >>> fig = draw_bars({"lr": 0.7, "schedule": 0.3})
        >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
        ['schedule', 'lr']
    """
    items = sorted(values.items(), key=lambda kv: kv[1])
    fig, axes = new_figure(1, height=1.2 + 0.35 * len(items), width=7.0)
    ax = axes[0]
    ax.barh([k for k, _ in items], [v for _, v in items], color="C0")
    ax.grid(alpha=0.3, axis="x")
    return _finish(fig, ax, title, out)


def draw_resume(
    before: Series,
    after: Series,
    resume_step: int,
    *,
    out: str | os.PathLike[str] | None = None,
    title: str | None = None,
    note: str | None = None,
) -> Any:
    """A resumed run's LR: the checkpoint's plan (dashed), the resume point and the plan the run continues with.

    Args:
        before: the checkpoint's plan by label, ``{label: (steps, values)}``, drawn dashed over its whole length.
        after: the new plan by label, drawn solid from the resume step on.
        resume_step: the step the run resumes at (a dotted line and a dot on each new curve).
        out: the PNG to write, or ``None``.
        title: the figure's title.
        note: a short grey note in the top-right corner (e.g. why the resume would be refused).

    Returns:
        The matplotlib ``Figure``.

    Example::

        >>> fig = draw_resume({"checkpoint": ([0, 1, 2], [0.1, 0.05, 0.0])},
        ...                   {"this run": ([0, 1, 2, 3], [0.1, 0.05, 0.02, 0.0])}, resume_step=1)
        >>> [line.get_label() for line in fig.axes[0].get_lines()][:2]
        ['checkpoint', 'this run']
    """
    fig, (ax,) = new_figure(1)
    for name, (steps, values) in before.items():
        ax.plot(list(steps), list(values), label=name, linestyle="--", color="0.55", linewidth=1.2)
    for name, (steps, values) in after.items():
        pairs = [(s, v) for s, v in zip(steps, values, strict=True) if s >= resume_step]
        ax.plot([s for s, _ in pairs], [v for _, v in pairs], label=name, linewidth=1.5)
        if pairs:
            ax.plot([pairs[0][0]], [pairs[0][1]], "o", color="black", markersize=3)
    ax.axvline(resume_step, color="grey", linestyle=":", linewidth=1)
    ax.annotate(f"resume at step {resume_step}", (resume_step, 0), xytext=(4, 4), textcoords="offset points",
                fontsize=8, color="0.3", xycoords=("data", "axes fraction"))  # fmt: skip
    ax.set_ylabel("learning rate")
    ax.set_xlabel("optimizer step")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return _finish(fig, ax, title, out, note)


def figure_rgba(fig: Any) -> tuple[int, int, bytes]:
    """The figure rendered: ``(height, width, RGBA bytes)`` (for ``SummaryWriter.add_image``; no numpy).

    Example::

        >>> fig, _ = new_figure(width=2.0, height=1.0)
        >>> height, width, data = figure_rgba(fig)
        >>> len(data) == height * width * 4
        True
    """
    fig.canvas.draw()
    width, height = fig.canvas.get_width_height(physical=True)
    return height, width, bytes(fig.canvas.buffer_rgba())
