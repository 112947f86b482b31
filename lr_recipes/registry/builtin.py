"""The built-in recipes. Each is a factory: a :class:`~lr_recipes.registry.RecipeContext` and typed
parameters in, one closed-form :class:`~lr_recipes.schedules.Schedule` per param group out.

Durations (``"30ep"``, ``"500st"``, ``"10%"``) that span something (a cosine, a decay, a period) run on
the clock that starts after warmup; points in the run (``step`` and ``multistep`` decays) count from
step 0, so a published "÷10 at epoch 30" keeps its meaning with or without warmup.

Example::

    >>> import torch, lr_recipes
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    >>> sched = lr_recipes.build("step", opt, total_steps=100, steps_per_epoch=10,
    ...                          step_size="3ep", gamma=0.5)["scheduler"]
    >>> sched.lr_at(29), sched.lr_at(30)
    ([0.1], [0.05])
"""

from __future__ import annotations

import itertools

from lr_recipes.registry.base import PerGroup
from lr_recipes.registry.context import PlateauSpec, RecipeContext
from lr_recipes.registry.entries import register
from lr_recipes.schedules import (
    WSD,
    Constant,
    Cosine,
    CosineRestarts,
    Cyclic,
    CyclicMode,
    DecayShape,
    Exponential,
    InverseSqrt,
    Linear,
    MultiStep,
    OneCycle,
    OneCycleAnneal,
    Plateau,
    PlateauMode,
    Polynomial,
    Schedule,
    Step,
    ThresholdMode,
)
from lr_recipes.units import Duration


def _check_gamma(ctx: RecipeContext, gamma: float) -> None:
    ctx.check(0.0 < gamma <= 1.0, "gamma", gamma, "0 < gamma <= 1 (a decay factor)")


@register("constant")
def constant(ctx: RecipeContext) -> list[Schedule]:
    """The base LR at every step (combine with ``warmup``); matches ``ConstantLR(factor=1)``."""
    return [Constant(base) for base in ctx.base_lrs]


@register("step")
def step(ctx: RecipeContext, step_size: Duration, gamma: float = 0.1) -> list[Schedule]:
    """Multiply the LR by ``gamma`` every ``step_size`` (StepLR), counted from the start of the run.

    Args:
        step_size: interval between decays, e.g. "30ep".
        gamma: multiplier at each decay, in (0, 1].
    """
    _check_gamma(ctx, gamma)
    size = ctx.steps(step_size, "step_size", clock="run")
    if size <= ctx.warmup_steps:
        raise ctx.fail(
            "step_size", step_size, f"longer than warmup ({ctx.warmup_steps} steps): the first decay would land in it"
        )
    return [Step(base, size, gamma, offset=ctx.warmup_steps) for base in ctx.base_lrs]


@register("multistep")
def multistep(ctx: RecipeContext, milestones: list[Duration], gamma: float = 0.1) -> list[Schedule]:
    """Multiply the LR by ``gamma`` at each milestone (MultiStepLR), counted from the start of the run.

    Args:
        milestones: increasing points in the run, e.g. ["32000st", "48000st"] or ["50%", "75%"].
        gamma: multiplier at each milestone, in (0, 1].
    """
    _check_gamma(ctx, gamma)
    ctx.check(len(milestones) > 0, "milestones", milestones, "a non-empty list of durations")
    points = [ctx.steps(m, f"milestones[{i}]", clock="run") for i, m in enumerate(milestones)]
    if any(b <= a for a, b in itertools.pairwise(points)):
        raise ctx.fail("milestones", milestones, f"strictly increasing points (they resolve to {points} steps)")
    if ctx.run.total_steps is not None and points[-1] >= ctx.run.total_steps:
        raise ctx.fail(
            "milestones",
            milestones,
            f"points before the end of the run ({ctx.run.total_steps} steps); "
            f"the last resolves to {points[-1]} and would never take effect",
        )
    if points[0] <= ctx.warmup_steps:
        raise ctx.fail("milestones", milestones, f"points after warmup ({ctx.warmup_steps} steps)")
    return [MultiStep(base, tuple(points), gamma, offset=ctx.warmup_steps) for base in ctx.base_lrs]


@register("exponential")
def exponential(
    ctx: RecipeContext, gamma: float, every: Duration = Duration(1, "ep"), staircase: bool = True
) -> list[Schedule]:
    """Multiply the LR by ``gamma`` per ``every`` (ExponentialLR), from the end of warmup.

    Args:
        gamma: multiplier per period, in (0, 1].
        every: the period, e.g. "1ep" (torch's ExponentialLR stepped per epoch) or "1st".
        staircase: change the LR once per period (true, like torch) or smoothly every step (false).
    """
    _check_gamma(ctx, gamma)
    period = ctx.steps(every, "every")
    return [Exponential(base, gamma, period, staircase) for base in ctx.base_lrs]


