"""RankerObjective and `nas search objective=ranker`: a searcher that queries a free ranker instead of a supernet."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from nas.architecture import Architecture
from nas.cli.common import CONF_DIR
from nas.errors import ConfigError
from nas.pipeline import ranker_objective, search_stage
from nas.rankers import CostRanker, RankAggregation
from nas.rankers.objective import RankerObjective
from nas.run_folder import RunFolder
from search_spaces.nb201 import NB201SearchSpace
from tests.nas.rankers.helpers import Key

SPACE = NB201SearchSpace(C=8, N=1, in_channels=1, input_size=16, reduction="light")


def config(*overrides: str):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("search", overrides=["progress=false", *overrides])


def test_the_objective_is_the_rankers_score_of_one_child_cached():
    ranker = CostRanker(SPACE, "params")
    objective = RankerObjective(ranker)
    rng = np.random.default_rng(0)
    archs = [SPACE.sample(rng) for _ in range(5)]
    assert [objective(a) for a in archs] == [float(SPACE.cost(a)["params"]) for a in archs]
    assert objective(archs[0]) == float(SPACE.cost(archs[0])["params"])
    assert objective.children_scored == len(set(archs)) and objective.name == "params"


def test_a_child_the_proxy_cannot_score_is_ranked_last_with_a_finite_score():
    class Broken(Key):
        def score_one(self, arch):
            return math.nan if arch["a"] == 0 else float(arch["a"])

    objective = RankerObjective(Broken("a"))
    assert objective(Architecture({"a": 0})) == -sys.float_info.max < objective(Architecture({"a": 1})) == 1.0


def test_a_ranker_without_a_score_for_one_child_is_refused():
    with pytest.raises(ConfigError, match="ranker 'mean' \\(RankAggregation\\) ranks children against each other"):
        RankerObjective(RankAggregation([Key("a"), Key("b")], name="mean"))
    with pytest.raises(ConfigError, match="ranker 'mean_rank_free' \\(RankAggregation\\)"):
        ranker_objective(config("objective=ranker", "free_ranker=mean_rank_free"))


def test_search_stage_ranks_the_searchers_children_by_the_free_ranker(tmp_path):
    cfg = config("objective=ranker", "free_ranker=effective_params", "searcher=random", "search.budget=40")
    objective, space = ranker_objective(cfg)
    trials, _ = search_stage(cfg, tmp_path, space, objective)
    ranking = RunFolder(tmp_path).read_ranking()
    assert len(ranking) == 40 == objective.children_scored and {r.score_key for r in ranking} == {"ranker_score"}
    scores = [r.score for r in ranking]
    assert scores == sorted(scores, reverse=True)  # best first
    for row in ranking:  # each score is the child's parameter count on live paths
        assert row.score == pytest.approx(space.effective_cost(space.parse(row.arch))["params"])
    assert max(t.score for t in trials) == scores[0]


def nas(*args, cwd):
    return subprocess.run([sys.executable, "-m", "nas", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_nas_search_objective_ranker_end_to_end_then_resume(tmp_path):
    command = ["search", "objective=ranker", "free_ranker=params", "searcher=evolution", "search.budget=30",
               "progress=false", "threads=1"]
    done = nas(*command, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    folder = RunFolder(next(tmp_path.glob("runs/search/*")))
    summary = folder.read_summary()
    assert (summary.train_seconds, summary.child_evaluations) == (0.0, 30) and summary.peak_memory_mib["rss"] > 0
    ranking = folder.read_ranking()
    space = NB201SearchSpace(C=8, N=1, in_channels=1, input_size=16, reduction="light")  # conf/search_space/fmnist201
    assert [r.score for r in ranking] == [float(space.cost(space.parse(r.arch))["params"]) for r in ranking]
    assert summary.top[0]["arch"] == ranking[0].arch and not folder.checkpoint.exists()
    assert "30 architectures scored by the free ranker params" in done.stdout
    assert json.loads(folder.ranked_children.read_text())[0]["score_key"] == "ranker_score"
    again = nas(*command, cwd=tmp_path)  # the finished ranking is reused: nothing scored again
    assert again.returncode == 0, again.stderr[-2000:]
    assert folder.read_ranking() == ranking


@pytest.mark.parametrize("args, message", [
    (["search", "objective=ranker", "free_ranker=calibrated"], "ranker 'calibrated' (CalibratedRanker) ranks"),
    (["search", "objective=ranker", "free_ranker=nope"], "unknown ranker(s) ['nope']: choose names of conf/ranker/"),
    (["run", "objective=ranker"], "for objective=ranker no training is needed: use `nas search objective=ranker"),
])
def test_bad_free_rankers_are_one_line_and_exit_code_2(tmp_path, args, message):
    done = nas(*args, "progress=false", cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not list(tmp_path.glob("runs/search/*/ranked_children.json"))
