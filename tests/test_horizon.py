"""Changing a run's horizon: the plan in the checkpoint, on_resume (error / replan / keep), cooldown branching,
the CLI's --ckpt_path handling and a resume onto another world size."""

from __future__ import annotations

import itertools
import json
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from helpers import ScriptedValModel, quiet_trainer, run_python
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.demos.boring_classes import RandomDataset
from torch.utils.data import DataLoader

import lr_recipes
from lr_recipes.pack.cli import RecipeCLI
from lr_recipes.pack.preview import preview_resume
from lr_recipes.pack.resume import merge_schedule
from lr_recipes.registry.plan import PlanChangedError

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(__file__).parent / "scripts" / "ddp_horizon.py"
OLD, NEW, PER_EPOCH, RESUME = 100, 200, 10, 40

# One spec per recipe whose plan depends on the run's length, so that extending the run changes it.
SPECS: dict[str, dict[str, Any]] = {
    "constant": {"warmup": "50%"},
    "step": {"step_size": "30%", "gamma": 0.5},
    "multistep": {"milestones": ["30%", "75%"]},
    "exponential": {"gamma": 0.9, "every": "5%"},
    "cosine": {"warmup": "5%", "min_lr": 0.001},
    "cosine_restarts": {"period": "25%"},
    "linear": {"end_factor": 0.1},
    "polynomial": {"power": 2.0},
    "onecycle": {},
    "cyclic": {"up": "10%", "max_lr": 0.5},
    "wsd": {"warmup": "5%", "decay": "20%"},
    "inverse_sqrt": {"timescale": "10%"},
    "plateau": {"warmup": "50%", "patience": 1},
}
STEPPED = [name for name in SPECS if name != "plateau"]


def make(name: str, total: int, per_epoch: int = PER_EPOCH, **extra: Any) -> Any:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
    spec = {"name": name, **SPECS[name], **extra}
    return lr_recipes.build(spec, opt, total_steps=total, steps_per_epoch=per_epoch)["scheduler"]


def saved(name: str, step: int = RESUME, **extra: Any) -> dict[str, Any]:
    """The state a run of OLD steps saves at ``step`` (a copy through torch.save, as a checkpoint would)."""
    sched = make(name, OLD, **extra)
    for _ in range(step):
        sched.optimizer.step()  # a plateau's warmup clock advances through the optimizer's step hook
        if not isinstance(sched, lr_recipes.PlateauScheduler):
            sched.step()
    return torch_roundtrip(sched.state_dict())


def curve(sched: Any, last: int) -> list[list[float]]:
    return [sched.lr_at(t) for t in range(last + 1)]


def test_every_recipe_is_covered() -> None:
    assert sorted(SPECS) == lr_recipes.available()


@pytest.mark.parametrize("name", list(SPECS))
def test_unchanged_resume_is_bit_exact_and_silent(name: str) -> None:
    state = saved(name)
    resumed = make(name, OLD)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resumed.load_state_dict(state)
    assert curve(resumed, OLD) == curve(make(name, OLD), OLD)
    assert resumed.optimizer.param_groups[0]["lr"] == make(name, OLD).lr_at(RESUME)[0]
    assert resumed.horizon is None


@pytest.mark.parametrize("name", list(SPECS))
def test_changed_plan_without_on_resume_fails_with_both_plans(name: str) -> None:
    with pytest.raises(PlanChangedError) as err:
        make(name, NEW).load_state_dict(saved(name))
    msg = str(err.value)
    assert f"checkpoint: {OLD} optimizer steps" in msg and f"this run:   {NEW} optimizer steps" in msg
    assert "on_resume: replan" in msg and "on_resume: keep" in msg and "cooldown:" in msg


@pytest.mark.parametrize("name", STEPPED)
def test_replan_is_continuous_and_ends_at_the_end_value(name: str) -> None:
    old = make(name, OLD)
    new = make(name, NEW, on_resume="replan")
    new.load_state_dict(saved(name))
    old_lr = [lr[0] for lr in curve(old, OLD)]
    new_lr = [lr[0] for lr in curve(new, NEW)]
    assert new_lr[: RESUME + 1] == old_lr[: RESUME + 1], "the past and the resume step are the checkpoint's"
    ordinary = max(abs(b - a) for a, b in itertools.pairwise(old_lr))
    assert abs(new_lr[RESUME + 1] - new_lr[RESUME]) <= ordinary + 1e-15
    assert new_lr[NEW] == pytest.approx(old_lr[OLD], rel=1e-12, abs=1e-15)
    assert new.momentum_at(RESUME) == old.momentum_at(RESUME)
    assert new.optimizer.param_groups[0]["lr"] == old_lr[RESUME]


