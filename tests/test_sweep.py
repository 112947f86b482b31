"""``python -m lr_recipes sweep`` and the library pieces behind it (space, pruning callback, storage, sampler).

The sweeps train the smoke model for 2 epochs of 2 batches (4 optimizer steps) on synthetic data.
"""

from __future__ import annotations

import csv
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import optuna
import pytest
import yaml
from lightning.pytorch import Trainer
from optuna.trial import TrialState

from lr_recipes.pack import sweep as sweep_cmd
from lr_recipes.pack.cli import RecipeCLI, main
from lr_recipes.sweep import SearchSpace, SweepSpaceError, TrialPruning, TrialSeededTPESampler, mask_url, open_storage
from tests.helpers import ScriptedValModel

REPO = Path(__file__).resolve().parent.parent
BASE = ["--config", str(REPO / "recipes/cosine.yaml"), "--config", str(REPO / "recipes/smoke.yaml")]
SHORT = ["--trainer.max_epochs", "2", "--trainer.limit_val_batches", "1"]
TWO_SCHEDULES = {
    "model.schedule.name": ["cosine", "wsd"],
    "model.optimizer.init_args.lr": {"low": 0.05, "high": 0.5, "log": True},
    "model.schedule.decay": {"choices": ["25%", "50%"], "when": {"model.schedule.name": "wsd"}},
}


def write_space(tmp_path: Path, space: dict[str, Any], name: str = "space") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(space, sort_keys=False))
    return path


def sweep_args(space: Path, out: Path, trials: int, *extra: str) -> list[str]:
    return ["sweep", *BASE, *SHORT, "--space", str(space), "--trials", str(trials), "--out", str(out), *extra]


def load(out: Path, name: str = "space", storage: str | None = None) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=storage or f"sqlite:///{out / 'study.db'}")


def counted(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return [t for t in study.get_trials() if sweep_cmd.counts_toward_total(t)]


# --- the sweep end to end --------------------------------------------------------------------------------------


def test_sweep_reports_then_resumes_without_rerunning_a_finished_trial(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The storage URL carries a password; it is served by a SQLite file, and must appear nowhere.
    real = f"sqlite:///{tmp_path / 'pw.db'}"
    secret_url = "postgresql://sweeper:s3cr3t-pw@db.example.org:5432/optuna"
    monkeypatch.setattr(
        sweep_cmd, "open_storage", lambda url, **kw: open_storage(real if url == secret_url else url, **kw)
    )
    space, out = write_space(tmp_path, TWO_SCHEDULES), tmp_path / "out"
    assert main([*sweep_args(space, out, 3), "--storage", secret_url]) == 0
    first = capsys.readouterr().out
    assert first.count("sweep space: trial") == 3, first  # one progress line per trial
    assert "| rank | trial | state | val_acc | schedule | lr | decay |" in first

    study = load(out, storage=real)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 3
    with open(out / "trials.csv") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["val_acc"]) for r in rows] == sorted((t.value for t in study.trials), reverse=True)
    assert {r["model.schedule.name"] for r in rows} <= {"cosine", "wsd"}
    assert all(float(r["wall_s"]) > 0 and r["state"] == "complete" for r in rows)
    for png in ("objective.png", "lr_top.png", "val_top.png"):
        assert (out / png).stat().st_size > 1000
    for t in study.trials:  # every trial is a normal fit with its own log dir
        log_dir = Path(t.user_attrs["log_dir"])
        assert {"metrics.csv", "lr_trace.csv", "summary.json", "config.yaml"} <= {p.name for p in log_dir.iterdir()}

    # best.yaml reproduces the winner: fit's parser takes it, and the model gets the winner's schedule and LR.
    best = study.best_trial
    cli = RecipeCLI(args=[*BASE, *SHORT, "--config", str(out / "best.yaml")], run=False, save_config_callback=None)
    assert cli.model.schedule == best.user_attrs["config"]["model.schedule"]
    assert cli.config["model.optimizer.init_args.lr"] == pytest.approx(best.params["model.optimizer.init_args.lr"])

    written = [first, *(p.read_text() for p in out.rglob("*") if p.suffix in (".md", ".csv", ".yaml", ".json", ".txt"))]
    assert not [text for text in written if "s3cr3t-pw" in text]
    assert "postgresql://sweeper:***@db.example.org:5432/optuna" in (out / "report.md").read_text()

    # The same command with more trials resumes the study: trials 0-2 untouched, two new ones.
    finished = {t.number: (t.datetime_complete, t.params) for t in study.trials}
    assert main([*sweep_args(space, out, 4), "--storage", secret_url]) == 0
    second = capsys.readouterr().out
    assert "3 there already" in second and second.count("sweep space: trial") == 1
    study = load(out, storage=real)
    assert len(study.trials) == 4
    assert {t.number: (t.datetime_complete, t.params) for t in study.trials[:3]} == finished
    assert len(list((out / "trials").glob("trial_*/summary.json"))) == 4


