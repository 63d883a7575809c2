"""Shared fixtures. Keep each fixture a small, separate function."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from search_spaces.nb201 import NB201SearchSpace

NB201_CSV = Path(__file__).resolve().parents[1].parent / "shared/data/nas-bench-201/nb201_test_acc_200ep.csv"
"""NAS-Bench-201 ground truth (15,625 rows); lives outside the repository, in ../shared."""


@pytest.fixture
def fmnist_space() -> NB201SearchSpace:
    """The FMNIST-201 space (BENCHMARK.md section 2): C=8, N=1, light reduction, 1x16x16 input."""
    return NB201SearchSpace(C=8, N=1, in_channels=1, input_size=16, reduction="light")


@pytest.fixture(scope="session")
def nb201_rows() -> list[dict[str, str]]:
    """All rows of the NAS-Bench-201 CSV as dicts (column name -> text)."""
    if not NB201_CSV.is_file():
        pytest.skip(f"NAS-Bench-201 CSV not found at {NB201_CSV}")
    with NB201_CSV.open(newline="") as handle:
        return list(csv.DictReader(handle))
