"""The per-step LR trace: the LR (and momentum) every param group stepped with, one row per optimizer step,
and its CSV / PNG output (the picture through :func:`lr_recipes.plotting.draw_lr`).

Example::

    >>> import torch
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
    >>> trace = LRTrace()
    >>> trace.set_layout(opt, ["lr-SGD"])
    >>> trace.record(opt, step=0, epoch=0)
    >>> trace.rows
    [{'step': 0, 'epoch': 0, 'lr-SGD': 0.1, 'lr-SGD-momentum': 0.9}]
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from typing import Any

import torch
from torch.optim import Optimizer

MOMENTUM_SUFFIX = "-momentum"


def plain(value: Any) -> Any:
    """A tensor as a Python number (capturable optimizers keep their LR in a tensor), anything else as is.

    Example::

        >>> import torch
        >>> plain(torch.tensor(0.5)), plain(3)
        (0.5, 3)
    """
    return value.item() if isinstance(value, torch.Tensor) else value


def momentum_kind(optimizer: Optimizer) -> str | None:
    """``"betas"`` (Adam family: beta1), ``"momentum"`` (SGD, RMSprop) or ``None``.

    Example::

        >>> import torch
        >>> momentum_kind(torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))]))
        'betas'
    """
    return "betas" if "betas" in optimizer.defaults else "momentum" if "momentum" in optimizer.defaults else None


class LRTrace:
    """One row per optimizer step: ``step``, ``epoch``, then each group's LR key and its ``…-momentum``.

    Rows are kept compact (step, epoch, layout, values) and turned into dicts only when read; values are
    read from the param groups without a host-device sync (tensor LRs are copied and read back later).

    Example::

        >>> LRTrace().columns()
        ['step', 'epoch']
    """

    def __init__(self) -> None:
        self._entries: list[tuple[int, int, tuple[str, ...], list[Any]]] = []
        self._restored: list[dict[str, Any]] = []  # rows restored from a checkpoint or set by hand
        # id(optimizer) -> (column names, momentum source: "betas" | "momentum" | None)
        self._layout: dict[int, tuple[tuple[str, ...], str | None]] = {}

    def set_layout(self, optimizer: Optimizer, names: Sequence[str]) -> None:
        """Name the columns of ``optimizer``'s rows: one LR key per param group (and momentum keys)."""
        kind = momentum_kind(optimizer)
        columns = tuple(names) + (tuple(f"{name}{MOMENTUM_SUFFIX}" for name in names) if kind else ())
        self._layout[id(optimizer)] = (columns, kind)

    def clear_layout(self) -> None:
        """Forget the optimizers (a new fit builds new ones)."""
        self._layout = {}

    def record(self, optimizer: Optimizer, step: int, epoch: int) -> None:
        """Append the LR and momentum every param group of ``optimizer`` is about to step with."""
        layout = self._layout.get(id(optimizer))
        if layout is None:
            return
        columns, kind = layout
        groups = optimizer.param_groups
        values = [g["lr"] for g in groups]
        if kind == "betas":
            values += [g["betas"][0] for g in groups]
        elif kind == "momentum":
            values += [g.get("momentum", 0) for g in groups]
        if isinstance(values[0], torch.Tensor):  # capturable optimizers: copy now, read back at fit end
            values = [v.detach().clone() if isinstance(v, torch.Tensor) else v for v in values]
        self._entries.append((step, epoch, columns, values))

    def knows(self, optimizer: Optimizer) -> bool:
        """Whether ``optimizer``'s steps are traced."""
        return id(optimizer) in self._layout

    def __len__(self) -> int:
        return len(self._restored) + len(self._entries)

    @property
    def rows(self) -> list[dict[str, Any]]:
        """Every row as a dict, in step order."""
        rows = list(self._restored)
        for step, epoch, columns, values in self._entries:
            row: dict[str, Any] = {"step": step, "epoch": epoch}
            row.update(zip(columns, values, strict=True))
            rows.append(row)
        return rows

    @rows.setter
    def rows(self, rows: list[dict[str, Any]]) -> None:
        self._restored, self._entries = list(rows), []

    def columns(self) -> list[str]:
        """Column names in order: ``step``, ``epoch``, then each LR (and momentum) key."""
        columns = ["step", "epoch"]
        for row in self._restored:
            columns.extend(key for key in row if key not in columns)
        for layout in dict.fromkeys(entry[2] for entry in self._entries):
            columns.extend(key for key in layout if key not in columns)
        return columns

    def write(
        self, directory: str | os.PathLike[str], name: str = "lr_trace", plot: bool = True, marks: Sequence[int] = ()
    ) -> tuple[str, str | None]:
        """Write ``<name>.csv`` and (with ``plot``) ``<name>.png`` into ``directory``; return their paths.

        ``marks``: steps to mark on the picture (plateau reductions).
        """
        os.makedirs(directory, exist_ok=True)
        csv_path = os.path.join(directory, f"{name}.csv")
        png_path = os.path.join(directory, f"{name}.png") if plot else None
        columns = self.columns()
        rows = [{k: plain(v) for k, v in row.items()} for row in self.rows]
        with open(csv_path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
        if png_path is not None:
            draw_trace(png_path, columns, rows, marks)
        return csv_path, png_path


def draw_trace(path: str, columns: Sequence[str], rows: list[dict[str, Any]], marks: Sequence[int] = ()) -> None:
    """Draw the LR (and momentum) columns of trace ``rows`` to ``path`` with :func:`~lr_recipes.plotting.draw_lr`.

    Example::

        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "t.png")
        >>> draw_trace(path, ["step", "epoch", "lr"], [{"step": 0, "epoch": 0, "lr": 0.1}])
        >>> os.path.exists(path)
        True
    """
    from lr_recipes.plotting import draw_lr

    def series(cols: list[str]) -> dict[str, tuple[list[float], list[float]]]:
        return {c: ([r["step"] for r in rows if c in r], [r[c] for r in rows if c in r]) for c in cols}

    lr_cols = [c for c in columns[2:] if not c.endswith(MOMENTUM_SUFFIX)]
    mom_cols = [c for c in columns[2:] if c.endswith(MOMENTUM_SUFFIX)]
    draw_lr(series(lr_cols), series(mom_cols), out=path, marks=marks)
