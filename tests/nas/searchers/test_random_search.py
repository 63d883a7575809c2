"""RandomSearch: budget, no repeats, history, ask/tell, exact resume, a tiny exhaustible space."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from torch import nn

from nas.architecture import Architecture
from nas.checkpoint import load_checkpoint
from nas.search_space import SearchSpace
from nas.searchers import History, RandomSearch, Searcher, Trial
from search_spaces.nb201 import NB201Architecture, NB201SearchSpace


class CountingObjective:
    """A deterministic score per architecture that counts how often each one is scored."""

    def __init__(self):
        self.calls: Counter = Counter()

    def __call__(self, arch: Architecture) -> float:
        self.calls[arch] += 1
        text = str(arch)
        return 10.0 * text.count("nor_conv_3x3") + 3.0 * text.count("nor_conv_1x1") - text.count("none") \
            + (sum(map(ord, text)) % 97) / 100.0


class Toy(SearchSpace):
    """Four architectures."""

    name = "toy"

    @property
    def decisions(self):
        return {"width": (4, 8), "act": ("relu", "tanh")}

    def build_supernet(self):  # pragma: no cover - not needed here
        raise NotImplementedError

    def build_model(self, arch):  # pragma: no cover - not needed here
        return nn.Linear(2, arch["width"])

    def params(self, arch):
        return 3 * arch["width"]

    def flops(self, arch):
        return 2 * arch["width"]


@pytest.fixture(scope="module")
def space() -> NB201SearchSpace:
    return NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")


def test_is_a_searcher(space):
    assert isinstance(RandomSearch(space), Searcher)


@pytest.mark.parametrize("budget", [1, 25, 120])
def test_budget_distinct_archs_each_scored_once(space, budget):
    objective = CountingObjective()
    history = RandomSearch(space, seed=0).search(objective, budget=budget)
    assert isinstance(history, History)
    assert len(history) == budget
    archs = [t.arch for t in history.trials]
    assert len(set(archs)) == budget
    assert sum(objective.calls.values()) == budget
    assert set(objective.calls.values()) == {1}
    assert set(objective.calls) == set(archs)
    for number, trial in enumerate(history.trials):
        assert isinstance(trial, Trial)
        assert trial.number == number
        assert isinstance(trial.arch, NB201Architecture)
        assert trial.score == objective(trial.arch)
        assert trial.cost == {"params": space.params(trial.arch), "flops": space.flops(trial.arch)}
        assert trial.arch in history


def test_best_is_the_maximum_and_ranked_is_sorted(space):
    history = RandomSearch(space, seed=1).search(CountingObjective(), budget=60)
    scores = [t.score for t in history.trials]
    assert history.best.score == max(scores)
    assert history.best is history.trials[scores.index(max(scores))]
    ranked = history.ranked()
    assert [t.score for t in ranked] == sorted(scores, reverse=True)
    assert sorted(t.number for t in ranked) == list(range(60))
    assert ranked[0] is history.best


def test_ranked_keeps_told_order_on_ties(space):
    searcher = RandomSearch(space, seed=0)
    archs = []
    while len(archs) < 4:
        arch = searcher.ask()
        if arch not in archs:
            archs.append(arch)
    for arch, score in zip(archs, [1.0, 5.0, 1.0, 5.0]):
        searcher.tell(arch, score)
    assert [t.number for t in searcher.history.ranked()] == [1, 3, 0, 2]
    assert searcher.history.best.number == 1


def test_draws_are_uniform_and_seeded(space):
    a = RandomSearch(space, seed=7).search(CountingObjective(), budget=30)
    b = RandomSearch(space, seed=7).search(CountingObjective(), budget=30)
    c = RandomSearch(space, seed=8).search(CountingObjective(), budget=30)
    assert [t.arch for t in a.trials] == [t.arch for t in b.trials]
    assert [t.arch for t in a.trials] != [t.arch for t in c.trials]
    # The asks follow space.sample with default_rng(seed).
    rng = np.random.default_rng(7)
    assert [t.arch for t in a.trials][:5] == [space.sample(rng) for _ in range(5)]


def test_ask_and_tell_by_hand(space):
    searcher = RandomSearch(space, seed=3)
    objective = CountingObjective()
    told = []
    for _ in range(5):
        arch = searcher.ask()
        assert space.validate(arch) == arch
        trial = searcher.tell(arch, objective(arch))
        told.append(trial)
        assert trial.number == len(told) - 1
        assert trial.score == objective(arch)
        assert trial.cost == space.cost(arch)
    assert searcher.history.trials == told
    # search() continues from there: the hand-told archs are not scored again.
    objective.calls.clear()
    history = searcher.search(objective, budget=12)
    assert len(history) == 12
    assert sum(objective.calls.values()) == 7
    assert not set(objective.calls) & {t.arch for t in told}
    # An int score is stored as a float.
    assert isinstance(searcher.tell(searcher.ask(), 3).score, float)


def test_progress_callback_sees_every_trial(space):
    seen = []
    history = RandomSearch(space, seed=0).search(CountingObjective(), budget=9, progress=seen.append)
    assert seen == history.trials


def test_state_dict_resume_continues_exactly(space):
    straight_objective = CountingObjective()
    straight = RandomSearch(space, seed=4).search(straight_objective, budget=30)

    first = RandomSearch(space, seed=4)
    first_objective = CountingObjective()
    first.search(first_objective, budget=12)
    state = first.state_dict()
    assert state["seed"] == 4
    assert [text for text, _ in state["history"]] == [str(t.arch) for t in first.history.trials]

    resumed = RandomSearch(space, seed=999)  # the state's seed and RNG win
    resumed.load_state_dict(state)
    assert resumed.seed == 4
    assert [(t.number, t.arch, t.score, t.cost) for t in resumed.history.trials] == \
           [(t.number, t.arch, t.score, t.cost) for t in first.history.trials]
    objective = CountingObjective()
    history = resumed.search(objective, budget=30)
    assert sum(objective.calls.values()) == 18  # only the new ones
    assert not set(objective.calls) & {t.arch for t in first.history.trials}
    assert [t.arch for t in history.trials] == [t.arch for t in straight.trials]
    assert [t.score for t in history.trials] == [t.score for t in straight.trials]


def test_save_then_load_resumes(space, tmp_path):
    searcher = RandomSearch(space, seed=2)
    searcher.search(CountingObjective(), budget=6)
    searcher.save(tmp_path / "searcher.pt")
    resumed = RandomSearch(space, seed=2)
    resumed.load_state_dict(load_checkpoint(tmp_path / "searcher.pt"))
    assert [t.arch for t in resumed.history.trials] == [t.arch for t in searcher.history.trials]
    assert resumed.ask() == searcher.ask()


def test_small_space_terminates_with_every_arch():
    toy = Toy()
    objective = CountingObjective()
    history = RandomSearch(toy, seed=0).search(objective, budget=10)
    assert len(history) == 4
    assert {t.arch for t in history.trials} == set(toy.enumerate())
    assert sum(objective.calls.values()) == 4
    assert history.trials[0].cost == {"params": 3 * history.trials[0].arch["width"],
                                      "flops": 2 * history.trials[0].arch["width"]}
