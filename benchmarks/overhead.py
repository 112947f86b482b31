"""Per-step overhead of LRSchedulerCallback + a recipe scheduler vs LearningRateMonitor + torch's scheduler.

A Linear layer on random tensors, so a training step costs little more than Lightning's own loop and the
share of the LR callback and the scheduler is visible. Variants of one run, timed in interleaved repeats:

- ``none``: no LR callback, no scheduler (the baseline);
- ``ours``: ``LRSchedulerCallback()`` + the scheduler of ``lr_recipes.build``;
- ``torch``: ``LearningRateMonitor()`` + the equivalent torch scheduler;
- for the breakdown: ``ours_no_trace`` (``LRSchedulerCallback(trace=False, lint=False)`` + ours) and
  ``empty_callback`` (a ``Callback`` with no hooks, no scheduler: what Lightning charges any callback).

End to end, the overhead of a variant is its time per step minus the baseline's in the same repeat
(the repeats run the variants back to back, so slow drifts of the shared machine cancel), in CPU time
of the training thread (the wall time, which also counts waits for a core, is reported too); the result
is ``median ours overhead / median torch overhead`` (goal: <= 0.5). Directly, instrumented runs of
``ours`` and ``torch`` sum the time spent inside the code that differs: the callback's own hooks, the
scheduler's ``step()`` and optimizer step hooks; Lightning's calls into them are the same for both.
Pairs: a cosine with linear warmup (vs ``SequentialLR([LinearLR, CosineAnnealingLR])``, ``interval:
step``) and a plateau (vs ``ReduceLROnPlateau``) with a one-batch validation at the end of every
20-step epoch, so Lightning's epoch-end stepping and the callback's after-validation stepping make the
same plateau steps. Each pair runs with ``log_every_n_steps`` 50 (Lightning's default) and 1 (the worst
case); every variant logs to a ``CSVLogger``. Also measured: ``scheduler.step()`` alone, outside
Lightning, and the fixed cost per fit outside the timed steps (start-up lint, fit-end trace writing).
``--profile`` prints a cProfile of one run per variant.

    .venv/bin/python benchmarks/overhead.py
"""

from __future__ import annotations

import cProfile
import functools
import io
import math
import pstats
import tempfile
import time
import timeit
from typing import Any

import common
import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import Callback, LearningRateMonitor
from lightning.pytorch.loggers import CSVLogger
from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, ReduceLROnPlateau, SequentialLR
from torch.utils.data import DataLoader

import lr_recipes
from lr_recipes import LRSchedulerCallback

PLATEAU = {"name": "plateau", "patience": 2, "factor": 0.5}
PLATEAU_EPOCH_STEPS = 20
MAIN_VARIANTS = ("none", "ours", "torch")
BREAKDOWN_VARIANTS = ("ours_no_trace", "empty_callback")
# Hooks that run once per fit, not per step: reported as fixed cost, not as per-step overhead.
FIXED_HOOKS = {
    "setup",
    "teardown",
    "on_fit_start",
    "on_fit_end",
    "on_train_start",
    "on_train_end",
    "on_sanity_check_start",
    "on_sanity_check_end",
    "state_dict",
    "load_state_dict",
}


