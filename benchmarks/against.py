"""benchmarks/in_hook.py for this checkout and an earlier revision, alternating processes: did a change move the ratios?

The in-hook ratios drift with the state of the shared machine (the same code read 1.08 one day and 1.2 the next for
plateau/50), so a change is measured against its base in the same window: ``--repeats`` rounds, each running
``in_hook.py --repeats 3`` once from the revision (extracted with ``git archive`` into a temporary folder, imported
instead of this checkout) and once from the working tree; medians of the per-process ratios.

    .venv/bin/python benchmarks/against.py 8de8e96 --repeats 5 --pairs plateau --warm-probe
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path
from typing import Any

import common


def extract(revision: str, into: Path) -> Path:
    """The ``lr_recipes`` and ``benchmarks`` folders of ``revision``, under ``into``."""
    archive = subprocess.run(
        ["git", "archive", revision, "lr_recipes", "benchmarks"], cwd=common.REPO, capture_output=True, check=False
    )
    if archive.returncode != 0:
        raise SystemExit(f"error: git archive {revision}: {archive.stderr.decode().strip()}")
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into


def in_hook(root: Path, out: Path, args: list[str]) -> dict[str, Any]:
    """One ``in_hook.py --repeats 3`` process importing ``lr_recipes`` from ``root``."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    command = [sys.executable, str(root / "benchmarks" / "in_hook.py"), "--repeats", "3", "--out", str(out), *args]
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"error: in_hook.py of {root} failed:\n{done.stderr.strip()[-2000:]}")
    return json.loads(out.read_text())["results"]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = common.parser("against", __doc__.split("\n\n")[0], repeats=5)
    p.add_argument("revision", help="the git revision to compare with (a commit, tag or branch)")
    p.add_argument("--pairs", nargs="+", choices=("cosine", "plateau"), default=["cosine", "plateau"])
    p.add_argument("--warm-probe", action="store_true", help="passed on to in_hook.py")
    p.add_argument("--probe-after", action="store_true", help="passed on to in_hook.py")
    args = p.parse_args(argv)
    extra = ["--pairs", *args.pairs, "--threads", str(args.threads)]
    extra += [flag for flag, on in (("--warm-probe", args.warm_probe), ("--probe-after", args.probe_after)) if on]
    extra += ["--smoke"] if args.smoke else []
    rounds = 1 if args.smoke else args.repeats
    ratios: dict[str, dict[str, list[float]]] = {"base": {}, "this": {}}
    with tempfile.TemporaryDirectory() as tmp:
        base = extract(args.revision, Path(tmp) / "base")
        for i in range(rounds):
            for side, root in (("base", base), ("this", common.REPO)):
                for key, entry in in_hook(root, Path(tmp) / f"{side}-{i}.json", extra).items():
                    ratios[side].setdefault(key, []).append(entry["ratio"])
    results = {
        key: {
            "base": round(statistics.median(ratios["base"][key]), 3),
            "this": round(statistics.median(ratios["this"][key]), 3),
            "base_ratios": ratios["base"][key],
            "this_ratios": ratios["this"][key],
        }
        for key in ratios["this"]
    }
    rows = [[key, r["base"], r["this"]] for key, r in results.items()]
    table = common.table(["pair", f"{args.revision} (median ratio)", "this checkout (median ratio)"], rows)
    print(table)
    result = {
        "benchmark": "against",
        "command": common.command(),
        "machine": common.machine(args.threads),
        "settings": {
            "revision": args.revision,
            "rounds": rounds,
            "pairs": args.pairs,
            "warm_probe": args.warm_probe,
            "probe_after": args.probe_after,
        },
        "results": results,
        "tables": [table],
    }
    common.write(args.out, result)
    return result


if __name__ == "__main__":
    main()
