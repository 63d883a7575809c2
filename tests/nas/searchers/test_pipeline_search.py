"""The search stage with objective=oracle: `nas search objective=oracle benchmark=nb201`, no supernet, no data."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from hydra import compose, initialize_config_dir

from nas.cli.common import CONF_DIR
from nas.errors import ConfigError
from nas.pipeline import oracle_objective, search_stage
from nas.searchers import OptunaSearch
from search_spaces.nb201 import NB201Oracle, NB201SearchSpace
from tests.nas.searchers.helpers import CountingObjective


def config(*overrides: str):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("search", overrides=["progress=false", *overrides])


def nas(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.run([sys.executable, "-m", "nas.cli.main", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def journal_trials(path: Path) -> int:
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    study = optuna.load_study(study_name="nas-search", storage=storage)
    return len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)))


def test_nsga2_on_the_oracle_end_to_end_then_resume(tmp_path):
    command = ["search", "objective=oracle", "benchmark=nb201", "searcher=nsga2", "search.budget=30",
               "progress=false", "threads=1"]
    done = nas(*command, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    folder = next(tmp_path.glob("runs/search/*"))
    for name in ("ranked_children.csv", "ranked_children.json", "pareto_front.csv", "pareto_front.json",
                 "pareto_front.png", "optuna_journal.log", "searcher_state.pt"):
        assert (folder / name).is_file(), name
    assert (folder / "pareto_front.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ranking = json.loads((folder / "ranked_children.json").read_text())
    assert len(ranking) == 30 and len({r["arch"] for r in ranking}) == 30
    oracle = NB201Oracle("cifar10")
    for row in ranking:
        assert row["oracle_accuracy"] == pytest.approx(oracle(row["arch"]), abs=1e-4)
    with (folder / "pareto_front.csv").open(newline="") as handle:
        front = list(csv.DictReader(handle))
    assert front and set(front[0]) == {"arch", "accuracy", "params", "flops", "trial"}
    assert "Pareto front:" in done.stdout and "NB201Oracle (cifar10)" in done.stdout
    assert not list(folder.glob("checkpoints")) and "Traceback" not in done.stderr

    # A search killed before it wrote its ranking resumes from searcher_state.pt: nothing is scored again.
    trials = journal_trials(folder / "optuna_journal.log")
    for name in ("ranked_children.csv", "ranked_children.json"):
        (folder / name).unlink()
    again = nas(*command, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert journal_trials(folder / "optuna_journal.log") == trials
    assert json.loads((folder / "ranked_children.json").read_text()) == ranking


def test_supernet_objective_without_train_dir_is_one_clear_error(tmp_path, monkeypatch, capsys):
    from nas.cli import search

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["nas-search", "progress=false"])
    with pytest.raises(SystemExit) as info:
        search.main()
    assert info.value.code == 2
    assert capsys.readouterr().err.strip() == (
        "error: objective=supernet needs train_dir=<folder of a finished `nas train` or `nas run`>; to search a "
        "benchmark table without a supernet: objective=oracle benchmark=nb201")


def test_oracle_objective_uses_the_oracles_own_nas_bench_201_space():
    oracle, space = oracle_objective(config("objective=oracle", "benchmark=nb201",
                                            "benchmark.oracle.dataset=cifar100"))
    assert isinstance(oracle, NB201Oracle) and oracle.dataset == "cifar100"
    assert isinstance(space, NB201SearchSpace) and space is oracle.space
    assert space.spec() == NB201SearchSpace().spec()  # C=16, N=5: not the configured FMNIST-201 skeleton


@pytest.mark.parametrize("table, message", [
    ("none", "objective=oracle needs a benchmark with ground truth: add benchmark=nb201"),
    ("fmnist201", "knows .* of the 15,625 architectures .* use objective=oracle with a complete table"),
])
def test_oracle_objective_needs_a_complete_table(table, message):
    with pytest.raises(ConfigError, match=message):
        oracle_objective(config("objective=oracle", f"benchmark={table}"))


def test_search_stage_defaults_optuna_storage_to_the_run_folder_and_resumes(tmp_path, nb201):
    objective = CountingObjective()
    cfg = config("searcher=tpe", "search.budget=12")
    trials, _ = search_stage(cfg, tmp_path, nb201, objective)
    assert len(trials) == 12 == objective.total
    assert journal_trials(tmp_path / "optuna_journal.log") >= 12
    # a larger budget in the same folder continues the saved search
    cfg.search.budget = 20
    trials, _ = search_stage(cfg, tmp_path, nb201, objective)
    assert len(trials) == 20 == objective.total == len(objective.calls)


def test_search_stage_honours_constraints_from_the_config(tmp_path, nb201):
    cfg = config("searcher=constrained_evolution", "searcher.constraints.max_flops=40000000", "search.budget=40")
    trials, _ = search_stage(cfg, tmp_path, nb201, CountingObjective())
    assert len(trials) == 40 and all(t.cost["flops"] <= 40_000_000 for t in trials)


@pytest.mark.parametrize("name", ["random", "evolution", "constrained_evolution", "tpe", "nsga2", "optuna"])
def test_every_searcher_config_instantiates_its_class(name, tmp_path, nb201):
    from hydra.utils import instantiate

    overrides = [f"searcher={name}"]
    if name == "constrained_evolution":
        overrides.append("searcher.constraints.max_params=500000")
    cfg = config(*overrides)
    extra = {"storage": str(tmp_path / "j.log")} if "storage" in cfg.searcher else {}
    searcher = instantiate(cfg.searcher, space=nb201, **extra)
    assert type(searcher).__name__ == cfg.searcher._target_.rsplit(".", 1)[1]
    if isinstance(searcher, OptunaSearch):
        expected = {"tpe": "TPESampler", "nsga2": "NSGAIISampler", "optuna": "RandomSampler"}[name]
        assert type(searcher.study.sampler).__name__ == expected
        assert searcher.cost_objective == ("params" if name == "nsga2" else None)
    assert len(searcher.search(CountingObjective(), budget=3)) == 3
