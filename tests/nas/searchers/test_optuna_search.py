"""OptunaSearch: decisions as categorical parameters, dedup through the study, multi-objective, constraints,
resume, two worker processes on one journal, study mismatches, and search quality against random search."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState

from nas.errors import ConfigError
from nas.searchers import Constraints, OptunaSearch, RandomSearch, Searcher, pareto_front
from tests.nas.searchers.helpers import (
    QUALITY_BUDGET,
    QUALITY_SEEDS,
    CountingObjective,
    Grid,
    hypervolume,
    one_sided_mann_whitney,
)

ROOT = Path(__file__).resolve().parents[3]


def complete(study):
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def test_is_a_searcher_over_categorical_parameters(nb201):
    searcher = OptunaSearch(nb201, seed=0)
    assert isinstance(searcher, Searcher)
    history = searcher.search(CountingObjective(), budget=25)
    trials = complete(searcher.study)
    assert len(trials) >= 25
    for trial in trials:
        assert trial.distributions == {name: CategoricalDistribution(options)
                                       for name, options in nb201.decisions.items()}
    scored = {nb201.make(t.params): t.value for t in trials if not t.user_attrs.get("cached")}
    assert scored == {t.arch: t.score for t in history.trials}


def test_a_proposal_already_scored_is_told_its_cached_score_not_scored_again():
    """9 architectures: TPE soon proposes known ones; each is told its score, none is scored twice."""
    space = Grid(3, 3)
    objective = CountingObjective(lambda a: float(3 * a["d0"] + a["d1"]))
    searcher = OptunaSearch(space, seed=0, sampler="TPESampler", sampler_kwargs={"n_startup_trials": 3})
    history = searcher.search(objective, budget=9)
    assert {t.arch for t in history.trials} == set(space.enumerate())
    assert objective.total == 9 and set(objective.calls.values()) == {1}
    cached = [t for t in complete(searcher.study) if t.user_attrs.get("cached")]
    assert cached  # TPE did repeat itself
    for trial in cached:
        assert trial.value == objective.score(space.make(trial.params))


@pytest.mark.parametrize("sampler", ["TPESampler", "NSGAIISampler", "RandomSampler", "CmaEsSampler"])
def test_every_sampler_scores_distinct_architectures_once(nb201, sampler):
    objective = CountingObjective()
    history = OptunaSearch(nb201, seed=1, sampler=sampler).search(objective, budget=60)
    assert len(history) == 60 == objective.total == len(objective.calls)


def test_ask_and_tell_by_hand(nb201):
    searcher = OptunaSearch(nb201, seed=0)
    arch = searcher.ask()
    trial = searcher.tell(arch, 42.0)
    assert (trial.number, trial.arch, trial.score) == (0, arch, 42.0)
    assert [(nb201.make(t.params), t.value) for t in complete(searcher.study)] == [(arch, 42.0)]
    # an architecture the study never proposed is added to it, so the sampler learns from it
    mine = nb201.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|"
                       "nor_conv_1x1~2|")
    searcher.tell(mine, 94.37)
    assert [nb201.make(t.params) for t in complete(searcher.study)] == [arch, mine]
    # telling an architecture again keeps its first trial
    assert searcher.tell(mine, 1.0).score == 94.37 and len(searcher.history) == 2


def test_multi_objective_tells_the_cost_and_the_pareto_front_matches_optuna(nb201):
    searcher = OptunaSearch(nb201, seed=0, sampler="NSGAIISampler", cost_objective="flops")
    assert [d.name for d in searcher.study.directions] == ["MAXIMIZE", "MINIMIZE"]
    history = searcher.search(CountingObjective(), budget=60)
    for trial in complete(searcher.study):
        arch = nb201.make(trial.params)
        assert trial.values[1] == nb201.flops(arch)
    ours = {(t.score, t.cost["flops"]) for t in pareto_front(history.trials, "flops")}
    optunas = {tuple(t.values) for t in searcher.study.best_trials}
    assert ours == optunas


def test_bad_cost_objective_is_a_config_error(nb201):
    with pytest.raises(ConfigError, match="cost_objective must be one of \\['params', 'flops', 'latency'\\]"):
        OptunaSearch(nb201, cost_objective="memory")
    with pytest.raises(ConfigError, match="cost_objective=latency needs a latency model"):
        OptunaSearch(nb201, cost_objective="latency")


@pytest.mark.parametrize("sampler", ["TPESampler", "NSGAIISampler"])
def test_infeasible_proposals_are_pruned_never_scored(nb201, sampler):
    limits = Constraints(max_flops=40_000_000)
    seen = []

    def objective(arch):
        seen.append(arch)
        assert limits.satisfied(nb201.cost(arch)), arch
        return float(str(arch).count("nor_conv_3x3"))

    searcher = OptunaSearch(nb201, seed=0, sampler=sampler, constraints=limits)
    history = searcher.search(objective, budget=40)
    assert len(history) == 40 == len(seen)
    pruned = searcher.study.get_trials(states=(TrialState.PRUNED,))
    assert pruned  # the sampler did propose infeasible cells
    for trial in pruned:
        assert not limits.satisfied(nb201.cost(nb201.make(trial.params)))
        assert "flops" in trial.user_attrs["infeasible"]
    assert all(limits.satisfied(nb201.cost(nb201.make(t.params))) for t in complete(searcher.study))


def test_a_sampler_stuck_on_infeasible_proposals_gets_feasible_ones_enqueued():
    space = Grid(6, 6)
    limits = Constraints(max_params=110)  # params = 100 + 10 d0 + 20 d1: 2 of 36 cells
    objective = CountingObjective(lambda a: float(a["d0"]))
    searcher = OptunaSearch(space, seed=0, sampler="RandomSampler", constraints=limits, repair_attempts=2)
    history = searcher.search(objective, budget=10)
    assert {t.arch for t in history.trials} == {space.make({"d0": 0, "d1": 0}), space.make({"d0": 1, "d1": 0})}
    assert objective.total == 2


def test_resume_from_saved_state_into_a_fresh_in_memory_study(nb201, tmp_path):
    first = OptunaSearch(nb201, seed=3)
    first.search(CountingObjective(), budget=20, state_path=tmp_path / "tpe.pt")
    resumed = OptunaSearch(nb201, seed=3)
    resumed.load(tmp_path / "tpe.pt")
    assert len(complete(resumed.study)) == 20  # the study relearned every saved trial
    objective = CountingObjective()
    history = resumed.search(objective, budget=45)
    assert objective.total == 25
    assert [t.arch for t in history.trials[:20]] == [t.arch for t in first.history.trials]
    assert len({t.arch for t in history.trials}) == 45


def test_resume_on_a_journal_does_not_duplicate_trials(nb201, tmp_path):
    journal = tmp_path / "study.log"
    first = OptunaSearch(nb201, seed=3, storage=journal)
    first.search(CountingObjective(), budget=15, state_path=tmp_path / "tpe.pt")
    resumed = OptunaSearch(nb201, seed=3, storage=journal)
    resumed.load(tmp_path / "tpe.pt")
    assert len(complete(resumed.study)) == len(complete(first.study))
    objective = CountingObjective()
    resumed.search(objective, budget=30)
    assert objective.total == 15
    assert not set(objective.calls) & {t.arch for t in first.history.trials}


def test_an_architecture_another_worker_scored_is_not_scored_again(nb201, tmp_path):
    journal = tmp_path / "shared.log"
    first, second = OptunaSearch(nb201, seed=1, storage=journal), OptunaSearch(nb201, seed=2, storage=journal)
    arch = first.ask()
    first.tell(arch, 77.0)
    assert second.cached_score(arch) == 77.0
    second.study.enqueue_trial({name: arch[name] for name in nb201.decisions})  # make the second propose it
    objective = CountingObjective()
    history = second.search(objective, budget=3)
    assert arch not in objective.calls and objective.total == 3
    assert arch not in {t.arch for t in history.trials}  # the other worker's trial, not this one's
    told_again = [t for t in complete(second.study) if t.user_attrs.get("cached")]
    assert [(nb201.make(t.params), t.value) for t in told_again] == [(arch, 77.0)]


WORKER = textwrap.dedent("""
    import json, sys
    import torch
    torch.set_num_threads(1)
    from nas.searchers import OptunaSearch
    from search_spaces.nb201 import NB201SearchSpace
    journal, seed, budget, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    calls = []
    def objective(arch):
        calls.append(str(arch))
        text = str(arch)
        return 10.0 * text.count("nor_conv_3x3") + 3.0 * text.count("nor_conv_1x1") + (sum(map(ord, text)) % 97) / 100
    searcher = OptunaSearch(NB201SearchSpace(), seed=seed, sampler="TPESampler", storage=journal, study_name="shared")
    history = searcher.search(objective, budget)
    json.dump({"calls": calls, "history": [str(t.arch) for t in history.trials]}, open(out, "w"))
