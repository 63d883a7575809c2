"""The search board's library: ground truth by architecture or class, the build order, runs and their archive,
the rows over seeds and the section's place in the board file."""

from __future__ import annotations

import doctest
import importlib
import json

import pytest
from omegaconf import OmegaConf

from nas.benchmarks import TableOracle
from nas.benchmarks.records import write_records
from nas.errors import ConfigError, RunFolderError
from nas.run_folder import AnytimePoint, FoundArchitecture, RunFolder, Summary
from nas.searchboard import (
    END,
    START,
    GroundTruth,
    SearchOnly,
    SearchRun,
    aggregate,
    archive_search_run,
    build_order,
    markers,
    read_archived_search_run,
    read_free_search_run,
    read_search_run,
    read_shared_search_run,
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


def test_a_search_only_row_is_checked_against_the_training_rows():
    row = SearchOnly.of("tpe", {"supernet": "spos_re", "overrides": ["searcher=tpe", "+search.budget=100",
                                                                      "evaluator.metric=accuracy"]}, ["spos_re"])
    assert row.command_overrides("runs/sb") == ["train_dir=runs/sb/spos_re/seed${seed}", "searcher=tpe",
                                                "+search.budget=100", "evaluator.metric=accuracy"]
    assert row.recorded_overrides(["train_dir=runs/sb/spos_re/seed$\\{seed\\}", "searcher=tpe"], "runs/sb") == \
        ["train_dir=runs/sb/spos_re/seed${seed}", "searcher=tpe"]
    with pytest.raises(ConfigError, match=r"searches.tpe.supernet=tpe2: .* use one of \['spos_re'\]"):
        SearchOnly.of("tpe", {"supernet": "tpe2", "overrides": []}, ["spos_re"])
    with pytest.raises(ConfigError, match="'spos_re' is also a row of `rows:`"):
        SearchOnly.of("spos_re", {"supernet": "spos_re", "overrides": []}, ["spos_re"])
    for training in ("trainer.epochs=60", "experiment=spos", "path_sampler=pada", "seed=3", "train_dir=x"):
        with pytest.raises(ConfigError, match=f"searches.tpe.overrides: {training} is not a search setting"):
            SearchOnly.of("tpe", {"supernet": "spos_re", "overrides": [training]}, ["spos_re"])
    with pytest.raises(ConfigError, match="searches.tpe.overrides: 'searcher' is not key=value"):
        SearchOnly.of("tpe", {"supernet": "spos_re", "overrides": ["searcher"]}, ["spos_re"])


def test_a_search_only_run_costs_its_supernets_training_plus_its_own_search(tmp_path):
    supernet = SearchRun("spos_re", 1, "searcher", B, 600.0, 20.0, {"rss": 900.0})
    folder = RunFolder(tmp_path / "rs_ws")
    folder.save_config(OmegaConf.create({"train_dir": "runs/spos_re/seed1", "seed": 1}), ["searcher=random"])
    folder.write_summary(Summary(search_seconds=7.0))
    folder.write_ranking([Trial(0, SPACE.parse(C), 50.0), Trial(1, SPACE.parse(A), 70.0)], "supernet_accuracy")
    run = read_shared_search_run(folder.path, supernet, "rs_ws", ["searcher=random"])
    assert (run.row, run.seed, run.kind, run.arch, run.supernet) == ("rs_ws", 1, "searcher", A, "spos_re")
    assert (run.train_seconds, run.search_seconds, run.cost_seconds, run.peak_mib) == (600.0, 7.0, 607.0, 900.0)
    archive_search_run(run, tmp_path / "seed1.json")
    assert read_archived_search_run(tmp_path / "seed1.json") == run
    trained = RunFolder(tmp_path / "trained")  # a `nas run` folder where a search-only row's should be
    trained.save_config(OmegaConf.create({"seed": 1}), [])
    trained.write_summary(Summary(train_seconds=5.0))
    with pytest.raises(RunFolderError, match="is not the folder of a `nas search`"):
        read_shared_search_run(trained.path, supernet, "rs_ws", [])


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
                          findings=None, plot=False, anchors="DARTS 54.30 as reported.")
    assert text.startswith(START + "\n# Search results\n") and text.endswith(END + "\n")
    assert "| darts | gradient | 3 | 83.00 ± 3.54 (2/3 seeds) | 85.50 | 15.0 ± 5.0 | 1000 |" in text
    assert "(80.50≡)" in text and "(truth pending)" in text and "`gdas`" in text
    assert "The table's best cell: 85.50 of its 2 cells" in text and "not the space's optimum). DARTS 54.30" in text
    plain = render_section("Elastic", [row], truth, command="nas searchboard searchboard=elastic_conv",
                           runs_dir="runs/e", assets_dir="e", assets_link="", notes=[], pending=[], pending_truth=0,
                           findings=None, plot=False, marker="search-results-elastic")
    start, end = markers("search-results-elastic")
    assert plain.startswith(start + "\n# Elastic\n") and plain.endswith(end + "\n") and START not in plain
    assert "not the space's optimum).\n" in plain and "DARTS 54.30" not in plain


