"""Outputs of a search: ranking files, the text table, plots."""

from __future__ import annotations

import dataclasses

import csv
import json

import numpy as np
import pytest

from nas import plots
from nas.atomic import write_text_atomic
from nas.report import format_table
from nas.run_folder import RunFolder
from nas.searchers import Trial, pareto_front
from search_spaces.nb201 import NB201SearchSpace

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def space() -> NB201SearchSpace:
    return NB201SearchSpace(C=8, N=1, in_channels=1, input_size=16, reduction="light")


@pytest.fixture(scope="module")
def trials(space) -> list[Trial]:
    rng = np.random.default_rng(0)
    archs = []
    while len(archs) < 15:
        arch = space.sample(rng)
        if arch not in archs:
            archs.append(arch)
    scores = [float(s) for s in rng.permutation(15) * 3.3 + 40.123456]  # distinct, shuffled
    return [Trial(i, a, s, space.cost(a)) for i, (a, s) in enumerate(zip(archs, scores))]


def test_write_ranking_csv_and_json_agree_and_are_sorted(trials, tmp_path):
    folder = RunFolder(tmp_path / "out")
    folder.write_ranking(trials, "supernet_accuracy")
    csv_path, json_path = folder.ranked_children_csv, folder.ranked_children
    assert csv_path == tmp_path / "out" / "ranked_children.csv"
    assert json_path == tmp_path / "out" / "ranked_children.json"
    rows = json.loads(json_path.read_text())
    assert [r.arch for r in folder.read_ranking()] == [r["arch"] for r in rows]
    assert [r["rank"] for r in rows] == list(range(1, 16))
    expected = sorted(trials, key=lambda t: -t.score)
    assert [r["arch"] for r in rows] == [str(t.arch) for t in expected]
    assert [r["supernet_accuracy"] for r in rows] == [round(t.score, 4) for t in expected]
    scores = [r["supernet_accuracy"] for r in rows]
    assert scores == sorted(scores, reverse=True)
    assert [r["params"] for r in rows] == [t.cost["params"] for t in expected]
    assert [r["flops"] for r in rows] == [t.cost["flops"] for t in expected]
    assert list(rows[0]) == ["rank", "arch", "supernet_accuracy", "params", "flops", "score_key"]
    assert {r["score_key"] for r in rows} == {"supernet_accuracy"}

    with csv_path.open(newline="") as handle:
        table = list(csv.DictReader(handle))
    assert len(table) == 15
    assert list(table[0]) == list(rows[0])[:-1]  # the CSV names the score by its column
    for line, row in zip(table, rows):
        assert line == {key: str(value) for key, value in row.items() if key != "score_key"}
    assert not list((tmp_path / "out").glob(".*.tmp"))


def test_write_ranking_empty(trials, tmp_path):
    folder = RunFolder(tmp_path)
    assert len(folder.write_ranking(trials[:2], "supernet_accuracy")) == 2
    folder.write_ranking([], "supernet_accuracy")
    assert folder.read_ranking() == []
    assert folder.ranked_children_csv.read_text().strip() == "rank,arch"


def test_write_ranking_overwrites(trials, tmp_path):
    folder = RunFolder(tmp_path)
    folder.write_ranking(trials, "supernet_accuracy")
    folder.write_ranking(trials[:3], "supernet_accuracy")
    assert len(folder.read_ranking()) == 3
    assert len((tmp_path / "ranked_children.csv").read_text().splitlines()) == 4


def test_format_table_lists_the_top_arch_first(trials):
    text = format_table(trials, top_k=5)
    lines = text.splitlines()
    assert len(lines) == 6
    assert lines[0].split() == ["rank", "architecture", "acc", "%", "params", "MFLOPs"]
    ranked = sorted(trials, key=lambda t: -t.score)
    for i, (line, trial) in enumerate(zip(lines[1:], ranked), start=1):
        fields = line.split()
        assert fields[0] == str(i)
        assert fields[1] == str(trial.arch)
        assert fields[2] == f"{trial.score:.2f}"
        assert fields[3] == f"{trial.cost['params']:,d}"
        assert fields[4] == f"{trial.cost['flops'] / 1e6:.2f}"
    assert str(ranked[5].arch) not in text
    assert len(format_table(trials).splitlines()) == 11  # default top 10
    assert len(format_table(trials[:3], top_k=10).splitlines()) == 4


def test_a_table_of_loss_scores_says_so_and_keeps_three_decimals(trials):
    lost = [dataclasses.replace(t, score=-t.score / 100) for t in trials]
    lines = format_table(lost, top_k=2, metric="loss").splitlines()
    assert lines[0].split() == ["rank", "architecture", "-loss", "params", "MFLOPs"]
    best = max(lost, key=lambda t: t.score)
    assert lines[1].split()[2] == f"{best.score:.3f}"


def assert_png(path) -> None:
    data = path.read_bytes()
    assert len(data) > 1000
    assert data[:8] == PNG_MAGIC


@pytest.mark.parametrize("cost", ["params", "flops"])
def test_plot_accuracy_vs_cost_writes_a_png(trials, tmp_path, cost):
    path = plots.accuracy_vs_cost(trials, pareto_front(trials, cost), tmp_path / f"acc_{cost}.png", cost, title="test")
    assert path == tmp_path / f"acc_{cost}.png"
    assert_png(path)


def test_plot_against_truth_writes_a_png(tmp_path):
    rng = np.random.default_rng(1)
    truth = rng.uniform(50, 95, 40).tolist()
    predicted = [t + rng.normal(0, 3) for t in truth]
    path = plots.against_truth(predicted, truth, tmp_path / "truth.png", "Kendall tau 0.5")
    assert path == tmp_path / "truth.png"
    assert_png(path)


def test_write_text_atomic(tmp_path):
    target = tmp_path / "deep" / "report.md"
    write_text_atomic(target, "one\n")
    write_text_atomic(target, "two\n")
    assert target.read_text() == "two\n"
    assert [p.name for p in target.parent.iterdir()] == ["report.md"]