def test_a_killed_trial_is_marked_failed_and_its_configuration_runs_again(tmp_path: Path) -> None:
    space, out = write_space(tmp_path, TWO_SCHEDULES), tmp_path / "out"
    out.mkdir()
    # A worker that died mid-trial: a RUNNING trial whose last heartbeat is older than the grace period.
    storage = open_storage(f"sqlite:///{out / 'study.db'}", heartbeat_s=1)
    study = optuna.create_study(storage=storage, study_name="space", direction="maximize")
    dead = study.ask()
    values = SearchSpace.from_dict(TWO_SCHEDULES).suggest(dead)
    storage.record_heartbeat(dead._trial_id)
    time.sleep(5)  # well past the grace period, also on a loaded machine
    assert main(sweep_args(space, out, 1, "--heartbeat", "1")) == 0
    trials = load(out).trials
    assert trials[0].state == TrialState.FAIL and "error" not in trials[0].user_attrs
    (retry,) = trials[1:]  # the interrupted trial does not count toward --trials 1
    assert retry.user_attrs["retry_of"] == 0 and retry.user_attrs["values"] == values
    assert retry.state == TrialState.COMPLETE
    with open(out / "trials.csv") as f:
        notes = [r["note"] for r in csv.DictReader(f)]
    assert "retry of #0" in notes and any(n.startswith("interrupted") for n in notes)


@pytest.mark.slow
def test_ctrl_c_stops_the_sweep_and_the_rerun_retries_the_interrupted_configuration(tmp_path: Path) -> None:
    space, out = write_space(tmp_path, TWO_SCHEDULES), tmp_path / "out"
    # Long trials (200 epochs of the smoke model), so the interrupt lands inside the first one.
    args = ["sweep", *BASE, "--trainer.max_epochs", "200", "--trainer.limit_val_batches", "1", "--space",
            str(space), "--trials", "1", "--out", str(out)]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "lr_recipes", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    trace = out / "trials" / "trial_0000" / "lr_trace.csv"
    deadline = time.monotonic() + 120
    while not trace.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)  # the trace file is opened (its header written) when training starts
    time.sleep(1.0)  # well inside the first of its 200 epochs (rows reach the file only every 500 steps)
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, output
    assert "interrupted; run the same command again to resume" in output and "Traceback" not in output
    stopped, queued = load(out).trials
    assert stopped.state == TrialState.FAIL and stopped.user_attrs.get("interrupted")
    assert queued.state == TrialState.WAITING and queued.user_attrs["retry_of"] == 0  # queued again, not yet run
    # The same command, now with short trials: the interrupted configuration runs and counts as the 1 trial.
    short = [a if a != "200" else "2" for a in args]
    assert main(short) == 0
    trials = load(out).trials
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.COMPLETE]
    assert trials[1].params == stopped.params and trials[1].user_attrs["retry_of"] == 0


