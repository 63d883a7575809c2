"""evaluate(): metrics on a hand example, rankers that cannot score a child, and the tables."""

from __future__ import annotations

import json

import pytest
from scipy.stats import kendalltau, spearmanr

from nas.architecture import Architecture
from nas.errors import ConfigError
from nas.rankers import CalibratedRanker, PointwiseRanker, evaluate, markdown_table, text_table

from tests.nas.rankers.helpers import Key

ARCHS = [Architecture({"x": x, "i": i}) for i, x in enumerate([3, 1, 4, 1, 5, 9, 2, 6, 5, 3])]
TRUTH = [70.0, 61.0, 72.0, 65.0, 80.0, 79.0, 66.0, 81.0, 75.0, 68.0]


def test_metrics_equal_scipy_and_the_best_is_the_top_scored_cell():
    row = evaluate(Key("x"), ARCHS, TRUTH, resamples=200, seed=0)
    scores = [a["x"] for a in ARCHS]
    assert row.kendall_tau == pytest.approx(kendalltau(scores, TRUTH).statistic)
    assert row.spearman_rho == pytest.approx(spearmanr(scores, TRUTH).statistic)
    assert row.best_predicted_truth == 79.0  # x = 9
    assert row.kendall_interval[0] <= row.kendall_tau <= row.kendall_interval[1]
    assert row.cells == 10 and row.seconds_per_child >= 0


class Partial(PointwiseRanker):
    """Cannot score children with x == 1 (nan), scores the rest by x."""

    def score_one(self, arch):
        return float("nan") if arch["x"] == 1 else float(arch["x"])


def test_children_a_ranker_cannot_score_rank_last():
    row = evaluate(Partial("partial"), ARCHS, TRUTH, resamples=50)
    lowest = [a["x"] if a["x"] != 1 else -100 for a in ARCHS]
    assert row.kendall_tau == pytest.approx(kendalltau(lowest, TRUTH).statistic)


def test_rankers_needing_ground_truth_go_through_held_out_evaluation():
    with pytest.raises(ConfigError, match="evaluate_held_out"):
        evaluate(CalibratedRanker([Key("x")]), ARCHS, TRUTH)


def test_tables_show_interval_cost_and_what_is_used():
    row = evaluate(Key("x"), ARCHS, TRUTH, resamples=50)
    md = markdown_table([row])
    assert md.splitlines()[0].startswith("| ranker | Kendall tau [95% CI] |")
    assert f"| x | {row.kendall_tau:.3f} [{row.kendall_interval[0]:.3f}, {row.kendall_interval[1]:.3f}] |" in md
    assert md.rstrip().endswith("| decision x |")
    assert text_table([row]).splitlines()[1].startswith("x ")
    assert json.loads(json.dumps(row.to_dict()))["name"] == "x"
