"""The `nas` command end to end, as a user runs it: a subprocess in a fresh folder.

Every run uses ``preset=smoke`` (synthetic data, 16 training steps, 12 children) and ``threads=1``.
"""

from __future__ import annotations

import csv
import importlib
import json
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from nas.errors import DatasetNotFoundError

NAS = [sys.executable, "-m", "nas.cli.main"]
SMOKE = ["preset=smoke", "threads=1", "progress=false"]
TIMEOUT = 300


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def nas(*args: str, cwd: Path) -> Done:
    env = {k: v for k, v in os.environ.items() if k not in ("NAS_DATA", "HYDRA_FULL_ERROR")}
    env["OMP_NUM_THREADS"] = "1"
    done = subprocess.run([*NAS, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    return Done(done.returncode, done.stdout, done.stderr)


def only(pattern: str, root: Path) -> Path:
    found = sorted(root.glob(pattern))
    assert len(found) == 1, (pattern, found)
    return found[0]


def files_state(folder: Path) -> dict[str, tuple[int, bytes]]:
    """Modification time and content of every file in a run folder (logs aside)."""
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes())
            for p in sorted(folder.rglob("*")) if p.is_file() and p.suffix != ".log"}


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """One `nas run preset=smoke` in a fresh folder: (cwd, result, run folder)."""
    cwd = tmp_path_factory.mktemp("smoke")
    done = nas("run", *SMOKE, cwd=cwd)
    assert done.returncode == 0, done.output
    return cwd, done, only("runs/run/*/report.md", cwd).parent


