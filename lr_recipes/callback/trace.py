"""The per-step LR trace: the LR (and momentum) every param group stepped with, one row per optimizer step,
streamed to ``<log_dir>/lr_trace.csv``, with a picture through :func:`lr_recipes.plotting.draw_lr`.

Memory and checkpoint state do not grow with the run: rows wait in a small buffer that is appended to the
file at log steps and validation once it holds ``flush_rows`` (500) rows, and always at checkpoints, fit
end, an exception, and when it fills (1000 rows). A hard kill (SIGKILL, out of memory) loses at most the rows
since the last flush, all of them after the last checkpoint (which flushes), so a resume runs and traces
them again. Only the last ``tail`` rows stay in memory. The columns are ``step``, ``epoch``, ``skipped``
(1 where a ``GradScaler`` skipped that optimizer step), then each LR key and its ``…-momentum``. When a
param group appears mid-run the header gains its key (and existing keys are renamed the way
``LearningRateMonitor`` renames them, ``lr-SGD`` -> ``lr-SGD/pg1``): the file is rewritten once.

A run resumed into the same file continues it: rows at or after the resume step (written after the
checkpoint) are cut first, so no row is duplicated or missing. A run resumed into a new log dir starts its
file at the resume step and writes ``lr_trace.json`` naming the files that hold the earlier steps;
:func:`read_trace` follows them.

Example::

    >>> import os, tempfile, torch
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
    >>> trace = LRTrace()
    >>> trace.set_layout(opt, ["lr-SGD"])
    >>> path = trace.open(os.path.join(tempfile.mkdtemp(), "lr_trace.csv"), first_step=0)
    >>> trace.record(opt, step=0, epoch=0)
    True
    >>> opt.step()
    >>> trace.close()
    >>> open(path).read().splitlines()
    ['step,epoch,skipped,lr-SGD,lr-SGD-momentum', '0,0,0,0.1,0.9']
"""

from __future__ import annotations

import csv
import itertools
import json
import os
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch.optim import Optimizer

MOMENTUM_SUFFIX = "-momentum"
FIXED_COLUMNS = ("step", "epoch", "skipped")
PLOT_POINTS = 20_000  # rows drawn at most: a 1M-step trace is thinned evenly for the picture


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


def _plain_or_copied(values: Sequence[Any]) -> Sequence[Any]:
    """``values`` as a tuple when they are plain numbers (the fast row), else a list with every tensor copied
    (a ``capturable`` optimizer's tensor LR changes in place)."""
    if all(type(v) in (float, int) for v in values):
        return tuple(values)
    return [v.detach().clone() if isinstance(v, torch.Tensor) else v for v in values]


def _rows_in(item: Any) -> int:
    return len(item.lrs) if type(item) is _Run else 1


def _entries(item: Any) -> Iterator[tuple[int, int, int, tuple[str, ...], Sequence[Any]]]:
    """``(step, epoch, skipped, columns, values)`` of every row of a buffer item (a row entry or a run)."""
    if type(item) is not _Run:
        yield item[0], item[1], item[2], item[3], item[4]
        return
    momenta = item.momenta if item.kind is not None else itertools.repeat(None)
    epochs = item.epochs()
    for i, (lr, m) in enumerate(zip(item.lrs, momenta, strict=False)):  # no momentum: repeat(None)
        yield item.first + i, epochs[i], 0, item.columns, (lr,) if item.kind is None else (lr, m)


