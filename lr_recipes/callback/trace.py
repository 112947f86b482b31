"""The per-step LR trace: the LR (and momentum) every param group stepped with, one row per optimizer step,
streamed to ``<log_dir>/lr_trace.csv``, with a picture through :func:`lr_recipes.plotting.draw_lr`.

Memory and checkpoint state do not grow with the run: rows wait in a small buffer that is appended to the
file at log steps and validation once it holds ``flush_rows`` (500) rows, and always at checkpoints, fit
end, an exception, and when it fills (1000 rows). A hard kill (SIGKILL, out of memory) loses at most the rows
since the last flush, all of them after the last checkpoint (which flushes), so a resume runs and traces
them again. Only the last ``tail`` rows stay in memory. The steps of one optimizer with one param group and
plain-number values are kept as change points (:class:`_Run`): a step whose group holds the very LR and
momentum objects of the step before adds nothing but a count, which is what the callback checks inline at
every optimizer step (:meth:`LRTrace.record`). The columns are ``step``, ``epoch``, ``skipped``
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

import bisect
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
_PLAIN = (float, int)  # value types the trace writes itself (as the csv writer would: repr)


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
    return item.end - item.first if type(item) is _Run else 1


def _entries(item: Any) -> Iterator[tuple[int, int, int, tuple[str, ...], Sequence[Any]]]:
    """``(step, epoch, skipped, columns, values)`` of every row of a buffer item (a row entry or a run)."""
    if type(item) is not _Run:
        yield item[0], item[1], item[2], item[3], item[4]
        return
    for first, end, epoch, lr, m in item.pieces():
        values = (lr,) if item.kind is None else (lr, m)
        for step in range(first, end):
            yield step, epoch, 0, item.columns, values


def _run_text(run: _Run) -> str:
    """The CSV lines of a run in header order, as the csv writer would write them (floats as ``repr``, ints as
    ``str``, ``\\r\\n``), built without a row object per step: the steps of a piece (one value, one epoch) are
    joined by one suffix; a stretch of one-step pieces in one epoch (an LR that moves every step) is formatted
    in one pass."""
    out: list[str] = []
    momentum = run.kind is not None
    at, lrs, momenta, end = run.at, run.lrs, run.momenta, run.end
    for start, stop, epoch in run.spans():
        i = bisect.bisect_right(at, start) - 1  # the value that holds at the epoch's first step
        j = bisect.bisect_left(at, stop, i)  # the values that start inside it: at[i + 1 : j]
        if j - i == stop - start:  # one value per step
            line = f"{{}},{epoch},0,{{!r}},{{!r}}\r\n" if momentum else f"{{}},{epoch},0,{{!r}}\r\n"
            columns = (lrs[i:j], momenta[i:j]) if momentum else (lrs[i:j],)
            out.append("".join(map(line.format, range(start, stop), *columns)))
            continue
        for k in range(i, j):
            first, last = max(at[k], start), min(at[k + 1] if k + 1 < len(at) else end, stop)
            line = f"%d,{epoch},0,{lrs[k]!r},{momenta[k]!r}\r\n" if momentum else f"%d,{epoch},0,{lrs[k]!r}\r\n"
            out.append((line * (last - first)) % tuple(range(first, last)))  # one C call (reprs hold no "%")
    return "".join(out)


class _Run:
    """Consecutive steps of one optimizer with one param group and plain-number values, kept as change points:
    ``lrs[k]`` (and ``momenta[k]``) hold from step ``at[k]`` until the next change, so a step that changes
    nothing adds nothing (an LR that moves every step adds one value per step, as columns would).

    The rows are the steps ``first`` to ``end - 1``; ``marks`` are the ``(step, epoch)`` where each epoch of the
    run starts (``epoch`` is the last one's). For the fast path (:meth:`LRTrace.record`) the open run also holds
    the objects its group held at the last recorded step: ``lr_obj`` (``group["lr"]``) and ``m_obj``
    (``group.get(key)``: the momentum float, Adam's betas tuple, or ``None``); its ``end`` is the next step."""

    __slots__ = (
        "at", "columns", "end", "epoch", "first", "key", "kind", "limit", "lr_obj", "lrs", "m_obj", "m_val", "marks",
        "momenta", "optimizer",
    )  # fmt: skip

    def __init__(
        self, optimizer: Optimizer, columns: tuple[str, ...], kind: str | None, first: int, epoch: int, rows: int = 0
    ) -> None:
        self.optimizer, self.columns, self.kind = optimizer, columns, kind
        self.first, self.end, self.epoch, self.limit = first, first, epoch, first + rows
        self.key = "momentum" if kind == "momentum" else "betas" if kind == "betas" else None
        self.lr_obj: Any = None
        self.m_obj: Any = None
        self.m_val: Any = None  # the momentum value written for m_obj
        self.marks: list[tuple[int, int]] = [(first, epoch)]
        self.at: list[int] = []
        self.lrs: list[float] = []
        self.momenta: list[Any] = []

    def spans(self) -> Iterator[tuple[int, int, int]]:
        """``(start, stop, epoch)``: the steps of each epoch of the run (none empty)."""
        marks = self.marks
        for i, (start, epoch) in enumerate(marks):
            stop = marks[i + 1][0] if i + 1 < len(marks) else self.end
            if stop > start:
                yield start, stop, epoch

    def pieces(self) -> Iterator[tuple[int, int, int, float, Any]]:
        """``(start, stop, epoch, lr, momentum)``: the steps over which both the epoch and the values hold."""
        at, end = self.at, self.end
        for start, stop, epoch in self.spans():
            k = bisect.bisect_right(at, start) - 1
            while k < len(at) and at[k] < stop:
                first, last = max(at[k], start), min(at[k + 1] if k + 1 < len(at) else end, stop)
                yield first, last, epoch, self.lrs[k], self.momenta[k]
                k += 1

    def add(self, lr: float, m: Any, source: Any) -> None:
        """The next step (``end``) holds a new value: ``lr`` and momentum ``m`` (read from ``source``)."""
        step = self.end
        self.at.append(step)
        self.lrs.append(lr)
        self.momenta.append(m)
        self.lr_obj, self.m_obj, self.m_val, self.end = lr, source, m, step + 1

    def mark_epoch(self, step: int, epoch: int) -> None:
        """From ``step`` on, the rows are of ``epoch``."""
        if epoch != self.epoch:
            if self.marks[-1][0] == step:  # no row yet in the last epoch
                self.marks[-1] = (step, epoch)
            else:
                self.marks.append((step, epoch))
            self.epoch = epoch

    def split(self) -> _Run:
        """The rows so far as a closed run; this one goes on from its end with the values that hold there."""
        done = _Run(self.optimizer, self.columns, self.kind, self.first, self.epoch)
        done.end, done.marks, done.at, done.lrs, done.momenta = self.end, self.marks, self.at, self.lrs, self.momenta
        self.first = self.end
        self.marks = [(self.end, self.epoch)]
        self.at, self.lrs, self.momenta = [self.end], [done.lrs[-1]], [done.momenta[-1]]
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
        # counter did not move by the next one), or a closed _Run of many rows kept as change points.
        self.tail = tail
        self._tail: deque[Any] = deque()
        self._tail_rows = 0
        self._buffer: list[Any] = []
        self._buffered = 0  # rows in the buffer
        # The open run: the latest steps of a one-group optimizer, as change points (the fast path's state).
        self.run: _Run | None = None
        self._next = 0  # the step of the next record while no run is open (an open run's end is it)
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
        """Keep the LR and momentum every param group of ``optimizer`` is about to step with at ``step``; ``False``
        (and nothing kept) for an optimizer without a layout, or whose param groups changed since it was laid out.

        The fast path, for a caller that records every optimizer step (:class:`~lr_recipes.LRSchedulerCallback`
        does it inline): when there is an open :attr:`run` of ``optimizer`` with ``run.end < run.limit`` (the
        rows the buffer holds), the optimizer has one param group, and ``group.get(run.key) is run.m_obj`` (the
        momentum held), the step is ``run.end += 1`` if ``group["lr"] is run.lr_obj`` (plain floats and ints are
        immutable, so the same object is the same value) and ``run.add(lr, run.m_val, run.m_obj)`` if the LR is
        another float. A tensor LR never opens a run. The epoch then moves only with :meth:`set_epoch`."""
        run = self.run
        if run is not None and optimizer is run.optimizer and step == run.end:
            groups = optimizer.param_groups
            if len(groups) == 1:
                # Rows no flush point took are written now (a run has no more changes than rows: this bounds both).
                if step >= run.limit:
                    self.flush()
                group = groups[0]
                lr, source = group["lr"], group.get(run.key)
                if source is run.m_obj:  # momentum held (an LR schedule moves the LR alone)
                    if lr is run.lr_obj:
                        if epoch != run.epoch:
                            run.mark_epoch(step, epoch)
                        run.end = step + 1
                        return True
                    m = run.m_val
                else:
                    kind = run.kind
                    m = (
                        (0 if source is None else source)
                        if kind == "momentum"
                        else source[0]
                        if kind == "betas"
                        else None
                    )
                    if kind is not None and type(m) not in _PLAIN:
                        m = lr = None  # not a plain number: the general path below
                if type(lr) is float:
                    if epoch != run.epoch:
                        run.mark_epoch(step, epoch)
                    run.add(lr, m, source)
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
        self._next = step + 1
        values: Sequence[Any]
        if groups_laid_out == 1:  # most runs: no list comprehensions, a tuple of plain numbers
            group = groups[0]
            lr = group["lr"]
            key = "momentum" if kind == "momentum" else "betas" if kind == "betas" else None
            source = group.get(key) if key is not None else None
            values = (lr, 0 if source is None else source) if kind == "momentum" else (lr, source[0]) if key else (lr,)
            if counter is None and type(lr) is float and type(values[-1]) in _PLAIN:
                # No GradScaler (no step is skipped), plain numbers: a run of change points from this step.
                run = self.run = _Run(optimizer, columns, kind, step, epoch, self.buffer_rows - self._buffered)
                run.add(lr, values[-1] if kind else None, source)
                return True
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
        return True

    @property
    def next_step(self) -> int:
        """The step of the next record (the open run's end)."""
        run = self.run
        return run.end if run is not None else self._next

    @next_step.setter
    def next_step(self, step: int) -> None:
        self._end_run()
        self._next = step

    def set_epoch(self, epoch: int) -> None:
        """The steps from :attr:`next_step` on are of ``epoch`` (the fast path does not see the epoch)."""
        run = self.run
        if run is not None and epoch != run.epoch:
            run.mark_epoch(run.end, epoch)

    def _end_run(self) -> None:
        """Close the open run: it joins the buffer as one item."""
        run, self.run = self.run, None
        if run is not None:
            self._next = run.end
            run.limit = -1  # closed: a caller holding it (the callback's fast path) finds no room and records
            if run.end > run.first:
                self._buffer.append(run)
                self._buffered += run.end - run.first
                self._unsettled += 1  # no step counter: settle() passes over it

    def settle(self) -> None:
        """Mark the recorded steps as skipped or not; call between optimizer steps (all recorded ones ran)."""
        if self.run is not None:
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
        return self._tail_rows + self._buffered + self._open_rows()

    def _open_rows(self) -> int:
        run = self.run
        return run.end - run.first if run is not None else 0

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
        if self._buffered + self._open_rows() >= self.flush_rows:
            self.flush()

    def _keep_in_tail(self, items: list[Any]) -> None:
        """Append flushed items to the in-memory tail, dropping whole items older than its last ``tail`` rows."""
        for item in items:
            self._tail.append(item)
            self._tail_rows += _rows_in(item)
        while self._tail and self._tail_rows - _rows_in(self._tail[0]) >= self.tail:
            self._tail_rows -= _rows_in(self._tail.popleft())

    def flush(self) -> None:
        """Append the buffered rows to the file; call between optimizer steps."""
        run = self.run
        if run is not None:
            # The open run's rows so far are written with the rest; it stays open for the next steps (and the
            # fast path with it), so a flush at every log step costs no new run object.
            if run.end > run.first:
                done = run.split()
                self._buffer.append(done)
                self._buffered += done.end - done.first
                self._unsettled += 1  # as _end_run: no step counter, settle() passes over it
            self.run = None
        self.settle()
        if run is not None:
            run.limit = run.first + self.buffer_rows  # the buffer is written below: the open run may fill it
        self.run = run
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
            if in_order and type(item) is _Run:  # every column in header order: the run writes its own lines
                if out:
                    self._writer.writerows(out)
                    out = []
                self._file.write(_run_text(item))
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
