"""`nas retrain` as a user runs it: seeds, the summary beside the supernet's score, resume, bad input."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from hydra.utils import instantiate

from nas.benchmarks import StandaloneRecipe
from nas.benchmarks.recipe import train_standalone
from nas.checkpoint import load_checkpoint
from nas.cli.main import main
from nas.run_folder import RetrainFolder, RunFolder


def nas_retrain(monkeypatch, capsys, cwd, *args: str) -> tuple[int, str, list[str]]:
    """(exit code, stdout, stderr lines) of ``nas retrain <args>`` in this process."""
    monkeypatch.chdir(cwd)
    code = 0
    try:
        main(["retrain", "threads=1", "progress=false", *args])
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err.splitlines()


def test_two_seeds_from_scratch_reproduce_the_ground_truths_training(trained_smoke_run, tmp_path, monkeypatch,
                                                                     capsys):
    target = tmp_path / "retrain"
    args = (f"run_dir={trained_smoke_run}", "rank=2", "recipe=tiny", "seeds=[0,1]", f"retrain.dir={target}")
    code, out, err = nas_retrain(monkeypatch, capsys, tmp_path, *args)
    assert code == 0, err
    ranker, combined = RunFolder(trained_smoke_run).read_combined_ranking()  # the order `nas run` printed
    row = combined[1]
    summary = RetrainFolder(target).read_summary()
    assert summary.arch == row.arch and summary.rank == 2 and summary.score == row.score
    assert [s["seed"] for s in summary.seeds] == [0, 1] and all(s["steps"] == 4 for s in summary.seeds)
    saved = RunFolder(trained_smoke_run).trained_config()
    space, data = instantiate(saved.search_space), instantiate(saved.dataset)
    for record in summary.seeds:  # exactly what `nas bench build` would record for this child and seed
        truth = train_standalone(space, space.parse(row.arch), data, StandaloneRecipe(**summary.recipe),
                                 seed=record["seed"])
        assert record["accuracy"] == truth["accuracy"] and record["train_accuracy"] == truth["train_accuracy"]
    assert summary.ranked_by == ranker and row.score in [r.score for r in RunFolder(trained_smoke_run).read_ranking()]
    assert f"retrained rank 2 of 12 by {ranker}: {row.arch}" in out
    assert f"its supernet accuracy in the run: {row.score:.2f}% (rank 2 of 12 by {ranker})" in out
    assert "std over 2 seeds" in out and any(RetrainFolder(target).tensorboard(0).iterdir())
    again = nas_retrain(monkeypatch, capsys, tmp_path, *args)  # finished: nothing retrains, same report
    assert again[0] == 0 and again[1].splitlines()[3:5] == out.splitlines()[3:5]  # same seeds, same accuracies


def test_inherited_weights_are_fine_tuned(trained_smoke_run, tmp_path, monkeypatch, capsys):
    target = tmp_path / "inherited"
    code, out, err = nas_retrain(monkeypatch, capsys, tmp_path, f"run_dir={trained_smoke_run}", "recipe=tiny",
                                 "init=inherited", f"retrain.dir={target}")
    assert code == 0, err
    assert "init inherited" in out and RetrainFolder(target).read_summary().init == "inherited"


@pytest.mark.parametrize("args, expected", [
    (["rank=13"], "rank=13 is beyond the ranking of 12 children"),
    (["init=warm"], "init=warm: unknown choice; use one of scratch, inherited"),
    (["recipe=nope"], "recipe=nope: no config 'nope' in group 'recipe'"),
    (["seeds=[]"], "seeds=[]"),
])
def test_bad_input_is_one_line_and_exit_2(trained_smoke_run, tmp_path, monkeypatch, capsys, args, expected):
    code, out, err = nas_retrain(monkeypatch, capsys, tmp_path, f"run_dir={trained_smoke_run}",
                                 f"retrain.dir={tmp_path / 'x'}", *args)
    assert code == 2 and len(err) == 1 and expected in err[0], err
    assert not (tmp_path / "x").exists()


@pytest.mark.slow
def test_a_killed_retrain_resumes_to_the_weights_of_an_uninterrupted_one(trained_smoke_run, tmp_path):
    """SIGKILL (no chance to save) mid-training, rerun the same command: same final weights as one run."""
    common = [sys.executable, "-m", "nas.cli.main", "retrain", f"run_dir={trained_smoke_run}", "recipe=tiny",
              "recipe.epochs=40", "threads=1", "progress=false", "retrain.checkpoint_every=7",
              "retrain.tensorboard=false"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    whole = subprocess.run([*common, f"retrain.dir={tmp_path / 'whole'}"], env=env, capture_output=True,
                           text=True, timeout=600)
    assert whole.returncode == 0, whole.stderr
    killed_dir = tmp_path / "killed"
    checkpoint = RetrainFolder(killed_dir).checkpoint(0)
    process = subprocess.Popen([*common, f"retrain.dir={killed_dir}"], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not checkpoint.is_file() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    stopped_at = load_checkpoint(checkpoint)["training"]["step"]
    assert 0 < stopped_at < 160, "the retrain finished before it could be killed: make it longer"
    resumed = subprocess.run([*common, f"retrain.dir={killed_dir}"], env=env, capture_output=True, text=True,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    a = load_checkpoint(RetrainFolder(tmp_path / "whole").checkpoint(0))["training"]["model"]
    b = load_checkpoint(checkpoint)["training"]["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (RetrainFolder(killed_dir).read_summary().seeds[0]["accuracy"]
            == RetrainFolder(tmp_path / "whole").read_summary().seeds[0]["accuracy"])
