"""The search board's library: ground truth by architecture or class, the build order, runs and their archive,
the rows over seeds and the section's place in the board file."""

from __future__ import annotations

import doctest
import importlib
import json

import pytest

from nas.benchmarks import TableOracle
from nas.benchmarks.records import write_records
from nas.errors import ConfigError, RunFolderError
from nas.run_folder import AnytimePoint, FoundArchitecture, RunFolder, Summary
from nas.searchboard import (
    END,
    START,
    GroundTruth,
    SearchRun,
    aggregate,
    archive_search_run,
    build_order,
    read_archived_search_run,
    read_search_run,
    render_section,
    splice,
)
from nas.searchers.base import Trial
from search_spaces.nb201 import NB201SearchSpace

SPACE = NB201SearchSpace(C=8, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
A = "|none~0|+|nor_conv_3x3~0|skip_connect~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_3x3~2|"
A_SAME = "|none~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_3x3~2|"
B = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
C = "|skip_connect~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|skip_connect~0|none~1|nor_conv_1x1~2|"


def records(path, accuracies: dict[str, float], recipe: str = "r1"):
    write_records(path, [{"arch": a, "seed": s, "accuracy": acc + s, "params": 1, "flops": 1, "seconds": 1.0,
                          "recipe": recipe} for a, acc in accuracies.items() for s in (0, 1)])
    return TableOracle(path, SPACE)


def test_truth_by_architecture_by_equivalent_cell_and_from_the_extra_table(tmp_path):
    table = records(tmp_path / "t.jsonl", {A: 80.0, B: 85.0})
    truth = GroundTruth(SPACE, table, records(tmp_path / "x.jsonl", {C: 70.0, A_SAME: 10.0}))
    assert truth.lookup(B).accuracy == 85.5 and truth.lookup(B).source == "table"
    same = truth.lookup(A_SAME)
    assert (same.accuracy, same.cell) == (10.5, A_SAME) and same.source == "trained"  # its own record first
    assert GroundTruth(SPACE, table).lookup(A_SAME).cell == A  # else the equivalent cell's
    assert truth.lookup(C).source == "trained" and truth.best() == 85.5 and len(truth) == 2
    assert GroundTruth(SPACE, table).missing([C, A_SAME, B, C]) == [SPACE.parse(C)]
    with pytest.raises(ConfigError, match="trained by recipe r2 and the board's table by r1"):
        GroundTruth(SPACE, table, records(tmp_path / "y.jsonl", {C: 70.0}, recipe="r2"))


def test_build_order_found_first_then_the_classes_covering_most_curve_points():
    assert build_order(SPACE, [B], [[C, A, A_SAME, B], [A]], None) == [B, A, C]  # A, A_SAME: one class, 3 points
    assert build_order(SPACE, [B], [[C, A, A_SAME, B], [C]], None) == [B, C, A]  # a tie: the first seen first
    assert build_order(SPACE, [B, A_SAME], [[C]], 0) == [B, A_SAME]  # found ones are never capped


def gradient_folder(path) -> RunFolder:
    folder = RunFolder(path)
    folder.write_summary(Summary(train_seconds=100.0, train_steps=8))
    folder.write_found_architecture(FoundArchitecture("Bilevel", B, None, None, 40.0, 1, 1, 100.0, 8,
                                                      {"rss": 900.0}))
    return folder


def test_a_run_read_from_its_folder_and_its_archive(tmp_path):
    folder = gradient_folder(tmp_path / "g")
    run = read_search_run(folder.path, "darts", 1, ["method=darts"])
    assert (run.kind, run.arch, run.cost_seconds, run.peak_mib, run.anytime) == ("gradient", B, 100.0, 900.0, [])
    folder.write_anytime([AnytimePoint(1, 4, 50.0, C, {"rss": 700.0}), AnytimePoint(2, 8, 100.0, B, {"rss": 710.0},
                                                                                     True)])
    run = read_search_run(folder.path, "darts", 1, ["method=darts"])
    assert run.anytime == [(1, C), (2, B)] and run.peak_mib == 710.0  # the training's peak, from the record
    archive_search_run(run, tmp_path / "archive" / "seed1.json")
    assert read_archived_search_run(tmp_path / "archive" / "seed1.json") == run

    searcher = RunFolder(tmp_path / "s")
    searcher.write_summary(Summary(train_seconds=60.0, search_seconds=6.0))
    searcher.write_ranking([Trial(0, SPACE.parse(C), 50.0), Trial(1, SPACE.parse(A), 70.0)], "supernet_accuracy")
    run = read_search_run(searcher.path, "rs_ws", 0, [])
    assert (run.kind, run.arch, run.cost_seconds, run.peak_mib) == ("searcher", A, 66.0, None)  # the supernet's top-1

    bare = RunFolder(tmp_path / "bare")
    bare.write_summary(Summary())
    with pytest.raises(RunFolderError, match="not a search run"):
        read_search_run(bare.path, "x", 0, [])
    (tmp_path / "broken.json").write_text(json.dumps({"row": "x"}))
    with pytest.raises(RunFolderError, match="is unreadable"):
        read_archived_search_run(tmp_path / "broken.json")


def test_a_row_over_seeds_and_its_section(tmp_path):
    truth = GroundTruth(SPACE, records(tmp_path / "t.jsonl", {A: 80.0, B: 85.0}))
    runs = [SearchRun("darts", 0, "gradient", B, 600.0, 0.0, {"rss": 900.0}),
            SearchRun("darts", 1, "gradient", A_SAME, 1200.0, 0.0, {"rss": 1100.0}),
            SearchRun("darts", 2, "gradient", C, 900.0, 0.0, {})]
    row = aggregate("darts", runs, truth, "nas run -m method=darts seed=0,1,2")
    assert row["truth_mean"] == pytest.approx(83.0) and row["truth_std"] == pytest.approx(3.5355, abs=1e-4)
    assert (row["truth_best"], row["truth_known"], row["cost_minutes_mean"]) == (85.5, "2/3", 15.0)
    assert row["peak_memory_mib_mean"] == 1000.0
    text = render_section("Search results", [row], truth, command="nas searchboard", runs_dir="runs/sb",
                          assets_dir="sb", assets_link="", notes=[], pending=["gdas"], pending_truth=1,
                          findings=None, plot=False)
    assert text.startswith(START + "\n# Search results\n") and text.endswith(END + "\n")
    assert "| darts | gradient | 3 | 83.00 ± 3.54 (2/3 seeds) | 85.50 | 15.0 ± 5.0 | 1000 |" in text
    assert "(80.50≡)" in text and "(truth pending)" in text and "`gdas`" in text
    assert "The table's best cell: 85.50 of its 2 cells" in text and "DARTS 54.30" in text


def test_splice_replaces_the_section_between_its_markers(tmp_path):
    board = tmp_path / "LEADERBOARD.md"
    splice(board, f"{START}\nfirst\n{END}\n")
    assert board.read_text() == f"{START}\nfirst\n{END}\n"
    board.write_text(f"# Board\n\n{START}\nold\n{END}\n\n## After\n")
    splice(board, f"{START}\nnew\n{END}\n")
    assert board.read_text() == f"# Board\n\n{START}\nnew\n{END}\n\n## After\n"


@pytest.mark.parametrize("name", ["nas.searchboard.runs", "nas.searchboard.truth", "nas.searchboard.table"])
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0
