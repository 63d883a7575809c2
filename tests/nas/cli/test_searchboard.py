"""`nas searchboard`: collecting what searches found against a tiny ground-truth table (direct, via an equivalent
cell, and by stand-alone training of what the table lacks), its section in LEADERBOARD.md, its errors, a tiny
end-to-end run that trains its rows, and a search-only row on a training row's supernet."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys

import pytest

from nas.run_folder import AnytimePoint, FoundArchitecture, RunFolder, Summary
from nas.searchboard import END, START, SearchRun, read_archived_search_run, read_shared_search_run
from nas.searchers.base import Trial
from search_spaces.nb201 import NB201SearchSpace

SPACE = NB201SearchSpace(C=8, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")  # synthetic data
A = "|none~0|+|nor_conv_3x3~0|skip_connect~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_3x3~2|"    # node 1 is dead
A_SAME = "|none~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_3x3~2|"  # A, another dead op
B = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
MISSING = "|skip_connect~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|skip_connect~0|none~1|nor_conv_1x1~2|"
RARE = "|avg_pool_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|"
BOARD = ["dataset=synthetic", "recipe=tiny", "benchmark.oracle.records=gt.jsonl", "seeds=[0]", "threads=1",
         "progress=false"]


def nas(*args, cwd, timeout=600):
    return subprocess.run([sys.executable, "-m", "nas", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture
def table(tmp_path):
    """A two-cell ground-truth table (A and B, seeds 0 and 1) of the tiny synthetic recipe, in ``tmp_path``."""
    (tmp_path / "cells.txt").write_text(f"{A}\n{B}\n")
    built = nas("bench", "build", "dataset=synthetic", "recipe=tiny", "archs.file=cells.txt", "output=gt.jsonl",
                "progress=false", cwd=tmp_path)
    assert built.returncode == 0, built.stderr[-2000:]
    return tmp_path


def fake_run(root, row: str, seed: int, overrides: list[str], found: str | None = None,
             anytime: list[str] = (), top: str | None = None) -> None:
    """A finished run folder as `nas run` leaves it: a gradient-based search's (``found``, any-time argmaxes) or a
    searcher's (``top``: its supernet's best child)."""
    folder = RunFolder(root / "runs" / "searchboard" / row / f"seed{seed}")
    folder.hydra_dir.mkdir(parents=True)
    folder.overrides.write_text("".join(f"- {o}\n" for o in [*overrides, f"seed={seed}"]))
    points = [AnytimePoint(e + 1, 4 * (e + 1), 10.0 * (e + 1), a, {"rss": 500.0 + e}, e == len(anytime) - 1)
              for e, a in enumerate(anytime)]
    folder.write_anytime(points)
    if found is not None:
        folder.write_found_architecture(FoundArchitecture("nas.training.Bilevel", found, None, None, 50.0, 1, 2,
                                                          120.0, 16, {"rss": 900.0}))
        folder.write_summary(Summary(train_seconds=120.0, train_steps=16, child_evaluations=1))
    else:
        arch = SPACE.parse(top)
        other = SPACE.parse(B)
        folder.write_ranking([Trial(0, arch, 70.0), Trial(1, other, 60.0)], "supernet_accuracy")
        folder.write_summary(Summary(train_seconds=60.0, train_steps=16, search_seconds=30.0, child_evaluations=2))


def test_the_collector_looks_truth_up_directly_via_an_equivalent_cell_and_trains_what_is_missing(table):
    assert SPACE.canonical(SPACE.parse(A)) == SPACE.canonical(SPACE.parse(A_SAME)) and A != A_SAME
    assert SPACE.canonical(SPACE.parse(MISSING)) not in {SPACE.canonical(SPACE.parse(c)) for c in (A, B)}
    fake_run(table, "darts", 0, ["method=darts"], found=B, anytime=[RARE, MISSING, MISSING, B])
    fake_run(table, "spos_re", 0, ["experiment=spos"], top=A_SAME, anytime=[None, None])
    (table / "results").mkdir()
    (table / "results" / "search_results_findings.md").write_text("# Findings\n\nDARTS found the best cell.\n")
    (table / "LEADERBOARD.md").write_text("# FMNIST-201 leaderboard\n\nthe ranking board\n")
    args = ("searchboard", "mode=collect", *BOARD, "anytime.max_archs=1")
    done = nas(*args, cwd=table)
    assert done.returncode == 0, done.stderr[-3000:]
    # only MISSING is trained: B is in the table, A_SAME computes A's function, RARE is past anytime.max_archs=1
    assert "[ground truth] 1 architecture(s) not in the table: nas bench build dataset=synthetic " \
           "search_space=fmnist201 recipe=tiny" in done.stdout
    extra = [json.loads(line) for line in (table / "leaderboard/search/extra_truth.jsonl").read_text().splitlines()]
    assert sorted((r["arch"], r["seed"]) for r in extra) == [(MISSING, 0), (MISSING, 1)]
    table_records = [json.loads(line) for line in (table / "gt.jsonl").read_text().splitlines()]
    assert {r["recipe"] for r in extra} == {r["recipe"] for r in table_records}  # the table's recipe
    truth = {a: sum(r["accuracy"] for r in table_records + extra if r["arch"] == a) / 2 for a in (A, B, MISSING)}

    runs = {r["row"]: r for r in csv.DictReader((table / "leaderboard/search/search_runs.csv").open())}
    assert runs["darts"]["arch"] == B and float(runs["darts"]["truth"]) == pytest.approx(truth[B], abs=1e-4)
    assert runs["darts"]["truth_source"] == "table" and float(runs["darts"]["peak_memory_mib"]) == 503.0
    assert runs["spos_re"]["arch"] == A_SAME and runs["spos_re"]["truth_cell"] == A  # via the equivalent cell
    assert float(runs["spos_re"]["truth"]) == pytest.approx(truth[A], abs=1e-4)
    assert float(runs["spos_re"]["train_seconds"]) + float(runs["spos_re"]["search_seconds"]) == 90.0
    curve = [(r["epoch"], r["arch"], r["truth"], r["truth_source"])
             for r in csv.DictReader((table / "leaderboard/search/anytime.csv").open())]
    assert curve == [("1", RARE, "", ""), ("2", MISSING, f"{round(truth[MISSING], 4)}", "trained"),
                     ("3", MISSING, f"{round(truth[MISSING], 4)}", "trained"), ("4", B, f"{round(truth[B], 4)}", "table")]
    rows = {r["row"]: r for r in csv.DictReader((table / "leaderboard/search/search_results.csv").open())}
    assert rows["darts"]["command"] == "nas run -m method=darts seed=0" and rows["spos_re"]["kind"] == "searcher"
    assert float(rows["spos_re"]["cost_minutes_mean"]) == 1.5

    section = (table / "leaderboard/search/SEARCH_RESULTS.md").read_text()
    assert section.startswith(START) and section.rstrip().endswith(END)
    assert "DARTS 54.30" in section and "GDAS 93.61 ± 0.09" in section and "RSPS 87.66" in section
    assert "optimum 94.37" in section and "not FMNIST-201's" in section
    assert f"The table's best cell: {max(truth[A], truth[B]):.2f} of its 2 cells" in section
    assert f"({truth[A]:.2f}≡)" in section  # spos_re: the truth of an equivalent cell
    assert "1 any-time architecture(s) beyond `anytime.max_archs=1` have no ground truth" in section  # RARE
    assert "have no ground truth yet" not in section
    assert "## Findings" in section and "DARTS found the best cell." in section
    assert "![any-time curves](anytime.png)" in section
    assert "Rows without a finished run yet" in section and "`darts_2nd`" in section
    assert (table / "leaderboard/search/anytime.png").read_bytes()[:4] == b"\x89PNG"
    board = (table / "LEADERBOARD.md").read_text()
    assert board.startswith("# FMNIST-201 leaderboard\n\nthe ranking board\n\n" + START)
    assert "## Search results (FMNIST-201)" in board and "### Findings" in board  # headings one level down
    assert "![any-time curves](leaderboard/search/anytime.png)" in board         # links rebased onto the board

    # collecting again trains nothing, and rewrites the section in place, once
    (table / "LEADERBOARD.md").write_text(board + "\n## A later section\n")
    again = nas(*args, cwd=table)
    assert again.returncode == 0 and "[ground truth]" not in again.stdout
    board = (table / "LEADERBOARD.md").read_text()
    assert board.count(START) == 1 and board.rstrip().endswith("## A later section")
    # the archive alone gives the same board once the run folders are gone
    shutil.rmtree(table / "runs")
    archived = nas(*args, cwd=table)
    assert archived.returncode == 0, archived.stderr[-2000:]
    assert (table / "leaderboard/search/SEARCH_RESULTS.md").read_text() == section
    # truth.build=false leaves a missing class pending: RARE with a larger cap
    pending = nas(*args[:-1], "anytime.max_archs=2", "truth.build=false", cwd=table)
    assert pending.returncode == 0 and "[ground truth]" not in pending.stdout
    assert "1 found or any-time architecture(s) have no ground truth yet" in pending.stdout


def test_the_ranking_board_keeps_the_sections(tmp_path):
    """`nas leaderboard`'s writer rewrites LEADERBOARD.md from its own parts; each search board's section is one of
    its `extra_sections`, embedded the way `nas searchboard` splices it, and each board has its own marker."""
    from hydra import compose, initialize_config_dir

    from nas.cli.common import CONF_DIR

    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        ranking = compose("leaderboard")
        boards = [compose("searchboard"), compose("searchboard", overrides=["searchboard=elastic_conv"])]
    extra = list(ranking.extra_sections)
    assert [extra.index(b.section) for b in boards] == sorted(extra.index(b.section) for b in boards)
    assert ranking.output_dir == "." and {b.board_file for b in boards} == {"LEADERBOARD.md"}
    assert [b.marker for b in boards] == ["search-results", "search-results-elastic-conv"]
    assert len({b.runs_dir for b in boards}) == len({b.assets_dir for b in boards}) == \
        len({b.truth.output for b in boards}) == 2  # nothing shared between the boards
    assert "DARTS 54.30" in boards[0].anchors and boards[1].anchors is None


def test_the_elastic_boards_rows_run_on_the_elastic_space_and_its_table():
    """Each training row of `searchboard=elastic_conv` spells out its space and table, so its printed `nas run`
    command reproduces it alone; the free-ranker rows get the board's space from the board."""
    from hydra import compose, initialize_config_dir

    from nas.cli.common import CONF_DIR

    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        board = compose("searchboard", overrides=["searchboard=elastic_conv"])
        runs = {name: compose("run", overrides=[*overrides, "seed=0"]) for name, overrides in board.rows.items()}
    assert board.search_space._target_ == "search_spaces.elastic_conv.ElasticConvSearchSpace"
    assert set(runs) == {"tanglenas", "spos_re", "sandwich_re"}
    for name, run in runs.items():
        assert run.search_space._target_ == board.search_space._target_, name
        assert run.benchmark.oracle.records == "elastic_conv_fmnist", name
    assert runs["tanglenas"].trainer.method.require_kind == "entangled" and runs["tanglenas"].anytime.every == 5
    assert runs["spos_re"].searcher._target_ == runs["sandwich_re"].searcher._target_
    assert runs["spos_re"].searcher.constraints.max_flops is None  # no FLOPs limit: unconstrained picks
    assert {n for n, s in board.searches.items() if s.supernet is None} == {"params_re", "synflow_re"}


