"""RegularizedEvolution: aging population, tournament parents, crossover, dedup, exact resume, beats random."""

from __future__ import annotations

import collections
import statistics

import numpy as np
import pytest

from nas.errors import ConfigError
from nas.searchers import RegularizedEvolution, Searcher
from tests.nas.searchers.helpers import (
    QUALITY_BUDGET,
    QUALITY_SEEDS,
    CountingObjective,
    Grid,
    one_sided_mann_whitney,
)


def distance(a, b) -> int:
    return sum(a[d] != b[d] for d in a)


def test_is_a_searcher(nb201):
    assert isinstance(RegularizedEvolution(nb201), Searcher)


def test_population_is_the_last_told_members_and_the_oldest_leaves(nb201):
    """Over a full search, the population equals a reference deque: append the child, pop the oldest."""
    searcher = RegularizedEvolution(nb201, seed=3, population_size=7, sample_size=3)
    reference = collections.deque()
    sizes = []

    def check(trial):
        reference.append(trial.arch)
        if len(reference) > 7:
            reference.popleft()
        assert [t.arch for t in searcher.population] == list(reference)
        sizes.append(len(searcher.population))

    searcher.search(CountingObjective(), budget=60, progress=check)
    assert sizes == list(range(1, 8)) + [7] * 53


def test_aging_removes_the_best_member_when_it_is_the_oldest(nb201):
    searcher = RegularizedEvolution(nb201, seed=0, population_size=4, sample_size=50)
    told = []
    for score in [100.0, 1.0, 2.0, 3.0]:
        arch = searcher.ask()
        searcher.tell(arch, score)
        told.append(arch)
    assert [t.arch for t in searcher.population] == told
    # with 50 draws from 4 members the champion (score 100) is the parent: the child is its neighbour
    child = searcher.ask()
    assert distance(child, told[0]) == 1
    searcher.tell(child, 0.5)
    # the champion was the oldest: it is gone, although it is the best
    assert [t.arch for t in searcher.population] == told[1:] + [child]
    assert told[0] not in [t.arch for t in searcher.population]
    next_child = searcher.ask()  # now the parent is the best survivor (score 3)
    assert distance(next_child, told[3]) == 1


def test_first_population_is_uniform_then_children_are_one_mutation_from_a_member(nb201):
    searcher = RegularizedEvolution(nb201, seed=5, population_size=10, sample_size=3)
    objective = CountingObjective()
    for step in range(80):
        population = [t.arch for t in searcher.population]
        arch = searcher.ask()
        if step >= 10:
            assert min(distance(arch, member) for member in population) == 1
        searcher.tell(arch, objective(arch))


def test_tournament_winner_is_the_best_of_the_sample(nb201):
    """With sample_size much larger than the population, nearly every child descends from the best member."""
    searcher = RegularizedEvolution(nb201, seed=2, population_size=5, sample_size=100)
    objective = CountingObjective()
    from_best = total = 0
    for step in range(60):
        population = searcher.population
        arch = searcher.ask()
        if step >= 5:
            best = max(population, key=lambda t: t.score).arch
            from_best += distance(arch, best) == 1
            total += 1
        searcher.tell(arch, objective(arch))
    assert from_best >= 0.95 * total


def test_sample_size_one_picks_parents_uniformly(nb201):
    searcher = RegularizedEvolution(nb201, seed=4, population_size=5, sample_size=1)
    for score in range(5):
        searcher.tell(searcher.ask(), float(score))
    population = [t.arch for t in searcher.population]
    parents = collections.Counter()
    for _ in range(400):
        child = searcher.ask()  # the population does not change: nothing is told
        parents[next(i for i, m in enumerate(population) if distance(child, m) == 1)] += 1
    assert set(parents) == set(range(5))
    assert min(parents.values()) > 40  # ~80 each


@pytest.mark.parametrize("crossover_prob", [0.0, 1.0])
def test_crossover_probability(nb201, monkeypatch, crossover_prob):
    calls = []
    original = type(nb201).crossover

    def spy(self, first, second, rng):
        calls.append((first, second))
        return original(self, first, second, rng)

    monkeypatch.setattr(type(nb201), "crossover", spy)
    searcher = RegularizedEvolution(nb201, seed=0, population_size=10, crossover_prob=crossover_prob)
    searcher.search(CountingObjective(), budget=50)
    if crossover_prob == 0.0:
        assert calls == []
    else:  # every one of the 40 children after the first population (repairs cross over again)
        assert len(calls) >= 40


def test_never_scores_an_architecture_twice(nb201):
    objective = CountingObjective()
    history = RegularizedEvolution(nb201, seed=0, population_size=10, sample_size=5).search(objective, budget=300)
    assert len(history) == 300
    assert objective.total == len({t.arch for t in history.trials}) == 300
    assert set(objective.calls.values()) == {1}


def test_a_small_space_ends_with_every_architecture_scored_once():
    space = Grid(3, 3)
    objective = CountingObjective(lambda a: float(a["d0"] + a["d1"]))
    history = RegularizedEvolution(space, seed=0, population_size=3, sample_size=2).search(objective, budget=50)
    assert {t.arch for t in history.trials} == set(space.enumerate())
    assert objective.total == 9


@pytest.mark.parametrize("options", [{}, {"crossover_prob": 0.5, "constraints": {"max_flops": 60_000_000}}])
def test_resume_from_saved_state_continues_exactly(nb201, tmp_path, options):
    straight = RegularizedEvolution(nb201, seed=11, population_size=8, sample_size=3, **options)
    straight.search(CountingObjective(), budget=70)

    first = RegularizedEvolution(nb201, seed=11, population_size=8, sample_size=3, **options)
    first.search(CountingObjective(), budget=23, state_path=tmp_path / "evolution.pt")
    resumed = RegularizedEvolution(nb201, seed=999, population_size=8, sample_size=3, **options)
    resumed.load(tmp_path / "evolution.pt")
    assert [t.arch for t in resumed.population] == [t.arch for t in first.population]
    objective = CountingObjective()
    resumed.search(objective, budget=70)
    assert objective.total == 47  # only the new ones
    assert [(t.arch, t.score, t.cost) for t in resumed.history.trials] == \
           [(t.arch, t.score, t.cost) for t in straight.history.trials]


@pytest.mark.parametrize("options, message", [
    ({"population_size": 0}, "population_size"),
    ({"sample_size": 0}, "sample_size"),
    ({"crossover_prob": 1.5}, "crossover_prob must be in"),
    ({"mutation_decisions": 0}, "mutation_decisions"),
])
def test_bad_settings_are_config_errors(nb201, options, message):
    with pytest.raises(ConfigError, match=message):
        RegularizedEvolution(nb201, **options)


def test_beats_random_search_on_nas_bench_201(nb201, cifar10_accuracy, random_best):
    """Over 20 seeds at 100 queries, REA's best CIFAR-10 accuracy: mean above random search's median,
    and stochastically larger (one-sided Mann-Whitney U, p < 0.05)."""
    best = [RegularizedEvolution(nb201, seed).search(cifar10_accuracy, QUALITY_BUDGET).best.score
            for seed in QUALITY_SEEDS]
    assert np.mean(best) > statistics.median(random_best)
    assert one_sided_mann_whitney(best, random_best) < 0.05
