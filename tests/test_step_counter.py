"""The optimizer step counter that replaced the schedulers' per-step hooks: it counts what ran, keeps torch's
own step check working, keeps a user's replaced ``step``, survives pickling, and the plateau recipe's warmup
hook is gone once the warmup is over (no per-step Python call after it)."""

from __future__ import annotations

import copy
import pickle
import warnings

import pytest
import torch

import lr_recipes
from lr_recipes.scheduler import PlateauScheduler
from lr_recipes.schedules.plateau import Plateau
from lr_recipes.step_counter import count_steps, steps_taken


def _opt(lr: float = 1.0) -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


def test_counts_steps_that_ran_and_not_those_that_raised() -> None:
    opt = _opt()
    assert count_steps(opt) == 0
    for _ in range(3):
        opt.step()
    assert steps_taken(opt) == 3
    with pytest.raises(RuntimeError):
        opt.step(closure=lambda: (_ for _ in ()).throw(RuntimeError("boom")))
    assert steps_taken(opt) == 3
    assert count_steps(opt) == 3  # a second call keeps the one wrapper and its count


def test_a_torch_scheduler_on_a_counted_optimizer_keeps_its_order_check() -> None:
    opt = _opt()
    lr_recipes.build("cosine", opt, total_steps=10, steps_per_epoch=10)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1)  # torch sees our wrapper as its own
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step()
        sched.step()  # no "overridden" and no "before optimizer.step()" warning
    fresh = _opt()
    lr_recipes.build("cosine", fresh, total_steps=10, steps_per_epoch=10)
    late = torch.optim.lr_scheduler.StepLR(fresh, step_size=1)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        late.step()  # torch's real warning still fires when the order is wrong


def test_a_replaced_step_still_runs() -> None:
    opt = _opt()
    calls = []
    original = opt.step

    def mine(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return original(*args, **kwargs)

    opt.step = mine  # type: ignore[method-assign]
    count_steps(opt)
    opt.step()
    assert calls == [1] and steps_taken(opt) == 1


def test_recipe_scheduler_skips_an_optimizer_step_that_did_not_run() -> None:
    opt = _opt(0.1)
    sched = lr_recipes.build("linear", opt, total_steps=10, steps_per_epoch=10)["scheduler"]
    opt.step()
    sched.step()
    sched.step()  # as after a GradScaler skip: optimizer.step() was never called
    assert sched.skipped_steps == 1 and sched.last_epoch == 1


def test_two_schedulers_on_one_optimizer_read_one_clock() -> None:
    opt = _opt()
    first = PlateauScheduler(opt, Plateau(), [0.0], warmup_steps=4)
    second = PlateauScheduler(opt, Plateau(), [0.0], warmup_steps=4)
    opt.step()
    opt.step()
    assert first.last_epoch == second.last_epoch == 2


def test_plateau_warmup_hook_is_removed_after_the_warmup() -> None:
    opt = _opt()
    sched = PlateauScheduler(opt, Plateau(), [0.0], warmup_steps=3, warmup_start_factor=0.0)
    assert len(opt._optimizer_step_post_hooks) == 1
    lrs = []
    for _ in range(5):
        opt.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs == pytest.approx([1 / 3, 2 / 3, 1.0, 1.0, 1.0])
    assert len(opt._optimizer_step_post_hooks) == 0 and sched.last_epoch == 5
    no_warmup = _opt()
    PlateauScheduler(no_warmup, Plateau(), [0.0])
    assert len(no_warmup._optimizer_step_post_hooks) == 0


def test_plateau_resumed_into_its_warmup_watches_it_again() -> None:
    opt = _opt()
    sched = PlateauScheduler(opt, Plateau(), [0.0], warmup_steps=4, warmup_start_factor=0.0)
    opt.step()
    state = sched.state_dict()
    opt2 = _opt()
    resumed = PlateauScheduler(opt2, Plateau(), [0.0], warmup_steps=4, warmup_start_factor=0.0)
    for _ in range(6):
        opt2.step()  # past the warmup: the hook went away
    assert len(opt2._optimizer_step_post_hooks) == 0
    resumed.load_state_dict(state)
    assert resumed.last_epoch == 1 and len(opt2._optimizer_step_post_hooks) == 1
    opt2.step()
    assert opt2.param_groups[0]["lr"] == pytest.approx(0.5)


@pytest.mark.parametrize("warmup", [0, 5])
def test_schedulers_survive_pickling_and_deepcopy(warmup: int) -> None:
    opt = _opt()
    sched = PlateauScheduler(opt, Plateau(), [0.0], warmup_steps=warmup)
    opt.step()
    opt.step()
    for clone in (pickle.loads(pickle.dumps(sched)), copy.deepcopy(sched)):
        assert clone.last_epoch == 2
        clone.optimizer.step()
        assert clone.last_epoch == 3 and sched.last_epoch == 2
    recipe = lr_recipes.build("linear", opt, total_steps=10, steps_per_epoch=10)["scheduler"]
    clone = pickle.loads(pickle.dumps(recipe))
    clone.optimizer.step()
    clone.step()
    assert clone.skipped_steps == 0 and clone.last_epoch == 1


def test_plateau_follows_an_added_group_from_the_lr_someone_else_set() -> None:
    # BackboneFinetuning adds the backbone's group, then raises its LR at every epoch start; a reduction
    # must lower the LR the group has then, not reset it to the one it appeared with.
    opt = _opt(1.0)
    sched = PlateauScheduler(opt, Plateau(patience=0, factor=0.5), [0.0])
    sched.step(1.0)
    opt.add_param_group({"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 0.1})
    sched.step(0.5)  # improves: the new group is adopted at its own LR
    assert [g["lr"] for g in opt.param_groups] == [1.0, 0.1]
    opt.param_groups[1]["lr"] = 0.3  # the finetuning callback's raise
    sched.step(0.5)  # no improvement, patience 0: reduce
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.5, 0.15])
    state = sched.state_dict()
    assert state["added_groups"][0]["factor"] == pytest.approx(0.3)
