"""ConstrainedEvolution: requires bounds, never scores an infeasible child, repairs, beats constrained random."""

from __future__ import annotations

import statistics

import numpy as np
import pytest

from nas.errors import ConfigError
from nas.searchers import ConstrainedEvolution, Constraints, RandomSearch, RegularizedEvolution
from tests.nas.searchers.helpers import QUALITY_BUDGET, QUALITY_SEEDS, CountingObjective, one_sided_mann_whitney

# 17-26% of NAS-Bench-201 each (4,096 / 3,888 / 2,625 of 15,625 cells): mutations often leave the feasible set.
BOUNDS = [
    Constraints(max_flops=40_000_000),
    Constraints(min_params=300_000, max_params=350_000),
    Constraints(max_params=800_000, min_flops=80_000_000),
]


def test_is_regularized_evolution_that_needs_a_bound(nb201):
    assert issubclass(ConstrainedEvolution, RegularizedEvolution)
    for empty in (None, {}, Constraints(), {"max_params": None}):
        with pytest.raises(ConfigError, match="needs at least one cost bound.*searcher.constraints.max_flops"):
            ConstrainedEvolution(nb201, empty)


@pytest.mark.parametrize("limits", BOUNDS, ids=str)
def test_no_scored_child_ever_violates_the_constraints(nb201, limits):
    """A full search: the objective itself checks every architecture it is asked to score."""
    feasible = limits.feasible_architectures(nb201)
    assert len(feasible) < 0.3 * nb201.size
    violations = []

    def objective(arch):
        violations.extend(limits.violations(nb201.cost(arch)))
        return float(str(arch).count("nor_conv_3x3")) + (hash(str(arch)) % 100) / 1000

    counting = CountingObjective(objective)
    history = ConstrainedEvolution(nb201, limits, seed=0, population_size=10, sample_size=3,
                                   crossover_prob=0.3).search(counting, budget=200)
    assert violations == []
    assert len(history) == 200 == counting.total == len(counting.calls)
    assert all(limits.satisfied(t.cost) for t in history.trials)


def test_infeasible_children_are_repaired_not_scored(nb201, monkeypatch):
    """Mutations that leave the feasible set are retried: the search sees some and scores none of them."""
    limits = Constraints(max_flops=40_000_000)
    proposed = []
    original = type(nb201).mutate

    def spy(self, arch, rng, num_decisions=1):
        child = original(self, arch, rng, num_decisions)
        proposed.append(child)
        return child

    monkeypatch.setattr(type(nb201), "mutate", spy)
    history = ConstrainedEvolution(nb201, limits, seed=1).search(CountingObjective(), budget=80)
    rejected = [a for a in proposed if not limits.satisfied(nb201.cost(a))]
    assert rejected  # the repair had work to do
    assert not set(rejected) & {t.arch for t in history.trials}


def test_a_tiny_feasible_set_is_scored_completely_then_the_search_stops(nb201):
    limits = Constraints(min_params=1_200_000)  # the 25 cells with the most parameters
    feasible = limits.feasible_architectures(nb201)
    assert len(feasible) == 25
    objective = CountingObjective()
    history = ConstrainedEvolution(nb201, limits, seed=0).search(objective, budget=100)
    assert {t.arch for t in history.trials} == set(feasible)
    assert objective.total == len(feasible)


def test_bounds_no_architecture_meets_are_a_config_error(nb201):
    with pytest.raises(ConfigError, match="no architecture of search space 'nb201' meets the constraints"):
        ConstrainedEvolution(nb201, {"max_flops": 1_000_000}, seed=0)


def test_beats_constrained_random_search(nb201, cifar10_accuracy):
    limits = Constraints(max_flops=40_000_000)
    evolved = [ConstrainedEvolution(nb201, limits, seed).search(cifar10_accuracy, QUALITY_BUDGET).best.score
               for seed in QUALITY_SEEDS]
    sampled = [RandomSearch(nb201, seed, limits).search(cifar10_accuracy, QUALITY_BUDGET).best.score
               for seed in QUALITY_SEEDS]
    assert np.mean(evolved) > statistics.median(sampled)
    assert one_sided_mann_whitney(evolved, sampled) < 0.05
