"""The command line as a user meets it: a help that lists every subcommand, and a user's mistake printed as
one message on stderr with exit status 2, no traceback (unless asked for)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lr_recipes.pack import cli
from lr_recipes.registry import RecipeError

ROOT = Path(__file__).resolve().parents[1]
COSINE = str(ROOT / "recipes" / "cosine.yaml")

# `python -m lr_recipes ...` with the network cut: any connection fails at once, so a download attempt is a
# fast URLError, never a wait (and never 170 MB).
_OFFLINE_MAIN = """
import runpy, socket, sys
def _offline(*args, **kwargs):
    raise OSError("network disabled by the test")
socket.getaddrinfo = socket.create_connection = socket.socket.connect = _offline
sys.argv = ["lr_recipes", *sys.argv[1:]]
runpy.run_module("lr_recipes", run_name="__main__", alter_sys=True)
"""


def _run_offline(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "LR_RECIPES_TRACEBACK"}
    environ.update(OMP_NUM_THREADS="1", **env)
    return subprocess.run(
        [sys.executable, "-c", _OFFLINE_MAIN, *args], cwd=cwd, env=environ, capture_output=True, text=True, timeout=300
    )


def test_offline_fit_without_cifar_prints_the_ways_out_and_exits_2(tmp_path: Path) -> None:
    """As a new user types it, in an empty folder: the default ``data`` root is empty and download is on."""
    proc = _run_offline(["fit", "--config", COSINE], cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert "error: CIFAR-10 not found in 'data/cifar-10-batches-py' (download=True: " in proc.stderr
    assert "network disabled by the test" in proc.stderr and "Three ways out" in proc.stderr
    assert "LightningCLI's args parameter" not in proc.stderr, "no warning on a plain command-line call"
    assert not [f for f in (tmp_path / "data").rglob("*") if f.is_file()]


def test_a_misspelt_recipe_prints_the_closest_name_and_exits_2(capsys: pytest.CaptureFixture) -> None:
    """In-process (the command line itself is the offline test's subprocess): one line, no traceback."""
    with pytest.raises(SystemExit, match="2"):
        cli.main(["fit", "--config", COSINE, "--model.schedule", '{"name": "cosin"}'])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (line,) = [line for line in err.splitlines() if line.startswith("error: ")]
    assert line.startswith("error: unknown recipe 'cosin' (did you mean 'cosine'?); available: constant, cosine")


def test_an_error_inside_the_trainer_arrives_unwrapped(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Lightning re-raises what ``configure_optimizers`` raised (``call._call_and_handle_interrupt``) as is."""
    smoke = str(ROOT / "recipes" / "smoke.yaml")
    args = ["fit", "--config", COSINE, "--config", smoke, "--trainer.logger.init_args.save_dir", str(tmp_path)]
    with pytest.raises(SystemExit, match="2"):
        cli.main([*args, "--model.schedule", '{"name": "cosine", "warmup": "500ep"}'])
    err = capsys.readouterr().err
    assert err.startswith("error: recipe 'cosine': warmup='500ep' is 1000 optimizer steps, past the end of the run")


def test_the_traceback_flag_and_env_var_show_the_full_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    args = ["fit", "--config", COSINE, "--model.schedule", '{"name": "cosin"}']
    with pytest.raises(RecipeError, match="did you mean 'cosine'"):
        cli.main([*args, "--traceback"])
    monkeypatch.setenv("LR_RECIPES_TRACEBACK", "1")
    with pytest.raises(RecipeError, match="did you mean 'cosine'"):
        cli.main(args)
    monkeypatch.setenv("LR_RECIPES_TRACEBACK", "0")
    with pytest.raises(SystemExit, match="2"):
        cli.main(args)
    assert capsys.readouterr().err.startswith("error: unknown recipe 'cosin'")


def test_a_bug_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only user errors are shortened: a bare ValueError or a RuntimeError may be a bug, so it propagates."""

    def broken(argv: list[str]) -> int:
        raise ValueError("a bug, not a user's mistake")

    monkeypatch.setitem(cli.COMMANDS, "broken", (broken, "always fails"))
    with pytest.raises(ValueError, match="a bug"):
        cli.main(["broken"])


def test_user_errors_can_be_extended(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    class StorageUnreachable(ConnectionError):
        pass

    def unreachable(argv: list[str]) -> int:
        raise StorageUnreachable("cannot reach sqlite:///nowhere/optuna.db")

    monkeypatch.setitem(cli.COMMANDS, "sweep-test", (unreachable, "fails like a bad storage URL"))
    with pytest.raises(StorageUnreachable):
        cli.main(["sweep-test"])
    monkeypatch.setattr(cli, "USER_ERRORS", (*cli.USER_ERRORS, StorageUnreachable))
    with pytest.raises(SystemExit, match="2"):
        cli.main(["sweep-test"])
    assert capsys.readouterr().err == "error: cannot reach sqlite:///nowhere/optuna.db\n"


@pytest.mark.parametrize("args", [[], ["-h"], ["--help"]])
def test_help_names_the_program_and_lists_every_subcommand(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    # the help is generated from the table, so a subcommand another module adds is listed too
    monkeypatch.setitem(cli.COMMANDS, "find", (lambda argv: 0, "run an LR range test"))
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m lr_recipes ")
    assert "Learning-rate recipes for PyTorch Lightning" in out
    for name, (_, text) in cli.COMMANDS.items():
        assert f"\n  {name} " in out and text in out
    assert "LR_RECIPES_TRACEBACK" in out


def test_an_unknown_subcommand_names_the_closest_one(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit, match="2"):
        cli.main(["plott", "--config", COSINE])
    err = capsys.readouterr().err
    assert err.startswith("error: unknown command 'plott' (did you mean 'plot'?); commands: fit, validate")


def test_subcommand_help_is_lightningclis_under_the_typed_program_name(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit, match="0"):
        cli.main(["fit", "--help"])
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m lr_recipes [options] fit ")
    assert "--trainer.max_epochs" in out and "--model.schedule" in out


def test_jsonargparse_errors_keep_their_format(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit, match="2"):
        cli.main(["fit", "--config", COSINE, "--trainer.max_epochz", "3"])
    err = capsys.readouterr().err
    assert err.startswith("usage: python -m lr_recipes [options] fit ") and "max_epochz" in err