""")


def test_two_worker_processes_search_one_journal_study(tmp_path):
    """Two processes, one journal file: the study ends with both budgets of scored trials."""
    journal, budget = tmp_path / "shared.log", 15
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, str(journal), str(seed), str(budget),
                                 str(tmp_path / f"worker{seed}.json")], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for seed in (1, 2)]
    for worker in workers:
        _, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
    results = [json.loads((tmp_path / f"worker{seed}.json").read_text()) for seed in (1, 2)]
    for result in results:
        assert len(result["history"]) == budget == len(result["calls"]) == len(set(result["calls"]))
    study = optuna.load_study(study_name="shared", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(journal))))
    scored = [t for t in complete(study) if not t.user_attrs.get("cached")]
    assert len(scored) == 2 * budget
    both = results[0]["calls"] + results[1]["calls"]
    # a worker skips what the other already scored; only a proposal made in the same instant could repeat
    assert len(set(both)) >= 2 * budget - 1


def test_reopening_a_study_with_other_objectives_or_space_is_a_config_error(nb201, tmp_path):
    journal = tmp_path / "study.log"
    OptunaSearch(nb201, storage=journal)
    with pytest.raises(ConfigError, match="optimizes \\['maximize'\\], this searcher \\['maximize', 'minimize'\\]"):
        OptunaSearch(nb201, storage=journal, cost_objective="params")
    with pytest.raises(ConfigError, match="searches another search space.*use another searcher.study_name"):
        OptunaSearch(Grid(3, 3), storage=journal)
    OptunaSearch(Grid(3, 3), storage=journal, study_name="other")  # another study in the same file is fine


def test_a_storage_that_cannot_be_opened_is_a_config_error(nb201):
    with pytest.raises(ConfigError, match="folder /nonexistent/dir does not exist"):
        OptunaSearch(nb201, storage="sqlite:////nonexistent/dir/x.db")
    with pytest.raises(ConfigError, match="folder /nonexistent/dir does not exist"):
        OptunaSearch(nb201, storage="/nonexistent/dir/journal.log")


def test_an_unknown_sampler_is_a_config_error(nb201):
    with pytest.raises(ConfigError, match="unknown Optuna sampler 'Nope'; choose one of \\[.*'TPESampler'"):
        OptunaSearch(nb201, sampler="Nope")


@pytest.mark.parametrize("sampler, options", [("TPESampler", {"n_startup_trials": 10}),
                                              ("NSGAIISampler", {"population_size": 20})])
def test_beats_random_search_on_nas_bench_201(nb201, cifar10_accuracy, random_best, sampler, options):
    """Single objective, 100 queries: over 12 seeds (TPE costs ~0.3 s a run) the mean best CIFAR-10 accuracy is
    above the median of random search's 20 seeds, and stochastically larger (one-sided Mann-Whitney U, p < 0.05)."""
    best = [OptunaSearch(nb201, seed, sampler=sampler, sampler_kwargs=options)
            .search(cifar10_accuracy, QUALITY_BUDGET).best.score for seed in QUALITY_SEEDS[:12]]
    assert np.mean(best) > statistics.median(random_best)
    assert one_sided_mann_whitney(best, random_best) < 0.05


def test_multi_objective_nsga2_front_beats_random_search(nb201, cifar10_accuracy):
    """conf/searcher/nsga2.yaml (accuracy vs params, population 20), 20 seeds x 150 queries: the hypervolume of
    the scored points (reference 85% accuracy, 1.6M params) beats random search's (mean above its median,
    one-sided Mann-Whitney U p < 0.05)."""
    reference = (85.0, 1_600_000)

    def volume(history):
        return hypervolume([(t.score, t.cost["params"]) for t in history.trials], reference)

    nsga2 = [volume(OptunaSearch(nb201, seed, sampler="NSGAIISampler", sampler_kwargs={"population_size": 20},
                                 cost_objective="params").search(cifar10_accuracy, 150)) for seed in QUALITY_SEEDS]
    sampled = [volume(RandomSearch(nb201, seed).search(cifar10_accuracy, 150)) for seed in QUALITY_SEEDS]
    assert np.mean(nsga2) > statistics.median(sampled)
    assert one_sided_mann_whitney(nsga2, sampled) < 0.05
