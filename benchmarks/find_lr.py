"""``find`` on the ResNet-20 recipes on real CIFAR-10 (the JPEG copy), against the literature LR and Lightning's
``Tuner.lr_find``.

For each recipe (``polynomial``: SGD, lr 0.1; ``inverse_sqrt``: AdamW, lr 2e-3), all from the recipe's
``seed_everything: 0`` and data seed 0:

1. ``find`` as the command runs it (:func:`lr_recipes.pack.find_cmd.find`): the full 45k training split, the
   recipe's batch 128, the default range (1e-5 to 10 over 100 optimizer steps), rule ``valley``; its wall
   time (CLI build + test) and its share of the recipe's full training time, estimated from the short
   runs' measured wall time per optimizer step (the full run's optimizer steps x s/step).
2. Lightning's ``Tuner.lr_find`` on a second copy of the same run (same seed, so the same initial weights),
   with Lightning's defaults (1e-8 to 1 over 100 steps), and its ``suggestion()``.
3. Short fixed-budget runs at each LR (the literature LR, find's, Lightning's): ``train_subset`` images
   (class-stratified), ``--epochs`` epochs, the recipe's schedule over that run (inverse_sqrt's 5-epoch
   warmup becomes 10% of the run), validation accuracy at the end on ``--limit_val_batches`` batches of
   the 5000 held-out images.

    .venv/bin/python benchmarks/find_lr.py --recipes polynomial --out benchmarks/results/find_lr_polynomial.json
"""

from __future__ import annotations

import csv
import tempfile
import time
from pathlib import Path
from typing import Any

import common
import torch

from lr_recipes.pack.cli import RecipeCLI
from lr_recipes.pack.cli import main as cli_main
from lr_recipes.pack.find_cmd import find
from lr_recipes.pack.preview import estimate_run

JPEG = Path("/work/shared/data/cifar10_jpeg.tar.gz")
CACHE = Path("/work/coord/data/cache")
RECIPES = {"polynomial": 0.1, "inverse_sqrt": 2.0e-3}  # the recipe files' (literature) LRs
SHORT_SCHEDULES = {"inverse_sqrt": '{"name": "inverse_sqrt", "warmup": "10%", "warmup_start_factor": 0.01}'}


def base_args(recipe: str, args: Any, logdir: str) -> list[str]:
    out = ["--config", str(common.REPO / "recipes" / f"{recipe}.yaml")]
    out += ["--trainer.logger.init_args.save_dir", logdir, "--trainer.enable_progress_bar", "false"]
    out += ["--trainer.enable_model_summary", "false", "--trainer.num_sanity_val_steps", "0"]
    out += ["--trainer.enable_checkpointing", "false", "--test_after_fit", "false"]
    if args.smoke:
        out += ["--config", str(common.REPO / "recipes" / "smoke.yaml"), "--trainer.limit_train_batches", "14"]
    else:
        out += ["--data.source", "imagefolder", "--data.root", str(JPEG), "--data.cache_dir", str(CACHE)]
        out += ["--data.num_workers", "0"]
    return out


def lightning_lr_find(args_list: list[str], num_steps: int) -> tuple[float | None, float]:
    from lightning.pytorch.tuner import Tuner

    start = time.perf_counter()
    cli = RecipeCLI(args=args_list, run=False, save_config_callback=None)
    finder = Tuner(cli.trainer).lr_find(cli.model, datamodule=cli.datamodule, num_training=num_steps, update_attr=False)
    return (finder.suggestion() if finder is not None else None), time.perf_counter() - start


