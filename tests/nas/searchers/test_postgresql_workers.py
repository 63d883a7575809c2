"""Search workers on a real PostgreSQL server: several `nas search` processes on one Optuna study, a killed
worker's trial failed by heartbeat and retried, and SQLite refused for more than one worker.

The server is a throwaway one (initdb + pg_ctl from Debian's ``postgresql`` package, ``bash install.sh``) on a
free port of 127.0.0.1 with trust authentication; as root it runs as the ``postgres`` user.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from nas.errors import ConfigError
from nas.searchers import OptunaSearch
from search_spaces.nb201 import NB201SearchSpace

ROOT = Path(__file__).resolve().parents[3]
Retry = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", optuna.storages.RetryFailedTrialCallback)
pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[str]:
    """A fresh PostgreSQL server for this module: yields ``postgresql://postgres@127.0.0.1:PORT``."""
    bin_dir = _pg_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: run `bash install.sh`")
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []  # it refuses to run as root
    folder = Path(tempfile.mkdtemp(prefix="nas-pg-"))  # not under pytest's 0700 root-only folders
    data, log, port = folder / "data", folder / "server.log", _free_port()
    if as_postgres:
        shutil.chown(folder, "postgres", "postgres")

    def run(*command: str) -> None:
        done = subprocess.run([*as_postgres, *command], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{command[0]} failed:\n{done.stdout}\n{done.stderr}"

    try:
        run(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o",
            f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off -c max_connections=100", "start")
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run([*as_postgres, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w",
                            "stop"], capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def database(postgres_server: str) -> str:
    """A new, empty database on the server: its ``postgresql://`` URL."""
    import psycopg

    name = f"nas_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    return f"{postgres_server}/{name}"


def load(url: str, study_name: str = "nas-search") -> optuna.Study:
    return optuna.load_study(study_name=study_name, storage=url.replace("postgresql://", "postgresql+psycopg://"))


def nas(*args: str, cwd: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    env["OMP_NUM_THREADS"] = "1"
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.Popen([sys.executable, "-m", "nas.cli.main", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_four_nas_search_workers_share_one_study(database, tmp_path):
    """4 `nas search` processes, one PostgreSQL study: every trial COMPLETE (or PRUNED as running elsewhere),
    4 x budget architectures scored, none scored twice, and each worker ranks its own budget."""
    budget, workers = 8, 4
    processes = []
    for seed in range(workers):
        cwd = tmp_path / f"worker{seed}"
        cwd.mkdir()
        processes.append(nas("search", "objective=oracle", "benchmark=nb201", "searcher=tpe", f"seed={seed}",
                             f"searcher.storage={database}", f"searcher.workers={workers}",
                             f"search.budget={budget}", "progress=false", "threads=1", cwd=cwd))
    for process in processes:
        _, err = process.communicate(timeout=240)
        assert process.returncode == 0, err
    trials = load(database).get_trials(deepcopy=False)
    # every trial COMPLETE, but for a proposal another worker was scoring at that moment: PRUNED, never scored
    assert all(t.state == TrialState.COMPLETE or (t.state == TrialState.PRUNED and t.user_attrs["running_elsewhere"])
               for t in trials), [(t.number, t.state, t.user_attrs) for t in trials]
    scored = [tuple(sorted(t.params.items())) for t in trials
              if t.state == TrialState.COMPLETE and not t.user_attrs.get("cached")]
    assert len(scored) == workers * budget, [(t.number, t.user_attrs) for t in trials]
    assert len(set(scored)) == len(scored), scored  # a worker skips what another scored: nothing scored twice
    for seed in range(workers):
        ranking = json.loads(next((tmp_path / f"worker{seed}").glob("runs/search/*/ranked_children.json"))
                             .read_text())
        assert len(ranking) == budget == len({row["arch"] for row in ranking})


WORKER = textwrap.dedent("""
    import json, sys, time
    import torch
    torch.set_num_threads(1)
    from nas.searchers import OptunaSearch
    from search_spaces.nb201 import NB201SearchSpace
    url, seed, budget, out, hang = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5] == "hang"
    calls = []
    def objective(arch):
        calls.append(str(arch))
        if hang:  # a worker that dies mid-trial: say which, then wait to be killed
            open(out, "w").write(str(arch))
            time.sleep(600)
        return float(str(arch).count("nor_conv_3x3")) + (sum(map(ord, str(arch))) % 97) / 100
    searcher = OptunaSearch(NB201SearchSpace(), seed=seed, sampler="RandomSampler", storage=url, workers=2,
                            heartbeat_seconds=1, grace_seconds=2, retries=1)
    searcher.search(objective, budget)
    json.dump({"calls": calls}, open(out, "w"))
""")


def worker(url: str, seed: int, budget: int, out: Path, hang: bool = False) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WORKER, url, str(seed), str(budget), str(out),
                             "hang" if hang else "run"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_a_worker_killed_mid_trial_has_its_trial_failed_and_retried(database, tmp_path):
    """SIGKILL a worker while it scores: after the grace period the next worker fails its RUNNING trial,
    retries it (same architecture, scored by the living worker), and leaves no trial RUNNING."""
    marker = tmp_path / "dying.txt"
    dying = worker(database, 1, 5, marker, hang=True)
    try:
        deadline = time.monotonic() + 90
        while not marker.exists() or not marker.read_text():
            assert dying.poll() is None, dying.communicate()[1]
            assert time.monotonic() < deadline, "the dying worker never started a trial"
            time.sleep(0.2)
        running = load(database).get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        assert len(running) == 1
        time.sleep(1.5)  # its heartbeat thread keeps beating while it scores: not stale yet
        assert [t.state for t in load(database).get_trials(deepcopy=False)] == [TrialState.RUNNING]
    finally:
        os.kill(dying.pid, signal.SIGKILL)  # only the process this test started
        dying.communicate(timeout=30)
    killed = running[0]
    time.sleep(3)  # past grace_seconds=2 since its last beat

    survivor = worker(database, 2, 5, tmp_path / "survivor.json")
    _, err = survivor.communicate(timeout=120)
    assert survivor.returncode == 0, err
    calls = json.loads((tmp_path / "survivor.json").read_text())["calls"]
    space = NB201SearchSpace()
    assert calls[0] == marker.read_text() == str(space.make(killed.params))  # the retry came first
    trials = load(database).get_trials(deepcopy=False)
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    assert trials[killed.number].state == TrialState.FAIL
    retried = [t for t in trials if Retry.retried_trial_number(t) == killed.number]
    assert len(retried) == 1 and retried[0].state == TrialState.COMPLETE and retried[0].params == killed.params
    assert len([t for t in trials if t.state == TrialState.COMPLETE]) == 5 == len(set(calls))


def test_sqlite_with_several_workers_is_one_clear_error(tmp_path):
    """searcher.workers > 1 on sqlite:// is refused (exit 2, one line naming a journal file and PostgreSQL);
    one worker on SQLite still works."""
    url = f"sqlite:///{tmp_path / 'study.db'}"
    with pytest.raises(ConfigError, match="SQLite serves one worker at a time; use a journal file .* or PostgreSQL"):
        OptunaSearch(NB201SearchSpace(), storage=url, workers=2)
    assert len(OptunaSearch(NB201SearchSpace(), storage=url, workers=1).search(lambda a: 1.0, 3)) == 3
    done = nas("search", "objective=oracle", "benchmark=nb201", "searcher=tpe", f"searcher.storage={url}",
               "searcher.workers=3", "search.budget=5", "progress=false", "threads=1", cwd=tmp_path)
    out, err = done.communicate(timeout=120)
    assert done.returncode == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: searcher.storage={url} with searcher.workers=3: ")
    assert "journal file" in lines[0] and "postgresql://" in lines[0] and "Traceback" not in err
    assert not [p for p in (tmp_path / "runs").rglob("*") if p.is_file()]  # refused before any file was written
    assert len(optuna.load_study(study_name="nas-search", storage=url).trials) == 3  # the study untouched
