"""Property tests (hypothesis) over random parameters of every registered recipe.

For each recipe a strategy draws a valid spec: a run (total steps, steps per epoch), one to three param
groups with different base LRs, SGD or Adam, an optional warmup of every shape, durations in epochs, steps
or percent, and the recipe's own parameters (floors as one number, a list per group or a ratio). The
properties: every LR is finite and inside the recipe's bounds, warmup rises monotonically and joins the
schedule without a jump, ``lr_at(t)`` is what stepping gives, and a ``state_dict`` round trip into a fresh
optimizer and scheduler continues bit-identically. Plateau schedules are checked against torch's
``ReduceLROnPlateau`` on random metric sequences. Parity at fixed parameters lives in ``test_parity.py``.
"""

from __future__ import annotations

import io
import math
import pickle
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from torch.optim import lr_scheduler as tls

import lr_recipes
from lr_recipes import Run

REL = 1e-12
# Closed-form properties are pure Python; stepping a real optimizer costs ~0.1 ms a step, so those
# tests draw fewer examples and shorter runs.
CLOSED_FORM = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
STEPPING = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])

UNIT_SPELLINGS = {"st": ("st", " steps", "step"), "ep": ("ep", " epochs", "epoch"), "%": ("%", " %")}


@dataclass
class Case:
    """One drawn spec, the run it is built against and the bounds it must respect."""

    spec: dict[str, Any]
    base_lrs: list[float]
    kind: str
    total_steps: int
    steps_per_epoch: int
    warmup_steps: int = 0
    start_factor: float = 0.01
    shape: str = "linear"
    lows: list[float] = field(default_factory=list)  # each group's floor once warmup is over
    highs: list[float] = field(default_factory=list)  # each group's ceiling at any step
    momentum_range: tuple[float, float] | None = None  # where cycled momentum must stay

    def make(self) -> tuple[torch.optim.Optimizer, Any]:
        opt = make_optimizer(self.kind, self.base_lrs)
        sched = lr_recipes.build(self.spec, opt, total_steps=self.total_steps, steps_per_epoch=self.steps_per_epoch)[
            "scheduler"
        ]
        return opt, sched

    @property
    def horizon(self) -> int:
        """The run and a bit past its end."""
        return self.total_steps + self.total_steps // 10 + 5


def make_optimizer(kind: str, base_lrs: list[float]) -> torch.optim.Optimizer:
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in base_lrs]
    if kind == "adam":
        return torch.optim.Adam(groups, lr=1.0)
    return torch.optim.SGD(groups, lr=1.0, momentum=0.9)


def momentum_of(group: dict[str, Any]) -> float:
    return float(group["betas"][0]) if "betas" in group else float(group["momentum"])


# --- strategies ------------------------------------------------------------------------------------


def express(draw: st.DrawFn, n: int, run: Run) -> str:
    """A duration text that resolves to exactly ``n`` steps, in a random unit and spelling."""
    unit = draw(st.sampled_from(["st", "ep", "%"]))
    spelling = draw(st.sampled_from(UNIT_SPELLINGS[unit]))
    if unit == "ep":
        text = f"{n / run.steps_per_epoch!r}{spelling}"
    elif unit == "%":
        text = f"{n * 100 / run.total_steps!r}{spelling}"
    else:
        text = f"{n}{spelling}"
    if run.steps(text, param="drawn") != n:  # a unit that cannot say n exactly falls back to steps
        text = f"{n}st"
    assert run.steps(text, param="drawn") == n
    return text


def duration(draw: st.DrawFn, run: Run, lo: int, hi: int) -> tuple[str, int]:
    n = draw(st.integers(lo, hi))
    return express(draw, n, run), n


def floors(draw: st.DrawFn, base_lrs: list[float], spec: dict[str, Any]) -> list[float]:
    """Draw min_lr (one number, one per group) or min_lr_ratio into ``spec``; return each group's floor."""
    how = draw(st.sampled_from(["none", "scalar", "list", "ratio"]))
    if how == "scalar":
        value = draw(st.floats(0.0, min(base_lrs)))
        spec["min_lr"] = value
        return [value] * len(base_lrs)
    if how == "list":
        values = [draw(st.floats(0.0, base)) for base in base_lrs]
        spec["min_lr"] = values
        return values
    if how == "ratio":
        ratio = draw(st.floats(0.0, 1.0))
        spec["min_lr_ratio"] = ratio
        return [base * ratio for base in base_lrs]
    return [0.0] * len(base_lrs)