def test_splice_replaces_the_section_between_its_markers(tmp_path):
    board = tmp_path / "LEADERBOARD.md"
    splice(board, f"{START}\nfirst\n{END}\n")
    assert board.read_text() == f"{START}\nfirst\n{END}\n"
    board.write_text(f"# Board\n\n{START}\nold\n{END}\n\n## After\n")
    splice(board, f"{START}\nnew\n{END}\n")
    assert board.read_text() == f"# Board\n\n{START}\nnew\n{END}\n\n## After\n"


def test_two_boards_share_one_file_under_their_own_markers(tmp_path):
    board = tmp_path / "LEADERBOARD.md"
    board.write_text(f"# Board\n\n{START}\nfmnist v1\n{END}\n")
    start, end = markers("search-results-elastic-conv")
    splice(board, f"{start}\nelastic v1\n{end}\n", marker="search-results-elastic-conv")  # appended
    splice(board, f"{START}\nfmnist v2\n{END}\n")
    splice(board, f"{start}\nelastic v2\n{end}\n", marker="search-results-elastic-conv")
    assert board.read_text() == f"# Board\n\n{START}\nfmnist v2\n{END}\n\n{start}\nelastic v2\n{end}\n"


@pytest.mark.parametrize("name", ["", "a-->b", "x<y", "two\nlines"])
def test_a_marker_name_that_would_break_the_html_comment_is_refused(name):
    with pytest.raises(ValueError, match="marker name"):
        markers(name)


@pytest.mark.parametrize("name", ["nas.searchboard.runs", "nas.searchboard.truth", "nas.searchboard.table",
                                  "nas.searchboard.searches"])
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0


def test_a_free_ranker_row_needs_objective_ranker_and_searches_no_supernet():
    free = SearchOnly.of("params_re", {"supernet": None, "overrides": ["objective=ranker", "free_ranker=params",
                                                                         "searcher=evolution"]}, ["spos_re"])
    assert free.is_free and free.train_dir("runs/sb", 2) is None
    assert free.command_overrides("runs/sb") == ["objective=ranker", "free_ranker=params", "searcher=evolution"]
    assert free.recorded_overrides(["dataset=fmnist201", "objective=ranker"], "runs/sb") == \
        ["dataset=fmnist201", "objective=ranker"]  # no train_dir to restore
    with pytest.raises(ConfigError, match="searches.x: a row without a supernet searches a free ranker: add "
                                          "objective=ranker"):
        SearchOnly.of("x", {"supernet": None, "overrides": ["searcher=evolution"]}, ["spos_re"])
    with pytest.raises(ConfigError, match="searches.x.overrides: objective=ranker does not search spos_re's"):
        SearchOnly.of("x", {"supernet": "spos_re", "overrides": ["objective=ranker"]}, ["spos_re"])
    assert not SearchOnly.of("x", {"supernet": "spos_re", "overrides": ["searcher=tpe"]}, ["spos_re"]).is_free


def test_a_free_ranker_run_costs_its_search_alone(tmp_path):
    folder = RunFolder(tmp_path / "params_re")
    folder.save_config(OmegaConf.create({"train_dir": None, "objective": "ranker", "seed": 2}), ["objective=ranker"])
    folder.write_summary(Summary(search_seconds=0.4, peak_memory_mib={"rss": 580.0}))
    folder.write_ranking([Trial(0, SPACE.parse(C), 900.0), Trial(1, SPACE.parse(B), 6000.0)], "ranker_score")
    run = read_free_search_run(folder.path, "params_re", 2, ["objective=ranker"])
    assert (run.row, run.seed, run.kind, run.arch, run.supernet) == ("params_re", 2, "free", B, None)
    assert (run.train_seconds, run.search_seconds, run.cost_seconds, run.peak_mib) == (0.0, 0.4, 0.4, 580.0)
    searched = RunFolder(tmp_path / "rs_ws")  # a supernet's search where a free-ranker row's should be
    searched.save_config(OmegaConf.create({"train_dir": "runs/spos_re/seed1", "objective": "supernet"}), [])
    searched.write_summary(Summary(search_seconds=5.0))
    with pytest.raises(RunFolderError, match="is not the folder of a `nas search objective=ranker`"):
        read_free_search_run(searched.path, "params_re", 1, [])