def _run_text(run: _Run) -> str | None:
    """The CSV lines of a run in header order, as the csv writer would write them (floats as ``repr``, ints as
    ``str``, ``\\r\\n``), built without a row object per step; ``None`` when a value is not a plain float or int
    (the csv writer's own rules then apply). Where the values stay the same within an epoch (a plateau between
    reductions, a constant LR) the lines are the step numbers joined by one suffix, ~5 times cheaper than
    formatting every row."""
    cols = (run.lrs,) if run.kind is None else (run.lrs, run.momenta)
    types = [{*map(type, col)} for col in cols]
    if any(kinds - _PLAIN for kinds in types):
        return None
    n = len(run.lrs)
    # A column of one value of one type (a float zero excluded: 0.0 == -0.0, but their reprs differ) has one text.
    constant = [
        len(kinds) == 1 and col.count(col[0]) == n and (col[0] != 0 or type(col[0]) is int)
        for kinds, col in zip(types, cols, strict=True)
    ]
    one_type = all(len(kinds) == 1 for kinds in types)  # then a piece's equal values have the same text
    out = []
    for start, end, epoch in run.spans():
        if end == start:
            continue
        steps = range(run.first + start, run.first + end)
        if all(constant):  # the whole run: no slicing and counting per epoch
            values = [col[0] for col in cols]
        else:
            piece = [col[start:end] for col in cols] if len(run.marks) > 1 else cols
            if not all(
                col.count(col[0]) == end - start
                and (col[0] != 0 or type(col[0]) is int)
                and (one_type or {*map(type, col)} == {type(col[0])})
                for col in piece
            ):
                line = f"{{}},{epoch},0,{','.join('{!r}' for _ in piece)}\r\n"
                out.append("".join(map(line.format, steps, *piece)))
                continue
            values = [col[0] for col in piece]
        suffix = f",{epoch},0,{','.join(map(repr, values))}\r\n"
        out.append(suffix.join(map(str, steps)) + suffix)
    return "".join(out)


_PLAIN = {float, int}


class _Run:
    """Consecutive steps of one optimizer with one param group and plain-number values, kept as columns:
    a step appends its LR (and momentum) to lists instead of making a row, the cheapest record there is.

    ``first`` is the step of the first value; ``marks`` the ``(index, epoch)`` where each epoch of the run starts
    (``epoch`` is the last one's); ``room`` how many values fit before the buffer is full."""

    __slots__ = ("columns", "epoch", "first", "kind", "lrs", "marks", "momenta", "optimizer", "room")

    def __init__(
        self, optimizer: Optimizer, columns: tuple[str, ...], kind: str | None, first: int, epoch: int, room: int
    ) -> None:
        self.optimizer, self.columns, self.kind = optimizer, columns, kind
        self.first, self.epoch, self.room = first, epoch, room
        self.marks: list[tuple[int, int]] = [(0, epoch)]
        self.lrs: list[float] = []
        self.momenta: list[Any] = []

    def spans(self) -> Iterator[tuple[int, int, int]]:
        """``(start, end, epoch)``: the values of each epoch of the run are ``lrs[start:end]``."""
        marks = self.marks
        for i, (start, epoch) in enumerate(marks):
            yield start, marks[i + 1][0] if i + 1 < len(marks) else len(self.lrs), epoch

    def epochs(self) -> list[int]:
        """The epoch of every value."""
        return [epoch for start, end, epoch in self.spans() for _ in range(end - start)]

    def split(self) -> _Run:
        """The values so far as a closed run; this one goes on empty from the next step."""
        done = _Run(self.optimizer, self.columns, self.kind, self.first, self.epoch, 0)
        done.lrs, done.momenta, done.marks = self.lrs, self.momenta, self.marks
        self.first += len(self.lrs)
        self.lrs, self.momenta, self.marks = [], [], [(0, self.epoch)]
        return done