def test_ctrl_c_while_optuna_stores_the_trial_stops_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ctrl-C after training, while Optuna stores the trial: Optuna 5.0 raises an UnboundLocalError from its own
    `finally` and leaves the trial RUNNING. The sweep still exits 130 without a traceback, fails that trial as
    interrupted and queues its configuration again, and the rerun completes it."""
    import optuna.study._optimize as optimize

    real_tell = optimize._tell_with_warning
    calls = []

    def interrupted_tell(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs.get("state"))
        if len(calls) == 1:
            raise KeyboardInterrupt
        return real_tell(*args, **kwargs)

    monkeypatch.setattr(optimize, "_tell_with_warning", interrupted_tell)
    space, out = write_space(tmp_path, TWO_SCHEDULES), tmp_path / "out"
    assert main(sweep_args(space, out, 1)) == 130
    output = capsys.readouterr()
    assert "interrupted; run the same command again to resume" in output.out
    assert "Traceback" not in output.out + output.err
    stopped, queued = load(out).trials
    assert stopped.state == TrialState.FAIL and stopped.user_attrs.get("interrupted")
    assert queued.state == TrialState.WAITING and queued.user_attrs["retry_of"] == 0
    assert main(sweep_args(space, out, 1)) == 0
    trials = load(out).trials
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.COMPLETE]
    assert trials[1].params == stopped.params


def test_a_sweep_with_the_halving_pruner(tmp_path: Path) -> None:
    space, out = write_space(tmp_path, TWO_SCHEDULES), tmp_path / "out"
    extra = ("--pruner", "halving", "--trainer.val_check_interval", "0.5")
    assert main(sweep_args(space, out, 3, *extra)) == 0
    trials = load(out).trials
    assert len(trials) == 3 and {t.state for t in trials} <= {TrialState.COMPLETE, TrialState.PRUNED}
    assert all(sorted(t.intermediate_values)[0] == 1 for t in trials), "reported from the first validation on"
    assert type(sweep_cmd.make_pruner("halving")).__name__ == "SuccessiveHalvingPruner"


@pytest.mark.slow
def test_two_workers_on_one_storage_share_the_study(tmp_path: Path) -> None:
    space, out = write_space(tmp_path, TWO_SCHEDULES), tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "lr_recipes", *sweep_args(space, out, 4)]  # both create the new study.db
    workers = [subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(2)]  # fmt: skip
    outputs = [w.communicate(timeout=900) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], [o[1][-2000:] for o in outputs]
    lines = [[ln for ln in o[0].splitlines() if "sweep space: trial" in ln] for o in outputs]
    assert all(lines), "each worker ran at least one trial"
    numbers = [int(ln.split("trial")[1].split()[0]) for ws in lines for ln in ws]
    study = load(out)
    assert sorted(numbers) == [t.number for t in counted(study)] == [0, 1, 2, 3]  # distinct, adding up to 4
    assert all(t.state == TrialState.COMPLETE for t in counted(study))


# --- the pruning callback --------------------------------------------------------------------------------------


def _classifier_fit(callback: TrialPruning, **trainer_kwargs: Any) -> Trainer:
    from lr_recipes.pack.cli import RecipeCLI

    cli = RecipeCLI(args=[*BASE, "--trainer.max_epochs", "4"], run=False, save_config_callback=None)
    kwargs = dict(accelerator="cpu", max_epochs=4, limit_train_batches=2, limit_val_batches=1, logger=False,
                  enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                  num_sanity_val_steps=1, callbacks=[callback])  # fmt: skip
    kwargs.update(trainer_kwargs)
    trainer = Trainer(**kwargs)
    trainer.fit(cli.model, datamodule=cli.datamodule)
    return trainer


def test_pruning_reports_at_the_global_step_after_every_validation_run() -> None:
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.NopPruner())
    trial = study.ask()
    callback = TrialPruning(trial, monitor="val_acc", mode="max")
    trainer = _classifier_fit(callback, val_check_interval=0.5)  # two validation runs per epoch
    steps = [s for s, _ in callback.history]
    assert steps == [1, 2, 3, 4, 5, 6, 7, 8] and trainer.global_step == 8  # sanity check not reported
    study.tell(trial, callback.best)
    assert sorted(study.trials[0].intermediate_values) == steps
    assert callback.best == max(v for _, v in callback.history) and not callback.pruned


def test_a_pruned_trial_stops_early() -> None:
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=2.0))
    callback = TrialPruning(study.ask(), monitor="val_acc", mode="max")
    trainer = _classifier_fit(callback)
    assert callback.pruned and len(callback.history) == 1
    assert trainer.global_step == 2 < 8  # stopped after the first of four epochs
    # The last validation run completes the trial: it is reported, never pruned.
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=2.0))
    last = TrialPruning(study.ask(), monitor="val_acc", mode="max")
    _classifier_fit(last, max_epochs=1)
    assert not last.pruned and [s for s, _ in last.history] == [2]
    # ... also when it comes before the last step: validating every 2 of 5 batches, the run's last
    # validation is at step 4 and its last step is 5 (the sweep_real benchmark lost a trial this way).
    pruner = optuna.pruners.ThresholdPruner(lower=2.0, n_warmup_steps=3)
    study = optuna.create_study(direction="maximize", pruner=pruner)
    early = TrialPruning(study.ask(), monitor="val_acc", mode="max")
    trainer = _classifier_fit(early, max_epochs=1, limit_train_batches=5, val_check_interval=0.5)
    assert [s for s, _ in early.history] == [2, 4] and not early.pruned and trainer.global_step == 5


def test_a_diverging_run_stops_and_says_why() -> None:
    model = ScriptedValModel([1.0, math.nan, 0.5, 0.4])
    callback = TrialPruning(None, monitor="val_loss", mode="min")
    trainer = Trainer(max_epochs=4, limit_train_batches=2, limit_val_batches=1, logger=False, callbacks=[callback],
                      enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                      num_sanity_val_steps=0)  # fmt: skip
    trainer.fit(model)
    assert callback.diverged == "val_loss=nan at step 4" and trainer.global_step == 4
    assert callback.best == 1.0


def test_a_metric_that_is_not_logged_stops_the_sweep(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    space = write_space(tmp_path, {"model.optimizer.init_args.lr": [0.1]})
    with pytest.raises(SystemExit) as exc:
        main([*sweep_args(space, tmp_path / "out", 3), "--metric", "val_accuracy"])
    assert exc.value.code == 2
    assert "metric 'val_accuracy' is not logged at validation (did you mean 'val_acc'?)" in capsys.readouterr().err
    assert len(load(tmp_path / "out").trials) == 1  # it stopped at the first trial


# --- bad spaces: a clear error before any trial runs ----------------------------------------------------------


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ({"model.optimizer.init_args.weight_decy": [0.1]},
         "init_args.weight_decy is not a config key (did you mean 'model.optimizer.init_args.weight_decay'?)"),
        ({"model.schedule.name": ["cosine", "step"], "model.schedule.gamma": [0.1]},
         "model.schedule.gamma: schedule 'cosine' has no parameter 'gamma'; add 'when: {model.schedule.name: [step]}'"),
        ({"model.schedule.name": ["cosine", "wsd"],
          "model.schedule.decay_shape": {"choices": ["sqrt"], "when": {"model.schedule.name": "wsd"}}},
         "model.schedule.decay_shape: recipe 'wsd': decay_shape='sqrt' is not allowed"),
        ({"model.schedule.name": ["wsd"], "model.schedule.decay": ["150%"]}, "does not fit the run (4 optimizer steps"),
        ({"model.label_smoothing": [0.1, 1.5]}, "model.label_smoothing=1.5 is rejected by the config: label_smoot"),
        ({"model.schedule.name": ["cosine", "cosin"]}, "'cosin' is not a recipe (did you mean 'cosine'?)"),
    ],
)  # fmt: skip
def test_a_bad_space_fails_before_any_trial(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], space: dict[str, Any], message: str
) -> None:
    path = write_space(tmp_path, space)
    with pytest.raises(SystemExit) as exc:
        main(sweep_args(path, tmp_path / "out", 2))
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ({"model.optimizer.init_args.lr": {"low": 1.0, "high": 0.1}}, "low=1.0 must be below high=0.1"),
        ({"model.optimizer.init_args.lr": {"low": 0.0, "high": 1.0, "log": True}}, "log=true needs low > 0"),
        ({"model.optimizer.init_args.lr": {"lo": 0.1, "high": 1.0}}, "unknown field 'lo' (did you mean 'low'?)"),
        ({"model.optimizer.init_args.lr": {"choices": []}}, "choices=[] must be a non-empty list"),
        ({"model.optimizer.init_args.lr": {"choices": [0.1], "low": 0.1, "high": 1.0}}, "give exactly one of"),
        ({"model.schedule.gamma": {"low": 0.1, "high": 0.5, "when": {"model.schedule.nme": "step"}}},
         "when refers to 'model.schedule.nme', which is not a choice key above it"),
        ({"model.schedule.name": ["cosine"],
          "model.schedule.gamma": {"value": 0.1, "when": {"model.schedule.name": "step"}}},
         "when model.schedule.name='step' can never hold; model.schedule.name takes cosine"),
        ({"model.schedule": [{"name": "cosine"}]}, "search model.schedule.name and model.schedule.<parameter>"),
        ([0.1], "expected a mapping of config keys"),
    ],
)  # fmt: skip
def test_space_syntax_errors(space: Any, message: str) -> None:
    with pytest.raises(SweepSpaceError, match=None) as exc:
        SearchSpace.from_dict(space)
    assert message in str(exc.value)


def test_shipped_spaces_pass_the_checks() -> None:
    for name in ("schedules", "cosine_lr_wd"):
        space = SearchSpace.from_yaml(REPO / "sweeps" / f"{name}.yaml")
        specs = space.check_schedules({"name": "cosine"})
        assert specs and all("name" in s for s in specs)
    sweep = sweep_cmd.Sweep(fit_args=[*BASE, "--trainer.max_epochs", "20"], trials=1, study_name="s",
                            space=SearchSpace.from_yaml(REPO / "sweeps/schedules.yaml"),
                            storage_url="sqlite://", out=Path("out"))  # fmt: skip
    sweep_cmd.check_sweep(sweep)  # the real recipe: keys exist, every schedule fits a 40-step run
    assert sweep.total_steps == 40


# --- storage and sampler ----------------------------------------------------------------------------------------


def test_mask_url_hides_every_password() -> None:
    text = "a postgresql+psycopg2://u:p%40ss@h:5432/db and mysql://root:x@10.0.0.1/o, sqlite:///f.db, journal:x.log"
    assert (
        mask_url(text)
        == "a postgresql+psycopg2://u:***@h:5432/db and mysql://root:***@10.0.0.1/o, sqlite:///f.db, journal:x.log"
    )


def test_sampler_seeds_each_trial_from_its_number() -> None:
    # The TPESampler internals the reseeding relies on: an upgrade that renames them fails here.
    sampler = TrialSeededTPESampler(seed=3)
    assert hasattr(sampler._rng, "rng") and hasattr(sampler._random_sampler._rng, "rng")

    def draws(seed: int, n: int) -> list[float]:
        study = optuna.create_study(sampler=TrialSeededTPESampler(seed=seed))
        return [study.ask().suggest_float("x", 0, 1) for _ in range(n)]

    assert draws(3, 3) == draws(3, 3) != draws(4, 3)
    assert len(set(draws(3, 3))) == 3
    # Trial k draws the same value whichever worker (sampler instance) runs it.
    study = optuna.create_study(sampler=TrialSeededTPESampler(seed=3))
    study.ask()
    other = optuna.load_study(
        study_name=study.study_name, storage=study._storage, sampler=TrialSeededTPESampler(seed=3)
    )
    assert other.ask().suggest_float("x", 0, 1) == draws(3, 2)[1]


@pytest.mark.slow
def test_under_torchrun_every_trial_is_a_ddp_run(tmp_path: Path) -> None:
    space, out = write_space(tmp_path, TWO_SCHEDULES), tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("LOCAL_RANK", None)
    ddp = ["--trainer.strategy", "ddp", "--trainer.devices", "2", "--trainer.accelerator", "cpu"]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "-m", "lr_recipes"]
    proc = subprocess.run([*cmd, *sweep_args(space, out, 2), *ddp], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    study = load(out)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2  # rank 1 asked for no trial of its own
    for t in study.trials:
        log_dir = Path(t.user_attrs["log_dir"])
        assert yaml.safe_load((log_dir / "config.yaml").read_text())["trainer"]["strategy"] == "ddp"
        summary = yaml.safe_load((log_dir / "summary.json").read_text())
        # 4 steps of 16 images on each of the 2 ranks (both factors are rounded)
        assert summary["train_images_per_s"] * summary["wall_time_s"] == pytest.approx(128, rel=0.05)


@pytest.mark.parametrize("trials", ["0", "-3", "many"])
def test_trials_must_be_a_positive_int(trials: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    space = write_space(tmp_path, TWO_SCHEDULES)
    with pytest.raises(SystemExit) as stop:
        sweep_cmd.sweep_main(["--config", BASE[1], "--space", str(space), "--trials", trials, "--out", str(tmp_path)])
    assert stop.value.code == 2
    assert f"argument --trials: '{trials}' is not allowed: a positive int" in capsys.readouterr().err
    assert not (tmp_path / "study.db").exists(), "nothing is created before the arguments are valid"
