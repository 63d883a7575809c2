"""pareto_front: the non-dominated trials (written by the run folder: tests/nas/test_run_folder.py)."""

from __future__ import annotations

import numpy as np

from nas.architecture import Architecture
from nas.searchers import Trial, pareto_front


def trials_from(points):
    return [Trial(i, Architecture({"i": i}), float(s), {"params": int(p), "flops": int(2 * p)})
            for i, (s, p) in enumerate(points)]


def dominated(trial, others, cost):
    return any(o.score >= trial.score and o.cost[cost] <= trial.cost[cost]
               and (o.score > trial.score or o.cost[cost] < trial.cost[cost]) for o in others)


def test_front_is_exactly_the_non_dominated_trials():
    rng = np.random.default_rng(0)
    trials = trials_from(zip(rng.integers(0, 50, 300), rng.integers(0, 50, 300)))
    front = pareto_front(trials, "params")
    expected = {t.number for t in trials if not dominated(t, trials, "params")}
    # among exact duplicates (same score and cost) the front keeps one: the first told
    unique = {(t.score, t.cost["params"]): t.number for t in reversed(trials) if t.number in expected}
    assert {t.number for t in front} == set(unique.values())
    costs = [t.cost["params"] for t in front]
    scores = [t.score for t in front]
    assert costs == sorted(costs) and scores == sorted(scores) and len(set(scores)) == len(scores)


def test_front_by_flops():
    trials = trials_from([(90, 10), (80, 5), (85, 20), (95, 30)])
    assert [t.number for t in pareto_front(trials, "flops")] == [1, 0, 3]

