"""Searcher base: constraints in ask and tell, exhaustion, atomic state saving, refused state of another searcher."""

from __future__ import annotations

import pytest

from nas.checkpoint import load_checkpoint
from nas.errors import CheckpointError, ConfigError, InvalidArchitectureError
from nas.searchers import Constraints, RandomSearch, RegularizedEvolution, SearchExhausted
from tests.nas.searchers.helpers import CountingObjective, Grid


def test_constraints_are_checked_when_the_searcher_is_built():
    with pytest.raises(ConfigError, match="no architecture of search space 'grid'"):
        RandomSearch(Grid(3, 3), constraints={"max_params": 50})


def test_random_search_proposes_only_feasible_new_architectures_until_exhausted():
    space = Grid(4, 4, 4)
    limits = Constraints(max_params=150)  # params = 100 + 10 a + 20 b + 30 c
    feasible = {a for a in space.enumerate() if limits.satisfied(space.cost(a))}
    assert 3 < len(feasible) < space.size
    objective = CountingObjective(lambda arch: float(arch["d0"]))
    history = RandomSearch(space, seed=0, constraints=limits).search(objective, budget=space.size)
    assert {t.arch for t in history.trials} == feasible  # every feasible one, nothing else
    assert objective.total == len(feasible)


def test_ask_raises_search_exhausted_when_nothing_is_left():
    space = Grid(2)
    searcher = RandomSearch(space, seed=0)
    for _ in range(2):
        searcher.tell(searcher.ask(), 1.0)
    with pytest.raises(SearchExhausted, match="all 2 feasible architectures"):
        searcher.ask()


def test_telling_an_infeasible_architecture_is_refused():
    space = Grid(4, 4)
    searcher = RandomSearch(space, constraints={"max_params": 120})
    heavy = space.make({"d0": 3, "d1": 3})
    with pytest.raises(InvalidArchitectureError, match=r"violates the searcher's constraints \(params 190 > "
                                                       r"max_params 120\)"):
        searcher.tell(heavy, 1.0)
    assert len(searcher.history) == 0


def test_telling_an_architecture_again_keeps_its_first_trial():
    space = Grid(4, 4)
    searcher = RandomSearch(space)
    arch = searcher.ask()
    first = searcher.tell(arch, 1.0)
    assert searcher.tell(arch, 5.0) is first
    assert len(searcher.history) == 1 and searcher.cached_score(arch) == 1.0


def test_search_saves_its_state_at_a_cost_linear_in_the_budget(tmp_path, monkeypatch):
    space = Grid(10, 10, 10)
    path = tmp_path / "state" / "searcher.pt"
    saved_lengths, lags = [], []
    searcher = RandomSearch(space, seed=1)
    save = searcher.save
    monkeypatch.setattr(searcher, "save", lambda p: (saved_lengths.append(len(searcher.history)), save(p)))
    searcher.search(CountingObjective(lambda a: float(a["d1"])), budget=400, state_path=path,
                    progress=lambda trial: lags.append(trial.number + 1 - len(load_checkpoint(path)["history"])))
    assert saved_lengths[:9] == [1, 2, 3, 4, 5, 6, 7, 8, 9]  # the first children are saved one by one
    assert saved_lengths[-1] == 400 and len(load_checkpoint(path)["history"]) == 400  # and the last
    assert sum(saved_lengths) <= 10 * 400  # every child written ~9 times in all, not 200 times
    assert len(saved_lengths) < 60
    assert all(lag <= max(0, (n + 1 - lag) // 8) for n, lag in enumerate(lags))  # at most 1/8 unsaved
    assert not [p for p in path.parent.iterdir() if p.name != "searcher.pt"]  # no temporary files left
    resumed = RandomSearch(space, seed=1)
    resumed.load(path)
    assert [t.arch for t in resumed.history.trials] == [t.arch for t in searcher.history.trials]


class Killed(Exception):
    """Stands for a kill in the middle of scoring a child."""


@pytest.mark.parametrize("make", [lambda space: RandomSearch(space, seed=4),
                                  lambda space: RegularizedEvolution(space, seed=4, population_size=8)])
def test_a_search_killed_between_two_saves_resumes_to_the_same_history(tmp_path, make):
    space = Grid(10, 10, 10)
    straight = make(space).search(CountingObjective(), budget=300)

    def dies_at_child_170(arch):
        if objective.total == 170:
            raise Killed
        return objective(arch)

    objective = CountingObjective()
    with pytest.raises(Killed):
        make(space).search(dies_at_child_170, budget=300, state_path=tmp_path / "s.pt")
    saved = len(load_checkpoint(tmp_path / "s.pt")["history"])
    assert 140 <= saved < 170  # the last save lags the kill: these children are scored again
    resumed = make(space)
    resumed.load(tmp_path / "s.pt")
    again = CountingObjective()
    history = resumed.search(again, budget=300, state_path=tmp_path / "s.pt")
    assert again.total == 300 - saved
    assert [(t.arch, t.score) for t in history.trials] == [(t.arch, t.score) for t in straight.trials]


def test_state_of_another_searcher_or_other_constraints_is_refused():
    space = Grid(4, 4)
    random_state = RandomSearch(space).state_dict()
    with pytest.raises(CheckpointError, match="a RandomSearch's, not a RegularizedEvolution's"):
        RegularizedEvolution(space).load_state_dict(random_state)
    with pytest.raises(CheckpointError, match=r"under constraints \{\}, this searcher has \{'max_params': 150\}"):
        RandomSearch(space, constraints={"max_params": 150}).load_state_dict(random_state)
