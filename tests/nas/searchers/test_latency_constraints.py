"""Latency as a cost in search: max_latency_ms for every searcher, cost_objective=latency, infeasible bounds."""

from __future__ import annotations

import json

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from nas.cli.common import CONF_DIR
from nas.errors import ConfigError
from nas.pipeline import search_stage
from nas.searchers import Constraints, RandomSearch
from search_spaces.nb201 import NB201SearchSpace
from tests.nas.searchers.helpers import CountingObjective


def fmnist201_with_latency() -> NB201SearchSpace:
    """FMNIST-201's space whose latency is a deterministic function of the child (FLOPs / 100,000 ms)."""
    space = NB201SearchSpace(C=8, N=1, in_channels=1, input_size=16, reduction="light")
    space.latency = lambda arch: space.flops(arch) / 1e5
    return space


def config(*overrides: str):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("search", overrides=["progress=false", *overrides])


@pytest.mark.parametrize("name", ["random", "evolution", "constrained_evolution", "tpe", "nsga2", "optuna"])
def test_every_searcher_scores_only_children_within_max_latency_ms(name, tmp_path):
    space = fmnist201_with_latency()
    cfg = config(f"searcher={name}", "searcher.constraints.max_latency_ms=1.5")
    extra = {"storage": str(tmp_path / "j.log")} if "storage" in cfg.searcher else {}
    history = instantiate(cfg.searcher, space=space, **extra).search(CountingObjective(), budget=12)
    assert len(history) == 12
    assert all(t.cost["latency_ms"] <= 1.5 for t in history.trials)
    assert all(t.cost["latency_ms"] == space.flops(t.arch) / 1e5 for t in history.trials)


def test_a_latency_bound_no_child_meets_is_refused_before_any_child_is_scored():
    space = fmnist201_with_latency()
    objective = CountingObjective()
    with pytest.raises(ConfigError, match=r"no architecture of search space 'nb201' meets the constraints "
                                          r"\{'max_latency_ms': 0\.1\} \(checked 102 children, the smallest and "
                                          r"largest among them: latency range 0\.3514\.\.26\.89 ms"):
        RandomSearch(space, 0, {"max_latency_ms": 0.1}).search(objective, budget=5)
    assert objective.total == 0
    with pytest.raises(ConfigError, match="need a latency model"):
        RandomSearch(NB201SearchSpace(C=8, N=1, in_channels=1, input_size=16, reduction="light"), 0,
                     {"max_latency_ms": 1.0})
    assert Constraints(max_latency_ms=2.0, max_params=10).analytic() == Constraints(max_params=10)


def test_nsga2_trades_accuracy_against_latency_on_the_pareto_front(tmp_path):
    space = fmnist201_with_latency()
    cfg = config("searcher=nsga2", "searcher.cost_objective=latency", "search.budget=20")
    trials, _ = search_stage(cfg, tmp_path, space, lambda arch: float(str(arch).count("conv")))
    front = json.loads((tmp_path / "pareto_front.json").read_text())
    assert front and all(set(p) == {"arch", "accuracy", "params", "flops",
                                     "latency_ms", "trial"} for p in front)
    for p in front:  # nobody is at least as good on both and better on one
        assert not any(t.score >= p["accuracy"] and t.cost["latency_ms"] <= p["latency_ms"]
                       and (t.score > p["accuracy"] or t.cost["latency_ms"] < p["latency_ms"]) for t in trials)
