"""torch ``LRScheduler`` subclasses that drive the closed-form schedules of :mod:`lr_recipes.schedules`.

:class:`RecipeScheduler` is stepped once per optimizer step with ``step()``; the LR of step ``t`` is
``schedule(t)`` for each param group, so the state is just ``last_epoch`` (the step counter) and a
``state_dict`` round trip continues bit-identically.

:class:`PlateauScheduler` is a ``ReduceLROnPlateau`` whose LR is ``warmup(t) * max(base * factor**k,
min_lr)``. It is stepped with ``step(metric)`` after each validation, while its clock counts optimizer
steps by itself (and an optimizer step hook applies the warmup while it lasts), so the same object is
correct whether Lightning steps it once per epoch (``interval: "epoch"``),
:class:`~lr_recipes.LRSchedulerCallback` steps it after every validation run, or a plain torch loop calls
``scheduler.step(val_loss)``.

Both are normally made by :func:`lr_recipes.build`.

Two things torch's schedulers get wrong are handled by both:

- **Param groups added mid-run** (``BaseFinetuning`` / ``BackboneFinetuning``, ``optimizer.add_param_group``):
  a new group follows the first group's schedule as a factor of its own LR at the moment it appeared
  (``new_lr(t) = lr_at_appearance * lr_0(t) / lr_0(appearance)``), and the factor is in the state, so a
  resume (with the group restored, as ``BaseFinetuning`` does) continues it.
- **Skipped optimizer steps** (a ``GradScaler`` skips ``optimizer.step()`` when gradients overflow): the
  clock counts optimizer steps that really ran (:mod:`lr_recipes.step_counter`: one increment in the wrapper
  torch already puts on ``optimizer.step``, no per-step hook), so a ``scheduler.step()`` after a skipped step
  leaves the schedule where it is and counts ``skipped_steps`` instead (no false "``lr_scheduler.step()``
  before ``optimizer.step()``" warning).

Example::

    >>> import torch
    >>> from lr_recipes.schedules import Cosine
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    >>> sched = RecipeScheduler(opt, [Cosine(base_lr=0.1, min_lr=0.0, steps=10)])
    >>> for _ in range(5):
    ...     opt.step()
    ...     sched.step()
    >>> round(opt.param_groups[0]["lr"], 6)
    0.05
"""

from __future__ import annotations

import math
import operator
import warnings
import weakref
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau

from lr_recipes.registry.plan import cooldown_window, resume_plan, resume_warmup, spec_shape
from lr_recipes.schedules.base import Scaled, Schedule
from lr_recipes.schedules.plateau import DeferredDecision, Plateau, PlateauDecision, PlateauState
from lr_recipes.schedules.warmup import warmup_factor
from lr_recipes.step_counter import ATTRIBUTE as STEPS_ATTRIBUTE
from lr_recipes.step_counter import count_steps, steps_taken

_LR = operator.itemgetter("lr")  # a param group's LR (map(_LR, groups): no list comprehension frame)


def _set_group_value(group: dict[str, Any], key: str, value: float) -> None:
    # Tensor LRs (capturable/fused optimizers) are updated in place, as torch's schedulers do.
    current = group[key]
    if isinstance(current, torch.Tensor):
        current.fill_(value)
    else:
        group[key] = value


def _set_momentum(optimizer: Optimizer, momenta: Sequence[float | None]) -> None:
    use_betas = "betas" in optimizer.defaults
    for group, m in zip(optimizer.param_groups, momenta, strict=True):
        if m is None:
            continue
        if use_betas:
            group["betas"] = (m, *group["betas"][1:])
        else:
            group["momentum"] = m


def has_momentum(optimizer: Optimizer) -> bool:
    """Whether the optimizer has a momentum (SGD, RMSprop) or a beta1 (Adam family) to cycle.

    Example::

        >>> import torch
        >>> has_momentum(torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))]))
        True
    """
    return "momentum" in optimizer.defaults or "betas" in optimizer.defaults


