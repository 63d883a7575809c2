"""Fixtures for the searcher tests: NAS-Bench-201 space, lookup objective, random-search baseline."""

from __future__ import annotations

import pytest

from nas.searchers import RandomSearch
from search_spaces.nb201 import NB201SearchSpace
from search_spaces.nb201.benchmark import NB201_DATASETS, _nb201_table
from tests.nas.searchers.helpers import QUALITY_BUDGET, QUALITY_SEEDS


@pytest.fixture(scope="session")
def nb201() -> NB201SearchSpace:
    """NAS-Bench-201's own space (the oracle's): one object, so its cost table is computed once."""
    return NB201SearchSpace()


@pytest.fixture(scope="session")
def cifar10_accuracy():
    """NAS-Bench-201 CIFAR-10 test accuracy as a plain lookup objective (the oracle's numbers)."""
    column = list(NB201_DATASETS).index("cifar10")
    table = {text: row[column] for text, row in _nb201_table().items()}
    return lambda arch: table[str(arch)]


@pytest.fixture(scope="session")
def random_best(nb201, cifar10_accuracy) -> list[float]:
    """Best CIFAR-10 accuracy random search finds in QUALITY_BUDGET queries, one value per seed."""
    return [RandomSearch(nb201, seed).search(cifar10_accuracy, QUALITY_BUDGET).best.score for seed in QUALITY_SEEDS]
