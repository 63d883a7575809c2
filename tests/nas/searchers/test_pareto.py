"""pareto_front and write_pareto_front: the non-dominated trials, written as CSV, JSON and PNG."""

from __future__ import annotations

import csv
import json

import numpy as np

from nas.architecture import Architecture
from nas.searchers import Trial, pareto_front, write_pareto_front


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


def test_written_files(tmp_path):
    trials = trials_from([(90, 10), (80, 5), (85, 20), (95, 30)])
    paths = write_pareto_front(trials, tmp_path, "params", score_name="accuracy")
    rows = json.loads(paths["json"].read_text())
    assert [r["trial"] for r in rows] == [1, 0, 3]
    assert rows[0] == {"arch": "i=1", "accuracy": 80.0, "params": 5, "flops": 10, "trial": 1}
    with paths["csv"].open(newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [r["arch"] for r in table] == ["i=1", "i=0", "i=3"]
    assert list(table[0]) == ["arch", "accuracy", "params", "flops", "trial"]
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