@st.composite
def case_for(draw: st.DrawFn, name: str, max_total: int = 1500) -> Case:
    total = draw(st.integers(120, max_total))
    spe = draw(st.integers(1, 50))
    run = Run(total_steps=total, steps_per_epoch=spe)
    base_lrs = draw(st.lists(st.floats(1e-4, 2.0), min_size=1, max_size=3))
    kind = draw(st.sampled_from(["sgd", "adam"]))
    spec: dict[str, Any] = {"name": name}
    case = Case(spec, base_lrs, kind, total, spe)
    if draw(st.booleans()):
        case.shape = draw(st.sampled_from(["linear", "cosine", "exponential"]))
        low = 1e-3 if case.shape == "exponential" else 0.0
        case.start_factor = draw(st.floats(low, 1.0))
        spec["warmup"], case.warmup_steps = duration(draw, run, 1, total // 2)
        spec["warmup_start_factor"] = case.start_factor
        if case.shape != "linear" or draw(st.booleans()):
            spec["warmup_shape"] = case.shape
    main = total - case.warmup_steps
    STRATEGIES[name](draw, case, run, main)
    assert len(case.lows) == len(case.highs) == len(base_lrs)
    return case


def _constant(draw: st.DrawFn, case: Case, run: Run, main: int) -> None:
    case.lows, case.highs = list(case.base_lrs), list(case.base_lrs)


def _step(draw: st.DrawFn, case: Case, run: Run, main: int) -> None:
    case.spec["step_size"], _ = duration(draw, run, case.warmup_steps + 1, run.total_steps)
    case.spec["gamma"] = draw(st.floats(0.01, 1.0))
    case.lows, case.highs = [0.0] * len(case.base_lrs), list(case.base_lrs)


def _multistep(draw: st.DrawFn, case: Case, run: Run, main: int) -> None:
    points = draw(
        st.lists(st.integers(case.warmup_steps + 1, run.total_steps - 1), min_size=1, max_size=4, unique=True)
    )
    case.spec["milestones"] = [express(draw, p, run) for p in sorted(points)]
    case.spec["gamma"] = draw(st.floats(0.01, 1.0))
    case.lows, case.highs = [0.0] * len(case.base_lrs), list(case.base_lrs)


def _exponential(draw: st.DrawFn, case: Case, run: Run, main: int) -> None:
    case.spec["gamma"] = draw(st.floats(0.5, 1.0))
    if draw(st.booleans()):
        case.spec["every"], _ = duration(draw, run, 1, main)
    case.spec["staircase"] = draw(st.booleans())
    case.lows, case.highs = [0.0] * len(case.base_lrs), list(case.base_lrs)


def _span(draw: st.DrawFn, case: Case, run: Run, main: int, lo: int = 1) -> None:
    if draw(st.booleans()):
        case.spec["duration"], _ = duration(draw, run, lo, main)


def _cosine(draw: st.DrawFn, case: Case, run: Run, main: int) -> None:
    _span(draw, case, run, main)
    case.lows, case.highs = floors(draw, case.base_lrs, case.spec), list(case.base_lrs)


def _cosine_restarts(draw: st.DrawFn, case: Case, run: Run, main: int) -> None:
    case.spec["period"], _ = duration(draw, run, 1, main)
    case.spec["period_mult"] = draw(st.floats(1.0, 3.0))
    case.lows, case.highs = floors(draw, case.base_lrs, case.spec), list(case.base_lrs)
    # With a floor, a decayed cycle start can fall below it: see test_cosine_restarts_decay_respects_min_lr.
    case.spec["decay"] = 1.0 if any(case.lows) else draw(st.floats(0.05, 1.0))


def _linear(draw: st.DrawFn, case: Case, run: Run, main: int) -> None:
    start, end = draw(st.floats(0.0, 1.0)), draw(st.floats(0.0, 1.0))
    case.spec.update(start_factor=start, end_factor=end)
    _span(draw, case, run, main)
    case.lows = [base * min(start, end) for base in case.base_lrs]
    case.highs = [base * max(start, end) for base in case.base_lrs]


def _polynomial(draw: st.DrawFn, case: Case, run: Run, main: int) -> None:
    case.spec["power"] = draw(st.floats(0.1, 5.0))
    _span(draw, case, run, main)
    case.lows, case.highs = floors(draw, case.base_lrs, case.spec), list(case.base_lrs)


def _peaks(draw: st.DrawFn, case: Case, *, at_least_base: bool) -> list[float]:
    bases = case.base_lrs
    how = draw(st.sampled_from(["scalar", "list", "factor"] + ([] if at_least_base else ["default"])))
    if how == "scalar":
        value = draw(st.floats(max(bases) if at_least_base else 1e-4, 5.0))
        case.spec["max_lr"] = value
        return [value] * len(bases)
    if how == "list":
        values = [draw(st.floats(base if at_least_base else 1e-4, 5.0)) for base in bases]
        case.spec["max_lr"] = values
        return values
    if how == "factor":
        factor = draw(st.floats(1.0 if at_least_base else 0.1, 10.0))
        case.spec["peak_factor"] = factor
        return [base * factor for base in bases]
    return list(bases)


def _momentum(draw: st.DrawFn, case: Case, top_default: float, base_default: float) -> None:
    cycle = draw(st.booleans())
    case.spec["cycle_momentum"] = cycle
    if not cycle:
        return
    if draw(st.booleans()):
        low, high = sorted((draw(st.floats(0.0, 0.99)), draw(st.floats(0.0, 0.99))))
        case.spec.update(base_momentum=low, max_momentum=high)
    else:
        low, high = base_default, top_default
    case.momentum_range = (low, high)


def _onecycle(draw: st.DrawFn, case: Case, run: Run, main: int) -> None:
    peaks = _peaks(draw, case, at_least_base=False)
    three = draw(st.booleans())
    div, final = draw(st.floats(1.5, 100.0)), draw(st.floats(1.0, 1e4))
    case.spec.update(
        three_phase=three,
        pct_start=draw(st.floats(0.05, 0.45 if three else 0.95)),
        anneal=draw(st.sampled_from(["cos", "linear"])),
        div_factor=div,
        final_div_factor=final,
    )
    _span(draw, case, run, main, lo=60)
    _momentum(draw, case, top_default=0.95, base_default=0.85)
    case.lows = [peak / div / final for peak in peaks]
    case.highs = [max(peak, base) for peak, base in zip(peaks, case.base_lrs, strict=True)]


def _cyclic(draw: st.DrawFn, case: Case, run: Run, main: int) -> None:
    peaks = _peaks(draw, case, at_least_base=True)
    case.spec["up"], _ = duration(draw, run, 1, main)
    if draw(st.booleans()):
        case.spec["down"], _ = duration(draw, run, 1, main)
    mode = draw(st.sampled_from(["triangular", "triangular2", "exp_range"]))
    case.spec["mode"] = mode
    if mode == "exp_range":
        case.spec["gamma"] = draw(st.floats(0.99, 1.0))
    _momentum(draw, case, top_default=0.9, base_default=0.8)
    case.lows, case.highs = list(case.base_lrs), peaks


def _wsd(draw: st.DrawFn, case: Case, run: Run, main: int) -> None:
    if draw(st.booleans()):
        case.spec["decay"], _ = duration(draw, run, 1, main)
    case.spec["decay_shape"] = draw(st.sampled_from(["linear", "cosine", "1-sqrt"]))
    case.lows, case.highs = floors(draw, case.base_lrs, case.spec), list(case.base_lrs)


def _inverse_sqrt(draw: st.DrawFn, case: Case, run: Run, main: int) -> None:
    if case.warmup_steps == 0 or draw(st.booleans()):
        case.spec["timescale"], _ = duration(draw, run, 1, main)
    case.lows, case.highs = [0.0] * len(case.base_lrs), list(case.base_lrs)


STRATEGIES: dict[str, Callable[[st.DrawFn, Case, Run, int], None]] = {
    "constant": _constant,
    "step": _step,
    "multistep": _multistep,
    "exponential": _exponential,
    "cosine": _cosine,
    "cosine_restarts": _cosine_restarts,
    "linear": _linear,
    "polynomial": _polynomial,
    "onecycle": _onecycle,
    "cyclic": _cyclic,
    "wsd": _wsd,
    "inverse_sqrt": _inverse_sqrt,
}

STEP_RECIPES = sorted(n for n in lr_recipes.available() if not lr_recipes.get_recipe(n).plateau)
PLATEAU_RECIPES = sorted(n for n in lr_recipes.available() if lr_recipes.get_recipe(n).plateau)


def test_every_registered_recipe_has_a_strategy() -> None:
    assert PLATEAU_RECIPES == ["plateau"], "a new plateau recipe needs its own properties below"
    missing = sorted(set(STEP_RECIPES) - set(STRATEGIES))
    assert not missing, f"add a strategy for {missing} to STRATEGIES"


# --- checks ----------------------------------------------------------------------------------------


def assert_in_bounds(case: Case, t: int, lrs: list[float], momenta: list[float | None]) -> None:
    for i, lr in enumerate(lrs):
        hi = case.highs[i]
        tol = REL * max(hi, case.base_lrs[i])
        assert math.isfinite(lr), f"step {t}, group {i}: lr={lr!r}"
        assert lr >= 0.0, f"step {t}, group {i}: lr={lr!r} is negative"
        assert lr <= hi + tol, f"step {t}, group {i}: lr={lr!r} above its ceiling {hi!r}"
        if t >= case.warmup_steps:
            assert lr >= case.lows[i] - tol, f"step {t}, group {i}: lr={lr!r} below its floor {case.lows[i]!r}"
    if case.momentum_range is None:
        assert all(m is None for m in momenta), f"step {t}: momentum {momenta} set though not cycled"
        return
    low, high = case.momentum_range
    for i, m in enumerate(momenta):
        assert m is not None and math.isfinite(m), f"step {t}, group {i}: momentum={m!r}"
        assert low - REL <= m <= high + REL, f"step {t}, group {i}: momentum={m!r} outside [{low}, {high}]"


def assert_plain_data(value: Any, where: str = "state_dict") -> None:
    """Only plain, weights_only-loadable data: no callables, schedules or custom classes."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, str), f"{where} has a non-string key {key!r}"
            assert_plain_data(item, f"{where}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            assert_plain_data(item, f"{where}[{i}]")
    else:
        assert value is None or type(value) in (bool, int, float, str), f"{where} is {value!r} ({type(value)})"


def run_steps(opt: torch.optim.Optimizer, sched: Any, n: int) -> list[tuple[list[float], list[float]]]:
    """The LR and momentum of every group before each of ``n`` optimizer steps (plus the state after)."""
    out = []
    for _ in range(n):
        out.append(([float(g["lr"]) for g in opt.param_groups], [momentum_of(g) for g in opt.param_groups]))
        opt.step()
        sched.step()
    out.append(([float(g["lr"]) for g in opt.param_groups], [momentum_of(g) for g in opt.param_groups]))
    return out


# --- properties of the step recipes ----------------------------------------------------------------


@pytest.mark.parametrize("name", STEP_RECIPES)
@CLOSED_FORM
@given(data=st.data())
def test_lrs_are_finite_and_within_bounds(name: str, data: st.DataObject) -> None:
    case = data.draw(case_for(name))
    _, sched = case.make()
    for t in range(case.horizon):
        assert_in_bounds(case, t, sched.lr_at(t), sched.momentum_at(t))


@pytest.mark.parametrize("name", STEP_RECIPES)
@CLOSED_FORM
@given(data=st.data())
def test_warmup_rises_monotonically_and_joins_without_a_jump(name: str, data: st.DataObject) -> None:
    case = data.draw(case_for(name))
    assume(case.warmup_steps > 0)
    _, sched = case.make()
    w, s = case.warmup_steps, case.start_factor
    ramp = [sched.lr_at(t) for t in range(w + 1)]
    targets = ramp[w]
    # The biggest step the join may take, as a fraction of the target: one step of the ramp's own shape
    # (its last step for linear and cosine; exponential keeps the same ratio, so the step into the target).
    join = {
        "linear": (1.0 - s) / w,
        "cosine": (1.0 - s) * (1.0 - math.cos(math.pi / w)) / 2.0,
        "exponential": 1.0 - s ** (1.0 / w),
    }[case.shape]
    for i, target in enumerate(targets):
        assert ramp[0][i] == pytest.approx(s * target, rel=1e-9, abs=1e-300)
        for t in range(w):
            assert ramp[t][i] <= ramp[t + 1][i], f"group {i}: warmup falls at step {t}: {ramp[t][i]} > {ramp[t + 1][i]}"
        jump = target - ramp[w - 1][i]  # a small difference of two numbers near target: allow a few ulps
        limit = join * target * (1 + 1e-9) + 4 * math.ulp(target)
        assert jump <= limit, f"group {i}: joins with a jump of {jump} (> {join * target})"
        if case.shape == "exponential" and ramp[0][i] > 1e-200 and w > 1:  # ratios of normal floats only
            ratios = [ramp[t + 1][i] / ramp[t][i] for t in range(w)]
            assert max(ratios) == pytest.approx(min(ratios), rel=1e-9), "an exponential ramp keeps one ratio"


@pytest.mark.parametrize("name", STEP_RECIPES)
@STEPPING
@given(data=st.data())
def test_stepping_equals_closed_form_and_resume_is_bit_exact(name: str, data: st.DataObject) -> None:
    case = data.draw(case_for(name, max_total=400))
    opt, sched = case.make()
    straight = run_steps(opt, sched, case.horizon)
    for t, (lrs, momenta) in enumerate(straight):
        assert lrs == sched.lr_at(t), f"step {t}: stepping gives {lrs}, lr_at gives {sched.lr_at(t)}"
        cycled = sched.momentum_at(t)
        assert [m for m, c in zip(momenta, cycled, strict=True) if c is not None] == [
            c for c in cycled if c is not None
        ]
        assert_in_bounds(case, t, lrs, cycled)

    k = data.draw(st.integers(0, case.horizon - 1), label="resume at step")
    opt, sched = case.make()
    for _ in range(k):
        opt.step()
        sched.step()
    state = sched.state_dict()
    assert_plain_data(state)
    blob = pickle.dumps(state)
    buffer = io.BytesIO()
    torch.save(state, buffer)  # what a Lightning checkpoint holds, loadable with weights_only=True
    buffer.seek(0)
    assert torch.load(buffer, weights_only=True) == state

    opt, sched = case.make()  # a fresh process: new optimizer, new scheduler, then the saved state
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same spec must not warn about a changed recipe
        sched.load_state_dict(pickle.loads(blob))
    resumed = run_steps(opt, sched, case.horizon - k)
    assert resumed == straight[k:], "resumed run differs from the uninterrupted one"


@CLOSED_FORM
@given(
    period=st.integers(2, 50),
    decay=st.floats(0.05, 0.95),
    ratio=st.floats(0.05, 0.95),
)
def test_cosine_restarts_decay_respects_min_lr(period: int, decay: float, ratio: float) -> None:
    # Cycle n starts at base * decay**n; once that is below min_lr the "cosine" rises from there up to
    # min_lr, so the LR sits under the floor the spec asked for.
    opt = make_optimizer("sgd", [0.1])
    sched = lr_recipes.build(
        "cosine_restarts",
        opt,
        total_steps=200 * period,
        steps_per_epoch=1,
        period=f"{period}st",
        decay=decay,
        min_lr_ratio=ratio,
    )["scheduler"]
    floor = 0.1 * ratio
    for t in range(200 * period):
        assert sched.lr_at(t)[0] >= floor * (1 - REL), f"step {t}: {sched.lr_at(t)[0]} < min_lr {floor}"


# --- plateau ---------------------------------------------------------------------------------------


@st.composite
def plateau_case(draw: st.DrawFn) -> tuple[dict[str, Any], list[float], list[float]]:
    """A plateau spec (no warmup), the base LRs and each group's min_lr."""
    base_lrs = draw(st.lists(st.floats(1e-3, 2.0), min_size=1, max_size=3))
    spec: dict[str, Any] = {
        "name": "plateau",
        "mode": draw(st.sampled_from(["min", "max"])),
        "factor": draw(st.floats(0.05, 0.95)),
        "patience": draw(st.integers(0, 4)),
        "threshold": draw(st.sampled_from([0.0, 1e-4, 1e-2, 0.1])),
        "threshold_mode": draw(st.sampled_from(["rel", "abs"])),
        "cooldown": draw(st.integers(0, 3)),
    }
    if draw(st.booleans()):
        min_lrs = [draw(st.floats(0.0, base)) for base in base_lrs]
        spec["min_lr"] = min_lrs
    else:
        value = draw(st.floats(0.0, min(base_lrs)))
        spec["min_lr"] = value
        min_lrs = [value] * len(base_lrs)
    return spec, base_lrs, min_lrs


# Metric curves: random walks with stalls (repeated values) and a few outright jumps.
metric_curves = st.lists(
    st.one_of(st.floats(-0.2, 0.2), st.just(0.0), st.floats(-5.0, 5.0)), min_size=1, max_size=60
).map(lambda deltas: [1.0 + sum(deltas[: i + 1]) for i in range(len(deltas))])


@settings(max_examples=60, deadline=None)
@given(case=plateau_case(), values=metric_curves)
def test_plateau_matches_torch_and_stays_above_min_lr(
    case: tuple[dict[str, Any], list[float], list[float]], values: list[float]
) -> None:
    spec, base_lrs, min_lrs = case
    ours_opt = make_optimizer("sgd", base_lrs)
    ours = lr_recipes.build(spec, ours_opt, total_steps=1000, steps_per_epoch=10)["scheduler"]
    torch_opt = make_optimizer("sgd", base_lrs)
    params = {k: v for k, v in spec.items() if k not in ("name", "min_lr")}
    theirs = tls.ReduceLROnPlateau(torch_opt, min_lr=min_lrs, **params)
    for v in values:
        for opt, sched in ((ours_opt, ours), (torch_opt, theirs)):
            opt.step()
            sched.step(v)
        a = [g["lr"] for g in ours_opt.param_groups]
        b = [g["lr"] for g in torch_opt.param_groups]
        assert a == pytest.approx(b, rel=REL), f"after {v}: ours {a}, torch {b}"
        assert all(lr >= floor for lr, floor in zip(a, min_lrs, strict=True)), f"{a} below min_lr {min_lrs}"
        assert ours.best == theirs.best and ours.num_bad_epochs == theirs.num_bad_epochs
        assert ours.cooldown_counter == theirs.cooldown_counter


@st.composite
def plateau_events(draw: st.DrawFn) -> tuple[Case, list[tuple[int, float]]]:
    """A plateau spec, maybe with warmup, and a schedule of (optimizer steps, then one validation value)."""
    spec, base_lrs, min_lrs = draw(plateau_case())
    spe = draw(st.integers(1, 20))
    total = 200
    run = Run(total_steps=total, steps_per_epoch=spe)
    case = Case(spec, base_lrs, draw(st.sampled_from(["sgd", "adam"])), total, spe)
    if draw(st.booleans()):
        case.shape = draw(st.sampled_from(["linear", "cosine", "exponential"]))
        case.start_factor = draw(st.floats(1e-3 if case.shape == "exponential" else 0.0, 1.0))
        spec["warmup"], case.warmup_steps = duration(draw, run, 1, 60)
        spec.update(warmup_start_factor=case.start_factor, warmup_shape=case.shape)
    case.lows, case.highs = min_lrs, list(base_lrs)
    values = draw(metric_curves)
    gaps = draw(st.lists(st.integers(0, 15), min_size=len(values), max_size=len(values)))
    return case, list(zip(gaps, values, strict=True))


def run_plateau(opt: torch.optim.Optimizer, sched: Any, events: list[tuple[int, float]]) -> list[list[float]]:
    """The LRs after every optimizer step and every validation."""
    out = []
    for gap, value in events:
        for _ in range(gap):
            opt.step()
            out.append([float(g["lr"]) for g in opt.param_groups])
        sched.step(value)
        out.append([float(g["lr"]) for g in opt.param_groups])
    return out


@settings(max_examples=40, deadline=None)
@given(drawn=plateau_events(), data=st.data())
def test_plateau_resume_is_bit_exact_and_bounded(
    drawn: tuple[Case, list[tuple[int, float]]], data: st.DataObject
) -> None:
    case, events = drawn
    opt, sched = case.make()
    straight = run_plateau(opt, sched, events)
    clock = [0]  # the optimizer step each entry of straight was recorded at
    for gap, _ in events:
        clock += [clock[-1] + 1 + i for i in range(gap)] + [clock[-1] + gap]
    for t, lrs in zip(clock[1:], straight, strict=True):
        assert_in_bounds(case, t, lrs, [None] * len(lrs))
    assert sched.lr_at(clock[-1]) == straight[-1], "lr_at(t) with the reductions made so far is the current LR"

    j = data.draw(st.integers(0, len(events)), label="resume after validation")
    opt, sched = case.make()
    before = run_plateau(opt, sched, events[:j])
    blob = pickle.dumps(sched.state_dict())
    assert_plain_data(sched.state_dict())
    opt, sched = case.make()
    sched.load_state_dict(pickle.loads(blob))
    assert before + run_plateau(opt, sched, events[j:]) == straight


@settings(max_examples=40, deadline=None)
@given(
    base_lrs=st.lists(st.floats(1e-3, 2.0), min_size=1, max_size=3),
    warmup=st.integers(1, 40),
    shape=st.sampled_from(["linear", "cosine", "exponential"]),
    start=st.floats(1e-3, 1.0),
    metric_calls=st.integers(1, 30),
)
def test_plateau_warmup_advances_per_optimizer_step_not_per_metric(
    base_lrs: list[float], warmup: int, shape: str, start: float, metric_calls: int
) -> None:
    opt = make_optimizer("sgd", base_lrs)
    sched = lr_recipes.build(
        "plateau",
        opt,
        total_steps=1000,
        steps_per_epoch=10,
        warmup=f"{warmup}st",
        warmup_start_factor=start,
        warmup_shape=shape,
        patience=0,
        factor=0.5,
    )["scheduler"]

    def expected(t: int) -> list[float]:
        p = min(t, warmup) / warmup
        f = {
            "linear": start + (1 - start) * p,
            "cosine": start + (1 - start) * 0.5 * (1 - math.cos(math.pi * p)),
            "exponential": start ** (1 - p),
        }[shape]
        return [base * f for base in base_lrs]

    assert [g["lr"] for g in opt.param_groups] == pytest.approx(expected(0), rel=1e-12)
    for k in range(metric_calls):  # validations alone never move the warmup, and never reduce during it
        sched.step(1.0 + k)
        assert [g["lr"] for g in opt.param_groups] == pytest.approx(expected(0), rel=1e-12)
    for t in range(1, warmup + 5):
        opt.step()
        lrs = [g["lr"] for g in opt.param_groups]
        assert lrs == pytest.approx(expected(t), rel=1e-12), f"after {t} optimizer steps"
        assert lrs == sched.lr_at(t)
    assert [g["lr"] for g in opt.param_groups] == base_lrs, "warmup reaches the base LR with no reduction"
    sched.step(1e9)  # worse than everything seen, patience 0: the first post-warmup bad result reduces
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([b * 0.5 for b in base_lrs], rel=1e-12)
    opt.step()  # and optimizer steps after warmup leave the reduced LR alone
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([b * 0.5 for b in base_lrs], rel=1e-12)


def test_plateau_non_finite_values_count_as_no_improvement() -> None:
    opt = make_optimizer("sgd", [1.0])
    sched = lr_recipes.build("plateau", opt, total_steps=100, steps_per_epoch=10, mode="max", patience=1, factor=0.5)[
        "scheduler"
    ]
    sched.step(1.0)
    with pytest.warns(RuntimeWarning, match=r"monitored value is inf; counted as no improvement"):
        sched.step(math.inf)  # torch's ReduceLROnPlateau would make inf the best of a "max" metric
    with pytest.warns(RuntimeWarning, match="monitored value is nan"):
        sched.step(math.nan)
    assert sched.best == 1.0
    assert opt.param_groups[0]["lr"] == 0.5


def test_resume_into_a_different_spec_warns() -> None:
    spec = {"name": "cosine", "warmup": "10st"}
    opt = make_optimizer("sgd", [0.1])
    sched = lr_recipes.build(spec, opt, total_steps=100, steps_per_epoch=10)["scheduler"]
    for _ in range(30):
        opt.step()
        sched.step()
    state = sched.state_dict()
    opt = make_optimizer("sgd", [0.1])
    other = lr_recipes.build({**spec, "min_lr": 0.01}, opt, total_steps=100, steps_per_epoch=10)["scheduler"]
    with pytest.warns(UserWarning, match=r"loading a scheduler state saved with recipe .* into one built with"):
        other.load_state_dict(state)
    assert opt.param_groups[0]["lr"] == other.lr_at(30)[0], "the step counter carries over, the schedule is the new one"


TRACE_LRS = [0.1, 0.0, -0.0, 1e-300, math.nan, math.inf, 0.25]
TRACE_MOMENTA = [0, 0.0, 0.9, -0.0]


@CLOSED_FORM
@given(
    lr_pool=st.lists(st.one_of(st.sampled_from(TRACE_LRS), st.floats(0.0, 10.0)), min_size=1, max_size=3),
    momentum_pool=st.lists(st.sampled_from(TRACE_MOMENTA), min_size=1, max_size=2),
    picks=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 1)), min_size=1, max_size=60),
    epoch_every=st.integers(min_value=1, max_value=30),
    flush_every=st.integers(min_value=1, max_value=40),
)
# Equal values with different text, inside one run: 0 and 0.0 (momentum), 0.0 and -0.0 (LR).
@example(lr_pool=[0.1], momentum_pool=[0, 0.0], picks=[(0, 0), (0, 0), (0, 1), (0, 0)], epoch_every=30,
         flush_every=40)  # fmt: skip
