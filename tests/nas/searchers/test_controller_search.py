"""ControllerSearch (searcher=controller): children drawn from the trained ENAS controller with its probabilities
(and a temperature), never twice, within constraints, resumed exactly; the pipeline hands it the run's trained
controller and refuses it, in one line, where there is none."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf

from nas.checkpoint import load_checkpoint
from nas.cli.common import CONF_DIR
from nas.cli.main import main
from nas.errors import CheckpointError, ConfigError
from nas.pipeline import load_trained_path_sampler, search_stage
from nas.run_folder import RunFolder
from nas.searchers import ControllerSearch, SearchExhausted
from samplers import ENASPathSampler, UniformPathSampler
from search_spaces.nb201 import NB201SearchSpace
from tests.nas.searchers.helpers import CountingObjective, Grid


def certain_controller(space, target: dict[str, int], seed: int = 0) -> ENASPathSampler:
    """A controller that picks option ``target[d]`` of every decision ``d`` with probability ~1 (e^-50 otherwise)."""
    sampler = ENASPathSampler(space, seed=seed, temperature=1.0, tanh_constant=None)
    with torch.no_grad():
        for head, name in zip(sampler.controller.heads, sampler.options):
            head.weight.zero_()
            head.bias.zero_()
            head.bias[target[name]] = 50.0
    return sampler


def toy_trained_controller(space, rewarded: int, updates: int = 20) -> ENASPathSampler:
    """A controller trained by REINFORCE to pick option ``rewarded`` of the first decision (the toy reward of
    tests/samplers/test_enas.py; a smaller rate, so that it stops short of certainty and the other decisions stay
    spread)."""
    sampler = ENASPathSampler(space, seed=0, lr=0.005)
    first = next(iter(space.decisions))
    for update in range(updates):
        archs = sampler.propose(update, 4)
        sampler.reinforce(archs, [float(a[first] == rewarded) for a in archs])
    return sampler


def first_decision_probabilities(controller, temperature: float) -> torch.Tensor:
    """The exact distribution of the first decision at a sampling temperature: the first head's tempered softmax."""
    with torch.no_grad():
        x = controller.start
        for cell in controller.cells:
            x = cell(x)[0]
        return torch.softmax(controller.logits(x, 0) / temperature, -1)[0]


def test_a_certain_controller_is_proposed_first_and_never_twice():
    space = NB201SearchSpace()
    target = {name: (i * 2 + 1) % len(options) for i, (name, options) in enumerate(space.decisions.items())}
    policy = certain_controller(space, target)
    expected = space.make({name: list(space.decisions[name])[k] for name, k in target.items()})
    assert policy.mode() == expected
    for seed in range(3):
        searcher = ControllerSearch(space, policy=policy, seed=seed, max_redraws=5)
        assert searcher.ask() == expected
        searcher.tell(expected, 1.0)
        second = searcher.ask()  # the controller offers only what is scored: a uniform child, counted
        assert second != expected and searcher.fallbacks == 1 and searcher.asks == 2


def test_proposals_follow_the_controllers_probabilities_and_the_temperature():
    space = Grid(*[5] * 8)  # 390,625 children: repeats, which would be redrawn, are rare in 600 draws
    policy = toy_trained_controller(space, rewarded=2)
    draws = 600
    for temperature in (1.0, 2.0):
        p = float(first_decision_probabilities(policy.controller, temperature)[2])
        searcher = ControllerSearch(space, policy=policy, temperature=temperature, seed=1)
        history = searcher.search(lambda arch: 0.0, budget=draws)
        hits = sum(t.arch["d0"] == 2 for t in history.trials)
        assert len({t.arch for t in history.trials}) == draws and searcher.fallbacks == 0
        sigma = math.sqrt(draws * p * (1 - p))
        assert abs(hits - draws * p) < 4.5 * sigma, (temperature, hits, draws * p)
    assert first_decision_probabilities(policy.controller, 1.0)[2] > 0.75  # trained: far from uniform's 0.2 ...
    assert first_decision_probabilities(policy.controller, 2.0)[2] < 0.65  # ... and flatter at T = 2: two tests


def test_a_small_space_is_searched_without_repeats_to_exhaustion():
    space = Grid(2, 3)
    searcher = ControllerSearch(space, policy=certain_controller(space, {"d0": 1, "d1": 2}), seed=0, max_redraws=3)
    objective = CountingObjective(lambda arch: float(arch["d0"] + arch["d1"]))
    history = searcher.search(objective, budget=10)
    assert len(history) == 6 == len(objective.calls) == objective.total  # every child once, then exhausted
    assert history.trials[0].arch == space.make({"d0": 1, "d1": 2}) and searcher.fallbacks == 5
    with pytest.raises(SearchExhausted):
        searcher.ask()


def test_constraints_are_respected():
    space = Grid(5, 5, 5, 5)
    policy = certain_controller(space, {"d0": 4, "d1": 4, "d2": 4, "d3": 4})  # the largest child: infeasible
    searcher = ControllerSearch(space, policy=policy, seed=0, max_redraws=3, constraints={"max_params": 250})
    history = searcher.search(lambda arch: 0.0, budget=15)
    assert len(history) == 15 and all(t.cost["params"] <= 250 for t in history.trials)
    assert searcher.fallbacks == 15