@pytest.mark.parametrize("overrides,message", [
    (["only=[nope]"], "only=['nope'] names no row of the board; rows are ['darts', 'darts_2nd', 'gdas'"),
    (["benchmark=none"], "the search board needs ground truth"),
    (["mode=train"], "mode=train: unknown choice; use one of run, collect"),
    (["truth.seeds=[]"], "truth.seeds=[]: "),
    (["anytime.max_archs=0"], "anytime.max_archs=0: out of range"),
    (["marker=a--b"], "marker: a board's marker name must be a non-empty word without"),
    (["searches.tpe.supernet=rs_ws"], "searches.tpe.supernet=rs_ws: a search-only row searches the supernets of a "
     "training row of the board; use one of ['darts', 'darts_2nd'"),  # rs_ws is itself a search-only row
    (["searches.tpe.overrides=['trainer.epochs=60']"], "searches.tpe.overrides: trainer.epochs=60 is not a search "
     "setting: a search-only row shares the training of its supernet (spos_re)"),
])
def test_bad_boards_are_one_line_and_exit_code_2(tmp_path, overrides, message):
    done = nas("searchboard", "mode=collect", "dataset=synthetic", *overrides, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    if overrides[0].startswith("searches"):
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_a_table_of_another_recipe_is_refused_before_training_its_cells(table):
    fake_run(table, "darts", 0, ["method=darts"], found=MISSING)
    done = nas("searchboard", "mode=collect", *BOARD[:1], "recipe=fmnist201", *BOARD[2:], cwd=table)
    assert done.returncode == 2, done.stdout + done.stderr[-2000:]
    assert "the board's recipe, dataset and search space hash to" in done.stderr
    assert not (table / "leaderboard/search/extra_truth.jsonl").exists()


def end_to_end(tmp_path, epochs: int, extra: tuple[str, ...] = ()) -> str:
    (tmp_path / "cells.txt").write_text(f"{A}\n{B}\n")
    built = nas("bench", "build", "dataset=synthetic", "recipe=tiny", "archs.file=cells.txt", "output=gt.jsonl",
                "progress=false", cwd=tmp_path)
    assert built.returncode == 0, built.stderr[-2000:]
    run = f"run_overrides=['preset=smoke','benchmark=none','trainer.epochs={epochs}','search.budget=4']"
    done = nas("searchboard", *BOARD, "only=[darts,spos_re]", "rows.darts=['method=darts']", run, *extra,
               cwd=tmp_path, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "[darts] running seeds [0]: nas run -m method=darts preset=smoke" in done.stdout
    assert "[spos_re] running seeds [0]: nas run -m experiment=spos searcher=evolution anytime.all_methods=true" \
        in done.stdout
    darts = RunFolder(tmp_path / "runs/searchboard/darts/seed0")
    points = darts.read_anytime()
    assert [p.epoch for p in points] == list(range(1, epochs + 1))
    assert points[-1].arch == darts.read_found_architecture().arch and points[-1].final
    spos = RunFolder(tmp_path / "runs/searchboard/spos_re/seed0")
    assert [p.arch for p in spos.read_anytime()] == [None] * epochs  # all_methods: cost and memory only
    runs = {r["row"]: r for r in csv.DictReader((tmp_path / "leaderboard/search/search_runs.csv").open())}
    assert runs["spos_re"]["arch"] == spos.read_ranking()[0].arch and runs["darts"]["truth"] != ""
    assert float(runs["spos_re"]["peak_memory_mib"]) > 0 and runs["spos_re"]["truth"] != ""
    board = (tmp_path / "LEADERBOARD.md").read_text()
    assert "| darts | gradient | 1 |" in board and "| spos_re | searcher | 1 |" in board
    return board


def test_end_to_end_short(tmp_path):
    """2 rows x 1 seed, trained by the board (1 supernet epoch each), the found cells' truth trained stand-alone."""
    end_to_end(tmp_path, 1, ("anytime.max_archs=1",))


@pytest.mark.slow
def test_end_to_end_long(tmp_path):
    """The same with 3 epochs and every any-time architecture's truth: the curve of every epoch is known."""
    end_to_end(tmp_path, 3)
    curve = list(csv.DictReader((tmp_path / "leaderboard/search/anytime.csv").open()))
    assert len(curve) == 3 and all(r["truth"] for r in curve)
    assert (tmp_path / "leaderboard/search/anytime.png").is_file()


def test_a_search_only_row_searches_its_supernet_and_shares_its_training(table):
    """A training row (spos_re) and a search-only row on it (rs_ws), trained and searched by the board; then a seed
    whose supernet is unfinished (skipped with one line), and the board again from the archives alone."""
    run = "run_overrides=['preset=smoke','benchmark=none','trainer.epochs=1','search.budget=4']"
    done = nas("searchboard", *BOARD, "only=[spos_re,rs_ws]", "truth.build=false", run, cwd=table)
    assert done.returncode == 0, done.stderr[-3000:]
    search = ("nas search -m 'train_dir=runs/searchboard/spos_re/seed${seed}' searcher=random search.budget=100 "
              "evaluator.metric=accuracy benchmark=none preset=smoke")
    assert f"[rs_ws] searching spos_re's supernets of seeds [0]: {search}" in done.stdout
    assert done.stdout.index("[spos_re] running seeds [0]") < done.stdout.index("[rs_ws] searching")
    spos = RunFolder(table / "runs/searchboard/spos_re/seed0")
    rs_ws = RunFolder(table / "runs/searchboard/rs_ws/seed0")
    assert rs_ws.saved_config().train_dir == "runs/searchboard/spos_re/seed0" and not rs_ws.checkpoint.exists()
    ranking = rs_ws.read_ranking()
    assert len(ranking) == 4  # the run overrides' search.budget=4 come after the row's 100

    archive = table / "leaderboard/search/runs/rs_ws/seed0.json"
    found, supernet = read_archived_search_run(archive), read_archived_search_run(archive.parent.parent / "spos_re" /
                                                                                  "seed0.json")
    assert (found.row, found.seed, found.kind, found.supernet, found.arch) == \
        ("rs_ws", 0, "searcher", "spos_re", ranking[0].arch)
    assert found.train_seconds == spos.read_summary().train_seconds == supernet.train_seconds > 0  # shared training
    assert found.search_seconds == rs_ws.read_summary().search_seconds > 0 and rs_ws.read_summary().train_seconds == 0
    assert found.peak_memory_mib == supernet.peak_memory_mib and found.peak_mib > 0
    assert found == read_shared_search_run(rs_ws.path, supernet, "rs_ws", found.overrides)
    assert SearchRun.from_json(json.loads(archive.read_text())) == found and supernet.supernet is None

    command = f"{search.replace('search.budget=100', 'search.budget=4')} trainer.epochs=1 seed=0"
    rows = {r["row"]: r for r in csv.DictReader((table / "leaderboard/search/search_results.csv").open())}
    assert (rows["rs_ws"]["supernet"], rows["rs_ws"]["command"], rows["spos_re"]["supernet"]) == \
        ("spos_re", command, "")
    assert float(rows["rs_ws"]["cost_minutes_mean"]) == round(found.cost_seconds / 60, 4)
    section = (table / "leaderboard/search/SEARCH_RESULTS.md").read_text()
    assert "| rs_ws | searcher on spos_re's supernet | 1 |" in section and "| spos_re | searcher | 1 |" in section
    assert f"- `rs_ws` shares the supernets of `spos_re`: `{command}`" in section
    assert "`tpe`" in section.split("Rows without a finished run yet")[1]  # the other search-only rows are pending

    # seed 1: spos_re has no finished seed 1 and is not selected, so rs_ws skips it, with one line, and trains nothing
    again = nas("searchboard", *BOARD[:3], "seeds=[0,1]", *BOARD[4:], "only=[rs_ws]", "truth.build=false", run,
                cwd=table)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "[rs_ws] seed 1 skipped: its supernet runs/searchboard/spos_re/seed1 is not a finished run of row " \
           "'spos_re' (`nas searchboard only=[spos_re]` trains it)" in again.stdout
    assert "running seeds" not in again.stdout and "searching" not in again.stdout
    assert not (table / "runs/searchboard/rs_ws/seed1").exists()
    # the archives alone give the same board once the run folders are gone
    shutil.rmtree(table / "runs")
    archived = nas("searchboard", "mode=collect", *BOARD, "truth.build=false", cwd=table)
    assert archived.returncode == 0, archived.stderr[-2000:]
    assert (table / "leaderboard/search/SEARCH_RESULTS.md").read_text() == section


def test_a_free_ranker_row_searches_the_boards_space_with_no_supernet(table):
    """params_re: regularized evolution on the parameter count of the board's own space (the board passes its
    dataset and search space), nothing trained; its found cell's truth trained stand-alone, its archive alone
    enough for the board."""
    run = "run_overrides=['search.budget=20']"
    done = nas("searchboard", *BOARD, "only=[params_re]", "anytime.max_archs=1", run, cwd=table)
    assert done.returncode == 0, done.stderr[-3000:]
    search = ("nas search -m dataset=synthetic search_space=fmnist201 objective=ranker free_ranker=params "
              "searcher=evolution search.budget=100 search.budget=20 seed=0")
    assert f"[params_re] searching a free ranker of seeds [0]: {search}" in done.stdout
    assert "running seeds" not in done.stdout  # no supernet trained
    folder = RunFolder(table / "runs/searchboard/params_re/seed0")
    ranking = folder.read_ranking()
    assert len(ranking) == 20 and folder.saved_config().dataset._target_ == "nas.data.synthetic"
    params = {r.arch: r.params for r in ranking}
    assert ranking[0].score == max(params.values()) == ranking[0].params  # the largest child it met
    found = read_archived_search_run(table / "leaderboard/search/runs/params_re/seed0.json")
    assert (found.kind, found.supernet, found.arch, found.train_seconds) == ("free", None, ranking[0].arch, 0.0)
    assert 0 < found.search_seconds == folder.read_summary().search_seconds and found.peak_mib > 0
    runs = {r["row"]: r for r in csv.DictReader((table / "leaderboard/search/search_runs.csv").open())}
    assert runs["params_re"]["truth"] != "" and runs["params_re"]["truth_source"] in ("table", "trained")
    section = (table / "leaderboard/search/SEARCH_RESULTS.md").read_text()
    assert "| params_re | free ranker, no supernet | 1 |" in section
    assert f"- `params_re`: `{search.replace('search.budget=100 ', '')}`" in section  # as recorded: the last budget
    assert "Free-ranker rows train no supernet" in section
    shutil.rmtree(table / "runs")
    archived = nas("searchboard", "mode=collect", *BOARD, "truth.build=false", cwd=table)
    assert archived.returncode == 0, archived.stderr[-2000:]
    assert (table / "leaderboard/search/SEARCH_RESULTS.md").read_text() == section