class HookClock:
    """CPU time of the training thread spent inside wrapped callables (a call made from inside another
    wrapped call counts once). CPU time, not wall time: on a shared machine a preempted hook would
    otherwise be charged for the other processes' time slices."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._depth = 0

    def wrap(self, name: str, fn: Any, when: Any = None) -> Any:
        """``fn``, timed under ``name``; with ``when(*args, **kwargs)``, only the calls it accepts are timed."""

        def timed(*args: Any, **kwargs: Any) -> Any:
            if when is not None and not when(*args, **kwargs):
                return fn(*args, **kwargs)
            self._depth += 1
            start = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self.seconds[name] = self.seconds.get(name, 0.0) + time.thread_time() - start
                    self.calls[name] = self.calls.get(name, 0) + 1

        return timed

    def instrument_plateau_stepping(self, trainer: pl.Trainer) -> None:
        """Time Lightning's epoch-end stepping of plateau schedulers (``_update_learning_rates("epoch",
        update_plateau_schedulers=True)``: it reads the monitored metric from ``trainer.callback_metrics`` and
        calls ``lr_scheduler_step``). For a torch ``ReduceLROnPlateau`` config this is the code that steps it;
        for ours, which the callback steps after validation, the same call finds nothing to step. Without it,
        the torch variant's plateau stepping would be charged only ``scheduler.step()`` and ours all of it."""
        loop = trainer.fit_loop.epoch_loop
        loop._update_learning_rates = self.wrap(
            "step:lightning plateau stepping",
            loop._update_learning_rates,
            when=lambda interval, update_plateau_schedulers: interval == "epoch" and update_plateau_schedulers,
        )

    def calibrate(self, calls: int = 20000) -> float:
        """Seconds this clock charges per timed call of a function that does nothing, in a tight loop (hot
        caches: an underestimate of its cost inside the training loop; see :class:`ClockProbe`)."""
        probe = HookClock()
        noop = probe.wrap("noop", lambda: None)
        for _ in range(calls):
            noop()
        return probe.seconds["noop"] / calls

    def probe_costs(self) -> dict[str, float]:
        """Seconds per call the clock charged the :class:`ClockProbe`'s empty hooks, by the timed name each one
        stands for: its own cost where the real hooks run (in the training loop a timed call of nothing costs
        2-4 times what it costs in :meth:`calibrate`'s tight loop)."""
        costs = {}
        for name, seconds in self.seconds.items():
            if name.startswith("probe:"):
                costs[name[len("probe:") :]] = seconds / self.calls[name]
        return {timed: costs[hook] for timed, hook in PROBE_FOR.items() if hook in costs}

    def instrument_callback(self, callback: Callback) -> None:
        """Wrap the hooks the callback's class implements (Lightning's calls to no-op hooks are not ours)."""
        for name in dir(Callback):
            is_hook = name.startswith("on_") or name in FIXED_HOOKS
            if is_hook and getattr(type(callback), name) is not getattr(Callback, name):
                kind = "fixed" if name in FIXED_HOOKS else "step"
                setattr(callback, name, self.wrap(f"{kind}:callback.{name}", getattr(callback, name)))

    def instrument_optimizers(self, config: dict[str, Any]) -> None:
        """Wrap the scheduler's ``step`` and the optimizer's step hooks (the plateau recipe's warmup clock)."""
        sched = config["lr_scheduler"]["scheduler"]
        sched.step = self.wrap("step:scheduler.step", sched.step)
        hooks = config["optimizer"]._optimizer_step_post_hooks
        for key, fn in list(hooks.items()):
            hooks[key] = self.wrap("step:optimizer step hook", fn)

    def per_step(self, steps: int, own_cost: float | dict[str, float] = 0.0) -> float:
        """Seconds per step inside the per-step code, less the clock's own cost per timed call: one number
        (:meth:`calibrate`) or one per timed name (:meth:`probe_costs`)."""
        names = [name for name in self.seconds if name.startswith("step:")]
        cost = own_cost if isinstance(own_cost, dict) else dict.fromkeys(names, own_cost)
        return sum(self.seconds[n] - cost.get(n, 0.0) * self.calls[n] for n in names) / steps


class ClockProbe(Callback):
    """Empty hooks at the places the timed code runs, timed by the same :class:`HookClock` (as ``probe:<hook>``):
    what the clock charges a call of nothing there, subtracted from every timed call made at that place.

    In a tight loop (:meth:`HookClock.calibrate`) that cost is 0.4-0.6 us; in the training loop, where the
    caches are cold, 1-2 us, so a variant with more hooks per step was charged up to ~1 us per hook for the
    clock itself. Both variants carry the same probe; :meth:`instrument` gives it its hooks."""

    def instrument(self, clock: HookClock, prefix: str = "probe") -> None:
        """Give this callback an empty, timed hook at every place in :data:`PROBE_FOR` (Lightning calls the
        instance's attribute, so an instance-level hook is called like a method), timed as ``<prefix>:<hook>``
        (only ``probe:`` times are read as the clock's cost)."""
        for hook in set(PROBE_FOR.values()):
            setattr(self, hook, clock.wrap(f"{prefix}:{hook}", lambda *args: None))


