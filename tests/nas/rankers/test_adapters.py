"""The supernet's evaluator and recorded scores as rankers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nas.data import synthetic
from nas.errors import ConfigError
from nas.evaluator import Evaluator
from nas.rankers import CostRanker, RankAggregation, RecordedRanker, SupernetRanker, average_ranks
from search_spaces.nb201 import NB201SearchSpace

SPACE = NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
CELLS = list(dict.fromkeys(SPACE.sample(np.random.default_rng(i)) for i in range(5)))


def test_supernet_ranker_returns_the_evaluators_scores_and_times_new_children():
    data = synthetic()
    evaluator = Evaluator(SPACE.build_supernet(), data.valid, data.train, recalibration_batches=2,
                          recalibration_batch_size=64, progress=False)
    ranker = SupernetRanker(evaluator, name="spos")
    scores = ranker.score(CELLS)
    assert scores == [evaluator.cache[c] for c in CELLS]
    assert ranker.children_scored == len(CELLS) and ranker.seconds_per_child > 0
    ranker.score(CELLS)
    assert ranker.children_scored == len(CELLS)
    assert "recalibrate" in ranker.uses


def test_recorded_ranker_reads_archived_runs_and_benchmark_scores(tmp_path):
    scores = {str(c): float(i) for i, c in enumerate(CELLS)}
    archived = tmp_path / "seed0.json"
    archived.write_text(json.dumps({"scores": scores, "scoring_seconds": 10.0, "child_evaluations": 5}))
    listed = tmp_path / "benchmark_scores.json"
    listed.write_text(json.dumps([{"arch": a, "supernet_accuracy": s, "truth": 0} for a, s in scores.items()]))
    assert RecordedRanker(archived).score(CELLS) == RecordedRanker(listed).score(CELLS) == list(scores.values())
    assert RecordedRanker(archived).seconds_per_child == 2.0
    params = CostRanker(SPACE, "params")
    combined = RankAggregation([RecordedRanker(archived, name="spos"), params]).score(CELLS)
    expected = (average_ranks(list(scores.values())) + average_ranks(params.score(CELLS))) / 2
    assert combined == expected.tolist()


def test_recorded_ranker_names_missing_cells(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({str(CELLS[0]): 1.0}))
    with pytest.raises(ConfigError, match="no score for 1 of the 2"):
        RecordedRanker(path).score(CELLS[:2])
    with pytest.raises(ConfigError, match="unreadable"):
        RecordedRanker(tmp_path / "missing.json")


def test_recorded_ranker_reads_a_run_folder_through_the_run_folder_and_holds_scores_in_memory(tmp_path):
    from nas.run_folder import BenchmarkScore, RunFolder

    scores = {str(c): float(i) for i, c in enumerate(CELLS)}
    RunFolder(tmp_path).write_benchmark_scores([BenchmarkScore(a, s, 50.0) for a, s in scores.items()])
    assert RecordedRanker(tmp_path, name="spos").score(CELLS) == list(scores.values())
    (tmp_path / "empty_run").mkdir()
    with pytest.raises(ConfigError, match="has no benchmark scores"):
        RecordedRanker(tmp_path / "empty_run")
    memory = RecordedRanker.from_scores(scores, name="seed 0", uses="a supernet", seconds_per_child=0.5)
    assert memory.score(CELLS[::-1]) == list(scores.values())[::-1]
    assert (memory.name, memory.uses, memory.seconds_per_child) == ("seed 0", "a supernet", 0.5)
