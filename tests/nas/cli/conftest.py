"""Fixtures of the CLI tests that several modules share."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def trained_smoke_run(tmp_path_factory) -> Path:
    """The folder of one finished `nas run preset=smoke` (FMNIST-201 cell on synthetic 8x8 images, 12 ranked
    children), shared by the `nas export` and `nas retrain` tests: they only read it (and write under it)."""
    cwd = tmp_path_factory.mktemp("trained_smoke")
    folder = cwd / "trained"
    done = subprocess.run([sys.executable, "-m", "nas.cli.main", "run", "preset=smoke", "threads=1", "progress=false",
                           f"run_dir={folder}"], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return folder
