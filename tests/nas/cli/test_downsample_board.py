"""The downsampling board end to end on synthetic images: `nas bench build` gives every configuration ground
truth, `nas run` trains each board row (single supernet, balanced mixtures K = 2 and 4, few-shot split on down1)
and scores all 20 configurations against it, and the board composes its own rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nas.checkpoint import load_checkpoint
from nas.run_folder import RunFolder
from tests.nas.cli.test_cli import SMOKE, nas

ROWS = {"single": [], "bmos2": [], "bmos4": [], "fewshot": ["few_shot.split_epochs=[1]"]}


@pytest.fixture(scope="module")
def ground_truth(tmp_path_factory) -> Path:
    cwd = tmp_path_factory.mktemp("downsample_gt")
    gt = cwd / "gt.jsonl"
    built = nas("bench", "build", "search_space=downsample", "dataset=synthetic", "recipe=tiny", "archs.sample=20",
                f"output={gt}", "progress=false", cwd=cwd)
    assert built.returncode == 0, built.output[-3000:]
    records = [json.loads(line) for line in gt.read_text().splitlines()]
    assert len(records) == 40 and len({r["arch"] for r in records}) == 20     # every configuration, 2 seeds
    return gt


@pytest.mark.parametrize("row", list(ROWS))
def test_each_board_row_runs_and_scores_every_configuration(tmp_path, ground_truth, row):
    folder = tmp_path / row
    done = nas("run", *SMOKE, f"experiment=downsample_{row}", f"benchmark.oracle.records={ground_truth}",
               "report.free_rankers=[flops]", "report.combined=[]", "trainer.epochs=2", f"run_dir={folder}", *ROWS[row],
               cwd=tmp_path)
    assert done.returncode == 0, done.output[-3000:]
    run = RunFolder(folder)
    assert len(run.read_benchmark_scores()) == 20
    weights = load_checkpoint(run.checkpoint)["supernet"]
    if row.startswith("bmos"):
        k = int(row[-1])
        assert {key.split(".")[1] for key in weights if key.startswith("members.")} == {str(i) for i in range(k)}
        assert weights["assignment.count"].sum() == 16                        # every step's child observed
        assert f"balanced mixture: {k} supernets, architectures per supernet {[20 // k] * k}" in done.stderr
        summary = run.read_balanced_mixture()                                 # the assignment the scores used
        assert summary.counts == [20 // k] * k and sum(summary.trained) == 16
        assert "## Balanced mixture: configuration → supernet" in run.report.read_text()
    elif row == "fewshot":
        assert "sub-supernet 0 on 'down1' into [[0], [1], [2], [3]]" in done.stderr
    else:
        assert not any(key.startswith(("members.", "leaves.")) for key in weights)
    if not row.startswith("bmos"):
        assert run.read_balanced_mixture() is None and "Balanced mixture" not in run.report.read_text()


def test_the_board_composes_its_own_rows():
    from hydra import compose, initialize_config_dir

    from nas.cli.common import CONF_DIR

    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("leaderboard", overrides=["board=downsample"])
        assert list(cfg.rows) == ["single", "bmos2", "bmos4", "fewshot"]
        assert cfg.search_space._target_ == "search_spaces.downsample.DownsampleSearchSpace"
        assert cfg.benchmark.oracle.records == "downsample_fmnist"
        budgets = set()
        for row in cfg.rows:
            run = compose("run", overrides=[f"experiment=downsample_{row}"])
            budgets.add((run.trainer.epochs, run.trainer.batch_size, run.trainer.get("max_steps")))
            assert run.search_space._target_ == cfg.search_space._target_ and run.search.budget == 20
        assert len(budgets) == 1                                               # equal training budgets


@pytest.mark.slow
def test_downsample_leaderboard(tmp_path, ground_truth):
    done = nas("leaderboard", "board=downsample", "only=[single,bmos2]", "dataset=synthetic", "seeds=[0]",
               f"benchmark.oracle.records={ground_truth}", "output_dir=board", "assets_dir=board",
               "free.rankers=[flops]", "combined.rows=[]", "ensemble=[]",
               f"run_overrides=['preset=smoke','trainer.epochs=2','benchmark.oracle.records={ground_truth}',"
               "'report.free_rankers=[flops]']",
               "threads=1", "progress=false", cwd=tmp_path)
    assert done.returncode == 0, done.output[-3000:]
    board = (tmp_path / "board" / "LEADERBOARD.md").read_text()
    assert "| single | 1 |" in board and "| bmos2 | 1 |" in board
