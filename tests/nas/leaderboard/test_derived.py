"""Rows derived from a trained row without training: seed ensemble, mean rank with free rankers, calibrated rows;
and the p-value columns that compare rows."""

import math
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import kendalltau, rankdata, ttest_1samp, ttest_ind

from nas.leaderboard import (
    CHOSEN_ON_TRUTH,
    Row,
    RunScores,
    add_p_values,
    aggregate,
    best_free,
    calibrated_rows,
    mean_rank_row,
    render_table,
    seed_ensemble_row,
)
from nas.rankers import CalibratedRanker, RecordedRanker
from tests.nas.leaderboard.helpers import CELLS, SPACE

RNG = np.random.default_rng(0)
TRUTH = {c: 50.0 + 3 * i + float(RNG.normal(scale=4)) for i, c in enumerate(CELLS)}
ARCHS = [SPACE.parse(c) for c in CELLS]


def supernet_row(name: str = "spos", seeds: int = 3, noise: float = 6.0) -> Row:
    rng = np.random.default_rng(len(name))
    runs = [RunScores(s, Path("."), {c: t + float(rng.normal(scale=noise)) for c, t in TRUTH.items()},
                      train_seconds=60.0 * (s + 1), scoring_seconds=5.0, child_evaluations=100) for s in range(seeds)]
    return Row(name, "nas run -m experiment=x seed=0,1,2", runs)


def free_ranker(name: str, seed: int) -> RecordedRanker:
    rng = np.random.default_rng(seed)
    return RecordedRanker.from_scores({c: t + float(rng.normal(scale=5)) for c, t in TRUTH.items()}, name=name,
                                      seconds_per_child=0.1)


def tau(scores, cells=CELLS) -> float:
    return kendalltau([scores[c] for c in cells], [TRUTH[c] for c in cells]).statistic


def test_the_seed_ensemble_ranks_by_the_mean_score_of_the_seeds():
    row = supernet_row()
    result = seed_ensemble_row(row, TRUTH)
    mean = {c: np.mean([run.scores[c] for run in row.runs]) for c in CELLS}
    assert result["name"] == "spos, mean score of 3 seeds" and result["kind"] == "supernet"
    assert result["kendall_tau"] == (pytest.approx(tau(mean)), 0.0) and result["seeds"] == 3
    assert result["train_minutes"] == (pytest.approx(6.0), 0.0)   # 1 + 2 + 3 minutes: every seed's training
    assert result["kendall_ci"][0] <= result["kendall_tau"][0] <= result["kendall_ci"][1]


def test_the_mean_rank_row_is_each_seeds_hand_computed_mean_rank_then_the_mean_over_seeds():
    row, members = supernet_row(), [free_ranker("synflow", 1), free_ranker("naswot", 2)]
    result = mean_rank_row(row, members, ARCHS, TRUTH, chosen_on_truth=True)
    taus = []
    for run in row.runs:
        ranks = [rankdata([scores[c] for c in CELLS]) for scores in (run.scores, members[0].scores, members[1].scores)]
        taus.append(tau(dict(zip(CELLS, np.mean(ranks, axis=0)))))
    assert result["name"] == "spos + synflow + naswot (mean rank)" and result["kind"] == "combined"
    assert result["kendall_tau"] == (pytest.approx(np.mean(taus)), pytest.approx(np.std(taus, ddof=1)))
    assert [s["kendall_tau"] for s in result["per_seed"]] == pytest.approx(taus)
    assert result["seconds_per_child"] == (pytest.approx(0.2), 0.0) and result["marks"] == CHOSEN_ON_TRUTH
    assert result["train_minutes"] == aggregate(row, TRUTH)["train_minutes"]   # the supernet row's training


def test_the_calibrated_rows_fit_only_on_their_k_cells_and_are_measured_on_the_others(monkeypatch):
    calls = []
    fit, score = CalibratedRanker.fit, CalibratedRanker.score

    def spy_fit(self, archs, truth):
        calls.append(("fit", {str(a) for a in archs}, list(truth)))
        return fit(self, archs, truth)

    def spy_score(self, archs):
        calls.append(("score", {str(a) for a in archs}, None))
        return score(self, archs)

    monkeypatch.setattr(CalibratedRanker, "fit", spy_fit)
    monkeypatch.setattr(CalibratedRanker, "score", spy_score)
    row = supernet_row(seeds=2)
    rows = calibrated_rows(row, [free_ranker("synflow", 1)], ARCHS, TRUTH, ks=[3, 5, 9], splits=4)
    assert [r["name"] for r in rows] == ["spos + synflow, calibrated on k=3 cells",
                                         "spos + synflow, calibrated on k=5 cells"]
    assert all(r["kind"] == "uses ground truth" for r in rows)               # k=9 leaves one cell: skipped
    assert len(calls) == 2 * 2 * 4 * 2                                        # 2 ks x 2 seeds x 4 splits: fit, score
    for (kind_fit, fitted, truth), (kind_score, scored, _) in zip(calls[::2], calls[1::2]):
        assert kind_fit == "fit" and kind_score == "score"
        assert not fitted & scored and fitted | scored == set(CELLS)          # held-out cells never in the fit
        assert truth == [TRUTH[c] for c in CELLS if c in fitted]              # and their truth never given to it
    first = rows[0]
    assert first["k"] == 3 and first["splits"] == 4 and len(first["per_seed"]) == 2
    assert first["kendall_ci"][0] <= first["kendall_tau"][0] <= first["kendall_ci"][1]


def test_p_values_compare_with_the_reference_by_welch_and_with_the_best_free_ranker_one_sided():
    spos, fewshot = aggregate(supernet_row("spos"), TRUTH), aggregate(supernet_row("fewshot", noise=3.0), TRUTH)
    ensemble = seed_ensemble_row(supernet_row("spos"), TRUTH)
    free = aggregate(Row("params (no training)", "-", [RunScores(-1, Path("."), dict(TRUTH))], kind="baseline"), TRUTH)
    free["kendall_tau"] = (0.5, 0.0)
    results = [spos, fewshot, ensemble, free]
    best = best_free(results)
    add_p_values(results, "spos", best)
    spos_taus = [s["kendall_tau"] for s in spos["per_seed"]]
    fewshot_taus = [s["kendall_tau"] for s in fewshot["per_seed"]]
    assert best is free and math.isnan(spos["p_vs_reference"]) and math.isnan(free["p_vs_reference"])
    assert fewshot["p_vs_reference"] == pytest.approx(ttest_ind(fewshot_taus, spos_taus, equal_var=False).pvalue)
    assert fewshot["p_above_best_free"] == pytest.approx(ttest_1samp(fewshot_taus, 0.5, alternative="greater").pvalue)
    assert ensemble["p_vs_reference"] == pytest.approx(ttest_1samp(spos_taus, ensemble["kendall_tau"][0]).pvalue)
    assert math.isnan(ensemble["p_above_best_free"])                      # one ranking: its interval says it
    table = render_table(results, reference="spos").splitlines()
    assert table[0].startswith("| method | seeds | kind | Kendall tau | tau 95% CI | p vs spos | p > best free |")
    low, high = fewshot["kendall_ci"]
    assert f"| [{low:.3f}, {high:.3f}] | {fewshot['p_vs_reference']:.3f} |" in table[3]
