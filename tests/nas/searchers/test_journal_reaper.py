"""The reaper of journal files: a worker killed mid-trial on ``searcher.storage=/path/study.log`` leaves its trial
FAIL and retried by the next worker, as heartbeats do on PostgreSQL (``HeartbeatJournalStorage``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from nas.searchers import OptunaSearch
from nas.searchers.optuna_storage import HEARTBEAT_ATTR, HeartbeatJournalStorage, last_beat, open_storage
from search_spaces.nb201 import NB201SearchSpace

ROOT = Path(__file__).resolve().parents[3]
Retry = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", optuna.storages.RetryFailedTrialCallback)
pytestmark = [pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning"),
              pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used")]
X = {"x": optuna.distributions.CategoricalDistribution((0, 1, 2))}


def load(path: Path) -> optuna.Study:
    return optuna.load_study(study_name="nas-search", storage=open_storage(path))


def fail_stale(study: optuna.Study) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        optuna.storages.fail_stale_trials(study)


def test_a_journal_with_heartbeats_beats_and_reaps_only_silent_trials(tmp_path):
    """A trial that beats is alive; one silent past the grace period is failed once and retried once, even when
    two workers reap it at the same moment; the retry is judged by its own start, not its original's old beat."""
    path = tmp_path / "study.log"
    storage = open_storage(path, heartbeat_seconds=1, grace_seconds=1, retries=1)
    assert isinstance(storage, HeartbeatJournalStorage) and storage.get_heartbeat_interval() == 1
    assert not isinstance(open_storage(path), HeartbeatJournalStorage)  # heartbeat_seconds=None: a plain journal
    study = optuna.create_study(storage=storage, study_name="nas-search")
    alive, dead = study.ask(X), study.ask(X)
    storage.record_heartbeat(alive._trial_id)
    assert isinstance(study.trials[0].system_attrs[HEARTBEAT_ATTR], float)
    time.sleep(1.2)
    storage.record_heartbeat(alive._trial_id)  # beats on: alive; `dead` is silent past its grace period

    other = optuna.load_study(study_name="nas-search",
                              storage=open_storage(path, heartbeat_seconds=1, grace_seconds=1, retries=1))
    fail_stale(other)
    fail_stale(study)  # a second reaper right after: the journal keeps the first FAIL, no second retry
    trials = load(path).trials
    assert [t.state for t in trials] == [TrialState.RUNNING, TrialState.FAIL, TrialState.WAITING]
    assert Retry.retried_trial_number(trials[2]) == dead.number and trials[2].params == dead.params

    retry = other.ask(X)  # the retry is popped: it carries its dead original's attributes, yet it has just started
    assert retry.number == 2 and retry.params == dead.params
    assert last_beat(load(path).trials[2]) > time.time() - 1
    fail_stale(study)
    assert load(path).trials[2].state == TrialState.RUNNING


WORKER = textwrap.dedent("""
    import json, sys, time
    import torch
    torch.set_num_threads(1)
    from nas.searchers import OptunaSearch
    from search_spaces.nb201 import NB201SearchSpace
    path, seed, budget, out, hang = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5] == "hang"
    calls = []
    def objective(arch):
        calls.append(str(arch))
        if hang and len(calls) == 3:  # a worker that dies mid-trial: say which, then wait to be killed
            open(out, "w").write(str(arch))
            time.sleep(600)
        return float(str(arch).count("nor_conv_3x3")) + (sum(map(ord, str(arch))) % 97) / 100
    searcher = OptunaSearch(NB201SearchSpace(), seed=seed, sampler="RandomSampler", storage=path, workers=2,
                            heartbeat_seconds=1, grace_seconds=2, retries=1)
    searcher.search(objective, budget)
    json.dump({"calls": calls}, open(out, "w"))
""")


def worker(path: Path, seed: int, budget: int, out: Path, hang: bool = False) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", WORKER, str(path), str(seed), str(budget), str(out),
                             "hang" if hang else "run"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_a_worker_killed_mid_trial_on_a_journal_has_its_trial_failed_and_retried(tmp_path):
    """SIGKILL a worker during its third trial on a journal file: the next worker's start-up fails the RUNNING
    trial, retries it first (same architecture), leaves nothing RUNNING, and every architecture is scored once."""
    path, marker = tmp_path / "study.log", tmp_path / "dying.txt"
    dying = worker(path, 1, 5, marker, hang=True)
    try:
        deadline = time.monotonic() + 90
        while not marker.exists() or not marker.read_text():
            assert dying.poll() is None, dying.communicate()[1]
            assert time.monotonic() < deadline, "the dying worker never started its third trial"
            time.sleep(0.2)
        running = load(path).get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        assert len(running) == 1
        time.sleep(2.5)  # its heartbeat thread keeps beating while it scores: not stale
        fail_stale(optuna.load_study(study_name="nas-search", storage=open_storage(path, 1, 2, 1)))
        assert [t.state for t in load(path).trials] == [TrialState.COMPLETE] * 2 + [TrialState.RUNNING]
    finally:
        os.kill(dying.pid, signal.SIGKILL)  # only the process this test started
        dying.communicate(timeout=30)
    killed = running[0]
    time.sleep(3)  # past grace_seconds=2 since its last beat

    survivor = worker(path, 2, 5, tmp_path / "survivor.json")
    _, err = survivor.communicate(timeout=120)
    assert survivor.returncode == 0, err
    calls = json.loads((tmp_path / "survivor.json").read_text())["calls"]
    assert calls[0] == marker.read_text() == str(NB201SearchSpace().make(killed.params))  # the retry came first
    trials = load(path).trials
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    assert trials[killed.number].state == TrialState.FAIL
    retried = [t for t in trials if Retry.retried_trial_number(t) == killed.number]
    assert len(retried) == 1 and retried[0].state == TrialState.COMPLETE and retried[0].params == killed.params
    scored = [tuple(sorted(t.params.items())) for t in trials
              if t.state == TrialState.COMPLETE and not t.user_attrs.get("cached")]
    assert len(scored) == 2 + 5 == len(set(scored))  # the dead worker's 2, the survivor's 5 (the retry first)


def test_a_plain_journal_search_still_works_without_heartbeats(tmp_path):
    """heartbeat_seconds=None keeps Optuna's plain journal (no beat written); the default beats on a journal."""
    searcher = OptunaSearch(NB201SearchSpace(), seed=0, sampler="RandomSampler", storage=tmp_path / "a.log",
                            heartbeat_seconds=None)
    assert len(searcher.search(lambda arch: 1.0, 3)) == 3
    assert not any(HEARTBEAT_ATTR in t.system_attrs for t in searcher.study.trials)
    beating = OptunaSearch(NB201SearchSpace(), seed=0, sampler="RandomSampler", storage=tmp_path / "b.log")
    assert len(beating.search(lambda arch: 1.0, 3)) == 3
    assert all(HEARTBEAT_ATTR in t.system_attrs and t.state == TrialState.COMPLETE for t in beating.study.trials)