def test_a_resumed_search_equals_an_uninterrupted_one(tmp_path):
    space = Grid(3, 3, 3)  # small enough that the trained controller repeats itself: fallbacks on both sides
    policy = toy_trained_controller(space, rewarded=1)

    def searcher():
        return ControllerSearch(space, policy=policy, temperature=0.7, seed=4, max_redraws=4)

    whole = searcher()
    whole.search(CountingObjective(lambda arch: float(sum(arch.values()))), budget=20)
    first = searcher()
    first.search(CountingObjective(lambda arch: float(sum(arch.values()))), budget=7, state_path=tmp_path / "s.pt")
    resumed = searcher()
    resumed.load(tmp_path / "s.pt")
    resumed.search(CountingObjective(lambda arch: float(sum(arch.values()))), budget=20)
    assert [t.arch for t in resumed.history.trials] == [t.arch for t in whole.history.trials]
    assert (resumed.asks, resumed.fallbacks) == (whole.asks, whole.fallbacks) and 0 < whole.fallbacks < 20
    with pytest.raises(CheckpointError, match="temperature 0.7, this searcher at 1.0"):
        ControllerSearch(space, policy=policy, temperature=1.0, seed=4).load(tmp_path / "s.pt")


def config(*overrides: str):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("search", overrides=["progress=false", "searcher=controller", *overrides])


@pytest.mark.parametrize("policy, message", [
    ("from_run", "policy='from_run': `from_run` is filled in by `nas run`"),
    ("uniform", "UniformPathSampler has none: train with path_sampler=enas"),
])
def test_a_policy_without_a_controller_is_refused(policy, message):
    space = Grid(2, 2)
    with pytest.raises(ConfigError, match=message):
        ControllerSearch(space, policy=UniformPathSampler(space) if policy == "uniform" else policy)


@pytest.mark.parametrize("path_sampler, message", [
    (None, "and objective=oracle has no run: search an ENAS run"),
    ("uniform", "path sampler UniformPathSampler is no controller .*: train with path_sampler=enas"),
])
def test_search_stage_refuses_it_without_a_trained_controller(path_sampler, message, tmp_path):
    space = Grid(2, 2)
    sampler = UniformPathSampler(space) if path_sampler == "uniform" else None
    with pytest.raises(ConfigError, match=message):
        search_stage(config("search.budget=3"), tmp_path, space, CountingObjective(lambda arch: 0.0), sampler)
    assert not list(tmp_path.iterdir())


def nas(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("HYDRA_FULL_ERROR", "NAS_DATA")}
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.run([sys.executable, "-m", "nas.cli.main", *args, "threads=1", "progress=false"], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=300)


def ranked(folder: Path) -> set[str]:
    return {row["arch"] for row in json.loads((folder / "ranked_children.json").read_text())}


def test_enas_run_ranks_the_children_its_controller_proposes(tmp_path, monkeypatch, capsys):
    run = tmp_path / "enas"  # a controller rate that moves it far from its initial weights in 100 updates
    done = nas("run", "preset=smoke", "path_sampler=enas", "path_sampler.lr=0.05", "searcher=controller",
               f"run_dir={run}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    # the children are the trained controller's draws (seed 0): for each ask, its first draw not drawn before
    trained = RunFolder(run).trained_config()
    space = instantiate(trained.search_space)
    policy = load_trained_path_sampler(run, trained, space)
    assert policy.updates == 2 * 50  # two epochs' controller phases
    keys = ControllerSearch(space, policy=policy, seed=0).key

    def drawn(controller) -> set[str]:
        children: list[str] = []
        for ask in range(12):
            children.append(next(arch for attempt in range(100)
                                 if (arch := str(controller.propose(keys(ask, attempt), 1)[0])) not in children))
        return set(children)

    assert ranked(run) == drawn(policy)
    assert ranked(run) != drawn(instantiate(trained.path_sampler, space=space))  # not the untrained controller's
    state = load_checkpoint(RunFolder(run).searcher_state)
    assert state["searcher"] == "ControllerSearch" and state["fallbacks"] == 0 and state["asks"] == 12
    assert "children from the trained controller (temperature 1): 12 of 12" in (run / "report.md").read_text()

    # `nas search train_dir=...` loads the same controller from the checkpoint and proposes the same children
    searched = tmp_path / "searched"
    done = nas("search", f"train_dir={run}", "preset=smoke", "searcher=controller", f"run_dir={searched}",
               cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert ranked(searched) == ranked(run)

    # a run whose path sampler is no controller is refused in one line, before anything is loaded or written
    uniform = tmp_path / "uniform"
    (uniform / ".hydra").mkdir(parents=True)
    OmegaConf.save(OmegaConf.merge(trained, {"path_sampler": {"_target_": "samplers.UniformPathSampler"}}),
                   uniform / ".hydra" / "config.yaml")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(["search", f"train_dir={uniform}", "preset=smoke", "searcher=controller", f"run_dir={tmp_path / 'no'}"])
    assert info.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: searcher nas.searchers.ControllerSearch draws children from the run's trained ENAS controller, and "
        "the run's path sampler UniformPathSampler is no controller (no propose): train with path_sampler=enas "
        "(experiment=enas), or use another searcher (searcher=random)"]
    assert not (tmp_path / "no").exists() or not any((tmp_path / "no").iterdir())