class _StepCounter:
    """Optimizer step post-hook counting the steps that really ran (a GradScaler skips ``optimizer.step``)."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, optimizer: Optimizer, args: Any, kwargs: Any) -> None:
        self.count += 1


class LRTrace:
    """The trace of one fit: layouts per optimizer, a buffer, a bounded in-memory tail, and the CSV file.

    Args:
        tail: rows kept in memory (:attr:`rows`); the file has them all.
        buffer_rows: rows buffered before they are appended to the file.

    Example::

        >>> LRTrace(tail=10).rows
        []
    """

    def __init__(self, tail: int = 1000, buffer_rows: int = 1000, flush_rows: int = 500) -> None:
        self.buffer_rows = buffer_rows
        self.flush_rows = flush_rows
        # Items of the buffer and the tail: a row entry [step, epoch, skipped (None until settled), columns,
        # values, its optimizer's step counter, the counter's value when recorded] (a step was skipped if the
        # counter did not move by the next one), or a closed _Run of many rows kept as columns.
        self.tail = tail
        self._tail: deque[Any] = deque()
        self._tail_rows = 0
        self._buffer: list[Any] = []
        self._buffered = 0  # rows in the buffer
        self._run: _Run | None = None  # the latest steps of a one-group optimizer, as columns (no per-step objects)
        self._unsettled = 0  # items at the end of the buffer whose skip flags are not known yet
        self._counters: dict[int, _StepCounter] = {}  # id(optimizer) -> its step counter
        self._hooks: list[Any] = []
        # id(optimizer) -> (column names, momentum source: "betas" | "momentum" | None)
        self._layout: dict[int, tuple[tuple[str, ...], str | None]] = {}
        self._header: list[str] = list(FIXED_COLUMNS)
        self._positions: dict[tuple[str, ...], tuple[list[int], bool]] = {}  # columns -> (where, in order)
        self._file: Any = None
        self._writer: Any = None
        self.path: str | None = None
        self.segments: list[dict[str, Any]] = []  # the files of the run so far: {"path", "first_step"}
        self.skipped = 0  # optimizer steps a GradScaler skipped, over the whole run (resumes included)

    # --- layout -------------------------------------------------------------------------------------

    def set_layout(self, optimizer: Optimizer, names: Sequence[str], count_steps: bool = False) -> None:
        """Name the columns of ``optimizer``'s rows (one LR key per param group, and momentum keys); with
        ``count_steps`` (a GradScaler may skip steps), count the steps that really ran to flag skipped ones."""
        kind = momentum_kind(optimizer)
        columns = tuple(names) + (tuple(f"{name}{MOMENTUM_SUFFIX}" for name in names) if kind else ())
        counter = self._counters.get(id(optimizer))
        if count_steps and counter is None:
            counter = self._counters[id(optimizer)] = _StepCounter()
            self._hooks.append(optimizer.register_step_post_hook(counter))
        self._layout[id(optimizer)] = (columns, kind, len(optimizer.param_groups), counter)
        self._extend_header(columns)

    def rename(self, renames: dict[str, str]) -> None:
        """Rename columns (``LearningRateMonitor``'s ``lr-SGD`` -> ``lr-SGD/pg1`` when a group appears),
        in the file too; call :meth:`set_layout` for the optimizer's new names after."""
        renames = {old: new for old, new in renames.items() if old != new}
        for old, new in list(renames.items()):
            renames[old + MOMENTUM_SUFFIX] = new + MOMENTUM_SUFFIX
        if any(name in renames for name in self._header):
            self.settle()
            self._rewrite([renames.get(name, name) for name in self._header])
            for item in self._buffer:
                if type(item) is _Run:
                    item.columns = tuple(renames.get(c, c) for c in item.columns)
                else:
                    item[3] = tuple(renames.get(c, c) for c in item[3])

    def clear_layout(self) -> None:
        """Forget the optimizers (a new fit builds new ones) and remove the step counters."""
        self.settle()
        for hook in self._hooks:
            hook.remove()
        self._hooks, self._layout, self._counters = [], {}, {}

    def names(self, optimizer: Optimizer) -> list[str]:
        """The LR keys of ``optimizer``'s param groups, as laid out now."""
        columns = self._layout[id(optimizer)][0] if id(optimizer) in self._layout else ()
        return [c for c in columns if not c.endswith(MOMENTUM_SUFFIX)]

    def knows(self, optimizer: Optimizer) -> bool:
        """Whether ``optimizer``'s steps are traced."""
        return id(optimizer) in self._layout

    def columns(self) -> list[str]:
        """Column names in order: ``step``, ``epoch``, ``skipped``, then each LR (and momentum) key."""
        return list(self._header)

    def _extend_header(self, columns: Sequence[str]) -> None:
        new = [c for c in columns if c not in self._header]
        if new:
            self._rewrite(self._header + new)

    # --- recording ----------------------------------------------------------------------------------

    def record(self, optimizer: Optimizer, step: int, epoch: int) -> bool:
        """Keep the LR and momentum every param group of ``optimizer`` is about to step with; ``False`` (and
        nothing kept) for an optimizer without a layout, or whose param groups changed since it was laid out."""
        run = self._run
        if run is not None:
            if optimizer is run.optimizer:
                groups = optimizer.param_groups
                if len(groups) == 1:
                    group = groups[0]
                    lr = group["lr"]
                    if type(lr) is float and len(run.lrs) < run.room:
                        if epoch != run.epoch:
                            if run.lrs:
                                run.marks.append((len(run.lrs), epoch))
                            else:  # a run left open by a flush, empty
                                run.marks[0] = (0, epoch)
                            run.epoch = epoch
                        run.lrs.append(lr)
                        if run.kind == "momentum":
                            run.momenta.append(group.get("momentum", 0))
                        elif run.kind == "betas":
                            run.momenta.append(group["betas"][0])
                        return True
            self._end_run()
        layout = self._layout.get(id(optimizer))
        if layout is None:
            return False
        columns, kind, groups_laid_out, counter = layout
        groups = optimizer.param_groups
        if len(groups) != groups_laid_out:
            return False
        if self._buffered >= self.buffer_rows:
            self.settle()  # every buffered step has run by now: this one has not started
            self.flush()
        values: Sequence[Any]
        if groups_laid_out == 1:  # most runs: no list comprehensions, a tuple of plain numbers
            group = groups[0]
            lr = group["lr"]
            if kind == "momentum":
                values = (lr, group.get("momentum", 0))
            elif kind == "betas":
                values = (lr, group["betas"][0])
            else:
                values = (lr,)
            if type(lr) is not float or type(values[-1]) is not float:
                values = _plain_or_copied(values)
        else:
            values = [g["lr"] for g in groups]
            if kind == "momentum":
                values += [g.get("momentum", 0) for g in groups]
            elif kind == "betas":
                values += [g["betas"][0] for g in groups]
            values = _plain_or_copied(values)
        self._buffer.append([step, epoch, 0, columns, values, counter, counter.count if counter is not None else 0])
        self._buffered += 1
        self._unsettled += 1
        if groups_laid_out == 1 and counter is None and type(values) is tuple and self._buffered < self.buffer_rows:
            # The next steps of this optimizer are most likely the same shape: keep them as columns.
            self._run = _Run(optimizer, columns, kind, step + 1, epoch, self.buffer_rows - self._buffered)
        return True

    def _end_run(self) -> None:
        """Close the open run: it joins the buffer as one item."""
        run, self._run = self._run, None
        if run is not None and run.lrs:
            self._buffer.append(run)
            self._buffered += len(run.lrs)
            self._unsettled += 1  # no step counter: settle() passes over it

    def settle(self) -> None:
        """Mark the recorded steps as skipped or not; call between optimizer steps (all recorded ones ran)."""
        if self._run is not None:
            self._end_run()
        if not self._unsettled:
            return
        entries = self._buffer[-self._unsettled :] if self._buffer else []
        later: dict[int, int] = {}  # counter -> its value at the next entry of the same optimizer
        for entry in reversed(entries):
            if type(entry) is _Run:
                continue  # no GradScaler: no step is skipped
            counter = entry[5]
            if counter is None:
                continue  # no GradScaler: no step is skipped
            after = later.get(id(counter), counter.count)
            skipped = after == entry[6]
            entry[2] = int(skipped)
            self.skipped += skipped
            later[id(counter)] = entry[6]
        self._unsettled = 0

    def __len__(self) -> int:
        return self._tail_rows + self._buffered + (len(self._run.lrs) if self._run is not None else 0)

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The last ``tail`` rows as dicts, in step order (the file has every row: :func:`read_trace`)."""
        self.settle()
        rows: list[dict[str, Any]] = []
        for item in reversed([*self._tail, *self._buffer]):
            if len(rows) >= self.tail:
                break
            for step, epoch, skipped, columns, values in reversed(list(_entries(item))):
                row: dict[str, Any] = {"step": step, "epoch": epoch, "skipped": skipped}
                row.update(zip(columns, map(plain, values), strict=True))
                rows.append(row)
        return rows[: self.tail][::-1]

    # --- the file -----------------------------------------------------------------------------------

    def open(self, path: str, first_step: int, resumed: dict[str, Any] | None = None) -> str:
        """Start writing ``path`` with rows from ``first_step`` on.

        Args:
            path: the CSV file.
            first_step: the step of the first row this fit records (``trainer.global_step`` at train start).
            resumed: the trace state saved in the checkpoint (:meth:`state_dict`) when the run resumes:
                if it wrote ``path``, its rows before ``first_step`` are kept and the rest cut; otherwise
                ``path`` starts fresh and ``<name>.json`` next to it names the files of the earlier steps.
                A checkpoint of lr_recipes before the trace was streamed holds the rows themselves
                (``"rows"``): those before ``first_step`` are written at the top of the new file.
        """
        self.close()
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        self.path = path
        resumed = resumed or {}
        earlier = [dict(s) for s in resumed.get("segments", [])]
        self.skipped = int(resumed.get("skipped", 0))
        continues = resumed.get("path")
        keep = continues is not None and os.path.abspath(continues) == os.path.abspath(path) and os.path.exists(path)
        if keep and first_step > 0:
            old_header = _cut_from(path, first_step)
            self._header = old_header + [c for c in self._header if c not in old_header]
            if self._header != old_header:
                self._rewrite(self._header, force=True)
            self.segments = earlier or [{"path": path, "first_step": 0}]
        else:
            carried = [r for r in resumed.get("rows", []) if int(r.get("step", first_step)) < first_step]
            old_columns = (c for r in carried for c in r if c not in FIXED_COLUMNS)
            self._header = list(dict.fromkeys([*self._header, *old_columns]))
            with open(path, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=self._header, restval="", extrasaction="ignore")
                writer.writeheader()
                writer.writerows({"skipped": 0, **{k: plain(v) for k, v in r.items()}} for r in carried)
            start = min((int(r["step"]) for r in carried), default=first_step)
            self.segments = [*earlier, {"path": path, "first_step": start}]
            meta = os.path.splitext(path)[0] + ".json"
            if start > 0:
                with open(meta, "w") as f:
                    json.dump({"segments": self.segments}, f, indent=1)
            elif os.path.exists(meta):
                os.remove(meta)
        self._positions = {}
        self._file = open(path, "a", newline="")  # noqa: SIM115 - kept open for the whole fit, closed by close()
        self._writer = csv.writer(self._file)
        return path

    def flush_if_full(self) -> None:
        """:meth:`flush` once ``flush_rows`` rows are buffered (at log steps: a write per step would cost
        more than the row)."""
        if self._buffered + (len(self._run.lrs) if self._run is not None else 0) >= self.flush_rows:
            self.flush()

    def _keep_in_tail(self, items: list[Any]) -> None:
        """Append flushed items to the in-memory tail, dropping whole items older than its last ``tail`` rows."""
        for item in items:
            self._tail.append(item)
            self._tail_rows += len(item.lrs) if type(item) is _Run else 1
        while self._tail and self._tail_rows - _rows_in(self._tail[0]) >= self.tail:
            self._tail_rows -= _rows_in(self._tail.popleft())

    def flush(self) -> None:
        """Append the buffered rows to the file; call between optimizer steps."""
        run = self._run
        if run is not None:
            # The open run's values so far are written with the rest; it stays open for the next steps, so a
            # flush at every log step costs no new row object.
            if run.lrs:
                done = run.split()
                self._buffer.append(done)
                self._buffered += len(done.lrs)
                self._unsettled += 1  # as _end_run: no step counter, settle() passes over it
            self._run = None
        self.settle()
        if run is not None:
            run.room = self.buffer_rows
            self._run = run
        if not self._buffer:
            return
        items, self._buffer, self._buffered = self._buffer, [], 0
        self._keep_in_tail(items)
        if self._writer is None:
            return
        width = len(self._header)
        out: list[Any] = []  # rows for the csv writer, written before any run text that follows them
        for item in items:
            columns = item.columns if type(item) is _Run else item[3]
            placed = self._positions.get(columns)
            if placed is None:
                positions = [self._header.index(c) for c in columns]
                placed = self._positions[columns] = (positions, positions == list(range(3, width)))
            positions, in_order = placed
            if in_order and type(item) is _Run:  # every column in header order: the lists are the rows
                text = _run_text(item)
                if text is not None:
                    if out:
                        self._writer.writerows(out)
                        out = []
                    self._file.write(text)
                    continue
                n = len(item.lrs)
                steps, epochs, skips = range(item.first, item.first + n), item.epochs(), [0] * n
                values = (item.lrs,) if item.kind is None else (item.lrs, item.momenta)
                out.extend(zip(steps, epochs, skips, *values, strict=True))
                continue
            for step, epoch, skipped, _, values in _entries(item):
                if in_order and type(values) is tuple:  # plain numbers in header order
                    out.append((step, epoch, skipped, *values))
                    continue
                line: list[Any] = [""] * width
                line[0], line[1], line[2] = step, epoch, skipped
                for pos, value in zip(positions, values, strict=True):
                    line[pos] = value.item() if isinstance(value, torch.Tensor) else value
                out.append(line)
        if out:
            self._writer.writerows(out)
        self._file.flush()

    def close(self) -> None:
        """Settle, flush and close the file."""
        self.settle()
        self.flush()
        if self._file is not None:
            self._file.close()
        self._file = self._writer = None

    def _rewrite(self, header: list[str], force: bool = False) -> None:
        """Give the file a new header (renamed or added columns), moving each value to its column."""
        old = self._header
        self._header, self._positions = list(header), {}
        if self.path is None or not os.path.exists(self.path) or (header == old and not force):
            return
        self.settle()
        self.flush()
        if self._file is not None:
            self._file.close()
        with open(self.path, newline="") as f:
            reader = csv.reader(f)
            file_header = next(reader, old)
            renamed = [header[old.index(c)] if c in old and len(old) == len(header) else c for c in file_header]
            rows = [dict(zip(renamed, row, strict=False)) for row in reader]
        with open(self.path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=header, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
        if self._file is not None:
            self._file = open(self.path, "a", newline="")  # noqa: SIM115
            self._writer = csv.writer(self._file)

    # --- checkpoint state ---------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Plain values of constant size: the file, its columns and the skipped count (rows are in the file).

        Example::

            >>> LRTrace().state_dict()
            {'path': None, 'skipped': 0, 'segments': []}
        """
        self.settle()
        self.flush()
        return {"path": self.path, "skipped": self.skipped, "segments": [dict(s) for s in self.segments]}


def _cut_from(path: str, first_step: int) -> list[str]:
    """Cut ``path`` (a trace CSV in step order) before its first row with a step >= ``first_step``; return
    its header."""
    with open(path, "rb+") as f:
        header = next(csv.reader([f.readline().decode()]), [])
        offset = f.tell()
        for line in iter(f.readline, b""):
            step = line.split(b",", 1)[0]
            if step.strip() and int(step) >= first_step:
                break
            offset = f.tell()
        f.truncate(offset)
    return list(header)


def read_trace(path: str | os.PathLike[str], follow: bool = True) -> list[dict[str, Any]]:
    """Every row of a trace CSV as a dict of numbers (empty cells left out), in step order; with ``follow``,
    the rows before a resume are read first from the files its ``lr_trace.json`` names (if still there).

    Example::

        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "lr_trace.csv")
        >>> _ = open(path, "w").write("step,epoch,skipped,lr-SGD\\n0,0,0,0.1\\n1,0,1,0.1\\n")
        >>> read_trace(path)[1]
        {'step': 1, 'epoch': 0, 'skipped': 1, 'lr-SGD': 0.1}
    """
    path = os.fspath(path)
    rows: list[dict[str, Any]] = []
    meta = os.path.splitext(path)[0] + ".json"
    if follow and os.path.exists(meta):
        with open(meta) as f:
            segments = json.load(f)["segments"]
        for here, nxt in itertools.pairwise(segments):
            if os.path.exists(here["path"]) and os.path.abspath(here["path"]) != os.path.abspath(path):
                rows += [r for r in read_trace(here["path"], follow=False) if r["step"] < nxt["first_step"]]
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            rows.append(
                {k: (int(v) if k in FIXED_COLUMNS else float(v)) for k, v in row.items() if v not in ("", None)}
            )
    return rows


def draw_trace(path: str | None, rows: list[dict[str, Any]], marks: Sequence[int] = ()) -> Any:
    """Draw the LR (and momentum) columns of trace ``rows`` to ``path`` (thinned to :data:`PLOT_POINTS`
    rows) with :func:`~lr_recipes.plotting.draw_lr`; return the figure.

    Example::

        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "t.png")
        >>> _ = draw_trace(path, [{"step": 0, "epoch": 0, "skipped": 0, "lr": 0.1}])
        >>> os.path.exists(path)
        True
    """
    from lr_recipes.plotting import draw_lr

    skipped = sum(r.get("skipped", 0) for r in rows)
    if len(rows) > PLOT_POINTS:
        stride = -(-len(rows) // PLOT_POINTS)
        rows = rows[::stride] + ([rows[-1]] if (len(rows) - 1) % stride else [])
    columns = list(dict.fromkeys(k for r in rows for k in r if k not in FIXED_COLUMNS))

    def series(cols: list[str]) -> dict[str, tuple[list[float], list[float]]]:
        return {c: ([r["step"] for r in rows if c in r], [r[c] for r in rows if c in r]) for c in cols}

    lr_cols = [c for c in columns if not c.endswith(MOMENTUM_SUFFIX)]
    mom_cols = [c for c in columns if c.endswith(MOMENTUM_SUFFIX)]
    note = f"{skipped} optimizer steps skipped (AMP)" if skipped else None
    return draw_lr(series(lr_cols), series(mom_cols), out=path, marks=marks, note=note)