@register("cosine")
def cosine(
    ctx: RecipeContext,
    duration: Duration | None = None,
    min_lr: PerGroup | None = None,
    min_lr_ratio: float | None = None,
) -> list[Schedule]:
    """Cosine from the base LR down to ``min_lr`` (CosineAnnealingLR without the climb back up).

    Args:
        duration: length of the decay; the rest of the run after warmup by default.
        min_lr: final LR, absolute (one number or one per param group); 0 by default.
        min_lr_ratio: final LR as a fraction of each group's base LR (instead of min_lr).
    """
    steps = ctx.span(duration, "duration")
    floors = ctx.min_lrs(min_lr, min_lr_ratio)
    return [Cosine(base, floor, steps) for base, floor in zip(ctx.base_lrs, floors, strict=True)]


@register("cosine_restarts")
def cosine_restarts(
    ctx: RecipeContext,
    period: Duration,
    period_mult: float = 1.0,
    decay: float = 1.0,
    min_lr: PerGroup | None = None,
    min_lr_ratio: float | None = None,
) -> list[Schedule]:
    """SGDR: cosine cycles restarting at the base LR (CosineAnnealingWarmRestarts, fractional mult).

    Args:
        period: length of the first cycle, e.g. "10ep".
        period_mult: each cycle is this many times longer than the one before (>= 1, may be fractional).
        decay: each cycle starts at this fraction of the previous peak, in (0, 1].
        min_lr: LR at the end of each cycle, absolute; 0 by default.
        min_lr_ratio: the same as a fraction of each group's base LR.
    """
    length = ctx.steps(period, "period")
    ctx.check(period_mult >= 1.0, "period_mult", period_mult, ">= 1")
    ctx.check(0.0 < decay <= 1.0, "decay", decay, "0 < decay <= 1")
    floors = ctx.min_lrs(min_lr, min_lr_ratio)
    return [
        CosineRestarts(base, floor, length, period_mult, decay)
        for base, floor in zip(ctx.base_lrs, floors, strict=True)
    ]


@register("linear")
def linear(
    ctx: RecipeContext, start_factor: float = 1.0, end_factor: float = 0.0, duration: Duration | None = None
) -> list[Schedule]:
    """Straight line from ``start_factor`` to ``end_factor`` times the base LR (LinearLR; LinearDecayLR).

    Args:
        start_factor: LR factor at the start, in [0, 1].
        end_factor: LR factor at the end of ``duration`` and after, in [0, 1].
        duration: length of the line; the rest of the run after warmup by default.
    """
    ctx.check(0.0 <= start_factor <= 1.0, "start_factor", start_factor, "0 <= start_factor <= 1")
    ctx.check(0.0 <= end_factor <= 1.0, "end_factor", end_factor, "0 <= end_factor <= 1")
    steps = ctx.span(duration, "duration")
    return [Linear(base, start_factor, end_factor, steps) for base in ctx.base_lrs]


@register("polynomial")
def polynomial(
    ctx: RecipeContext,
    power: float = 1.0,
    min_lr: PerGroup | None = None,
    min_lr_ratio: float | None = None,
    duration: Duration | None = None,
) -> list[Schedule]:
    """Polynomial decay to ``min_lr``: ``(base - min) * (1 - t/T) ** power + min`` (PolynomialLR).

    Args:
        power: the exponent, > 0 (1 is linear, 2 quadratic).
        min_lr: end LR, absolute; 0 by default.
        min_lr_ratio: end LR as a fraction of each group's base LR.
        duration: length of the decay; the rest of the run after warmup by default.
    """
    ctx.check(power > 0, "power", power, "> 0")
    steps = ctx.span(duration, "duration")
    floors = ctx.min_lrs(min_lr, min_lr_ratio)
    return [Polynomial(base, floor, steps, power) for base, floor in zip(ctx.base_lrs, floors, strict=True)]


