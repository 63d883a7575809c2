"""Bad config values are refused before anything trains: one line each, exit code 2, no traceback.

Most cases call the `nas` entry point in-process (the Hydra apps as a user runs them, without a fresh
interpreter per case); one runs it as a subprocess for the real exit code and stderr. Cases that
could load data point the dataset at a folder that does not exist: loading any data would fail with
another message, so the asserted one proves that the value was refused first.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nas.cli.main import main

SMOKE = ["preset=smoke", "threads=1", "progress=false"]
NO_DATA = ["dataset=fmnist201", "dataset.root=/nonexistent/fashion-mnist", "dataset.download=false"]


def nas_in_process(monkeypatch, capsys, cwd: Path, *args: str) -> tuple[int, list[str], float]:
    """(exit code, stderr lines, seconds) of ``nas <args>`` run in this process, in ``cwd``."""
    monkeypatch.chdir(cwd)
    started = time.perf_counter()
    with pytest.raises(SystemExit) as info:
        main(list(args))
    return info.value.code, capsys.readouterr().err.splitlines(), time.perf_counter() - started


def trained_files(root: Path) -> list[Path]:
    """Whatever training or searching leaves behind: checkpoints, TensorBoard events, searcher state."""
    return [p for p in root.rglob("*") if p.suffix == ".pt" or "tfevents" in p.name or p.name == "checkpoints"]


@pytest.mark.parametrize("args, expected", [
    (["run", "evaluator.bn_policy=foo"],
     ["error: evaluator.bn_policy=foo: unknown choice; use one of recalibrate, batch_stats, running_stats"]),
    (["run", "search.budget=abc"], ["error: search.budget=abc: not an integer; use an integer >= 1"]),
    (["run", "seed=abc"], ["error: seed=abc: not an integer; use an integer >= 0"]),  # not once per ${seed}
    (["run", "trainer.epochs=abc"], ["error: trainer.epochs=abc: not an integer; use an integer >= 1"]),
    (["run", "trainer.epochs=1.5"], ["error: trainer.epochs=1.5: not an integer; use an integer >= 1"]),
    (["train", "trainer.batch_size=0"], ["error: trainer.batch_size=0: out of range; use an integer >= 1"]),
    (["train", "trainer.method.optimization.optimizer.lr=-0.05"],
     ["error: trainer.method.optimization.optimizer.lr=-0.05: out of range; use a number > 0"]),
    (["run", "searcher=constrained_evolution", "searcher.constraints.max_params=1"],
     ["error: searcher.constraints.max_params=1: no architecture of search space 'nb201' meets the constraints "
      "{'max_params': 1} (checked all 15,625 architectures: params range 1,218..74,466, FLOPs range "
      "35,136..2,689,344); loosen the bounds (searcher.constraints.*) to overlap these ranges"]),
    (["search", "train_dir=nowhere", "search.budget=0"],
     ["error: search.budget=0: out of range; use an integer >= 1"]),
    (["run", "path_sampler=nope"],
     ["error: path_sampler=nope: no config 'nope' in group 'path_sampler'; "
      "choose one of cost_bucket, deps, distinct, enas, enas_buffer, pada, sandwich, shiftnas, strict_fair, uniform"]),
    (["run", "-m", "+searcher=random,nope"],
     ["error: +searcher=random,nope: no config 'nope' in group 'searcher'; "
      "choose one of constrained_evolution, controller, epnas, evolution, nsga2, optuna, random, tpe"]),
    (["run", "searcher=controller"],
     ["error: searcher nas.searchers.ControllerSearch draws children from the run's trained ENAS controller, and the "
      "run's path sampler UniformPathSampler is no controller (no propose): train with path_sampler=enas "
      "(experiment=enas), or use another searcher (searcher=random)"]),
    (["search", "objective=oracle", "searcher=controller"],
     ["error: searcher nas.searchers.ControllerSearch draws children from a run's trained ENAS controller, and "
      "objective=oracle has no run: search an ENAS run (`nas search train_dir=<a run of path_sampler=enas> "
      "searcher=controller`), or use another searcher with objective=oracle (searcher=random)"]),
])
def test_a_bad_value_is_one_line_and_exit_2_before_any_data_or_training(args, expected, tmp_path, monkeypatch,
                                                                         capsys):
    code, lines, seconds = nas_in_process(monkeypatch, capsys, tmp_path, *args, *SMOKE, *NO_DATA)
    assert code == 2
    assert lines == expected
    assert not trained_files(tmp_path)
    assert seconds < 30  # composing and checking the config, no data, no training


def test_bench_build_and_leaderboard_refuse_bad_values_before_any_run(tmp_path, monkeypatch, capsys):
    code, lines, _ = nas_in_process(monkeypatch, capsys, tmp_path, "bench", "build", "dataset=synthetic",
                                    "recipe=tiny", "workers=0", "recipe.lr=-1", "archs.sample=abc",
                                    f"output={tmp_path / 'gt.jsonl'}")
    assert code == 2
    assert lines == ["error: recipe.lr=-1: out of range; use a number > 0",
                     "error: archs.sample=abc: not an integer; use an integer >= 1",
                     "error: workers=0: out of range; use an integer >= 1"]
    assert not (tmp_path / "gt.jsonl").exists()

    code, lines, _ = nas_in_process(monkeypatch, capsys, tmp_path, "leaderboard", "mode=colect", "only=spos",
                                    f"runs_dir={tmp_path / 'runs'}", f"output_dir={tmp_path}")
    assert code == 2
    assert lines == ["error: only=spos: not a list; use a list, each a string (e.g. [a,b]) or null",
                     "error: mode=colect: unknown choice; use one of run, collect"]
    assert not (tmp_path / "runs").exists() or not trained_files(tmp_path / "runs")


def test_the_installed_command_exits_2_with_one_line_per_bad_value(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("NAS_DATA", "HYDRA_FULL_ERROR")}
    env["OMP_NUM_THREADS"] = "1"
    done = subprocess.run([sys.executable, "-m", "nas", "run", *SMOKE, *NO_DATA, "seed=abc", "trainer.epochs=1.5",
                           "evaluator.bn_policy=foo"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 2, done.stderr
    assert sorted(done.stderr.splitlines()) == [
        "error: evaluator.bn_policy=foo: unknown choice; use one of recalibrate, batch_stats, running_stats",
        "error: seed=abc: not an integer; use an integer >= 0",
        "error: trainer.epochs=1.5: not an integer; use an integer >= 1",
    ]
    assert not trained_files(tmp_path)
