"""The direct measure of benchmarks/overhead.py alone: CPU time per step inside the code that differs between
``LRSchedulerCallback`` + the recipe scheduler and ``LearningRateMonitor`` + the equivalent torch scheduler (the
callback's hooks, ``scheduler.step()``, the optimizer step hooks), for the four pairs, ``--repeats`` runs each,
interleaved ours/torch; medians. Quicker than the full script on a busy machine (no end-to-end baseline).

    .venv/bin/python benchmarks/in_hook.py --repeats 5
"""

from __future__ import annotations

import statistics
import tempfile
from typing import Any

import common
import overhead
import torch


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = common.parser("in_hook", __doc__.split("\n\n")[0], repeats=5)
    p.add_argument("--steps", type=common.positive_int, default=1500, help="training steps per run (default 1500)")
    p.add_argument(
        "--plateau-epoch-steps",
        type=common.positive_int,
        default=overhead.PLATEAU_EPOCH_STEPS,
        help=f"steps per epoch (one validation each) of the plateau pair (default {overhead.PLATEAU_EPOCH_STEPS})",
    )
    p.add_argument("--pairs", nargs="+", choices=("cosine", "plateau"), default=["cosine", "plateau"])
    p.add_argument(
        "--probe-after",
        action="store_true",
        help="put the clock probe after the LR callback (default before): the first callback at a hook runs colder",
    )
    p.add_argument(
        "--warm-probe",
        action="store_true",
        help="an empty timed callback first at every hook (it takes the cold caches), the LR callback, then the probe",
    )
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    common.quiet()
    load = common.LoadMonitor()
    steps, warmup, skip = (20, 5, 3) if args.smoke else (args.steps, 100, 20)
    results: dict[str, Any] = {}
    rows = []
    with tempfile.TemporaryDirectory() as logdir:
        for pair in args.pairs:
            for log_every in (50, 1):
                runs: dict[str, list[dict[str, Any]]] = {"ours": [], "torch": []}
                for _ in range(1 if args.smoke else args.repeats):
                    for variant in runs:
                        runs[variant].append(
                            overhead.fit(
                                pair, variant, steps, warmup, skip, log_every, logdir, True,
                                plateau_epoch_steps=args.plateau_epoch_steps, probe_after=args.probe_after,
                                warm_probe=args.warm_probe,
                            )
                        )  # fmt: skip
                med = {v: statistics.median(r["in_hooks"] for r in rs) * 1e6 for v, rs in runs.items()}
                raw = {v: statistics.median(r["in_hooks_uncorrected"] for r in rs) * 1e6 for v, rs in runs.items()}
                by_hook = {
                    v: {
                        k: round(statistics.median(r["by_hook"].get(k, 0.0) for r in rs) * 1e6 / steps, 2)
                        for k in sorted({k for r in rs for k in r["by_hook"]})
                        if k.startswith("step:")
                    }
                    for v, rs in runs.items()
                }
                ratio = med["ours"] / med["torch"]
                results[f"{pair}/log_every_n_steps={log_every}"] = {
                    "in_hooks_us_per_step": {v: round(t, 2) for v, t in med.items()},
                    "ratio": round(ratio, 3),
                    "in_hooks_uncorrected_us_per_step": {v: round(t, 2) for v, t in raw.items()},
                    "ratio_uncorrected": round(raw["ours"] / raw["torch"], 3),
                    "clock_cost_us_per_call": {
                        v: {
                            name: round(statistics.median(r["clock_cost_s"][name] for r in rs) * 1e6, 3)
                            for name in sorted(rs[0]["clock_cost_s"])
                        }
                        for v, rs in runs.items()
                    },
                    "in_hooks_hot_calibration_us_per_step": {
                        v: round(statistics.median(r["in_hooks_hot_calibration"] for r in rs) * 1e6, 2)
                        for v, rs in runs.items()
                    },
                    "us_per_step_by_hook": by_hook,
                }
                rows.append(
                    [pair, log_every, round(med["ours"], 2), round(med["torch"], 2), round(ratio, 3),
                     round(raw["ours"] / raw["torch"], 3)]
                )  # fmt: skip
                print(rows[-1], flush=True)
    table = common.table(
        ["pair", "log_every_n_steps", "ours in-hook us", "torch in-hook us", "ratio", "ratio, clock's cost kept"], rows
    )
    print(table)
    result = {
        "benchmark": "in_hook",
        "command": common.command(),
        "machine": common.machine(args.threads),
        "load_average_1min": load.stop(),
        "settings": {
            "steps": steps,
            "repeats": args.repeats,
            "smoke": args.smoke,
            "plateau_epoch_steps": args.plateau_epoch_steps,
            "probe_after": args.probe_after,
            "warm_probe": args.warm_probe,
        },
        "results": results,
        "tables": [table],
    }
    common.write(args.out, result)
    return result


if __name__ == "__main__":
    main()