@pytest.mark.parametrize("name", STEPPED)
def test_resuming_a_replanned_run_again_is_bit_exact(name: str) -> None:
    first = make(name, NEW, on_resume="replan")
    first.load_state_dict(saved(name))
    again = make(name, NEW, on_resume="replan")
    again.load_state_dict(torch_roundtrip({**first.state_dict(), "last_epoch": 120}))
    assert curve(again, NEW) == curve(first, NEW)


@pytest.mark.parametrize("name", list(SPECS))
def test_keep_follows_the_old_plan_exactly(name: str) -> None:
    new = make(name, NEW, on_resume="keep")
    new.load_state_dict(saved(name))
    assert curve(new, NEW) == curve(make(name, OLD), NEW)


def test_plateau_replan_stretches_the_rest_of_the_warmup() -> None:
    old = make("plateau", OLD)  # warmup 50 steps, resumed at 40 into a run whose warmup is 100
    new = make("plateau", NEW, on_resume="replan")
    new.load_state_dict(saved("plateau"))
    assert new.lr_at(RESUME) == old.lr_at(RESUME)
    assert new.lr_at(RESUME + 1)[0] - new.lr_at(RESUME)[0] <= old.lr_at(1)[0] - old.lr_at(0)[0]
    assert new.lr_at(100) == [0.1] and new.in_warmup and new.warmup_steps == 100


def test_replan_with_another_floor_ends_at_the_new_floor() -> None:
    new = make("cosine", NEW, on_resume="replan", min_lr=0.01)
    new.load_state_dict(saved("cosine"))
    assert new.lr_at(RESUME) == make("cosine", OLD).lr_at(RESUME)
    assert new.lr_at(NEW)[0] == pytest.approx(0.01)


@pytest.mark.parametrize("shape", ["linear", "cosine", "1-sqrt"])
def test_cooldown_from_a_stable_checkpoint_equals_wsd_planned_to_end_there(shape: str) -> None:
    t0, d = 60, 30  # step 60 of a 100-step WSD is in its stable phase (the decay starts at 80)
    branched = make("wsd", t0 + d, cooldown=f"{d}st", cooldown_shape=shape)
    branched.load_state_dict(saved("wsd", t0, decay_shape=shape))
    planned = make("wsd", t0 + d, decay=f"{d}st", decay_shape=shape)
    assert curve(branched, t0 + d) == curve(planned, t0 + d)
    assert branched.plan["end"] == t0 + d
    again = make("wsd", t0 + d, cooldown=f"{d}st", cooldown_shape=shape)
    again.load_state_dict(torch_roundtrip({**branched.state_dict(), "last_epoch": t0 + 10}))
    assert curve(again, t0 + d) == curve(planned, t0 + d), "resuming inside the cooldown is bit-exact"


def test_cooldown_of_a_cosine_decays_from_the_current_lr_to_its_floor() -> None:
    cooled = make("cosine", OLD, cooldown="2ep", cooldown_shape="linear")
    cooled.load_state_dict(saved("cosine"))
    start = make("cosine", OLD).lr_at(RESUME)[0]
    assert cooled.lr_at(RESUME)[0] == start
    assert cooled.lr_at(RESUME + 10)[0] == pytest.approx(0.001 + (start - 0.001) / 2)
    assert cooled.lr_at(RESUME + 20) == [0.001] == cooled.lr_at(OLD)


def test_cooldown_errors_name_the_way_out() -> None:
    fresh = make("wsd", OLD, cooldown="10st")
    fresh.optimizer.step()
    with pytest.raises(lr_recipes.RecipeError, match="does not resume a checkpoint; give --ckpt_path"):
        fresh.step()
    with pytest.raises(lr_recipes.RecipeError, match="before the resume step 40"):
        make("wsd", OLD, cooldown="10st", cooldown_start="20st").load_state_dict(saved("wsd"))
    planned = make("wsd", OLD, cooldown="10st", cooldown_start="50st")  # a cooldown placed in a fresh run
    assert planned.lr_at(50) == [0.1] and planned.lr_at(60) == [0.0] and planned.plan["end"] == 60


