"""A row's numbers: metrics over seeds, the no-training baselines, the FLOPs-limited pick, archived runs."""

import math
from pathlib import Path

import pytest
from scipy.stats import kendalltau, spearmanr

from nas.errors import ConfigError
from nas.leaderboard import (
    LIMITED,
    Row,
    RunScores,
    aggregate,
    archive_run,
    baseline_rows,
    read_archived_run,
    read_run,
    render_table,
    run_report,
)
from tests.nas.leaderboard.helpers import CELLS, SPACE, TRUTH_SEEDS, fake_run


def test_aggregate_gives_mean_and_std_of_hand_computed_taus(tmp_path, oracle):
    truth = {str(a): oracle(a) for a in oracle.architectures()}
    perfect = {c: truth[c] for c in CELLS}                      # tau 1
    reversed_ = {c: -truth[c] for c in CELLS}                   # tau -1
    row = Row("m", "nas run -m experiment=m seed=0,1", [
        read_run(fake_run(tmp_path / "s0", perfect, 60.0), 0),
        read_run(fake_run(tmp_path / "s1", reversed_, 180.0), 1),
    ])
    result = aggregate(row, truth)
    assert result["kendall_tau"] == (0.0, pytest.approx(math.sqrt(2)))
    assert result["train_minutes"] == (2.0, pytest.approx(math.sqrt(2)))
    assert result["child_evaluations"] == (110.0, 0.0)
    best = max(truth.values())
    worst = min(truth.values())
    assert result["best_predicted_truth"][0] == pytest.approx((best + worst) / 2)
    table = render_table([result])
    assert "| m | 2 | supernet | 0.000 ± 1.414 | [" in table and "`nas run -m experiment=m seed=0,1`" in table


def test_baselines_and_ceiling_equal_scipy(oracle):
    truth = {str(a): oracle(a) for a in oracle.architectures()}
    params, flops, ceiling = baseline_rows(oracle, truth)
    cells = list(truth)
    expected = kendalltau([SPACE.params(SPACE.parse(c)) for c in cells], [truth[c] for c in cells]).statistic
    assert params["kendall_tau"][0] == pytest.approx(expected)
    assert flops["name"].startswith("flops")
    first, second = [TRUTH_SEEDS[c][0] for c in cells], [TRUTH_SEEDS[c][1] for c in cells]
    assert ceiling["kendall_tau"][0] == pytest.approx(kendalltau(first, second).statistic)
    assert ceiling["spearman_rho"][0] == pytest.approx(spearmanr(first, second).statistic)


def test_unscored_cells_and_unfinished_runs_are_clear_errors(tmp_path, oracle):
    truth = {str(a): oracle(a) for a in oracle.architectures()}
    run = read_run(fake_run(tmp_path / "s0", {CELLS[0]: 1.0}, 1.0), 0)
    with pytest.raises(ConfigError, match="no score for 9 ground-truth cells"):
        run_report(run, truth)
    with pytest.raises(ConfigError, match="not a finished `nas run`"):
        read_run(tmp_path / "nothing", 0)


def test_flops_limit_reports_truth_of_best_scored_cell_within_it(oracle):
    truth = {str(a): oracle(a) for a in oracle.architectures()}
    flops = {c: float(SPACE.flops(SPACE.parse(c))) for c in truth}
    limit = sorted(flops.values())[len(flops) // 2]
    feasible = [c for c in truth if flops[c] <= limit]
    scores = {c: -truth[c] for c in truth}                      # ranks every cell backwards
    run = RunScores(0, Path("."), scores)
    report = run_report(run, truth, flops, limit)
    assert report[LIMITED] == min(truth[c] for c in feasible)  # it picks the worst feasible cell
    result = aggregate(Row("m", "cmd", [run]), truth, flops, limit)
    assert result[LIMITED] == (report[LIMITED], 0.0)
    baseline = baseline_rows(oracle, truth, limit)[2]           # the ceiling picks the true best within the limit
    assert baseline[LIMITED][0] == max(truth[c] for c in feasible)
    header = render_table([result], limit).splitlines()[0]
    assert f"truth of predicted best ≤ {limit / 1e6:g} MFLOPs" in header
    with pytest.raises(ConfigError, match="no ground-truth cell has at most 0 FLOPs"):
        run_report(run, truth, flops, 0)


def test_archived_run_round_trips_and_bad_archives_are_clear_errors(tmp_path):
    run = RunScores(2, tmp_path, {CELLS[0]: 71.5, CELLS[1]: 12.25}, 300.0, 40.0, 299)
    archive_run(run, "spos@5ep", ["experiment=spos", "trainer.epochs=5"], 5.0, tmp_path / "a" / "seed2.json")
    back, overrides, epochs = read_archived_run(tmp_path / "a" / "seed2.json")
    assert (back.seed, back.scores, back.train_seconds, back.scoring_seconds, back.child_evaluations) == \
        (2, run.scores, 300.0, 40.0, 299)
    assert overrides == ["experiment=spos", "trainer.epochs=5"] and epochs == 5.0
    (tmp_path / "bad.json").write_text('{"row": "spos", "seed": 0}')
    with pytest.raises(ConfigError, match="bad.json is unreadable .*missing keys"):
        read_archived_run(tmp_path / "bad.json")
    (tmp_path / "cut.json").write_text('{"row": "sp')
    with pytest.raises(ConfigError, match="cut.json is unreadable"):
        read_archived_run(tmp_path / "cut.json")


@pytest.mark.parametrize("name", ["nas.leaderboard.runs", "nas.leaderboard.scoring", "nas.leaderboard.compare",
                                  "nas.cli.leaderboard"])
def test_doctests(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0, name
