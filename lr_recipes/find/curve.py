"""The range test's curve: the LR of each step, the smoothed loss and the rules that suggest an LR.

Pure Python (no torch, no Lightning), so the rules are testable on hand-made curves.

The loss is smoothed with a bias-corrected exponential moving average (fastai's and Lightning's
``beta``). Plotted against the LR of its *last* sample, an EMA lags: at ``beta=0.9`` by about nine steps,
half a decade of LR in a 100-step test from 1e-5 to 10, which moves every suggestion to a larger LR. Here
each smoothed value is placed at the LR of the centre of mass of its weights instead, which is exact for a
loss that is locally linear in log(LR); the raw losses keep their own LRs.

Suggestion rules (on the smoothed curve, after its first 10%, where the average rests on few samples):

- ``valley`` (the default; fastai's default since 2.4): the longest descent of the curve, found as the
  longest decreasing subsequence, and the LR halfway along it. Robust to a noisy start and to a late
  cliff, and below the divergence point by construction.
- ``steepest``: the most negative slope d loss / d log(LR) on the way down to the lowest point (Lightning's
  only rule, which differentiates with respect to the LR itself, Lightning #21141, and over the whole
  curve, so a recovery after a spike can win).
- ``minimum``: the LR of the lowest smoothed loss, divided by 10 (Smith 2017; fastai's ``minimum``).

Example::

    >>> lrs = log_spaced(1e-3, 1.0, 7)
    >>> [f"{lr:.0e}" for lr in lrs[::2]]
    ['1e-03', '1e-02', '1e-01', '1e+00']
    >>> smoothed, centres = smooth([4.0, 3.0, 2.0, 1.0, 2.0, 5.0, 9.0], beta=0.0)
    >>> f"{suggest(lrs, smoothed, 'minimum', skip=0):.3g}"
    '0.00316'
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal, get_args

Rule = Literal["valley", "steepest", "minimum"]
"""A suggestion rule: ``"valley"`` (default), ``"steepest"`` or ``"minimum"`` (the minimum ÷ 10)."""

RULES: tuple[str, ...] = get_args(Rule)
RULE_LABELS = {"valley": "valley", "steepest": "steepest", "minimum": "minimum/10"}


class FindError(ValueError):
    """The range test cannot run, or its curve gives no LR; the message says why and what to do.

    Example::

        >>> isinstance(FindError("the loss never fell"), ValueError)
        True
    """


def log_spaced(min_lr: float, max_lr: float, num_steps: int) -> list[float]:
    """``num_steps`` LRs rising exponentially from ``min_lr`` (the first step) to ``max_lr`` (the last).

    Raises:
        FindError: unless ``0 < min_lr < max_lr`` and ``num_steps >= 2``.

    Example::

        >>> [round(lr, 12) for lr in log_spaced(0.01, 1.0, 3)]
        [0.01, 0.1, 1.0]
    """
    if not (isinstance(min_lr, (int, float)) and isinstance(max_lr, (int, float)) and 0 < min_lr < max_lr):
        raise FindError(f"min_lr={min_lr!r}, max_lr={max_lr!r} is not allowed; allowed: 0 < min_lr < max_lr")
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 2:
        raise FindError(f"num_steps={num_steps!r} is not allowed; allowed: an integer >= 2 (optimizer steps)")
    ratio = math.log(max_lr / min_lr)
    lrs = [min_lr * math.exp(ratio * k / (num_steps - 1)) for k in range(num_steps)]
    lrs[-1] = float(max_lr)
    return lrs


def smooth(losses: Sequence[float], beta: float) -> tuple[list[float], list[float]]:
    """The bias-corrected EMA of ``losses`` and, for each value, the centre of mass of its weights (a step index).

    Value ``k`` is ``sum_j beta**(k-j) * loss_j / sum_j beta**(k-j)`` over ``j <= k``: the first value is the
    first loss (no start at zero, Lightning #14167).

    Raises:
        FindError: unless ``0 <= beta < 1``.

    Example::

        >>> values, centres = smooth([1.0, 3.0], beta=0.5)
        >>> [round(v, 6) for v in values], [round(c, 6) for c in centres]
        ([1.0, 2.333333], [0.0, 0.666667])
    """
    if not 0.0 <= beta < 1.0:
        raise FindError(f"beta={beta!r} is not allowed; allowed: 0 <= beta < 1 (0: no smoothing)")
    values, centres = [], []
    total = weight = moment = 0.0
    for k, loss in enumerate(losses):
        total = beta * total + loss
        weight = beta * weight + 1.0
        moment = beta * moment + k
        values.append(total / weight)
        centres.append(moment / weight)
    return values, centres


def lr_at(lrs: Sequence[float], index: float) -> float:
    """The LR at a fractional step ``index``, interpolated geometrically between neighbouring steps.

    Example::

        >>> round(lr_at([0.01, 0.1, 1.0], 1.5), 6)  # 10**-0.5
        0.316228
    """
    i = min(int(index), len(lrs) - 1)
    frac = index - i
    if frac <= 0 or i + 1 >= len(lrs):
        return float(lrs[i])
    return float(math.exp((1 - frac) * math.log(lrs[i]) + frac * math.log(lrs[i + 1])))


def suggest(lrs: Sequence[float], smoothed: Sequence[float], rule: str, skip: int | None = None) -> float | None:
    """The LR ``rule`` picks on a smoothed curve (``lrs[k]``, ``smoothed[k]``), or ``None`` if it finds none.

    Args:
        lrs: the LR each smoothed value stands for (increasing).
        smoothed: the smoothed losses; non-finite values end the curve.
        rule: one of :data:`RULES`.
        skip: leading points to ignore; 10% of the curve by default.

    Raises:
        FindError: for an unknown rule.

    Example::

        >>> lrs = log_spaced(1e-3, 1.0, 4)
        >>> f"{suggest(lrs, [3.0, 2.0, 0.5, 0.4], 'steepest', skip=0):.3g}"
        '0.01'
    """
    if rule not in RULES:
        raise FindError(f"rule={rule!r} is not allowed; allowed: {', '.join(map(repr, RULES))}")
    n = next((i for i, v in enumerate(smoothed) if not math.isfinite(v)), len(smoothed))
    start = max(0, n // 10 if skip is None else skip)
    xs, ys = list(lrs[start:n]), list(smoothed[start:n])
    if len(ys) < 2:
        return None
    if rule == "minimum":
        return xs[min(range(len(ys)), key=ys.__getitem__)] / 10.0
    if rule == "steepest":
        # Only the descent to the lowest point counts: a BatchNorm network often spikes at a high LR and
        # recovers, and that recovery is steep too.
        end = min(range(len(ys)), key=ys.__getitem__) + 1
        if end < 2:
            return None
        xs, ys = xs[:end], ys[:end]
        logs = [math.log(x) for x in xs]
        slopes = _gradient(ys, logs)
        best = min(range(len(slopes)), key=slopes.__getitem__)
        return xs[best] if slopes[best] < 0 else None
    first, last = _longest_valley(ys)
    if last == first:
        return None
    third = (last - first) / 3  # fastai: a third plus a sixth, halfway along
    return xs[first + int(third) + int(third / 2)]


def _gradient(ys: Sequence[float], xs: Sequence[float]) -> list[float]:
    """``numpy.gradient(ys, xs)``: second-order central differences inside, one-sided at the ends."""
    n = len(ys)
    out = [(ys[1] - ys[0]) / (xs[1] - xs[0])]
    for i in range(1, n - 1):
        h0, h1 = xs[i] - xs[i - 1], xs[i + 1] - xs[i]
        out.append((h0**2 * ys[i + 1] + (h1**2 - h0**2) * ys[i] - h1**2 * ys[i - 1]) / (h0 * h1 * (h0 + h1)))
    out.append((ys[-1] - ys[-2]) / (xs[-1] - xs[-2]))
    return out


def _longest_valley(ys: Sequence[float]) -> tuple[int, int]:
    """fastai's valley: the end of the longest decreasing subsequence, and that end minus its length.

    The start counts only the points that fall (a flat stretch before the descent adds one), so the valley is
    the descent itself, not the plateau before it.
    """
    n = len(ys)
    length = [1] * n
    for i in range(n):
        for j in range(i):
            if ys[i] < ys[j] and length[j] + 1 > length[i]:
                length[i] = length[j] + 1
    end = max(range(n), key=lambda i: (length[i], -i))
    return max(0, end - length[end]), end


__all__ = ["RULES", "RULE_LABELS", "FindError", "Rule", "log_spaced", "lr_at", "smooth", "suggest"]