# Each timed name -> the probe hook that runs where it runs (scheduler.step: Lightning's step-interval stepping
# after the batch; Lightning's plateau stepping: at epoch end; the optimizer's hooks: around its step).
PROBE_FOR = {
    **{f"step:callback.{hook}": hook for hook in (
        "on_train_batch_start", "on_before_optimizer_step", "on_train_batch_end", "on_train_epoch_start",
        "on_train_epoch_end", "on_validation_start", "on_validation_end",
    )},
    "step:scheduler.step": "on_train_batch_end",
    "step:lightning plateau stepping": "on_train_epoch_end",
    "step:optimizer step hook": "on_before_optimizer_step",
}  # fmt: skip


def cosine_spec(warmup: int) -> dict[str, Any]:
    return {"name": "cosine", "warmup": f"{warmup}st", "warmup_start_factor": 0.1}


def torch_cosine(opt: torch.optim.Optimizer, total: int, warmup: int) -> SequentialLR:
    warm = LinearLR(opt, start_factor=0.1, end_factor=1.0, total_iters=warmup)
    return SequentialLR(opt, [warm, CosineAnnealingLR(opt, T_max=total - warmup)], milestones=[warmup])


def torch_plateau(opt: torch.optim.Optimizer) -> ReduceLROnPlateau:
    return ReduceLROnPlateau(opt, patience=2, factor=0.5)


class LinearModel(pl.LightningModule):
    """A Linear layer; ``configure_optimizers`` gives the pair's scheduler in its ours/torch/no form."""

    def __init__(self, pair: str, scheduler: str | None, total: int, warmup: int, clock: HookClock | None) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(32, 4)
        self.pair, self.scheduler, self.total, self.warmup, self.clock = pair, scheduler, total, warmup, clock

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], idx: int) -> torch.Tensor:
        x, y = batch
        return F.mse_loss(self.layer(x), y)

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], idx: int) -> None:
        x, y = batch
        self.log("val_loss", F.mse_loss(self.layer(x), y))

    def configure_optimizers(self) -> Any:
        opt = torch.optim.SGD(self.parameters(), lr=0.1)
        if self.scheduler is None:
            return opt
        if self.scheduler == "ours":
            spec = cosine_spec(self.warmup) if self.pair == "cosine" else PLATEAU
            config = lr_recipes.build(spec, opt, trainer=self.trainer)
        elif self.pair == "cosine":
            config = {"scheduler": torch_cosine(opt, self.total, self.warmup), "interval": "step"}
        else:
            config = {"scheduler": torch_plateau(opt), "interval": "epoch", "monitor": "val_loss"}
        result = {"optimizer": opt, "lr_scheduler": config}
        if self.clock is not None:
            self.clock.instrument_optimizers(result)
        return result


def setup(variant: str) -> tuple[Callback | None, str | None]:
    """The LR callback and the scheduler form (``"ours"``, ``"torch"`` or none) of a variant."""
    return {
        "none": (None, None),
        "ours": (LRSchedulerCallback(), "ours"),
        "torch": (LearningRateMonitor(), "torch"),
        "ours_no_trace": (LRSchedulerCallback(trace=False, lint=False), "ours"),
        "ours_scheduler": (None, "ours"),
        "torch_scheduler": (None, "torch"),
        "empty_callback": (Callback(), None),
    }[variant]


def batches(n: int, seed: int) -> DataLoader:
    g = torch.Generator().manual_seed(seed)
    data = [(torch.randn(8, 32, generator=g), torch.randn(8, 4, generator=g)) for _ in range(n)]
    return DataLoader(data, batch_size=None)  # pre-made batches: no collation cost