def short_run(args_list: list[str], recipe: str, lr: float, args: Any, logdir: str, name: str) -> dict[str, Any]:
    run = [*args_list, "--model.optimizer.init_args.lr", f"{lr:.6g}", "--trainer.max_epochs", str(args.epochs)]
    run += ["--trainer.logger.init_args.name", name, "--trainer.check_val_every_n_epoch", str(args.epochs)]
    run += ["--trainer.limit_val_batches", str(args.limit_val_batches)]
    if not args.smoke:
        run += ["--data.train_subset", str(args.train_subset)]
    if recipe in SHORT_SCHEDULES:
        run += ["--model.schedule", SHORT_SCHEDULES[recipe]]
    start = time.perf_counter()
    cli_main(["fit", *run])
    wall = time.perf_counter() - start
    log_dir = max(Path(logdir, name).glob("version_*"))
    with open(log_dir / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    accs = [float(r["val_acc"]) for r in rows if r.get("val_acc")]
    steps = max(int(r["step"]) for r in rows) + 1
    return {"lr": lr, "val_acc": accs[-1], "wall_s": round(wall, 1), "steps": steps, "s_per_step": wall / steps}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = common.parser("find_lr", __doc__.splitlines()[0], repeats=1)
    p.add_argument("--recipes", nargs="+", default=list(RECIPES))
    p.add_argument("--train_subset", type=int, default=2500)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--num_steps", type=int, default=100)
    p.add_argument("--limit_val_batches", type=int, default=20, help="validation batches of the short runs (20)")
    p.add_argument("--plots", type=Path, default=None, help="where the find plots go (default: --out's folder)")
    args = p.parse_args(argv)
    plots = args.plots if args.plots is not None else Path(args.out).parent
    torch.set_num_threads(args.threads)
    if not args.smoke and not JPEG.exists():
        raise SystemExit(f"{JPEG} is missing; run with --smoke")
    load = common.LoadMonitor()
    results: dict[str, Any] = {}
    rows: list[list[Any]] = []
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as logdir:
        for recipe in args.recipes:
            base = base_args(recipe, args, logdir)
            num_steps = 30 if args.smoke else args.num_steps
            start = time.perf_counter()
            cli, found, overlay, reasons = find(base, {"num_steps": num_steps})
            find_wall = time.perf_counter() - start
            plot = found.plot(str(plots / f"find_{recipe}.png"), title=f"find: recipes/{recipe}.yaml")
            full_steps = estimate_run(cli.trainer, cli.datamodule)[0].total_steps
            ours = overlay["model"]["optimizer"]["init_args"]["lr"]
            theirs, lightning_wall = lightning_lr_find(base, num_steps)
            runs: dict[str, Any] = {}
            entry: dict[str, Any] = {
                "suggestions": found.suggestions,
                "find_lr": ours,
                "stop": found.stop,
                "diverged_at": found.diverged_at,
                "find_steps": len(found.lrs),
                "find_wall_s": round(find_wall, 1),
                "find_test_s": round(found.seconds, 1),
                "full_run_steps": full_steps,
                "lightning_suggestion": theirs,
                "lightning_wall_s": round(lightning_wall, 1),
                "short_runs": runs,
                "plot": str(Path(plot).relative_to(common.REPO)) if Path(plot).is_relative_to(common.REPO) else plot,
                "reasons": reasons,
                "curve": {"lrs": found.lrs, "losses": found.losses},  # the rules can be re-run on it
            }
            results[recipe] = entry
            lrs = {"literature": RECIPES[recipe], "find (valley)": ours}
            if theirs is not None:
                lrs["Lightning lr_find"] = theirs
            for label, lr in lrs.items():
                _result(args, load, results, rows)  # written after every stage: a run cut short keeps its part
                runs[label] = short_run(base, recipe, lr, args, logdir, f"{recipe}-{label.split()[0].lower()}")
                rows.append([recipe, label, lr, runs[label]["val_acc"], runs[label]["wall_s"]])
            s_per_step = common.median([r["s_per_step"] for r in runs.values()])
            entry["s_per_step"] = s_per_step
            entry["full_run_estimate_s"] = round(full_steps * s_per_step)
            entry["find_fraction_of_full_run"] = find_wall / (full_steps * s_per_step)
            print(found.table())
            result = _result(args, load, results, rows)  # after every recipe, so a cut-short run keeps its part
    return result


def _result(args: Any, load: common.LoadMonitor, results: dict[str, Any], rows: list[list[Any]]) -> dict[str, Any]:
    tables = [common.table(["recipe", "LR from", "lr", "val_acc", "wall s"], rows)]
    summary = [
        [
            recipe,
            r["find_lr"],
            r["lightning_suggestion"],
            r["find_wall_s"],
            r.get("full_run_estimate_s", "-"),
            f"{100 * r['find_fraction_of_full_run']:.2f}%" if "find_fraction_of_full_run" in r else "-",
        ]
        for recipe, r in results.items()
    ]
    tables.append(common.table(["recipe", "find lr", "Lightning lr", "find s", "full run s (est.)", "share"], summary))
    result = {
        "benchmark": "find_lr",
        "command": common.command(),
        "machine": common.machine(args.threads),
        "load": load.stop() if len(results) == len(args.recipes) else {"so_far": list(load.samples)},
        "code": common.code_fingerprint(),
        "results": results,
        "tables": tables,
    }
    for t in tables:
        print(t)
    common.write(args.out, result)
    return result


if __name__ == "__main__":
    main()