# -- (a) a full run -----------------------------------------------------------------------------------------
def test_run_writes_every_output(smoke_run):
    cwd, done, folder = smoke_run
    assert folder.name == "preset-smoke"  # progress and threads are not part of the folder name
    assert "Top 10 of 12 children" in done.stdout
    assert "Traceback" not in done.stderr
    with (folder / "ranked_children.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["rank", "arch", "supernet_accuracy", "params", "flops"]
    assert len(rows) == 13
    assert [int(r[0]) for r in rows[1:]] == list(range(1, 13))
    scores = [float(r[2]) for r in rows[1:]]
    assert scores == sorted(scores, reverse=True)
    assert len({r[1] for r in rows[1:]}) == 12
    ranking = json.loads((folder / "ranked_children.json").read_text())
    assert [r["arch"] for r in ranking] == [r[1] for r in rows[1:]]

    report = (folder / "report.md").read_text()
    assert report.startswith("# NAS run report")
    assert "## Top 10 children" in report
    assert rows[1][1] in report and rows[1][1] in done.stdout
    assert "![supernet accuracy vs params](accuracy_vs_params.png)" in report

    assert (folder / "accuracy_vs_params.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (folder / "checkpoints" / "last.pt").stat().st_size > 10_000
    events = list((folder / "tensorboard").glob("events.out.tfevents.*"))
    assert len(events) == 1 and events[0].stat().st_size > 0
    assert (folder / ".hydra" / "config.yaml").is_file()
    for line in ("report:", "ranking:", "checkpoint:", "tensorboard:", "total time:"):
        assert line in done.stdout


def test_checkpoint_holds_a_finished_run(smoke_run):
    from nas.checkpoint import load_checkpoint

    _, _, folder = smoke_run
    state = load_checkpoint(folder / "checkpoints" / "last.pt")
    # 512 training images / batch 64 = 8 steps per epoch, 2 epochs.
    assert state["train_state"]["step"] == state["total_steps"] == 16
    assert state["train_state"]["epoch"] == 2


# -- (b) rerunning resumes -------------------------------------------------------------------------------------
def test_same_command_again_resumes_without_redoing_work(smoke_run):
    cwd, first, folder = smoke_run
    before = files_state(folder)
    again = nas("run", *SMOKE, cwd=cwd)
    assert again.returncode == 0, again.output
    assert "error" not in again.stderr.lower()
    assert "Traceback" not in again.stderr
    assert list(cwd.glob("runs/run/*")) == [folder]
    after = files_state(folder)
    # Nothing retrained (the checkpoint is untouched, no new TensorBoard file) and nothing rescored.
    for name in ("checkpoints/last.pt", "ranked_children.csv", "ranked_children.json"):
        assert after[name] == before[name], name
    assert [k for k in after if "tfevents" in k] == [k for k in before if "tfevents" in k]
    top = first.stdout[first.stdout.index("Top 10"):first.stdout.index("report:")]
    assert top in again.stdout


# -- (c) an unknown config choice ----------------------------------------------------------------------------
def test_unknown_config_choice_names_it_and_the_options(tmp_path):
    done = nas("run", "path_sampler=nope", *SMOKE, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.splitlines() == ["error: path_sampler=nope: no config 'nope' in group 'path_sampler'; "
                                        "choose one of cost_bucket, deps, distinct, enas, enas_buffer, pada, sandwich, shiftnas, "
                                        "strict_fair, uniform"]
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").rglob("*.pt"))


# -- (d) a corrupt checkpoint --------------------------------------------------------------------------------
def test_corrupt_checkpoint_is_one_clear_error(smoke_run, tmp_path):
    source_cwd, _, folder = smoke_run
    shutil.copytree(source_cwd / "runs", tmp_path / "runs")
    checkpoint = tmp_path / folder.relative_to(source_cwd) / "checkpoints" / "last.pt"
    garbage = b"this is not a checkpoint \x00\xff" * 50
    checkpoint.write_bytes(garbage)
    done = nas("run", *SMOKE, cwd=tmp_path)
    assert done.returncode == 2, done.output
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr
    assert "corrupt" in errors[0]
    assert str(checkpoint) in errors[0]
    assert "Fix: delete it" in errors[0]
    assert done.stderr.strip() == errors[0]  # nothing else on stderr
    assert checkpoint.read_bytes() == garbage  # left for the user to inspect


# -- (e) nas list and the dispatcher -----------------------------------------------------------------------------
def test_list_prints_search_spaces_and_config_groups(tmp_path):
    done = nas("list", cwd=tmp_path)
    assert done.returncode == 0, done.output
    lines = done.stdout.splitlines()
    assert any(line.split()[:2] == ["nb201", "search_spaces.nb201:NB201SearchSpace"] for line in lines if line.strip())
    groups = {line.split()[0]: line for line in lines if line.startswith("  ") and line.split()}
    for group, option in [("path_sampler", "uniform"), ("data_sampler", "uniform"), ("dataset", "synthetic"),
                          ("dataset", "fmnist201"), ("preset", "smoke"), ("search_space", "nb201"),
                          ("searcher", "random"), ("benchmark", "nb201"), ("trainer", "default"),
                          ("evaluator", "default")]:
        assert group in groups, (group, done.stdout)
        assert option in groups[group], (group, option, groups[group])


def test_installed_console_script_runs(tmp_path):
    script = shutil.which("nas")
    if script is None:
        pytest.skip("the `nas` console script is not on PATH")
    done = subprocess.run([script, "list"], cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr
    assert "nb201" in done.stdout


def test_usage_and_unknown_command(tmp_path):
    done = nas(cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout.startswith("usage: nas <command>")
    for command in ("run", "train", "search", "list"):
        assert f"  {command} " in done.stdout
    bad = nas("frobnicate", cwd=tmp_path)
    assert bad.returncode == 2
    assert "error: unknown command 'frobnicate'" in bad.stderr


# -- (f) train, then search ------------------------------------------------------------------------------------
def test_train_then_search_equals_run(smoke_run, tmp_path):
    trained = nas("train", *SMOKE, cwd=tmp_path)
    assert trained.returncode == 0, trained.output
    assert "trained 16 steps" in trained.stdout
    train_dir = only("runs/train/*/checkpoints/last.pt", tmp_path).parent.parent
    assert not (train_dir / "ranked_children.csv").exists()

    # The folder name is a valid Hydra override value: no quoting needed.
    searched = nas("search", f"train_dir={train_dir}", *SMOKE, cwd=tmp_path)
    assert searched.returncode == 0, searched.output
    ranking_csv = only("runs/search/*/ranked_children.csv", tmp_path)
    with ranking_csv.open(newline="") as handle:
        assert len(list(csv.reader(handle))) == 13
    assert (ranking_csv.parent / "report.md").is_file()
    assert str(ranking_csv) in searched.stdout
    # Same config and seed: the same supernet and the same ranking as `nas run`.
    _, _, run_folder = smoke_run
    assert json.loads(ranking_csv.with_suffix(".json").read_text()) == \
           json.loads((run_folder / "ranked_children.json").read_text())


def test_search_of_a_missing_folder_is_one_clear_error(tmp_path):
    done = nas("search", "train_dir=/nonexistent", *SMOKE, cwd=tmp_path)
    assert done.returncode == 2, done.output
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "/nonexistent is not the folder of a `nas train` or `nas run`" in errors[0]
    assert ".hydra/config.yaml is missing" in errors[0]


def test_the_next_command_that_train_prints_works(tmp_path):
    trained = nas("train", *SMOKE, cwd=tmp_path)
    assert trained.returncode == 0, trained.output
    hint = next(line for line in trained.stdout.splitlines() if line.startswith("next:"))
    command = shlex.split(hint.split(":", 1)[1])
    assert command[:2] == ["nas", "search"]
    done = nas(*command[1:], "threads=1", "progress=false", cwd=tmp_path)
    assert done.returncode == 0, done.output


# -- multirun --------------------------------------------------------------------------------------------------
def test_multirun_sweep_writes_one_folder_per_job(smoke_run, tmp_path):
    done = nas("run", "-m", "preset=smoke", "seed=0,1", "threads=1", "progress=false", cwd=tmp_path)
    assert done.returncode == 0, done.output
    reports = sorted(tmp_path.glob("multirun/run/*/*/report.md"))
    assert [p.parent.name for p in reports] == ["preset-smoke_seed-0", "preset-smoke_seed-1"]
    rankings = [json.loads((p.parent / "ranked_children.json").read_text()) for p in reports]
    assert all(len(r) == 12 for r in rankings)
    # The seed=0 job is the single run (seed 0 is the default); seed=1 trains another supernet.
    _, _, run_folder = smoke_run
    assert rankings[0] == json.loads((run_folder / "ranked_children.json").read_text())
    assert rankings[1] != rankings[0]
    assert not (tmp_path / "runs").exists()


# -- (g) missing dataset files ------------------------------------------------------------------------------------
def test_missing_fashion_mnist_names_the_fix(tmp_path, monkeypatch):
    module = importlib.import_module("nas.data._fashion_mnist")
    monkeypatch.setattr(module, "DEBIAN_DIR", tmp_path / "no-debian-package")
    monkeypatch.delenv("NAS_DATA", raising=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetNotFoundError) as info:
        module.fashion_mnist(root=str(empty), download=False)
    message = str(info.value)
    assert "apt-get install dataset-fashion-mnist" in message
    assert "download=false" in message
    assert str(empty) in message and str(tmp_path / "no-debian-package") in message
    assert "train-images-idx3-ubyte.gz" in message
    assert isinstance(info.value, FileNotFoundError)


def test_a_ground_truth_of_another_space_fails_before_training(tmp_path):
    done = nas("run", *SMOKE, "search_space=elastic_conv", "benchmark=fmnist201", cwd=tmp_path)
    assert done.returncode == 2, done.output
    assert "not of search space 'elastic_conv'" in done.stderr and "benchmark=none" in done.stderr
    assert not list(tmp_path.glob("runs/run/*/checkpoints"))  # nothing was trained