def fit(
    pair: str,
    variant: str,
    steps: int,
    warmup: int,
    skip: int,
    log_every: int,
    logdir: str,
    instrument: bool = False,
    counter: Callback | None = None,
    plateau_epoch_steps: int = PLATEAU_EPOCH_STEPS,
    probe_after: bool = False,
    warm_probe: bool = False,
) -> dict[str, Any]:
    """One fresh run: wall and training-thread CPU seconds per timed step, and the untimed rest of the fit;
    ``instrument``: the time inside the callback's hooks and the scheduler instead."""
    timer = common.StepTimer(skip=skip)
    callback, scheduler = setup(variant)
    clock = HookClock() if instrument else None
    probe = ClockProbe() if instrument else None
    # warm_probe: another empty timed callback runs first at every place and takes the cold caches (its time counts
    # nowhere), the LR callback second, the probe last: the clock's cost is then measured as warm as the callback runs.
    first = ClockProbe() if instrument and warm_probe else None
    if clock is not None and probe is not None:
        probe.instrument(clock)
        if first is not None:
            first.instrument(clock, prefix="first")
        if callback is not None:
            clock.instrument_callback(callback)
    epoch_steps = steps if pair == "cosine" else plateau_epoch_steps
    epochs = math.ceil(steps / epoch_steps)
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=epochs,
        logger=CSVLogger(logdir, name=f"{pair}-{variant}"),
        log_every_n_steps=log_every,
        callbacks=[
            c
            for c in (timer, counter, first, *((callback, probe) if probe_after or warm_probe else (probe, callback)))
            if c is not None
        ],
        num_sanity_val_steps=0,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
    )
    if clock is not None:
        clock.instrument_plateau_stepping(trainer)
    model = LinearModel(pair, scheduler, epochs * epoch_steps, warmup, clock)
    val = batches(1, seed=1) if pair == "plateau" else None
    start = time.perf_counter()
    trainer.fit(model, batches(epoch_steps, seed=0), val)
    rest = time.perf_counter() - start - timer.seconds
    if clock is not None:
        own = clock.probe_costs()
        return {
            "in_hooks": clock.per_step(trainer.global_step, own),
            "in_hooks_uncorrected": clock.per_step(trainer.global_step),
            "in_hooks_hot_calibration": clock.per_step(trainer.global_step, clock.calibrate()),
            "clock_cost_s": own,
            "by_hook": dict(clock.seconds),
            "calls": dict(clock.calls),
        }
    return {"wall": timer.per_step, "cpu": timer.cpu_per_step, "untimed_s": rest}


def lr_trace(pair: str, variant: str, steps: int, warmup: int) -> list[float]:
    """The LR of every step of ours or torch's scheduler, outside Lightning (plateau: a made-up loss curve)."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    trace = []
    if pair == "cosine":
        if variant == "ours":
            sched = lr_recipes.build(cosine_spec(warmup), opt, total_steps=steps, steps_per_epoch=steps)["scheduler"]
        else:
            sched = torch_cosine(opt, steps, warmup)
        for _ in range(steps):
            trace.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
    else:
        if variant == "ours":
            sched = lr_recipes.build(PLATEAU, opt, total_steps=steps, steps_per_epoch=steps)["scheduler"]
        else:
            sched = torch_plateau(opt)
        for i in range(steps):
            opt.step()
            sched.step(1.0 / (1 + min(i, 10)))  # improves for 10 validations, then stalls
            trace.append(opt.param_groups[0]["lr"])
    return trace


def max_lr_difference(pair: str, steps: int, warmup: int) -> float:
    """How far apart the two schedulers of a pair are: they must be the same schedule to compare costs."""
    ours, theirs = lr_trace(pair, "ours", steps, warmup), lr_trace(pair, "torch", steps, warmup)
    return max(abs(a - b) for a, b in zip(ours, theirs, strict=True))


def scheduler_step_us(variant: str, warmup: int, number: int, repeats: int) -> float:
    """``optimizer.step(); scheduler.step()`` of the cosine pair (after warmup), outside Lightning, minus the
    same optimizer's step alone: best of repeats. Both schedulers watch the optimizer's step (torch wraps
    it to warn about a missing step, ours counts steps a GradScaler skipped), so the pair is what they cost."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    total = 10 * (number * repeats + warmup)
    if variant == "ours":
        sched = lr_recipes.build(cosine_spec(warmup), opt, total_steps=total, steps_per_epoch=total)["scheduler"]
    else:
        sched = torch_cosine(opt, total, warmup)
    for _ in range(warmup):
        opt.step()
        sched.step()

    def pair() -> None:
        opt.step()
        sched.step()

    bare = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    both = min(timeit.repeat(pair, number=number, repeat=repeats))
    alone = min(timeit.repeat(bare.step, number=number, repeat=repeats))
    return (both - alone) / number * 1e6


class CallCounter(Callback):
    """Python function calls from the start of batch ``skip`` to the end of training (cProfile's count:
    deterministic, unlike times on a shared machine; fit-end writing is outside the window)."""

    def __init__(self, skip: int) -> None:
        self.skip, self.seen, self.calls = skip, 0, 0
        self.profile = cProfile.Profile()

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, idx: int) -> None:
        if self.seen == self.skip:
            self.profile.enable()
        self.seen += 1

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.profile.disable()
        self.calls = sum(stat[1] for stat in pstats.Stats(self.profile).stats.values())  # type: ignore[attr-defined]


