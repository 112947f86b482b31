"""Shared pytest setup: every test runs in its own temporary working directory."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _run_in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Lightning writes logs and checkpoints (and the callback its LR trace) under the working directory.
    monkeypatch.chdir(tmp_path)
