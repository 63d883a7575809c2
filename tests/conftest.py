"""Shared fixtures. Keep each fixture a small, separate function."""

from __future__ import annotations

import csv
import gzip
import io

import pytest
import torch

from search_spaces.nb201 import NB201SearchSpace
from search_spaces.nb201.benchmark import TABLE

# Tests check behaviour, not speed: one thread keeps them deterministic and immune to a busy second core.
torch.set_num_threads(1)

NB201_CSV = TABLE
"""NAS-Bench-201 ground truth (15,625 rows) as shipped inside the package."""


@pytest.fixture
def fmnist_space() -> NB201SearchSpace:
    """The FMNIST-201 space (BENCHMARK.md section 2): C=8, N=1, light reduction, 1x16x16 input."""
    return NB201SearchSpace(C=8, N=1, in_channels=1, input_size=16, reduction="light")


@pytest.fixture(scope="session")
def nb201_rows() -> list[dict[str, str]]:
    """All rows of the NAS-Bench-201 CSV as dicts (column name -> text)."""
    if not NB201_CSV.is_file():
        pytest.skip(f"NAS-Bench-201 CSV not found at {NB201_CSV}")
    with gzip.open(NB201_CSV, "rt", newline="") as handle:
        return list(csv.DictReader(io.StringIO(handle.read())))