class RecipeScheduler(LRScheduler):
    """Sets each param group's LR to ``schedules[i](t)`` at optimizer step ``t``.

    Args:
        optimizer: the wrapped optimizer.
        schedules: one closed-form :class:`~lr_recipes.schedules.Schedule` per param group.
        recipe: the spec it was built from (name and parameters), kept in the state for checks.
        last_epoch: torch's resume argument; leave at ``-1`` and use ``load_state_dict``.

    Raises:
        ValueError: if the number of schedules differs from the number of param groups.

    Example::

        >>> import torch
        >>> from lr_recipes.schedules import Step
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        >>> sched = RecipeScheduler(opt, [Step(base_lr=1.0, step_size=2, gamma=0.5)])
        >>> sched.lr_at(4)
        [0.25]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        schedules: Sequence[Schedule],
        *,
        recipe: Mapping[str, Any] | None = None,
        last_epoch: int = -1,
    ) -> None:
        if len(schedules) != len(optimizer.param_groups):
            raise ValueError(
                f"got {len(schedules)} schedules for an optimizer with {len(optimizer.param_groups)} param groups"
            )
        self.schedules = list(schedules)
        self.recipe = dict(recipe or {})
        self._cycles_momentum = any(s.momentum(0) is not None for s in self.schedules)
        self.planner: Any = None
        self.plan: dict[str, Any] | None = None
        self.horizon: dict[str, Any] | None = None
        self._awaiting_resume = False
        _init_group_and_skip_tracking(self, len(self.schedules))
        super().__init__(optimizer, last_epoch)
        self._seen_optimizer_steps = count_steps(optimizer)

    def attach_plan(self, planner: Any, plan: dict[str, Any], horizon: dict[str, Any] | None = None) -> None:
        """Keep the run's plan (saved in the state) and the planner that rebuilds schedules on resume.

        :func:`~lr_recipes.build` calls it. With a plan attached, ``load_state_dict`` compares the checkpoint's
        plan with this run's and follows the spec's ``on_resume`` / ``cooldown``
        (:func:`lr_recipes.registry.plan.resume_plan`); without one (a scheduler made by hand) it only restores
        the step counter.

        Args:
            planner: a :class:`~lr_recipes.registry.build.Planner`.
            plan: this run's resolved plan (plain values).
            horizon: the phases already applied (a cooldown at ``cooldown_start``), or ``None``.

        Example::

            >>> import torch, lr_recipes
            >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
            >>> sched = lr_recipes.build("cosine", opt, total_steps=10, steps_per_epoch=5)["scheduler"]
            >>> sched.plan["steps"]
            {'duration': 10}
        """
        self.planner, self.plan, self.horizon = planner, plan, horizon
        self._awaiting_resume = planner.horizon.cooldown is not None and horizon is None

    def get_lr(self) -> list[float]:  # type: ignore[override]
        return [s(self.last_epoch) for s in self.schedules]

    def lr_at(self, t: int) -> list[float]:
        """The LR of every param group at optimizer step ``t``, without stepping.

        Example::

            >>> import torch
            >>> from lr_recipes.schedules import Constant
            >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.3)
            >>> RecipeScheduler(opt, [Constant(0.3)]).lr_at(10**6)
            [0.3]
        """
        return [s(t) for s in self.schedules]

    def momentum_at(self, t: int) -> list[float | None]:
        """The momentum (or beta1) each schedule sets at step ``t``; ``None`` where it leaves it alone.

        Example::

            >>> import torch
            >>> from lr_recipes.schedules import Constant
            >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.3)
            >>> RecipeScheduler(opt, [Constant(0.3)]).momentum_at(0)
            [None]
        """
        return [s.momentum(t) for s in self.schedules]

    def step(self, epoch: int | None = None) -> None:
        """Advance one optimizer step: set every group's LR (and cycled momentum) to the closed form.

        The same effect as ``LRScheduler.step``, written out because it runs every optimizer step: about
        half the time. After an optimizer step that did not run (a ``GradScaler`` skip) the schedule
        stays where it is and ``skipped_steps`` counts it.

        Args:
            epoch: deprecated by torch; jumps to that step through ``LRScheduler.step``.

        Example::

            >>> import torch
            >>> from lr_recipes.schedules import Step
            >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
            >>> sched = RecipeScheduler(opt, [Step(base_lr=1.0, step_size=1, gamma=0.5)])
            >>> opt.step(); sched.step(); sched.get_last_lr()
            [0.5]
        """
        if epoch is not None:
            super().step(epoch)
            if self._cycles_momentum:
                _set_momentum(self.optimizer, self.momentum_at(self.last_epoch))
            return
        if self._awaiting_resume:
            self._refuse_cooldown_without_resume()
        if self._step_count:  # not torch's initial step from __init__
            ran = self.optimizer.__dict__.get(STEPS_ATTRIBUTE, 0)  # steps_taken(), inlined: this runs every step
            if ran == self._seen_optimizer_steps:  # the optimizer step did not run
                self.skipped_steps += 1
                return
            self._seen_optimizer_steps = ran
        if len(self.optimizer.param_groups) != len(self.schedules):
            _adopt_new_groups(self, self.last_epoch)
        if self.added_groups:
            _reanchor_added_groups(self, self.last_epoch)
        self._step_count += 1
        self.last_epoch += 1
        self._write(self.last_epoch)

    def _add_group_schedule(self, lr: float, t: int) -> float:
        """The schedule of a group that appeared at step ``t`` with ``lr``: the first group's, scaled."""
        reference = self.schedules[0]
        now = reference(t)
        factor = lr / now if now > 0 else lr / self.base_lrs[0] if self.base_lrs[0] > 0 else 1.0
        self.schedules.append(Scaled(reference, factor))
        return factor

    def _restore_group_schedules(self) -> None:
        self.schedules = self.schedules[: self._built_groups] + [
            Scaled(self.schedules[0], g["factor"]) for g in self.added_groups
        ]

    def _write(self, t: int) -> None:
        """Set every group's LR (and cycled momentum) to the closed form at step ``t``."""
        groups = self.optimizer.param_groups
        if len(groups) == 1 and not self._cycles_momentum and type(groups[0]["lr"]) is float:
            lr = self.schedules[0](t)  # most runs: one plain group, written without the loop below
            groups[0]["lr"] = lr
            self._last_lr = [lr]
            return
        last: list[float | torch.Tensor] = []
        for group, schedule in zip(self.optimizer.param_groups, self.schedules, strict=True):
            lr = schedule(t)
            current = group["lr"]
            if isinstance(current, torch.Tensor):
                current.fill_(lr)
                last.append(current.clone())
            else:
                group["lr"] = lr
                last.append(lr)
        self._last_lr = last
        if self._cycles_momentum:
            _set_momentum(self.optimizer, self.momentum_at(t))

    def state_dict(self) -> dict[str, Any]:
        """The step counter and bookkeeping; the schedules are rebuilt from the config, not pickled.

        Example::

            >>> import torch
            >>> from lr_recipes.schedules import Constant
            >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.3)
            >>> sorted(RecipeScheduler(opt, [Constant(0.3)]).state_dict())
            ['_last_lr', '_step_count', 'added_groups', 'base_lrs', 'last_epoch', 'recipe', 'skipped_steps']
        """
        return {**_counters(self), **_plan_state(self), **_group_and_skip_state(self)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Continue from a saved step; the LR (and momentum) of that step is set on the optimizer.

        Example::

            >>> import torch
            >>> from lr_recipes.schedules import Step
            >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
            >>> sched = RecipeScheduler(opt, [Step(base_lr=1.0, step_size=2, gamma=0.5)])
            >>> sched.load_state_dict({**sched.state_dict(), "last_epoch": 4})
            >>> opt.param_groups[0]["lr"]
            0.25
        """
        _restore_counters(self, state_dict)
        self._resume_plan(state_dict)
        _restore_group_and_skip_state(self, state_dict)
        if len(self.optimizer.param_groups) > len(self.schedules):
            _adopt_new_groups(self, self.last_epoch)
        self._write(self.last_epoch)

    def __setstate__(self, state: dict[str, Any]) -> None:
        # torch optimizers pickle without their step wrapper (and its count): count again from here.
        self.__dict__.update(state)
        self._seen_optimizer_steps = count_steps(self.optimizer)

    def _resume_plan(self, state_dict: dict[str, Any]) -> None:
        """Continue with the checkpoint's plan, or change it as ``on_resume`` / ``cooldown`` say."""
        if self.planner is None or self.plan is None:
            return
        self.schedules, self.plan, self.horizon = resume_plan(
            self.planner, state_dict, self.schedules, self.plan, self.last_epoch
        )
        self._awaiting_resume = False
        self._cycles_momentum = any(s.momentum(0) is not None for s in self.schedules)

    def _refuse_cooldown_without_resume(self) -> None:
        # The first training step came without load_state_dict: there is no resume step to cool down from.
        assert self.planner is not None and self.plan is not None
        cooldown_window(self.planner.horizon, self.plan, self.planner.name, resume_step=None)


class PlateauScheduler(ReduceLROnPlateau):
    """Warmup, then reduce on plateau; the LR is ``warmup(t) * max(base * factor**k, min_lr)`` per group.

    ``step(metric)`` records one validation result (as ``ReduceLROnPlateau.step``) and never advances
    the warmup; the warmup clock ``last_epoch`` counts the optimizer steps that ran (read from the
    optimizer's step counter), and an optimizer step hook applies the warmup's LR while it lasts.
    Validation results during warmup update ``best`` but never count as bad epochs, so the
    patience starts when the full LR is reached. Non-finite values count as no improvement.

    The attributes of ``ReduceLROnPlateau`` that callbacks read (``best``, ``num_bad_epochs``,
    ``cooldown_counter``, ``patience``, ``mode``, ``min_lrs``, ``in_cooldown``) are kept.

    Args:
        optimizer: the wrapped optimizer.
        rule: the plateau rule (mode, factor, patience, threshold, cooldown, eps).
        min_lrs: the floor of each param group.
        warmup_steps: optimizer steps of warmup (0 for none).
        warmup_start_factor: LR at step 0 as a fraction of the base LR.
        warmup_shape: ``"linear"``, ``"cosine"`` or ``"exponential"``.
        recipe: the spec it was built from, kept in the state for checks.

    Example::

        >>> import torch
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        >>> sched = PlateauScheduler(opt, Plateau(patience=0, factor=0.5), min_lrs=[0.0])
        >>> for val_loss in (1.0, 1.0, 1.0):
        ...     sched.step(val_loss)
        >>> opt.param_groups[0]["lr"]
        0.25
    """

    def __init__(
        self,
        optimizer: Optimizer,
        rule: Plateau,
        min_lrs: Sequence[float],
        *,
        warmup_steps: int = 0,
        warmup_start_factor: float = 0.0,
        warmup_shape: str = "linear",
        recipe: Mapping[str, Any] | None = None,
    ) -> None:
        if len(min_lrs) != len(optimizer.param_groups):
            raise ValueError(
                f"got {len(min_lrs)} min_lrs for an optimizer with {len(optimizer.param_groups)} param groups"
            )
        self.rule = rule
        self.min_lrs = list(min_lrs)
        self.warmup_steps = warmup_steps
        self.warmup_start_factor = warmup_start_factor
        self.warmup_shape = warmup_shape
        self.recipe = dict(recipe or {})
        self.state = PlateauState.fresh(rule)
        self.reductions = [0] * len(optimizer.param_groups)
        # DeferredDecision's arguments for what the last step(metrics) decided (last_decision makes it when read;
        # LRSchedulerCallback keeps them in its plateau events instead of asking decide() twice).
        self._decided: tuple[Any, ...] | None = None
        self._floors: tuple[list[Any], ...] | None = None  # copies of (base_lrs, min_lrs, reductions) of _lowerable
        self._lowerable: list[bool] = []  # per group: whether one more reduction lowers it
        self._applied: tuple[list[Any], ...] | None = None  # the same lists when the LR was last written
        self.planner: Any = None
        self.plan: dict[str, Any] | None = None
        self.horizon: dict[str, Any] | None = None
        _init_group_and_skip_tracking(self, len(self.min_lrs))
        self._hook: Any = None
        self._closed = False
        # ReduceLROnPlateau's own __init__ is skipped on purpose: its LR is the optimizer's current one,
        # ours is a closed form. LRScheduler's sets base_lrs/initial_lr and calls _initial_step.
        LRScheduler.__init__(self, optimizer, last_epoch=-1)
        count_steps(optimizer)
        self._watch_warmup()

    # --- the clock: optimizer steps that ran, read from the optimizer's step counter -----------------

    @property  # type: ignore[override]
    def last_epoch(self) -> int:
        """Optimizer steps that ran since step 0 (the warmup clock); a ``GradScaler``-skipped step does not count.

        Read from the optimizer's step counter (:mod:`lr_recipes.step_counter`), so it costs nothing per step.

        Example::

            >>> import torch
            >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
            >>> sched = PlateauScheduler(opt, Plateau(), [0.0])
            >>> opt.step(); opt.step(); sched.last_epoch
            2
        """
        origin = self._clock_origin
        if origin is None:
            return self._clock_base
        return self._clock_base + self.optimizer.__dict__.get(STEPS_ATTRIBUTE, 0) - origin

    @last_epoch.setter
    def last_epoch(self, value: int) -> None:
        self._clock_base = value
        self._clock_origin = None if self._closed else steps_taken(self.optimizer)

    def _watch_warmup(self) -> None:
        """Apply the warmup's LR after every optimizer step while it lasts (an optimizer step hook), and
        no longer once it is over: after warmup the LR changes only in ``step(metrics)``."""
        needed = not self._closed and self.last_epoch < self.warmup_steps
        if needed and self._hook is None:
            self._hook = self.optimizer.register_step_post_hook(_WeakStepHook(self))
        elif not needed and self._hook is not None:
            self._hook.remove()
            self._hook = None

    # --- ReduceLROnPlateau's public attributes, read by callbacks and users ---------------------------
    mode = property(lambda self: self.rule.mode)
    factor = property(lambda self: self.rule.factor)
    patience = property(lambda self: self.rule.patience)
    threshold = property(lambda self: self.rule.threshold)
    threshold_mode = property(lambda self: self.rule.threshold_mode)
    cooldown = property(lambda self: self.rule.cooldown)
    eps = property(lambda self: self.rule.eps)
    mode_worse = property(lambda self: self.rule.worst)
    best = property(lambda self: self.state.best)
    num_bad_epochs = property(lambda self: self.state.num_bad_epochs)
    cooldown_counter = property(lambda self: self.state.cooldown_counter)

    def _is_better(self, a: float, best: float) -> bool:
        return self.rule.is_better(a, best)

    is_better = _is_better

    @property
    def in_warmup(self) -> bool:
        """Whether the LR is still warming up (plateau results then never count as bad).

        Example::

            >>> import torch
            >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
            >>> PlateauScheduler(opt, Plateau(), [0.0], warmup_steps=10).in_warmup
            True
        """
        return self.warmup_steps > 0 and self.last_epoch < self.warmup_steps  # no warmup: the clock is not read

    def lr_at(self, t: int) -> list[float]:
        """The LR of each group at optimizer step ``t`` with the reductions made so far.

        Example::

            >>> import torch
            >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
            >>> PlateauScheduler(opt, Plateau(), [0.0], warmup_steps=4, warmup_start_factor=0.0).lr_at(2)
            [0.5]
        """
        levels = [*map(self.rule.level, self.base_lrs, self.min_lrs, self.reductions)]
        w = self._warmup_at(t) if self.warmup_steps or self.horizon else 1.0
        return levels if w == 1.0 else [level * w for level in levels]  # x * 1.0 == x: the same numbers

    def _warmup_at(self, t: int) -> float:
        """The warmup factor at step ``t``: a re-planned warmup runs the checkpoint's ramp on a stretched clock."""
        if self.horizon is None or not self.horizon.get("clocks"):
            return warmup_factor(t, self.warmup_steps, self.warmup_start_factor, self.warmup_shape)
        clock: float = t
        for start, num, den in reversed(self.horizon["clocks"]):
            if clock > start:
                clock = start + (clock - start) * num / den
        return warmup_factor(clock, self.horizon["ramp"], self.warmup_start_factor, self.warmup_shape)  # type: ignore[arg-type]

    def attach_plan(self, planner: Any, plan: dict[str, Any]) -> None:
        """Keep the run's plan (its warmup) for ``load_state_dict`` to compare; see ``RecipeScheduler.attach_plan``.

        Example::

            >>> import torch, lr_recipes
            >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
            >>> cfg = lr_recipes.build({"name": "plateau", "warmup": "2st"}, opt, total_steps=10, steps_per_epoch=5)
            >>> cfg["scheduler"].plan["steps"]
            {'warmup': 2}
        """
        self.planner, self.plan = planner, plan

    def momentum_at(self, t: int) -> list[float | None]:
        """Always ``None`` per group: a plateau schedule leaves momentum alone (same API as RecipeScheduler).

        Example::

            >>> import torch
            >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
            >>> PlateauScheduler(opt, Plateau(), [0.0]).momentum_at(3)
            [None]
        """
        return [None] * len(self.base_lrs)

    def get_lr(self) -> list[float]:  # type: ignore[override]
        return self.lr_at(self.last_epoch)

    def _apply(self) -> None:
        groups = self.optimizer.param_groups
        for group, lr in zip(groups, self.lr_at(self.last_epoch), strict=True):
            _set_group_value(group, "lr", lr)
        self._last_lr = [*map(float, map(_LR, groups))]
        self._applied = (list(self.base_lrs), list(self.min_lrs), list(self.reductions))

    def _refresh_floors(self) -> tuple[list[Any], ...]:
        """Which groups one more reduction still lowers (``_lowerable``), for the bases, floors and reductions
        now (kept as ``_floors``: they change only with those lists)."""
        floors = self._floors = (list(self.base_lrs), list(self.min_lrs), list(self.reductions))
        self._lowerable = [*map(self.rule.can_reduce, *floors)]
        return floors

    def _initial_step(self) -> None:
        self._step_count = 0
        self.last_epoch = 0
        self._apply()

    def _after_optimizer_step(self) -> None:
        # The warmup hook: runs only when the optimizer step really ran (a GradScaler-skipped step leaves the
        # warmup alone), after the step counter moved. After warmup step(metrics) adopts new groups itself.
        t = self.last_epoch
        if t <= self.warmup_steps:
            if len(self.optimizer.param_groups) != len(self.base_lrs):
                _adopt_new_groups(self, t - 1)
            self._apply()
        if t >= self.warmup_steps:
            self._watch_warmup()

    def _add_group_schedule(self, lr: float, t: int) -> float:
        """A group that appeared at step ``t`` with ``lr`` follows the first group as a factor: its base
        and floor are the first group's scaled, its reductions the same."""
        now = self.lr_at(t)[0]
        level = self.rule.level(self.base_lrs[0], self.min_lrs[0], self.reductions[0])
        factor = lr / now if now > 0 else lr / level if level > 0 else 1.0
        self.base_lrs.append(factor * self.base_lrs[0])
        self.min_lrs.append(factor * self.min_lrs[0])
        self.reductions.append(self.reductions[0])
        return factor

    def _restore_group_schedules(self) -> None:
        self.min_lrs = self.min_lrs[: self._built_groups] + [g["factor"] * self.min_lrs[0] for g in self.added_groups]

    def _reanchor_added_groups(self, t: int) -> None:
        """An added group whose LR someone else set since this scheduler last wrote it (``BackboneFinetuning``
        raises the backbone's at every epoch start) follows the plateau from that LR on: its base and floor
        become the first group's times the new factor, as ``RecipeScheduler`` does."""
        for index, added, lr in _moved_added_groups(self):
            now = self.lr_at(t)[0]
            level = self.rule.level(self.base_lrs[0], self.min_lrs[0], self.reductions[0])
            factor = lr / now if now > 0 else lr / level if level > 0 else 1.0
            self.base_lrs[index] = factor * self.base_lrs[0]
            self.min_lrs[index] = factor * self.min_lrs[0]
            self.reductions[index] = self.reductions[0]
            added["factor"] = factor

    def close(self) -> None:
        """Detach from the optimizer: its steps no longer advance this scheduler's warmup clock.

        A scheduler that is garbage-collected detaches by itself; ``close`` makes it explicit.

        Example::

            >>> import torch
            >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
            >>> sched = PlateauScheduler(opt, Plateau(), [0.0], warmup_steps=10)
            >>> sched.close(); opt.step(); sched.last_epoch
            0
        """
        self._clock_base, self._clock_origin, self._closed = self.last_epoch, None, True
        self._watch_warmup()

    def __getstate__(self) -> dict[str, Any]:
        # torch optimizers pickle without their hooks and step counter: the clock is saved as a number and
        # counted again from the unpickled optimizer's counter.
        state = {k: v for k, v in self.__dict__.items() if k != "_hook"}
        state["_clock_base"], state["_hook"] = self.last_epoch, None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        # a pickle from before these caches existed gets them empty (they are filled again at the next step)
        self.__dict__.update({"_decided": None, "_floors": None, "_lowerable": [], "_applied": None, **state})
        if not self._closed:
            self._clock_origin = count_steps(self.optimizer)
        self._watch_warmup()

    def step(self, metrics: Any = None, epoch: int | None = None) -> None:  # type: ignore[override]
        """Record one validation result; reduce the LR when patience has run out.

        Args:
            metrics: the monitored value (a float or a 0-d tensor).
            epoch: unsupported (torch deprecated it); raises if given.

        Raises:
            TypeError: when called without a value, as torch's ``ReduceLROnPlateau`` would.

        Example::

            >>> import torch
            >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
            >>> sched = PlateauScheduler(opt, Plateau(), [0.0])
            >>> sched.step(0.5); sched.best
            0.5
        """
        if metrics is None:
            raise TypeError(
                "a plateau recipe is stepped with the monitored value: scheduler.step(val_loss); "
                "its warmup advances by itself after every optimizer step"
            )
        if epoch is not None:
            raise TypeError("PlateauScheduler.step() takes no epoch; the step counter is the optimizer's")
        value = float(metrics)
        if not math.isfinite(value):
            warnings.warn(
                f"plateau: monitored value is {value}; counted as no improvement",
                RuntimeWarning,
                stacklevel=2,
            )
            value = math.nan
        groups = self.optimizer.param_groups
        if len(groups) != len(self.base_lrs):
            _adopt_new_groups(self, self.last_epoch)
        if self.added_groups:
            self._reanchor_added_groups(self.last_epoch)
        self._step_count += 1
        rule, before, floors = self.rule, self.state, self._floors
        # Which groups a reduction still lowers changes only with the bases, floors and reductions (lists that
        # anyone may change): compared as they are, copied only when they moved.
        if floors is None or floors[0] != self.base_lrs or floors[1] != self.min_lrs or floors[2] != self.reductions:
            floors = self._refresh_floors()
        lowerable = self._lowerable
        at_floor = True not in lowerable
        if self.warmup_steps and self.last_epoch < self.warmup_steps:  # in_warmup, without the property
            # a new state, as advance makes: a decision kept by the callback may still read the old one
            best = value if rule.is_better(value, before.best) else before.best
            self.state = PlateauState(best, before.num_bad_epochs, before.cooldown_counter, before.num_observations + 1)
            self._decided = (rule, False, at_floor, None, math.nan, None)
            self._apply()
            return
        after, due = rule.advance(before, value)
        self.state = after
        # DeferredDecision's arguments: the decision (and its reason) is made only when read (last_decision).
        self._decided = (rule, due, at_floor, before, value, after)
        if due and not at_floor:
            reductions = self.reductions
            for i, lower in enumerate(lowerable):
                if lower:
                    reductions[i] += 1
            self._apply()
            self._refresh_floors()  # the reductions moved: which groups the next one lowers, now
        elif floors != self._applied or [*map(_LR, groups)] != self._last_lr:
            # The LR at step t is a function of t and the floors: rewritten only when they moved since it was
            # written, or someone else wrote the groups since.
            self._apply()

    @property
    def last_decision(self) -> PlateauDecision | None:
        """What the last ``step(metrics)`` decided and why (``None`` before the first): the same as ``decide``
        would have said before that step.

        Example::

            >>> import torch
            >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
            >>> sched = PlateauScheduler(opt, Plateau(patience=0), [0.0])
            >>> sched.step(1.0); sched.last_decision.reason
            'improved on best inf'
        """
        return None if self._decided is None else DeferredDecision(*self._decided).decision()

    def decide(self, metrics: Any) -> PlateauDecision:
        """What ``step(metrics)`` would do, without doing it: the plateau rule's decision and its reason.

        Example::

            >>> import torch
            >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
            >>> sched = PlateauScheduler(opt, Plateau(patience=0), [0.0])
            >>> sched.step(1.0); sched.decide(1.0).reduce
            True
        """
        value = float(metrics)
        levels = [
            self.rule.level(b, f, k) for b, f, k in zip(self.base_lrs, self.min_lrs, self.reductions, strict=True)
        ]
        return self.rule.decide(
            self.state, value if math.isfinite(value) else math.nan, levels, self.min_lrs, warming_up=self.in_warmup
        )

    def at_min_lr(self) -> bool:
        """Whether every param group has reached its ``min_lr`` (no reduction can lower it further).

        Example::

            >>> import torch
            >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
            >>> PlateauScheduler(opt, Plateau(), [1.0]).at_min_lr()
            True
        """
        return not any(
            self.rule.can_reduce(base, floor, k)
            for base, floor, k in zip(self.base_lrs, self.min_lrs, self.reductions, strict=True)
        )

    def state_dict(self) -> dict[str, Any]:
        """Counters only (no hooks, no lambdas): the step clock, the plateau state and the reductions.

        Example::

            >>> import torch
            >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
            >>> PlateauScheduler(opt, Plateau(), [0.0]).state_dict()["reductions"]
            [0]
        """
        return {
            **_counters(self),
            **_plan_state(self),
            **_group_and_skip_state(self),
            "plateau": self.state.as_dict(),
            "reductions": list(self.reductions),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Continue from a saved state; the LR of that step is set on the optimizer.

        Example::

            >>> import torch
            >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
            >>> sched = PlateauScheduler(opt, Plateau(factor=0.5), [0.0])
            >>> sched.load_state_dict({**sched.state_dict(), "reductions": [2]})
            >>> opt.param_groups[0]["lr"]
            0.25
        """
        _restore_counters(self, state_dict)
        _restore_group_and_skip_state(self, state_dict)
        if "plateau" in state_dict:
            self.state = PlateauState(**state_dict["plateau"])
        if "reductions" in state_dict:
            self.reductions = list(state_dict["reductions"])
        self._resume_plan(state_dict)
        if len(self.optimizer.param_groups) > len(self.base_lrs):
            _adopt_new_groups(self, self.last_epoch)
        self._apply()
        self._watch_warmup()

    def _resume_plan(self, state_dict: dict[str, Any]) -> None:
        """The plateau's counters carry over as they are; a changed warmup follows ``on_resume``."""
        if self.planner is None or self.plan is None:
            return
        self.warmup_steps, self.plan, self.horizon = resume_warmup(
            self.planner, state_dict, self.warmup_steps, self.plan, self.last_epoch, self.lr_at
        )


class _WeakStepHook:
    """Optimizer step hook that tells a scheduler an optimizer step ran, without keeping the scheduler alive.

    A strong reference from the optimizer would let a discarded scheduler (e.g. from an earlier
    ``configure_optimizers`` call) keep rewriting the LR of a reused optimizer.
    """

    def __init__(self, scheduler: RecipeScheduler | PlateauScheduler) -> None:
        self._ref = weakref.ref(scheduler)

    def __call__(self, optimizer: Optimizer, args: Any, kwargs: Any) -> None:
        scheduler = self._ref()
        if scheduler is not None:
            scheduler._after_optimizer_step()


def _counters(scheduler: RecipeScheduler | PlateauScheduler) -> dict[str, Any]:
    """The state both schedulers save: step counters, base LRs and the spec they were built from."""
    return {
        "last_epoch": scheduler.last_epoch,
        "_step_count": scheduler._step_count,
        "base_lrs": list(scheduler.base_lrs),
        "_last_lr": list(scheduler._last_lr),
        "recipe": dict(scheduler.recipe),
    }


def _plan_state(scheduler: RecipeScheduler | PlateauScheduler) -> dict[str, Any]:
    """The plan (and any re-plan or cooldown phases) a scheduler built by ``build`` saves; nothing otherwise."""
    if scheduler.plan is None:
        return {}
    return {"plan": scheduler.plan, "horizon": scheduler.horizon}


def _restore_counters(scheduler: RecipeScheduler | PlateauScheduler, state_dict: dict[str, Any]) -> None:
    """Restore what :func:`_counters` saved, warning when the state comes from another recipe spec.

    The run's numbers and the horizon keys are left out of the comparison: a changed plan is the plan check's
    concern (``on_resume``), and adding ``on_resume`` or ``cooldown`` at resume is the point of those keys.
    """
    saved, current = state_dict.get("recipe"), scheduler.recipe
    if saved and current and spec_shape(saved) != spec_shape(current):
        warnings.warn(
            f"loading a scheduler state saved with recipe {dict(saved)} into one built with {dict(current)}; "
            "the step counter carries over, the schedule is the new one",
            UserWarning,
            stacklevel=3,
        )
    for key in ("last_epoch", "_step_count", "base_lrs"):
        if key in state_dict:
            setattr(scheduler, key, state_dict[key])


# --- param groups added mid-run, and optimizer steps a GradScaler skipped ------------------------------
# Kept apart from the counters above: both schedulers share them, and their state is plain values (a
# weights_only checkpoint loads it).


def _init_group_and_skip_tracking(scheduler: RecipeScheduler | PlateauScheduler, groups: int) -> None:
    scheduler._built_groups = groups  # param groups the scheduler was built for
    scheduler.added_groups = []  # one {"factor", "step"} per group that appeared later
    scheduler.skipped_steps = 0  # scheduler steps after an optimizer step that did not run
    scheduler._optimizer_steps = 0  # optimizer steps that ran (counted by the step hook)
    scheduler._seen_optimizer_steps = 0  # ... as of the last scheduler step


def _adopt_new_groups(scheduler: RecipeScheduler | PlateauScheduler, t: int) -> None:
    """Give every param group that appeared since the last step a schedule (see the module docstring)."""
    groups = scheduler.optimizer.param_groups
    known = scheduler._built_groups + len(scheduler.added_groups)
    if len(groups) < known:
        raise ValueError(
            f"the optimizer has {len(groups)} param groups, fewer than the {known} its scheduler drives; "
            "removing param groups mid-run is not supported (add them back before loading the state)"
        )
    for group in groups[known:]:
        lr = float(group["lr"])
        group.setdefault("initial_lr", lr)
        factor = scheduler._add_group_schedule(lr, t)
        scheduler.added_groups.append({"factor": factor, "step": t})
        if isinstance(scheduler, RecipeScheduler):
            scheduler.base_lrs.append(lr)


def _reanchor_added_groups(scheduler: RecipeScheduler, t: int) -> None:
    """An added group whose LR someone else set since the last step (``BackboneFinetuning`` does at every
    epoch start) follows the schedule from that LR on, as it did from the LR it appeared with."""
    for index, added, lr in _moved_added_groups(scheduler):
        del scheduler.schedules[index]
        factor = scheduler._add_group_schedule(lr, t)
        scheduler.schedules.insert(index, scheduler.schedules.pop())
        added["factor"] = factor


def _moved_added_groups(scheduler: RecipeScheduler | PlateauScheduler) -> Iterator[tuple[int, dict[str, Any], float]]:
    """``(index, its added_groups entry, its LR now)`` of every added group whose LR differs from the one the
    scheduler last wrote (a group that appeared this step has none yet and is skipped: it was just adopted)."""
    start, groups, last = scheduler._built_groups, scheduler.optimizer.param_groups, scheduler._last_lr
    for i, added in enumerate(scheduler.added_groups):
        index = start + i
        if index < len(last) and float(groups[index]["lr"]) != float(last[index]):
            yield index, added, float(groups[index]["lr"])


def _group_and_skip_state(scheduler: RecipeScheduler | PlateauScheduler) -> dict[str, Any]:
    return {"added_groups": [dict(g) for g in scheduler.added_groups], "skipped_steps": scheduler.skipped_steps}


def _restore_group_and_skip_state(scheduler: RecipeScheduler | PlateauScheduler, state_dict: dict[str, Any]) -> None:
    scheduler.skipped_steps = int(state_dict.get("skipped_steps", 0))
    scheduler.added_groups = [dict(g) for g in state_dict.get("added_groups", [])]
    scheduler._restore_group_schedules()
