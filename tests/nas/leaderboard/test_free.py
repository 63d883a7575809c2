"""Free rows: `nas rank`'s score files read back as rows of the board."""

import json
import math

import pytest
from scipy.stats import kendalltau

from nas.cli.rank import write_scores
from nas.leaderboard import add_baseline_costs, baseline_rows, free_rows, read_free, render_table, scores_path
from nas.rankers import CostRanker, RecordedRanker
from tests.nas.leaderboard.helpers import CELLS, SPACE


def proxy_scores() -> dict[str, float]:
    """A proxy undefined (-inf) for the first cell, otherwise the cell's index."""
    return {c: (-math.inf if i == 0 else float(i)) for i, c in enumerate(CELLS)}


def write_free(folder, cells=CELLS):
    archs = [SPACE.parse(c) for c in cells]
    rankers = {"counted": CostRanker(SPACE, "params"),  # the cells' params under a name that is no baseline row
               "params": CostRanker(SPACE, "params"),
               "proxy": RecordedRanker.from_scores(proxy_scores(), name="proxy", uses="a made-up proxy",
                                                   seconds_per_child=0.5)}
    write_scores(folder / "scores", rankers, archs)  # what `nas rank ... output_dir=<folder>` writes
    return rankers


def test_free_rows_are_the_rankings_of_nas_ranks_files(tmp_path, oracle):
    truth = {str(a): oracle(a) for a in oracle.architectures()}
    write_free(tmp_path)
    found, stale = read_free(tmp_path, ["counted", "proxy", "params"], list(truth))
    assert stale == [] and list(found) == ["counted", "proxy", "params"]
    rows = {r["name"]: r for r in free_rows(found, truth)}
    assert list(rows) == ["counted (no training)", "proxy (no training)"]  # params is a baseline row
    cells = list(truth)
    counted = [SPACE.params(SPACE.parse(c)) for c in cells]
    row = rows["counted (no training)"]
    assert row["kind"] == "free"
    assert row["kendall_tau"] == (pytest.approx(kendalltau(counted, [truth[c] for c in cells]).statistic), 0.0)
    low, high = row["kendall_ci"]
    assert low <= row["kendall_tau"][0] <= high
    proxy = rows["proxy (no training)"]          # -inf ranks the first cell last: the proxy ranks by index
    assert proxy["kendall_tau"][0] == pytest.approx(kendalltau(range(len(cells)), [truth[c] for c in cells]).statistic)
    assert proxy["seconds_per_child"] == (0.5, 0.0) and proxy["uses"] == "a made-up proxy"
    table = render_table(rows_list := list(rows.values()))
    assert "| proxy (no training) | 1 | free |" in table and "| 0.500 |" in table and len(rows_list) == 2


def test_missing_and_stale_files_are_named_and_a_baselines_file_adds_its_cost(tmp_path, oracle):
    truth = {str(a): oracle(a) for a in oracle.architectures()}
    write_free(tmp_path, CELLS[:-1])             # written for a smaller table: stale now
    found, stale = read_free(tmp_path, ["params", "synflow"], list(truth))
    assert found == {} and stale == ["params", "synflow"]
    write_free(tmp_path)
    path = scores_path(tmp_path, "params")
    record = json.loads(path.read_text())
    record["scoring_seconds"], record["child_evaluations"] = 0.02, 10
    path.write_text(json.dumps(record))
    found, _ = read_free(tmp_path, ["params"], list(truth))
    baselines = baseline_rows(oracle, truth)
    add_baseline_costs(baselines, found)
    params = baselines[0]
    assert params["name"] == "params (no training)" and params["seconds_per_child"] == (pytest.approx(0.002), 0.0)
    assert "seconds_per_child" not in baselines[1]      # no FLOPs file


def test_a_mean_rank_of_free_rankers_is_a_free_combined_row_that_is_never_the_best_free_reference(tmp_path, oracle):
    from nas.leaderboard import best_free
    from nas.rankers import RankAggregation

    truth = {str(a): oracle(a) for a in oracle.architectures()}
    cells = list(truth)
    archs = [SPACE.parse(c) for c in cells]
    perfect = RecordedRanker.from_scores(dict(truth), name="perfect", uses="the truth itself", seconds_per_child=0.1)
    weak = RecordedRanker.from_scores(proxy_scores(), name="weak", uses="a made-up proxy", seconds_per_child=0.2)
    both = RankAggregation([perfect, perfect], name="both")   # ranks exactly as the truth: tau 1
    write_scores(tmp_path / "scores", {"weak": weak, "both": both}, archs)
    found, _ = read_free(tmp_path, ["weak", "both"], cells)
    rows = {r["name"]: r for r in free_rows(found, truth)}
    assert rows["both (no training)"]["kind"] == "free combined"
    assert rows["both (no training)"]["kendall_tau"][0] == pytest.approx(1.0)
    assert rows["weak (no training)"]["kind"] == "free"
    assert best_free(list(rows.values()))["name"] == "weak (no training)"