@example(lr_pool=[0.0, -0.0], momentum_pool=[0.9], picks=[(0, 0), (0, 0), (1, 0), (0, 0)], epoch_every=30,
         flush_every=40)  # fmt: skip
def test_trace_file_is_what_the_csv_writer_writes(
    lr_pool: list[float],
    momentum_pool: list[float],
    picks: list[tuple[int, int]],
    epoch_every: int,
    flush_every: int,
    tmp_path_factory: Any,
) -> None:
    """The trace's own line building (constant runs joined by one suffix, varying runs formatted, runs across
    epochs and flushes) writes exactly the bytes Python's csv writer writes for the same rows: floats as repr
    (-0.0, nan, inf included), ints as str, a run of values that are equal but not the same (0 and 0.0, 0.0 and
    -0.0) value by value; the in-memory tail holds the same rows."""
    import csv
    import os

    from lr_recipes.callback.trace import LRTrace

    steps = [(lr_pool[i % len(lr_pool)], momentum_pool[j % len(momentum_pool)]) for i, j in picks]
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
    trace = LRTrace()
    trace.set_layout(opt, ["lr-SGD"])
    path = trace.open(os.path.join(tmp_path_factory.mktemp("trace"), "lr_trace.csv"), first_step=0)
    expected = io.StringIO()
    writer = csv.writer(expected)
    writer.writerow(["step", "epoch", "skipped", "lr-SGD", "lr-SGD-momentum"])
    for t, (lr, momentum) in enumerate(steps):
        opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"] = lr, momentum
        assert trace.record(opt, step=t, epoch=t // epoch_every)
        writer.writerow([t, t // epoch_every, 0, lr, momentum])
        if t % flush_every == flush_every - 1:
            trace.flush()
    rows = [{k: repr(v) for k, v in row.items()} for row in trace.rows]  # repr: nan == nan, -0.0 != 0.0
    assert rows == [
        {
            "step": repr(t),
            "epoch": repr(t // epoch_every),
            "skipped": "0",
            "lr-SGD": repr(lr),
            "lr-SGD-momentum": repr(m),
        }
        for t, (lr, m) in enumerate(steps)
    ]
    trace.close()
    with open(path, newline="") as f:
        assert f.read() == expected.getvalue()