def calls_per_step(pair: str, variant: str, steps: int, warmup: int, skip: int, log_every: int, logdir: str) -> float:
    counter = CallCounter(skip)
    fit(pair, variant, steps, warmup, skip, log_every, logdir, counter=counter)
    return counter.calls / (steps - skip)


def profile(pair: str, variant: str, *args: Any, top: int = 25) -> str:
    prof = cProfile.Profile()
    prof.enable()
    fit(pair, variant, *args)
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("cumulative").print_stats(r"lr_recipes|lr_monitor|lr_scheduler|callback\.py", top)
    return out.getvalue()


def summarise(runs: dict[str, list[dict[str, float]]]) -> dict[str, Any]:
    """Per clock: median time per step, the median over repeats of each variant's overhead over ``none``
    in the same repeat, and the ours/torch ratio of those medians."""
    entry: dict[str, Any] = {}
    for clock in ("cpu", "wall"):
        med = {v: common.median([r[clock] for r in rs]) for v, rs in runs.items()}
        over = {
            v: common.median([r[clock] - base[clock] for r, base in zip(rs, runs["none"], strict=True)])
            for v, rs in runs.items()
            if v != "none"
        }
        entry[clock] = {
            "per_step_us": {v: [round(r[clock] * 1e6, 1) for r in rs] for v, rs in runs.items()},
            "median_per_step_us": {v: round(t * 1e6, 2) for v, t in med.items()},
            "overhead_us": {v: round(t * 1e6, 2) for v, t in over.items()},
            "ratio": round(over["ours"] / over["torch"], 3) if over["torch"] > 0 and over["ours"] > 0 else None,
        }
    entry["untimed_s"] = {v: round(common.median([r["untimed_s"] for r in rs]), 3) for v, rs in runs.items()}
    ours, theirs = entry["cpu"]["overhead_us"]["ours"], entry["cpu"]["overhead_us"]["torch"]
    entry["goal_met"] = ours > 0 and theirs > 0 and ours / theirs <= 0.5
    return entry


