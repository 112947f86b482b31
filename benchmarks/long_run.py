"""Memory and checkpoint state of the LR trace over a long run, against the in-memory trace it replaced.

Simulated optimizer steps (no model): each step records the trace row as the callback's
``on_before_optimizer_step`` does, steps a one-parameter SGD (momentum, two param groups) and, every
``log_every_n_steps``, runs the log-step flush. Measured after ``--steps`` steps (default 100k): the
traced memory held by the trace (tracemalloc), the size of ``LRSchedulerCallback.state_dict()`` pickled as
``torch.save`` stores it, and the rows in ``lr_trace.csv``. The old design (every row kept in memory and in
the checkpoint as a dict) is rebuilt for the same steps to compare.

    .venv/bin/python benchmarks/long_run.py --steps 100000
"""

from __future__ import annotations

import io
import os
import tempfile
import time
import tracemalloc
from typing import Any

import common
import torch

from lr_recipes import LRSchedulerCallback
from lr_recipes.callback.trace import read_trace


def optimizer() -> torch.optim.Optimizer:
    params = [torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))]
    return torch.optim.SGD([{"params": params[:1]}, {"params": params[1:], "lr": 0.01}], lr=0.1, momentum=0.9)


def saved_bytes(state: dict[str, Any]) -> int:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.tell()


def ours(steps: int, log_every: int, directory: str) -> dict[str, Any]:
    opt = optimizer()
    cb = LRSchedulerCallback()
    trace = cb._trace
    trace.set_layout(opt, ["lr-SGD/pg1", "lr-SGD/pg2"])
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    trace.open(os.path.join(directory, "lr_trace.csv"), first_step=0)
    start = time.perf_counter()
    for step in range(steps):
        if step % log_every == 0:
            trace.flush_if_full()
        trace.record(opt, step, step // 1000)
        opt.step()
    elapsed = time.perf_counter() - start
    held, peak = (m - base for m in tracemalloc.get_traced_memory())
    tracemalloc.stop()
    state = cb.state_dict()
    trace.close()
    return {
        "trace_memory_bytes": held,
        "trace_memory_peak_bytes": peak,
        "checkpoint_state_bytes": saved_bytes(state),
        "rows_in_file": len(read_trace(trace.path)),
        "file_bytes": os.path.getsize(trace.path),
        "us_per_step_incl_optimizer": round(elapsed / steps * 1e6, 2),
    }


def old(steps: int) -> dict[str, Any]:
    """The replaced design: one (step, epoch, columns, values) tuple per step in memory, every row as a dict
    in the checkpoint."""
    opt = optimizer()
    columns = ("lr-SGD/pg1", "lr-SGD/pg2", "lr-SGD/pg1-momentum", "lr-SGD/pg2-momentum")
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    entries = []
    for step in range(steps):
        groups = opt.param_groups
        entries.append((step, step // 1000, columns, [g["lr"] for g in groups] + [g["momentum"] for g in groups]))
    held = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    rows = [{"step": s, "epoch": e, **dict(zip(c, v, strict=True))} for s, e, c, v in entries]
    start = time.perf_counter()
    size = saved_bytes({"trace_rows": rows, "plateau_events": []})
    return {"trace_memory_bytes": held, "checkpoint_state_bytes": size, "save_s": round(time.perf_counter() - start, 3)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = common.parser("long_run", __doc__.split("\n\n")[0], repeats=1)
    p.add_argument("--steps", type=int, default=100_000, help="simulated optimizer steps (default 100000)")
    p.add_argument("--log-every", type=int, default=50, help="log_every_n_steps (default 50)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    steps = 2000 if args.smoke else args.steps
    results = {}
    with tempfile.TemporaryDirectory() as directory:
        for n in sorted({steps // 100, steps // 10, steps}):
            results[n] = {"ours": ours(n, args.log_every, directory), "old": old(n)}
    rows = [
        [
            n,
            r["ours"]["trace_memory_bytes"],
            r["old"]["trace_memory_bytes"],
            r["ours"]["checkpoint_state_bytes"],
            r["old"]["checkpoint_state_bytes"],
            r["ours"]["rows_in_file"],
        ]
        for n, r in results.items()
    ]
    headers = ["steps", "trace memory B (ours)", "(old)", "checkpoint state B (ours)", "(old)", "rows in lr_trace.csv"]
    table = common.table(headers, rows)
    print(table)
    result = {
        "benchmark": "long_run",
        "command": common.command(),
        "machine": common.machine(args.threads),
        "settings": {"steps": steps, "log_every_n_steps": args.log_every, "smoke": args.smoke},
        "results": {str(n): r for n, r in results.items()},
        "tables": [table],
    }
    common.write(args.out, result)
    return result


if __name__ == "__main__":
    main()
