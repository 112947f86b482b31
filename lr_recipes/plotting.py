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
    for ax, series, label in ((axes[0], lrs, "learning rate"), (axes[-1], moving, "momentum")):
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
    if title:
        axes[0].set_title(title, fontsize=9)
    if note:
        axes[0].text(0.99, 0.95, note, transform=axes[0].transAxes, ha="right", va="top", fontsize=8, color="0.4")
    axes[-1].set_xlabel("optimizer step")
    if out is not None:
        save(fig, out)
    return fig


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
    if title:
        ax.set_title(title, fontsize=9)
    if note:
        ax.text(0.99, 0.95, note, transform=ax.transAxes, ha="right", va="top", fontsize=8, color="0.4")
    if out is not None:
        save(fig, out)
    return fig
