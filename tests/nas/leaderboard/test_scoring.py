"""A row's numbers: metrics over seeds, the no-training baselines, the FLOPs-limited pick, archived runs."""

import json
import math
from pathlib import Path

import torch

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
    costs,
    read_archived_run,
    read_run,
    render_table,
    run_report,
    seed_ensemble_row,
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
    assert math.isnan(back.state_mib) and math.isnan(back.peak_memory_mib)   # not recorded: not written, NaN back
    assert "state_mib" not in json.loads((tmp_path / "a" / "seed2.json").read_text())
    measured = RunScores(0, tmp_path, {CELLS[0]: 1.0}, 60.0, 2.0, 7, state_mib=1.25, peak_memory_mib=812.5)
    archive_run(measured, "mos", [], 30.0, tmp_path / "m" / "seed0.json")
    back, _, _ = read_archived_run(tmp_path / "m" / "seed0.json")
    assert (back.state_mib, back.peak_memory_mib) == (1.25, 812.5)
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


def test_memory_costs_come_from_the_checkpoint_and_the_summary(tmp_path, oracle):
    """state: the MiB of the final checkpoint's distinct tensor storages; peak: the summary's training peak."""
    truth = {str(a): oracle(a) for a in oracle.architectures()}
    folders = []
    for seed, (rss, width) in enumerate([(900.0, 1024), (700.0, 3072)]):
        folder = fake_run(tmp_path / f"s{seed}", {c: truth[c] for c in CELLS}, 60.0)
        summary = json.loads((folder / "summary.json").read_text())
        (folder / "summary.json").write_text(json.dumps({**summary, "peak_memory_mib": {"rss": rss}}))
        weight = torch.zeros(width, 256)                        # width MiB / 4 of float32 ...
        (folder / "checkpoints").mkdir()
        torch.save({"supernet": {"w": weight, "tied": weight}, "optimizer": {"m": torch.zeros(512, 256)},
                    "step": 3}, folder / "checkpoints" / "last.pt")   # ... counted once though saved twice
        folders.append(folder)
    runs = [read_run(f, s) for s, f in enumerate(folders)]
    assert [r.state_mib for r in runs] == [1.5, 3.5] and [r.peak_memory_mib for r in runs] == [900.0, 700.0]
    result = aggregate(Row("m", "cmd", runs), truth)
    assert result["state_mib"] == (2.5, pytest.approx(math.sqrt(2))) and result["peak_memory_mib"][0] == 800.0
    assert costs(runs) == {k: result[k] for k in costs(runs)}
    ensemble = seed_ensemble_row(Row("m", "cmd", runs), truth)
    assert ensemble["state_mib"] == (5.0, 0.0) and ensemble["peak_memory_mib"] == (900.0, 0.0)
    header, _, line = render_table([result]).splitlines()
    assert "| train (min) | state (MiB) | peak memory (MiB) |" in header
    assert "| 1.0 | 2.50 ± 1.41 | 800 ± 141 | 4 | 110 |" in line
    assert all(math.isnan(baseline_rows(oracle, truth)[0][k][0]) for k in ("state_mib", "peak_memory_mib"))
    runs[1].peak_memory_mib = math.nan                          # a seed without a record: the peak is unknown
    assert math.isnan(seed_ensemble_row(Row("m", "cmd", runs), truth)["peak_memory_mib"][0])
    (folders[0] / "checkpoints" / "last.pt").unlink()          # a scoring-only folder: no checkpoint, no state
    assert math.isnan(read_run(folders[0], 0).state_mib)


def test_with_four_or_more_seeds_a_second_ceiling_ranks_half_the_seeds_by_the_other_half(tmp_path):
    """Seeds 0-2 against 3-5 by their means (hand-computed with scipy), beside seed 0 against seed 1."""
    from nas.benchmarks import TableOracle, write_records

    rng = __import__("numpy").random.default_rng(0)
    acc = {c: [50.0 + 3 * i + float(rng.normal(scale=4)) for _ in range(6)] for i, c in enumerate(CELLS)}
    write_records(tmp_path / "gt.jsonl", [
        {"arch": c, "seed": s, "accuracy": acc[c][s], "params": SPACE.params(SPACE.parse(c)),
         "flops": SPACE.flops(SPACE.parse(c)), "seconds": 1.0, "recipe": "r"} for c in CELLS for s in range(6)])
    oracle = TableOracle(tmp_path / "gt.jsonl", SPACE)
    truth = {c: oracle(SPACE.parse(c)) for c in CELLS}
    rows = baseline_rows(oracle, truth)
    assert [r["name"] for r in rows] == ["params (no training)", "flops (no training)",
                                         "ground truth seed0 vs seed1 (ceiling)",
                                         "ground truth mean of seeds 0–2 vs 3–5 (ceiling)"]
    first = [sum(acc[c][:3]) / 3 for c in CELLS]
    second = [sum(acc[c][3:]) / 3 for c in CELLS]
    assert rows[3]["kendall_tau"][0] == pytest.approx(kendalltau(first, second).statistic)
    assert rows[2]["kendall_tau"][0] == pytest.approx(kendalltau([acc[c][0] for c in CELLS],
                                                                 [acc[c][1] for c in CELLS]).statistic)
    assert rows[3]["kind"] == "ceiling" and math.isnan(rows[3]["state_mib"][0])
