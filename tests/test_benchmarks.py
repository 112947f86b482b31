"""The benchmark scripts keep working: each runs in its ``--smoke`` mode (seconds, synthetic data, no
../shared) and writes a well-formed result. Nothing here times anything; the numbers are in BENCHMARKS.md."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
COMMON_KEYS = {"benchmark", "command", "machine", "results"}
MACHINE_KEYS = {"nproc", "torch", "lightning", "torch_threads"}


@pytest.fixture(autouse=True)
def _benchmarks_importable(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)  # the scripts set their own


def run(script: str, tmp_path: Path, *extra: str) -> dict[str, Any]:
    out = tmp_path / f"{script}.json"
    returned = importlib.import_module(script).main(["--smoke", "--out", str(out), *extra])
    written = json.loads(out.read_text())
    assert written["benchmark"] == script
    assert written.keys() >= COMMON_KEYS and written["machine"].keys() >= MACHINE_KEYS
    assert written["machine"]["torch_threads"] == 1
    assert written["command"].startswith(".venv/bin/python ")
    assert returned is not None and returned["results"] == written["results"]
    return written


def test_overhead(tmp_path: Path) -> None:
    result = run("overhead", tmp_path)
    assert set(result["results"]) == {"cosine/log_every_n_steps=1", "plateau/log_every_n_steps=1"}
    for entry in result["results"].values():
        for clock in ("cpu", "wall"):
            assert set(entry[clock]["median_per_step_us"]) == {"none", "ours", "torch"}
            assert set(entry[clock]["overhead_us"]) == {"ours", "torch"}
        assert entry["direct"]["in_hooks_us_per_step"]["ours"] > 0
        assert entry["direct"]["in_hooks_us_per_step"]["torch"] > 0
        # Call counts are deterministic: both LR callbacks and schedulers make Python calls every step.
        assert entry["python_calls_per_step"]["ours"] > 0 and entry["python_calls_per_step"]["torch"] > 0
        assert isinstance(entry["goal_met"], bool)
    # The pairs are the same schedule, or comparing their costs would mean nothing.
    assert result["equivalence_max_abs_lr_diff"]["cosine"] < 1e-12
    assert result["equivalence_max_abs_lr_diff"]["plateau"] < 1e-12
    assert set(result["scheduler_step_us"]) == {"ours", "torch"}
    assert "| pair |" in result["tables"][0]


def test_data_path(tmp_path: Path) -> None:
    result = run("data_path", tmp_path)
    entry = result["results"]["num_workers=0"]
    assert entry["median_images_per_s"]["ours"] > 0 and entry["median_images_per_s"]["torchvision"] > 0
    assert entry["ratio"] == pytest.approx(
        entry["median_images_per_s"]["ours"] / entry["median_images_per_s"]["torchvision"], rel=0.01
    )
    # Both paths normalise with the CIFAR-10 statistics: roughly zero-mean, unit-variance batches.
    for stats in entry["last_batch_stats"].values():
        assert abs(stats["mean"]) < 1.5 and 0.3 < stats["std"] < 3


def test_lightning_vs_raw(tmp_path: Path) -> None:
    result = run("lightning_vs_raw", tmp_path)
    entry = result["results"]["tiny"]
    assert set(entry["median_images_per_s"]) == {"lightning", "raw"}
    assert entry["threads"] == [1]
    assert isinstance(entry["goal_met"], bool)


def test_real_cifar(tmp_path: Path) -> None:
    result = run("real_cifar", tmp_path)
    assert set(result["results"]) == {"cosine", "plateau"}
    for entry in result["results"].values():
        assert 0 <= entry["test_acc"] <= 1 and 0 <= entry["best_val_acc"] <= 1
        assert entry["optimizer_steps"] > 0 and len(entry["val_acc_per_epoch"]) == result["settings"]["epochs"]
    assert result["results"]["cosine"]["final_lr"] == pytest.approx(0.0, abs=1e-12)


def test_schedule_free_groups(tmp_path: Path) -> None:
    pytest.importorskip("schedulefree")
    result = run("schedule_free_groups", tmp_path)
    schedules, tuned = result["results"]["schedules"], result["results"]["finetune"]
    assert set(schedules) == {"cosine", "onecycle", "schedule_free"}
    for entry in schedules.values():
        assert 0 <= entry["test_acc"] <= 1 and len(entry["val_acc_per_epoch"]) == result["settings"]["epochs"]
    assert set(tuned) == {"uniform", "backbone 0.1x", "layer_decay 0.5"}
    assert tuned["uniform"]["groups"] == {"all": 0.05}
    backbone = tuned["backbone 0.1x"]["groups"]
    assert backbone == {"backbone": pytest.approx(0.005), "default": 0.05}
    assert max(tuned["layer_decay 0.5"]["groups"].values()) == pytest.approx(0.05)


def test_gpu_smoke_runs_on_cpu(tmp_path: Path) -> None:
    result = run("gpu", tmp_path)
    parts = result["results"]
    if not torch.cuda.is_available():
        assert "skipped" in parts["sync_check"]
    assert any(key.startswith("tiny/eager") for key in parts["throughput"])
    assert len(parts["time_to_94"]["per_epoch"]) == 18  # fast.yaml's 18 epochs, one batch each
    assert 0 <= parts["time_to_94"]["final_test_acc"] <= 1


def test_long_run(tmp_path: Path) -> None:
    result = run("long_run", tmp_path)
    sizes = {n: r["ours"]["checkpoint_state_bytes"] for n, r in result["results"].items()}
    assert len(set(sizes.values())) == 1, "the callback's checkpoint state does not grow with the run"
    assert all(r["ours"]["rows_in_file"] == int(n) for n, r in result["results"].items())


@pytest.mark.parametrize("order", [[], ["--probe-after"], ["--warm-probe"]], ids=["probe-first", "after", "warm"])
def test_in_hook(order: list[str], tmp_path: Path) -> None:
    result = run("in_hook", tmp_path, *order)
    assert result["settings"]["warm_probe"] is (order == ["--warm-probe"])
    assert len(result["results"]) == 4
    for entry in result["results"].values():
        assert entry["in_hooks_us_per_step"]["ours"] > 0 and entry["in_hooks_us_per_step"]["torch"] > 0
        # The clock's own cost is measured where each timed hook runs (ClockProbe), for both variants alike.
        for variant in ("ours", "torch"):
            costs = entry["clock_cost_us_per_call"][variant]
            assert costs["step:callback.on_train_batch_start"] > 0 and costs["step:scheduler.step"] > 0
            raw = entry["in_hooks_uncorrected_us_per_step"][variant]
            assert entry["in_hooks_us_per_step"][variant] < raw, "the correction subtracts the clock's cost"


def test_clock_probe_charges_each_timed_call_its_own_place() -> None:
    """HookClock.per_step subtracts, per timed name, its probe's cost per call times that name's calls."""
    clock = importlib.import_module("overhead").HookClock()
    clock.seconds = {"step:callback.on_train_batch_start": 10.0, "step:scheduler.step": 4.0, "probe:x": 1.0}
    clock.calls = {"step:callback.on_train_batch_start": 100, "step:scheduler.step": 50, "probe:x": 1}
    costs = {"step:callback.on_train_batch_start": 0.05, "step:scheduler.step": 0.02}
    assert clock.per_step(10, costs) == pytest.approx(((10.0 - 5.0) + (4.0 - 1.0)) / 10)
    assert clock.per_step(10) == pytest.approx(1.4), "uncorrected: the probe's own entry is not a timed step"


def test_horizon(tmp_path: Path) -> None:
    result = run("horizon", tmp_path)
    wsd, cosine = result["results"]["wsd"], result["results"]["cosine"]
    epoch = 3  # smoke: 3 batches per epoch
    assert wsd["stable"]["final_lr"] == pytest.approx(0.1), "the stable run ends at its peak LR"
    for budget in ("2", "3"):
        branch = wsd[budget]
        assert branch["optimizer_steps"] == int(budget) * epoch
        assert branch["trained_steps"] == epoch, "a 1-epoch cooldown from the stable checkpoint"
        assert branch["final_lr"] == pytest.approx(0.0, abs=1e-12), "each cooldown decays to 0"
        assert cosine[budget]["optimizer_steps"] == int(budget) * epoch
        assert cosine[budget]["final_lr"] == pytest.approx(0.0, abs=1e-12)
    steps = result["optimizer_steps"]
    assert steps["wsd_branching"] == wsd["stable"]["trained_steps"] + 2 * epoch
    assert steps["cosine_runs"] == 5 * epoch


def test_find_lr(tmp_path: Path) -> None:
    result = run("find_lr", tmp_path)
    assert set(result["results"]) == {"polynomial", "inverse_sqrt"}
    for entry in result["results"].values():
        suggestions = entry["suggestions"]
        assert set(suggestions) == {"valley", "steepest", "minimum"} and all(v > 0 for v in suggestions.values())
        assert entry["find_lr"] == pytest.approx(suggestions["valley"], rel=1e-3)
        assert entry["find_steps"] > 0 and entry["find_fraction_of_full_run"] < 1
        assert set(entry["short_runs"]) == {"literature", "find (valley)", "Lightning lr_find"}
        assert all(0 <= r["val_acc"] <= 1 for r in entry["short_runs"].values())
    assert {p.name for p in tmp_path.glob("*.png")} == {"find_polynomial.png", "find_inverse_sqrt.png"}, "next to --out"


@pytest.mark.parametrize("args", [["--plateau-epoch-steps", "0"], ["--repeats", "x"], ["--pairs", "cosin"]])
def test_in_hook_rejects_bad_arguments_before_running(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        importlib.import_module("in_hook").main(args)
    assert exit_info.value.code == 2
    assert args[0] in capsys.readouterr().err


def test_against_compares_a_revision_with_the_checkout(tmp_path: Path) -> None:
    result = run("against", tmp_path, "HEAD", "--pairs", "plateau")
    assert set(result["results"]) == {"plateau/log_every_n_steps=50", "plateau/log_every_n_steps=1"}
    for entry in result["results"].values():
        assert len(entry["base_ratios"]) == len(entry["this_ratios"]) == 1
        assert entry["base"] > 0 and entry["this"] > 0


def test_against_names_a_revision_git_does_not_know(capsys: pytest.CaptureFixture[str]) -> None:
    import against

    with pytest.raises(SystemExit, match="git archive no-such-revision"):
        against.main(["--smoke", "no-such-revision"])