def test_state_is_plain_for_weights_only_checkpoints(tmp_path: Path) -> None:
    sched = make("wsd", OLD, cooldown="10st", cooldown_start="50st")
    torch.save(sched.state_dict(), tmp_path / "s.pt")
    state = torch.load(tmp_path / "s.pt", weights_only=True)
    assert state["plan"]["steps"] == {"warmup": 5, "length": 95, "decay": 20}
    assert state["horizon"]["phases"][0]["kind"] == "cooldown"


def torch_roundtrip(state: dict[str, Any]) -> dict[str, Any]:
    import io

    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


# --- Lightning: the check runs before the first step --------------------------------------------------------


def _fit(tmp_path: Path, max_epochs: int, ckpt: str | None = None, **spec: Any) -> tuple[ScriptedValModel, Any]:
    def make_scheduler(opt: torch.optim.Optimizer) -> Any:
        return lr_recipes.build({"name": "cosine", **spec}, opt, trainer=model.trainer)

    model = ScriptedValModel([1.0] * 50, make_scheduler, lr=0.1)
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ckpt", every_n_epochs=1, save_top_k=-1, filename="{epoch}")
    trainer = quiet_trainer(
        max_epochs=max_epochs, callbacks=[checkpoint], enable_checkpointing=True, logger=False, num_sanity_val_steps=0
    )
    trainer.fit(model, ckpt_path=ckpt)
    return model, trainer


def test_lightning_extended_run_fails_before_the_first_step_or_replans(tmp_path: Path) -> None:
    original, _ = _fit(tmp_path, 6)
    ckpt = str(tmp_path / "ckpt" / "epoch=2.ckpt")  # after 3 epochs of 4 steps
    with pytest.raises(PlanChangedError, match="24 optimizer steps"):
        _fit(tmp_path / "a", 12, ckpt)
    model, trainer = _fit(tmp_path / "b", 12, ckpt, on_resume="replan")
    used = [lr[0] for lr in model.used_lrs]
    assert used[0] == original.used_lrs[12][0], "the first step after resume uses the checkpoint's LR"
    assert trainer.global_step == 48
    ordinary = max(abs(b[0] - a[0]) for a, b in itertools.pairwise(original.used_lrs))
    assert max(abs(b - a) for a, b in itertools.pairwise(used)) <= ordinary + 1e-12
    assert trainer.lr_scheduler_configs[0].scheduler.lr_at(48) == [0.0]


# --- The CLI: a schedule given at --ckpt_path resume takes effect ------------------------------------------


def _cli(recipe: str, *args: str) -> RecipeCLI:
    base = ["--config", str(ROOT / "recipes" / recipe), "--config", str(ROOT / "recipes" / "smoke.yaml")]
    base += ["--trainer.logger", "false", "--trainer.enable_checkpointing", "true"]
    base += ["--trainer.enable_model_summary", "false", "--trainer.enable_progress_bar", "false"]
    base += ["--test_after_fit", "false", "--data.synthetic_size", "64"]
    return RecipeCLI(args=["fit", *base, *args])


def test_lightning_cli_still_has_the_hook_we_override() -> None:
    assert callable(LightningCLI._parse_ckpt_path), "LightningCLI renamed _parse_ckpt_path: update pack/resume.py"


def test_cli_schedule_changes_at_resume_take_effect(tmp_path: Path) -> None:
    _cli("cosine.yaml", "--trainer.max_epochs", "2")
    (ckpt,) = tmp_path.glob("**/*.ckpt")  # the last epoch: step 4
    more = ("cosine.yaml", "--trainer.max_epochs", "4", "--ckpt_path", str(ckpt))
    with pytest.raises(PlanChangedError):
        _cli(*more)
    # The case: the key given on the command line was dropped for the checkpoint's spec.
    cli = _cli(*more, "--model.schedule", "{name: cosine, on_resume: replan}")
    assert cli.model.schedule["on_resume"] == "replan"
    assert cli.trainer.global_step == 8
    sched = cli.trainer.lr_scheduler_configs[0].scheduler
    assert sched.horizon["phases"][0]["kind"] == "stretch" and sched.lr_at(8) == [0.0]
    # plot --ckpt_path draws the same resume: the checkpoint's plan, the resume point and the new plan.
    smoke = ["--config", str(ROOT / "recipes" / "cosine.yaml"), "--config", str(ROOT / "recipes" / "smoke.yaml")]
    shown = preview_resume([*smoke, "--trainer.max_epochs", "4"], str(ckpt), str(tmp_path / "refused.png"))
    assert shown.error is not None and "on_resume: replan" in shown.error and shown.path.is_file()
    replan = [*smoke, "--trainer.max_epochs", "4", "--model.schedule.on_resume", "replan"]
    shown = preview_resume(replan, str(ckpt), str(tmp_path / "replan.png"))
    assert shown.error is None and shown.after == [sched.lr_at(t) for t in range(9)]
    assert shown.before[: shown.resume_step + 1] == shown.after[: shown.resume_step + 1] and len(shown.before) == 5


