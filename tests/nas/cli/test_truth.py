"""`nas run found_truth.build=true` (nas.cli.truth): a gradient-based search whose found cell the table lacks trains
its ground truth stand-alone by the table's own recipe into the run folder, records it, and resumes; the combinations
it refuses, each with one line and exit code 2 before any training."""

from __future__ import annotations

import doctest
import importlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from nas.benchmarks.records import load_records, write_records
from nas.cli.main import main
from nas.cli.truth import data_location, recorded_overrides, table_seeds
from nas.run_folder import RunFolder
from search_spaces.nb201 import NB201SearchSpace

SPACE = NB201SearchSpace(C=8, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")  # synthetic data
A = "|none~0|+|nor_conv_3x3~0|skip_connect~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_3x3~2|"
B = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
SMOKE = ["preset=smoke", "threads=1", "progress=false"]


def nas(*args, cwd, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nas", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> Path:
    """A two-cell table (A and B, seeds 0 and 1) of the tiny synthetic recipe, built by `nas bench build`."""
    folder = tmp_path_factory.mktemp("table")
    (folder / "cells.txt").write_text(f"{A}\n{B}\n")
    built = nas("bench", "build", "dataset=synthetic", "recipe=tiny", "archs.file=cells.txt", "output=gt.jsonl",
                "progress=false", cwd=folder)
    assert built.returncode == 0, built.stderr[-2000:]
    return folder / "gt.jsonl"


def darts(table: Path, *extra: str, cwd: Path) -> subprocess.CompletedProcess:
    """A smoke DARTS run against ``table`` in ``cwd`` (its folder: runs/run/<its overrides>)."""
    return nas("run", *SMOKE, "method=darts", "benchmark=table", f"benchmark.oracle.records={table}", *extra, cwd=cwd)


def only_folder(cwd: Path) -> RunFolder:
    folders = sorted((cwd / "runs" / "run").iterdir())
    assert len(folders) == 1, folders
    return RunFolder(folders[0])


def test_the_table_build_record_seeds_and_data_location(table):
    assert recorded_overrides(table) == ["dataset=synthetic", "search_space=fmnist201", "recipe=tiny"]
    assert recorded_overrides(table.with_name("elsewhere.jsonl")) is None
    assert table_seeds(table) == (0, 1)
    run = OmegaConf.create({"_target_": "nas.data.fashion_mnist", "root": "/data/fm", "download": False})
    recorded = OmegaConf.create({"_target_": "nas.data.fashion_mnist", "root": None, "download": True})
    assert data_location(run, recorded, []) == ["dataset.root=/data/fm", "dataset.download=false"]
    assert data_location(run, recorded, ["dataset.root=/x"]) == ["dataset.download=false"]  # set stays as set
    assert data_location(OmegaConf.create({"_target_": "nas.data.synthetic"}), recorded, []) == []
    result = doctest.testmod(importlib.import_module("nas.cli.truth"), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0


def test_a_found_cell_the_table_lacks_is_trained_by_its_recipe_recorded_and_never_trained_twice(table, tmp_path):
    """No switch, then the switch on the same folder (trains the truth), a rerun (trains nothing), a resume."""
    shipped = table.read_bytes()
    first = darts(table, cwd=tmp_path)  # without the switch: the truth is missing, and the run says how to get it
    assert first.returncode == 0, first.stdout + first.stderr[-3000:]
    folder = only_folder(tmp_path)
    found = folder.read_found_architecture()
    assert found.truth is None and "rerun with found_truth.build=true" in first.stdout
    assert SPACE.canonical(SPACE.parse(found.arch)) not in {SPACE.canonical(SPACE.parse(c)) for c in (A, B)}, \
        "the smoke DARTS run now finds a cell of the tiny table: pick other cells for it"
    trained_at = folder.checkpoint.stat().st_mtime_ns

    done = darts(table, "found_truth.build=true", cwd=tmp_path)  # the same folder: the switch names no new run
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert only_folder(tmp_path).path == folder.path and folder.checkpoint.stat().st_mtime_ns == trained_at
    assert "[ground truth] 1 architecture(s) not in the table: nas bench build dataset=synthetic " \
           f"search_space=fmnist201 recipe=tiny archs.file={folder.found_truth_archs} 'seeds=[0,1]' " \
           f"output={folder.found_truth_records} workers=1" in done.stdout
    records = load_records(folder.found_truth_records)
    assert sorted((r["arch"], r["seed"]) for r in records) == [(found.arch, 0), (found.arch, 1)]
    assert {r["recipe"] for r in records} == {r["recipe"] for r in load_records(table)}  # the table's recipe
    truth = sum(r["accuracy"] for r in records) / 2
    assert folder.found_truth_archs.read_text() == f"{found.arch}\n" and table.read_bytes() == shipped

    found = folder.read_found_architecture()
    assert found.truth == pytest.approx(truth) and found.truth_arch == found.arch
    assert (found.truth_source, found.truth_records, found.truth_seeds) == \
        ("trained", "found_truth/truth.jsonl", [0, 1])
    assert folder.read_summary().top[0]["truth"] == pytest.approx(truth)
    said = f"{truth:.2f}% test accuracy (trained stand-alone by the table's recipe, seeds 0 and 1, in "
    assert f"- ground truth: {said}found_truth/truth.jsonl)" in folder.report.read_text()
    assert f"ground truth:       {said}{folder.found_truth_records})" in done.stdout

    again = darts(table, "found_truth.build=true", cwd=tmp_path)  # finished: nothing trains
    assert again.returncode == 0, again.stdout + again.stderr[-3000:]
    assert "[ground truth]" not in again.stdout and f"ground truth:       {said}" in again.stdout
    assert load_records(folder.found_truth_records) == records and folder.checkpoint.stat().st_mtime_ns == trained_at
    assert folder.read_found_architecture().truth == pytest.approx(truth)

    # a build killed after seed 0: the rerun trains seed 1 only (seed 0's record stays as it was)
    write_records(folder.found_truth_records, [r for r in records if r["seed"] == 0])
    resumed = darts(table, "found_truth.build=true", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr[-3000:]
    assert "[ground truth] 1 architecture(s) not in the table" in resumed.stdout
    rebuilt = load_records(folder.found_truth_records)
    assert [r for r in rebuilt if r["seed"] == 0] == [r for r in records if r["seed"] == 0]
    assert sorted(r["seed"] for r in rebuilt) == [0, 1]
    assert folder.read_found_architecture().truth == pytest.approx(sum(r["accuracy"] for r in rebuilt) / 2)


def refused(monkeypatch, capsys, cwd: Path, *args: str) -> list[str]:
    """The stderr lines of ``nas run <args>`` (in this process), which must exit 2 without training anything."""
    monkeypatch.chdir(cwd)
    with pytest.raises(SystemExit) as info:
        main(["run", *SMOKE, "found_truth.build=true", *args])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "Traceback" not in err, err
    assert not list(cwd.rglob("*.pt")) and not list(cwd.rglob("truth.jsonl"))
    return err.splitlines()


@pytest.mark.parametrize("args,message", [
    pytest.param(["method=darts"], "error: found_truth.build=true: the run has no ground-truth table (benchmark=none) "
                 "whose recipe could train the found architecture; use benchmark=fmnist201",
                 id="benchmark_none"),  # the smoke preset's benchmark=none
    pytest.param(["benchmark=table", "benchmark.oracle.records={table}"], "error: found_truth.build=true: "
                 "trainer.method=nas.training.OneShot finds no architecture itself", id="no_gradient_search"),
    pytest.param(["method=darts", "benchmark=nb201"], "error: benchmark=nb201 (NB201Oracle) was not built by `nas "
                 "bench build`, so the cells it lacks cannot be trained by its recipe", id="table_without_recipe"),
    pytest.param(["method=darts", "benchmark=table", "benchmark.oracle.records={copy}"], "error: the table {copy} has "
                 "no record of the `nas bench build` that built it", id="table_without_build_record"),
    pytest.param(["method=darts", "benchmark=table", "benchmark.oracle.records={table}",
                  "found_truth.bench_overrides=['dataset=synthetic','recipe=fmnist201']"], "error: the dataset, "
                 "search space and recipe that found_truth.bench_overrides names (nas bench build dataset=synthetic "
                 "recipe=fmnist201) hash to ", id="another_recipe"),
])
def test_refused_combinations_are_one_line_and_exit_code_2(monkeypatch, capsys, table, tmp_path, args, message):
    copy = tmp_path / "copied.jsonl"  # the table without its build record beside it
    shutil.copy(table, copy)
    names = {"table": table, "copy": copy}
    lines = refused(monkeypatch, capsys, tmp_path, *(a.format(**names) for a in args))
    assert len(lines) == 1 and lines[0].startswith(message.format(**names)), lines


def test_the_found_architecture_record_reads_files_written_before_the_switch(tmp_path):
    """found_architecture.json of earlier runs (no truth_source): read as before, the new keys None."""
    folder = RunFolder(tmp_path)
    folder.found_architecture.write_text(json.dumps({
        "method": "nas.training.Bilevel", "arch": A, "truth": 80.0, "truth_arch": A, "supernet_accuracy": 50.0,
        "params": 1, "flops": 2, "train_seconds": 3.0, "train_steps": 4}))
    found = folder.read_found_architecture()
    assert found.truth == 80.0 and (found.truth_source, found.truth_records, found.truth_seeds) == (None, None, None)
