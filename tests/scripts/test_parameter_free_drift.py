"""scripts/parameter_free_drift.py: parameter-free edges of each run's argmax cell, epoch by epoch."""

import csv
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "parameter_free_drift.py"
sys.path.insert(0, str(SCRIPT.parent))

from parameter_free_drift import parameter_free_edges  # noqa: E402

CONV = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
POOLED = "|avg_pool_3x3~0|+|skip_connect~0|none~1|+|avg_pool_3x3~0|nor_conv_3x3~1|none~2|"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True)


def write_anytime(path: Path, points: list[tuple[str, int, int, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row", "seed", "epoch", "arch", "truth", "truth_source"])
        for row, seed, epoch, arch in points:
            writer.writerow([row, seed, epoch, arch, "", ""])
    return path


def test_counts_edges_without_weights():
    assert parameter_free_edges(CONV) == 0
    assert parameter_free_edges(POOLED) == 5
    with pytest.raises(ValueError, match="6 edges"):
        parameter_free_edges("|nor_conv_3x3~0|+|none~0|none~1|")


def test_table_per_run_and_row_mean_with_the_last_point_past_a_runs_end(tmp_path):
    anytime = write_anytime(tmp_path / "anytime.csv", [
        ("darts", 0, 1, CONV), ("darts", 0, 2, POOLED),
        ("darts", 1, 1, CONV), ("darts", 1, 2, CONV), ("darts", 1, 3, POOLED),
        ("gdas", 0, 1, POOLED),
    ])
    done = run("--anytime", str(anytime), "--rows", "darts", "--epochs", "1", "2", "3")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[2:] == ["| darts seed 0 | 0 | 5 | 5 |", "| darts seed 1 | 0 | 0 | 5 |",
                         "| **darts** (mean of 2) | 0.00 | 2.50 | 5.00 |"]


def test_missing_file_or_row_is_one_line_and_exit_2(tmp_path):
    done = run("--anytime", str(tmp_path / "none.csv"))
    assert done.returncode == 2 and "does not exist" in done.stderr and "Traceback" not in done.stderr
    anytime = write_anytime(tmp_path / "anytime.csv", [("darts", 0, 1, CONV)])
    done = run("--anytime", str(anytime), "--rows", "rarts")
    assert done.returncode == 2 and "rarts" in done.stderr and "Traceback" not in done.stderr


def test_doctests():
    import doctest

    import parameter_free_drift

    assert doctest.testmod(parameter_free_drift).failed == 0
