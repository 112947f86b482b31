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


def figure_rgb(fig: Any) -> Any:
    """The figure rendered as an ``(height, width, 3)`` uint8 array (for ``SummaryWriter.add_image``).

    Example::

        >>> fig, _ = new_figure(width=2.0, height=1.0)
        >>> figure_rgb(fig).shape[-1]
        3
    """
    import numpy as np

    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