@register("onecycle")
def onecycle(
    ctx: RecipeContext,
    max_lr: PerGroup | None = None,
    peak_factor: float | None = None,
    pct_start: float = 0.3,
    anneal: OneCycleAnneal = "cos",
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    three_phase: bool = False,
    cycle_momentum: bool = True,
    base_momentum: float = 0.85,
    max_momentum: float = 0.95,
    duration: Duration | None = None,
) -> list[Schedule]:
    """Smith's 1cycle (OneCycleLR), never raising past the end and never bouncing up at the last step.

    Args:
        max_lr: the peak LR, absolute (one number or one per group); the optimizer's LR by default.
        peak_factor: the peak as a multiple of each group's base LR (instead of max_lr).
        pct_start: fraction of the cycle spent rising, in (0, 1) (three_phase: (0, 0.5)).
        anneal: "cos" or "linear".
        div_factor: the cycle starts at peak / div_factor (> 1).
        final_div_factor: the cycle ends at peak / div_factor / final_div_factor (>= 1).
        three_phase: rise, fall back to the start LR, then anneal (fastai's variant).
        cycle_momentum: move momentum (or beta1) opposite to the LR.
        base_momentum: momentum at the LR peak.
        max_momentum: momentum at the LR minimum.
        duration: length of the cycle; the rest of the run after warmup by default.
    """
    peaks = _peaks(ctx, max_lr, peak_factor, default_factor=1.0)
    limit = 0.5 if three_phase else 1.0
    ctx.check(0.0 < pct_start < limit, "pct_start", pct_start, f"0 < pct_start < {limit}")
    ctx.check(div_factor > 1.0, "div_factor", div_factor, "> 1")
    ctx.check(final_div_factor >= 1.0, "final_div_factor", final_div_factor, ">= 1")
    _check_momentum(ctx, cycle_momentum, base_momentum, max_momentum)
    steps = ctx.span(duration, "duration")
    rising = pct_start * steps
    if rising < 2 or steps - rising < 2:
        shown = duration if duration is not None else f"{steps}st (the rest of the run)"
        raise ctx.fail("duration", shown, f"a cycle with at least 2 steps in each phase (pct_start={pct_start})")
    return [
        OneCycle(
            peak,
            steps,
            pct_start,
            anneal,
            div_factor,
            final_div_factor,
            three_phase,
            cycle_momentum,
            base_momentum,
            max_momentum,
        )
        for peak in peaks
    ]


@register("cyclic")
def cyclic(
    ctx: RecipeContext,
    up: Duration,
    down: Duration | None = None,
    max_lr: PerGroup | None = None,
    peak_factor: float | None = None,
    mode: CyclicMode = "triangular",
    gamma: float = 1.0,
    cycle_momentum: bool = True,
    base_momentum: float = 0.8,
    max_momentum: float = 0.9,
) -> list[Schedule]:
    """Smith's cyclical LR between the base LR and ``max_lr`` (CyclicLR).

    Args:
        up: steps rising from the base LR to max_lr, e.g. "4ep" (Smith: 2-10 epochs).
        down: steps falling back; the same as up by default.
        max_lr: the top of the cycle, absolute (one number or one per group).
        peak_factor: the top as a multiple of each group's base LR (instead of max_lr).
        mode: "triangular", "triangular2" (halve the amplitude each cycle) or "exp_range".
        gamma: amplitude factor per step for exp_range, in (0, 1].
        cycle_momentum: move momentum (or beta1) opposite to the LR.
        base_momentum: momentum at the LR peak.
        max_momentum: momentum at the LR minimum.
    """
    peaks = _peaks(ctx, max_lr, peak_factor, default_factor=None)
    for i, (base, peak) in enumerate(zip(ctx.base_lrs, peaks, strict=True)):
        if peak < base:
            param, value = ("max_lr", max_lr) if max_lr is not None else ("peak_factor", peak_factor)
            raise ctx.fail(param, value, f">= the base LR {base:g} of param group {i} (the bottom of the cycle)")
    rise = ctx.steps(up, "up")
    fall = rise if down is None else ctx.steps(down, "down")
    ctx.check(0.0 < gamma <= 1.0, "gamma", gamma, "0 < gamma <= 1")
    _check_momentum(ctx, cycle_momentum, base_momentum, max_momentum)
    return [
        Cyclic(base, peak, rise, fall, mode, gamma, cycle_momentum, base_momentum, max_momentum)
        for base, peak in zip(ctx.base_lrs, peaks, strict=True)
    ]


