"""The free rankers beside the supernet in `nas run`'s report, and the combined ranker that orders its children."""

import doctest

import numpy as np
import pytest
from omegaconf import OmegaConf
from scipy.stats import kendalltau, rankdata

import nas.report_rankers
from nas.data import synthetic
from nas.errors import ConfigError
from nas.rankers import CostRanker
from nas.report_rankers import ReportRankers, leaderboard_tau, ranking_lines, top_table, verdict
from nas.searchers.base import Trial
from search_spaces.nb201 import NB201SearchSpace

SPACE = NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
CELLS = list(dict.fromkeys(SPACE.sample(np.random.default_rng(i)) for i in range(12)))


def test_measure_reports_every_free_ranker_and_the_hand_computed_mean_rank():
    rng = np.random.default_rng(0)
    truth = [float(SPACE.effective_cost(c)["params"]) / 100 + float(rng.normal()) for c in CELLS]
    supernet = [float(t + rng.normal(scale=2)) for t in truth]
    params, effective = CostRanker(SPACE, "params"), CostRanker(SPACE, "params", effective=True)
    rankers = ReportRankers({"params": params, "effective_params": effective}, combined=["effective_params"])
    reports = rankers.measure(supernet, CELLS, truth)
    assert list(reports) == ["params", "effective_params", "supernet + effective_params (mean rank)"]
    assert reports["params"]["kendall_tau"] == pytest.approx(kendalltau(params.score(CELLS), truth).statistic)
    combined = (rankdata(supernet) + rankdata(effective.score(CELLS))) / 2
    report = reports["supernet + effective_params (mean rank)"]
    assert report["kind"] == "combined"
    assert report["kendall_tau"] == pytest.approx(kendalltau(combined, truth).statistic)
    assert report["seconds_per_child"] == pytest.approx(effective.seconds_per_child)
    low, high = report["kendall_interval"]
    assert low <= report["kendall_tau"] <= high
    lines = ranking_lines({**reports["params"], "kind": "supernet"}, reports)
    assert len(lines) == 4 and "supernet + effective_params (mean rank)  tau" in lines[-1] and "s/child" in lines[-1]


def test_the_combined_ranker_orders_the_searched_children_by_their_mean_rank():
    trials = [Trial(i, c, float(s), SPACE.cost(c)) for i, (c, s) in enumerate(zip(CELLS, np.linspace(90, 60, 12)))]
    effective = CostRanker(SPACE, "params", effective=True)
    ordered = ReportRankers({"effective_params": effective}, combined=["effective_params"]).order(trials)
    mean = (rankdata([t.score for t in trials]) + rankdata(effective.score(CELLS))) / 2
    assert [score for _, score in ordered] == sorted(mean.tolist(), reverse=True)
    assert {t.number for t, _ in ordered} == set(range(12))
    assert top_table(ordered, 3).splitlines()[0].split()[:3] == ["rank", "architecture", "mean"]
    assert ReportRankers({"effective_params": effective}).order(trials) == []   # no combination: no reordering


def test_the_combined_order_is_kept_in_the_run_folder_and_shows_latency_when_every_child_has_it(tmp_path):
    from nas.run_folder import RunFolder

    trials = [Trial(i, c, float(s), {**SPACE.cost(c), "latency_ms": 0.25 + i / 100})
              for i, (c, s) in enumerate(zip(CELLS, np.linspace(90, 60, 12)))]
    ordered = ReportRankers({"params": CostRanker(SPACE, "params", effective=True)}, combined=["params"]).order(trials)
    table = top_table(ordered, 2).splitlines()
    assert table[0].split()[-1] == "ms" and table[1].split()[-1] == f"{ordered[0][0].cost['latency_ms']:.3f}"
    folder = RunFolder(tmp_path)
    folder.write_combined_ranking("supernet + params (mean rank)", ordered)
    name, rows = folder.read_combined_ranking()
    assert name == "supernet + params (mean rank)" and [r.rank for r in rows] == list(range(1, 13))
    assert [r.arch for r in rows] == [str(t.arch) for t, _ in ordered]
    assert [r.score for r in rows] == [round(t.score, 4) for t, _ in ordered]  # the supernet's accuracy
    folder.write_combined_ranking(None, [])  # a rerun without a combination leaves no stale order behind
    assert folder.read_combined_ranking() is None


def test_rankers_come_from_conf_ranker_and_need_images_only_when_they_are_given():
    cfg = OmegaConf.create({"seed": 0, "report": {"free_rankers": ["params", "synflow"], "combined": ["synflow"],
                                                  "bootstrap": {"resamples": 50, "confidence": 0.9}}})
    with_images = ReportRankers.from_config(cfg, SPACE, synthetic().train)
    assert list(with_images.free) == ["params", "synflow"] and with_images.combined == ["synflow"]
    assert with_images.bootstrap.resamples == 50
    without = ReportRankers.from_config(cfg, SPACE)                 # `nas search`: no training images at hand
    assert list(without.free) == ["params"] and without.combined == []
    cfg.report.free_rankers = ["params", "no_such_ranker"]
    with pytest.raises(ConfigError, match=r"unknown ranker\(s\) \['no_such_ranker'\]: choose names of conf/ranker/"):
        ReportRankers.from_config(cfg, SPACE)
    with pytest.raises(ConfigError, match="report.combined names"):
        ReportRankers({"params": CostRanker(SPACE, "params")}, combined=["synflow"])


def test_the_verdict_says_whether_the_supernet_beats_the_free_rankers_and_what_the_leaderboard_reaches(tmp_path):
    path = tmp_path / "board.csv"
    path.write_text("name,kind,kendall_tau_mean,kendall_tau_std\nspos,supernet,0.613892,0.0109365\n")
    assert leaderboard_tau(str(path), "spos") == (0.613892, 0.0109365)
    assert leaderboard_tau(str(path), "gm2") is None and leaderboard_tau(str(tmp_path / "none.csv"), "spos") is None
    free = {"params": {"kind": "free", "kendall_tau": 0.635},
            "effective_params": {"kind": "free", "kendall_tau": 0.761},
            "supernet + synflow (mean rank)": {"kind": "combined", "kendall_tau": 0.9}}
    assert verdict({"kendall_tau": 0.556}, free, leaderboard_tau(str(path), "spos")) == (
        "The supernet (tau 0.556) does not beat the best free ranker, effective_params (tau 0.761); preset=full "
        "reaches 0.614 ± 0.011 on the leaderboard (row spos).")
    assert verdict({"kendall_tau": 0.556}, free).endswith("(tau 0.761).")       # no leaderboard: nothing more
    assert verdict({"kendall_tau": 0.8}, free) == \
        "The supernet (tau 0.800) beats every free ranker (best: effective_params, tau 0.761)."
    assert verdict({"kendall_tau": 0.8}, {}) is None


def test_doctests():
    assert doctest.testmod(nas.report_rankers).failed == 0