def test_cli_cooldown_sets_the_run_length(tmp_path: Path) -> None:
    # recipes/wsd.yaml keeps stable-phase checkpoints (every 2 epochs here, 2 steps each in the smoke overlay).
    wsd = ("wsd.yaml", "--trainer.max_epochs", "10", "--trainer.callbacks.every_n_epochs", "2")
    _cli(*wsd)
    ckpts = sorted(p.name for p in tmp_path.glob("**/*.ckpt"))
    assert "wsd-epoch=3-step=8.ckpt" in ckpts, ckpts  # step 8: stable (warmup 6 steps, decay from step 16)
    ckpt = next(tmp_path.glob("**/wsd-epoch=3-step=8.ckpt"))
    cli = _cli(*wsd, "--ckpt_path", str(ckpt), "--model.schedule.cooldown", "3st")
    assert cli.model.schedule["cooldown"] == "3st" and cli.model.schedule["decay"] == "20%"
    assert cli.trainer.max_steps == 11 and cli.trainer.global_step == 11
    sched = cli.trainer.lr_scheduler_configs[0].scheduler
    assert sched.lr_at(8) == [0.1] and sched.lr_at(11) == [0.0]


def test_merge_schedule_keeps_the_checkpoints_other_keys() -> None:
    assert merge_schedule({"name": "wsd", "decay": "20%"}, None) == {"name": "wsd", "decay": "20%"}
    assert merge_schedule({"name": "wsd", "decay": "20%"}, {"name": "wsd", "on_resume": "keep"}) == {
        "name": "wsd",
        "decay": "20%",
        "on_resume": "keep",
    }


# --- Another world size: 2 DDP processes saved, 1 resumes --------------------------------------------------


class SmallRun(ScriptedValModel):
    def train_dataloader(self) -> DataLoader:
        return DataLoader(RandomDataset(32, 32))  # as in tests/scripts/ddp_horizon.py: 32 batches on one process


@pytest.fixture(scope="module")
def ddp_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    out = tmp_path_factory.mktemp("ddp")
    run_python([str(SCRIPT), str(out)], cwd=out, timeout=300)
    return str(out / "ddp.ckpt"), json.loads((out / "plan.json").read_text())


@pytest.mark.slow
def test_resume_onto_another_world_size_is_detected(ddp_checkpoint: tuple[str, dict[str, Any]]) -> None:
    ckpt, saved_plan = ddp_checkpoint
    assert saved_plan["steps_per_epoch"] == 4, "32 batches over 2 processes, 4 accumulated per step"
    with pytest.raises(PlanChangedError, match=r"\(4 per epoch\); warmup=4.*\n.*\(8 per epoch\); warmup=8"):
        _fit_one(ckpt, {"warmup": "1ep"})


@pytest.mark.slow
def test_resume_onto_another_world_size_replans_to_the_real_end(ddp_checkpoint: tuple[str, dict[str, Any]]) -> None:
    ckpt, saved_plan = ddp_checkpoint
    model, trainer = _fit_one(ckpt, {"warmup": "1ep", "on_resume": "replan"})
    assert trainer.global_step == 8 + 2 * 8, "2 epochs left, at 8 steps per epoch on one process"
    assert model.used_lrs[0] == [saved_plan["lr_at_resume"]]
    assert trainer.lr_scheduler_configs[0].scheduler.lr_at(trainer.global_step) == [0.0]
    assert model.used_lrs[-1][0] < model.used_lrs[-2][0] < 0.01


def _fit_one(ckpt: str, spec: dict[str, Any]) -> tuple[ScriptedValModel, Any]:
    def make_scheduler(opt: torch.optim.Optimizer) -> Any:
        return lr_recipes.build({"name": "cosine", **spec}, opt, trainer=model.trainer)

    model = SmallRun([1.0] * 50, make_scheduler, lr=0.1)
    trainer = quiet_trainer(
        max_epochs=4, limit_train_batches=1.0, accumulate_grad_batches=4, logger=False, num_sanity_val_steps=0
    )
    trainer.fit(model, ckpt_path=ckpt)
    return model, trainer
