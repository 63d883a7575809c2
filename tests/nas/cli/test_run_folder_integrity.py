"""Run-folder integrity as a user meets it: a refused rerun changes nothing; a held folder names its holder.

Subprocesses in a fresh folder, ``preset=smoke`` (synthetic data, seconds per run).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from nas.cli.common import CONF_DIR
from nas.run_folder import RunFolder
from tests.nas.cli.test_cli import SMOKE, nas

FIRST = ["preset=smoke", "trainer.epochs=3", "threads=1", "progress=false"]


def tree_hash(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (logs, lock and hidden files included) and the hash of its bytes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def one_error(done) -> str:
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and done.stderr.strip() == errors[0], done.stderr
    return errors[0]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """`nas run preset=smoke trainer.epochs=3 run_dir=R`, finished: (cwd, R)."""
    cwd = tmp_path_factory.mktemp("integrity")
    done = nas("run", *FIRST, "run_dir=R", cwd=cwd)
    assert done.returncode == 0, done.output
    return cwd, cwd / "R"


@pytest.mark.parametrize("change", ["dataset.noise=3.0", "search_space.C=4"])
def test_a_refused_rerun_leaves_every_file_of_the_folder_as_it_was(finished, change):
    cwd, folder = finished
    before = tree_hash(folder)
    assert {".hydra/config.yaml", ".hydra/overrides.yaml", "summary.json", "checkpoints/last.pt"} <= set(before)
    done = nas("run", *FIRST, change, "run_dir=R", cwd=cwd)
    assert done.returncode == 2, done.output
    error = one_error(done)
    assert "belongs to a run with another training configuration" in error
    assert "use another run_dir, or delete the folder to start over" in error
    assert tree_hash(folder) == before


def test_search_after_refused_reruns_scores_with_the_runs_own_config(finished):
    cwd, folder = finished
    for change in ("dataset.noise=3.0", "search_space.C=4"):  # both refused (see above); nothing changed
        assert nas("run", *FIRST, change, "run_dir=R", cwd=cwd).returncode == 2
    assert OmegaConf.load(folder / ".hydra" / "config.yaml").dataset.noise == 1.0
    searched = nas("search", "train_dir=R", *SMOKE, "run_dir=S", cwd=cwd)
    assert searched.returncode == 0, searched.output
    # the same supernet, data and evaluator as the run's own search: the same ranking, score for score
    assert json.loads((cwd / "S" / "ranked_children.json").read_text()) == \
        json.loads((folder / "ranked_children.json").read_text())


def test_search_into_a_training_folder_is_refused(finished):
    cwd, folder = finished
    before = tree_hash(folder)
    done = nas("search", "train_dir=R", *SMOKE, "run_dir=R", cwd=cwd)
    assert done.returncode == 2, done.output
    assert "was made by `nas train` or `nas run`" in one_error(done)
    assert tree_hash(folder) == before


@pytest.mark.parametrize("command", [
    ["run", *FIRST],
    ["train", *FIRST],
    ["search", "objective=oracle", "benchmark=nb201", "search.budget=5", "progress=false"],
])
def test_a_second_process_on_a_held_folder_is_refused_with_the_holder_named(tmp_path, command):
    """The test process holds the folder as a running `nas run` would; the command must not touch it."""
    folder = RunFolder(tmp_path / "X")
    with folder.lock("nas run preset=smoke run_dir=X"):
        since = folder.holder().since
        done = nas(*command, "run_dir=X", cwd=tmp_path)
        assert done.returncode == 2, done.output
        error = one_error(done)
        assert error == (f"error: run folder {folder.path} is in use by pid {os.getpid()} "
                         "(`nas run preset=smoke run_dir=X`), "
                         f"since {since}: wait for it to finish, or use another run_dir")
        assert not folder.config.exists() and not folder.checkpoint.exists()
        assert not folder.ranked_children.exists()
    done = nas(*command, "run_dir=X", cwd=tmp_path)  # free again: the same command now works
    assert done.returncode == 0, done.output
    assert folder.config.is_file() and folder.holder().command.startswith(f"nas {command[0]} ")


def test_multirun_jobs_get_the_config_and_overrides_that_hydra_writes(tmp_path):
    """A sweep as the leaderboard runs one (``hydra.sweep.dir``/``subdir``): each job folder records its config.

    Hydra is asked to save its own copy too (``hydra.output_subdir=by_hydra``): the run folder's are the same bytes.
    """
    overrides = ["objective=oracle", "benchmark=nb201", "search.budget=5", "progress=false"]
    done = nas("search", "-m", *overrides, "seed=0,1", "hydra.sweep.dir=sweep", "hydra.sweep.subdir=seed${seed}",
               "hydra.output_subdir=by_hydra", cwd=tmp_path)
    assert done.returncode == 0, done.output
    for seed in (0, 1):
        folder = RunFolder(tmp_path / "sweep" / f"seed{seed}")
        for name in ("config.yaml", "overrides.yaml"):
            assert (folder.hydra_dir / name).read_bytes() == (folder.path / "by_hydra" / name).read_bytes(), name
        assert folder.saved_overrides() == [*overrides[:3], "progress=False", f"seed={seed}"]  # as Hydra's sweeper says
        with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
            expected = compose("search", overrides=[*overrides, f"seed={seed}"])
        assert OmegaConf.load(folder.config) == expected
        assert OmegaConf.load(folder.hydra_config).hydra.job.name == "search"
        assert len(folder.read_ranking()) == 5