def summarise_direct(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Median time per step inside the code that differs, its ratio, and where ours goes (median per hook)."""
    med = {v: common.median([r["in_hooks"] for r in rs]) for v, rs in runs.items()}
    names = {name for rs in runs.values() for r in rs for name in r["by_hook"]}
    by_hook = {
        v: {n: round(common.median([r["by_hook"].get(n, 0.0) for r in rs]), 4) for n in sorted(names)}
        for v, rs in runs.items()
    }
    return {
        "in_hooks_us_per_step": {v: round(t * 1e6, 2) for v, t in med.items()},
        "ratio": round(med["ours"] / med["torch"], 3),
        "seconds_by_hook_per_fit": by_hook,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = common.parser("overhead", __doc__.split("\n\n")[0], repeats=9)
    p.add_argument("--steps", type=int, default=1500, help="training steps per run (default 1500)")
    p.add_argument("--warmup", type=int, default=100, help="warmup steps of the cosine pair (default 100)")
    p.add_argument("--no-breakdown", action="store_true", help="only the none/ours/torch variants (as --smoke)")
    p.add_argument("--profile", action="store_true", help="also print a cProfile of one run per variant")
    args = p.parse_args(argv)
    steps, warmup, skip = (20, 5, 3) if args.smoke else (args.steps, args.warmup, 20)
    calls_steps = steps if args.smoke else 500
    repeats = 1 if args.smoke else args.repeats
    variants = MAIN_VARIANTS if args.no_breakdown or args.smoke else MAIN_VARIANTS + BREAKDOWN_VARIANTS
    torch.set_num_threads(args.threads)
    load = common.LoadMonitor()
    common.quiet()

    log_settings = (1,) if args.smoke else (50, 1)
    cases = [(pair, log_every) for pair in ("cosine", "plateau") for log_every in log_settings]
    measured: dict[str, Any] = {}
    rows, breakdown_rows, calls_rows = [], [], []
    with tempfile.TemporaryDirectory() as logdir:
        for pair, log_every in cases:
            run = {v: functools.partial(fit, pair, v, steps, warmup, skip, log_every, logdir) for v in variants}
            entry = summarise(common.interleave(run, repeats))
            direct = {
                v: functools.partial(fit, pair, v, steps, warmup, skip, log_every, logdir, True)
                for v in ("ours", "torch")
            }
            entry["direct"] = summarise_direct(common.interleave(direct, repeats))
            calls = {v: calls_per_step(pair, v, calls_steps, warmup, skip, log_every, logdir) for v in variants}
            entry["python_calls_per_step"] = {v: round(c - calls["none"], 1) for v, c in calls.items() if v != "none"}
            entry["python_calls_per_step"]["none (total)"] = round(calls["none"], 1)
            key = f"{pair}/log_every_n_steps={log_every}"
            measured[key] = entry
            cpu, over, inside = entry["cpu"], entry["cpu"]["overhead_us"], entry["direct"]["in_hooks_us_per_step"]
            rows.append(
                [
                    pair,
                    log_every,
                    cpu["median_per_step_us"]["none"],
                    over["ours"],
                    over["torch"],
                    cpu["ratio"],
                    entry["wall"]["ratio"],
                    inside["ours"],
                    inside["torch"],
                    entry["direct"]["ratio"],
                    entry["goal_met"],
                ]
            )
            if not args.no_breakdown:
                breakdown_rows.append([pair, log_every, *(over[v] for v in variants[1:])])
            calls_rows.append([pair, log_every, *(entry["python_calls_per_step"][v] for v in variants[1:])])
            print(
                f"{key}: CPU overhead ours {over['ours']} us/step, torch {over['torch']} us/step, "
                f"ratio {cpu['ratio']} (wall: {entry['wall']['ratio']})"
            )
        profiles = {}
        if args.profile:
            for pair, log_every in cases:
                for variant in ("ours", "torch"):
                    text = profile(pair, variant, steps, warmup, skip, log_every, logdir)
                    profiles[f"{pair}/log_every_n_steps={log_every}/{variant}"] = text
                    print(f"--- cProfile {pair} log_every_n_steps={log_every} {variant} ---\n{text}")
    number, micro_repeats = (200, 3) if args.smoke else (20000, 7)
    step_us = {v: round(scheduler_step_us(v, warmup, number, micro_repeats), 2) for v in ("ours", "torch")}
    equivalence = {pair: max_lr_difference(pair, steps, warmup) for pair in ("cosine", "plateau")}

    headers = [
        "pair",
        "log_every_n_steps",
        "baseline CPU us/step",
        "ours overhead us",
        "torch overhead us",
        "ratio ours/torch (CPU)",
        "ratio (wall)",
        "ours in-hook us",
        "torch in-hook us",
        "ratio in-hook",
        "goal <= 0.5 met",
    ]
    tables = [common.table(headers, rows)]
    if breakdown_rows:
        tables.append(common.table(["pair", "log_every_n_steps", *(f"{v} us" for v in variants[1:])], breakdown_rows))
    calls_headers = ["pair", "log_every_n_steps", *(f"{v} calls" for v in variants[1:])]
    tables.append(common.table(calls_headers, calls_rows))
    tables.append(common.table(["scheduler.step() alone", "us"], [[v, t] for v, t in step_us.items()]))
    print("\n\n".join(tables))
    result = {
        "benchmark": "overhead",
        "command": common.command(),
        "machine": common.machine(args.threads),
        "load_average_1min": load.stop(),
        "settings": {
            "steps": steps,
            "skip": skip,
            "warmup": warmup,
            "repeats": repeats,
            "smoke": args.smoke,
            "variants": list(variants),
            "plateau_epoch_steps": PLATEAU_EPOCH_STEPS,
        },
        "goal": "ours overhead / (LearningRateMonitor + torch scheduler) overhead <= 0.5",
        "clock": "end to end: ratio of the median paired overheads in training-thread CPU time (wall time too); "
        "direct: ratio of the median time per step inside the callback's hooks, scheduler.step and optimizer hooks",
        "equivalence_max_abs_lr_diff": equivalence,
        "results": measured,
        "scheduler_step_us": step_us,
        "tables": tables,
        "profiles": profiles,
    }
    common.write(args.out, result)
    return result


if __name__ == "__main__":
    main()