@register("wsd")
def wsd(
    ctx: RecipeContext,
    decay: Duration = Duration(20, "%"),
    decay_shape: DecayShape = "1-sqrt",
    min_lr: PerGroup | None = None,
    min_lr_ratio: float | None = None,
) -> list[Schedule]:
    """Warmup-stable-decay: hold the base LR, decay over the last ``decay`` of the run (MiniCPM).

    Args:
        decay: length of the final decay, e.g. "20%" of the run or "10ep".
        decay_shape: "linear", "cosine" or "1-sqrt" (Hägele et al. 2024 find 1-sqrt best).
        min_lr: LR at the end, absolute; 0 by default.
        min_lr_ratio: LR at the end as a fraction of each group's base LR.
    """
    if ctx.main_steps is None:
        raise ctx.fail("decay", decay, "a run of known length (set trainer max_epochs or max_steps)")
    steps = ctx.span(None, "length")
    decay_steps = ctx.steps(decay, "decay")
    floors = ctx.min_lrs(min_lr, min_lr_ratio)
    return [WSD(base, floor, steps, decay_steps, decay_shape) for base, floor in zip(ctx.base_lrs, floors, strict=True)]


@register("inverse_sqrt")
def inverse_sqrt(ctx: RecipeContext, timescale: Duration | None = None) -> list[Schedule]:
    """``base / sqrt(1 + t / timescale)`` after warmup (Transformer's schedule; open-ended runs).

    Args:
        timescale: the LR halves at 3x this after warmup; the warmup length by default (as transformers).
    """
    if timescale is None:
        if ctx.warmup_steps == 0:
            raise ctx.fail("timescale", None, 'a duration such as "1000st" (or set warmup, which it defaults to)')
        scale = ctx.warmup_steps
    else:
        scale = ctx.steps(timescale, "timescale")
    return [InverseSqrt(base, scale) for base in ctx.base_lrs]


@register("plateau", plateau=True)
def plateau(
    ctx: RecipeContext,
    monitor: str = "val_loss",
    mode: PlateauMode = "min",
    factor: float = 0.1,
    patience: int = 10,
    threshold: float = 1e-4,
    threshold_mode: ThresholdMode = "rel",
    cooldown: int = 0,
    min_lr: PerGroup = 0.0,
    eps: float = 1e-8,
) -> PlateauSpec:
    """Reduce the LR by ``factor`` when ``monitor`` stops improving (ReduceLROnPlateau), after any warmup.

    Args:
        monitor: the logged metric to watch.
        mode: "min" (a loss) or "max" (an accuracy).
        factor: LR multiplier at each reduction, in (0, 1).
        patience: validations without improvement before a reduction (>= 0).
        threshold: smallest change that counts as an improvement (>= 0).
        threshold_mode: "rel" (relative to the best) or "abs".
        cooldown: validations to wait after a reduction (>= 0).
        min_lr: floor of the LR, absolute (one number or one per param group).
        eps: reductions smaller than this are skipped (>= 0).
    """
    ctx.check(0.0 < factor < 1.0, "factor", factor, "0 < factor < 1")
    ctx.check(patience >= 0, "patience", patience, "an integer >= 0")
    ctx.check(threshold >= 0, "threshold", threshold, ">= 0")
    ctx.check(cooldown >= 0, "cooldown", cooldown, "an integer >= 0")
    ctx.check(eps >= 0, "eps", eps, ">= 0")
    ctx.check(bool(monitor), "monitor", monitor, "the name of a logged metric, e.g. 'val_loss'")
    rule = Plateau(mode, factor, patience, threshold, threshold_mode, cooldown, eps)
    return PlateauSpec(rule=rule, min_lrs=ctx.min_lrs(min_lr, None), monitor=monitor)


def _peaks(
    ctx: RecipeContext, max_lr: PerGroup | None, peak_factor: float | None, default_factor: float | None
) -> list[float]:
    if max_lr is not None and peak_factor is not None:
        raise ctx.fail("peak_factor", peak_factor, "either max_lr (absolute) or peak_factor (relative), not both")
    if max_lr is not None:
        peaks = ctx.per_group(max_lr, "max_lr")
    elif peak_factor is not None:
        ctx.check(peak_factor > 0, "peak_factor", peak_factor, "> 0")
        peaks = [base * peak_factor for base in ctx.base_lrs]
    elif default_factor is not None:
        peaks = [base * default_factor for base in ctx.base_lrs]
    else:
        raise ctx.fail("max_lr", None, "a peak LR: max_lr (absolute) or peak_factor (multiple of the base LR)")
    for i, peak in enumerate(peaks):
        if not peak > 0:
            raise ctx.fail("max_lr", peak, f"> 0 (param group {i})")
    return peaks


def _check_momentum(ctx: RecipeContext, cycle: bool, base: float, top: float) -> None:
    if cycle:
        ctx.check(0.0 <= base <= top < 1.0, "base_momentum", base, f"0 <= base_momentum <= max_momentum ({top}) < 1")
