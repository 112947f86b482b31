"""The plateau rule decides, once: ``Plateau.decide`` predicts exactly what torch's ``ReduceLROnPlateau``
and ``PlateauScheduler`` then do with the same value, without changing any counter."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lr_recipes import PlateauScheduler
from lr_recipes.callback.stepping import plateau_decision
from lr_recipes.schedules import Plateau, PlateauState

values = st.lists(st.sampled_from([1.0, 0.9, 0.95, 0.5, 2.0, math.nan]), min_size=1, max_size=25)


@pytest.mark.filterwarnings("ignore:plateau. monitored value:RuntimeWarning")
@settings(max_examples=60, deadline=None)
@given(
    vals=values,
    patience=st.integers(0, 3),
    cooldown=st.integers(0, 2),
    min_lr=st.sampled_from([0.0, 0.1, 0.3]),
)
def test_decision_predicts_torch_and_ours(vals: list[float], patience: int, cooldown: int, min_lr: float) -> None:
    def opt() -> torch.optim.Optimizer:
        return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)

    kwargs = {"patience": patience, "cooldown": cooldown, "factor": 0.5}
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(opt(), min_lr=min_lr, **kwargs)
    ours = PlateauScheduler(opt(), Plateau(**kwargs), [min_lr])
    for v in vals:
        for sched in (theirs, ours):
            before = (sched.best, sched.num_bad_epochs, sched.cooldown_counter)
            lr_before = sched.optimizer.param_groups[0]["lr"]
            decision = plateau_decision(sched, v)
            assert (sched.best, sched.num_bad_epochs, sched.cooldown_counter) == before, "decide changed state"
            sched.step(v)
            lowered = sched.optimizer.param_groups[0]["lr"] < lr_before
            assert lowered == (decision.reduce and not decision.at_floor), decision.reason
            assert decision.stop == (decision.reduce and lr_before == min_lr)
            assert decision.reason
            if sched is ours:  # what its step decided is what it was asked before, field by field
                assert sched.last_decision == decision


@pytest.mark.filterwarnings("ignore:plateau. monitored value:RuntimeWarning")
@settings(max_examples=40, deadline=None)
@given(vals=values, warmup=st.integers(0, 30), groups=st.sampled_from([[1.0], [1.0, 0.01]]))
def test_last_decision_is_the_decision_asked_before_the_step(
    vals: list[float], warmup: int, groups: list[float]
) -> None:
    """Through warmup, reductions and floors, on one or two groups with their own floors."""
    opt = torch.optim.SGD([{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in groups])
    sched = PlateauScheduler(opt, Plateau(patience=0, factor=0.5), [0.1 * lr for lr in groups], warmup_steps=warmup)
    assert sched.last_decision is None
    for v in vals:
        for _ in range(7):
            opt.step()
        asked = sched.decide(v)
        sched.step(v)
        assert sched.last_decision == asked


def test_reasons_read_as_sentences() -> None:
    rule = Plateau(patience=1, cooldown=1)
    state, _ = rule.advance(PlateauState.fresh(rule), 1.0)
    state, _ = rule.advance(state, 1.0)
    assert rule.decide(state, 0.5, [0.1], [0.0]).reason == "improved on best 1"
    assert "patience 1): reduce" in rule.decide(state, 1.0, [0.1], [0.0]).reason
    assert rule.decide(state, 1.0, [0.1], [0.0], warming_up=True).reason.startswith("warming up")


def test_step_writes_the_lr_again_when_anything_it_depends_on_moved() -> None:
    """step(metrics) skips rewriting an LR that cannot have changed, and only that: an LR written by someone
    else, or reductions and floors changed by hand, are set from the schedule at the next step."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = PlateauScheduler(opt, Plateau(patience=5, factor=0.5), [0.0])
    sched.step(1.0)
    assert opt.param_groups[0]["lr"] == 1.0
    opt.param_groups[0]["lr"] = 7.0
    sched.step(0.9)
    assert opt.param_groups[0]["lr"] == 1.0, "an LR someone else wrote is set back to the schedule's"
    sched.reductions[0] = 2
    sched.step(0.8)
    assert opt.param_groups[0]["lr"] == 0.25, "a reduction made by hand is applied"
    sched.min_lrs[0] = 0.5
    sched.step(0.7)
    assert opt.param_groups[0]["lr"] == 0.5, "a floor raised by hand is applied"
    assert sched.last_decision is not None and not sched.last_decision.reduce
