"""How many times an optimizer really stepped, counted in the wrapper torch already puts on ``optimizer.step``.

torch's ``LRScheduler`` wraps ``optimizer.step`` once per optimizer (to warn about a ``scheduler.step()``
before ``optimizer.step()``). :func:`count_steps` puts in its place a wrapper that does the same and also
counts the calls that ran; a ``GradScaler`` that skips a step never calls ``optimizer.step``, so a count that
did not move since the last scheduler step means the optimizer step was skipped. This costs one integer
increment inside a call that happens anyway, where an optimizer step hook per scheduler costs a Python call
(through a weak reference) at every step.

The count lives on the optimizer (``optimizer._lr_recipes_steps``), so every scheduler of one optimizer reads
the same clock and none keeps another alive. It is not saved: pickling an optimizer drops its wrapper, and
:func:`count_steps` starts a new count.

Example::

    >>> import torch
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    >>> count_steps(opt)
    0
    >>> opt.step(); opt.step()
    >>> steps_taken(opt)
    2
"""

from __future__ import annotations

import functools
import weakref
from typing import Any

from torch.optim import Optimizer

ATTRIBUTE = "_lr_recipes_steps"


def count_steps(optimizer: Optimizer) -> int:
    """Make ``optimizer.step`` count the calls that ran (once per optimizer); return the count so far.

    A plain optimizer, or one whose ``step`` torch's ``LRScheduler`` wrapped, gets a wrapper that does what
    torch's does (sets ``_opt_called``, is marked ``_wrapped_by_lr_sched``) and counts; a ``step`` someone
    else replaced is wrapped as it is, so their code still runs.

    Example::

        >>> import torch
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        >>> count_steps(opt) == count_steps(opt) == 0
        True
    """
    step = optimizer.__dict__.get("step")
    if step is not None and getattr(step, "_lr_recipes_counts", False):
        return steps_taken(optimizer)
    if step is None or getattr(step, "_wrapped_by_lr_sched", False):
        inner: Any = type(optimizer).step  # torch's wrapper only sets _opt_called, which ours does too
        bind = True
    else:
        inner, bind = step, False  # somebody's own replacement: keep calling it
    ref = weakref.ref(optimizer)

    @functools.wraps(inner)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        opt = ref()
        opt._opt_called = True  # type: ignore[union-attr]
        counts = opt.__dict__  # type: ignore[union-attr]
        counts[ATTRIBUTE] += 1  # before the step, so its post hooks see the step counted
        try:
            return inner(opt, *args, **kwargs) if bind else inner(*args, **kwargs)
        except BaseException:
            counts[ATTRIBUTE] -= 1  # a step that raised did not run
            raise

    wrapper._wrapped_by_lr_sched = True  # type: ignore[attr-defined]
    wrapper._lr_recipes_counts = True  # type: ignore[attr-defined]
    optimizer.__dict__.setdefault(ATTRIBUTE, 0)
    optimizer.step = wrapper  # type: ignore[method-assign]
    return steps_taken(optimizer)


def steps_taken(optimizer: Optimizer) -> int:
    """The optimizer steps that ran since :func:`count_steps` (0 before it).

    Example::

        >>> import torch
        >>> steps_taken(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1))
        0
    """
    return optimizer.__dict__.get(ATTRIBUTE, 0)
