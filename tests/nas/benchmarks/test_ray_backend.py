"""Ground truth on Ray (``nas bench build backend=ray``): a real local Ray cluster of 2 CPUs, started here.

The same records as the process pool; a Ray worker SIGKILLed mid-run has its run retried, and its record comes
back once; a driver SIGKILLed mid-build loses nothing written, and the resumed build trains only the missing
(architecture, seed) pairs, with no duplicate.
"""

from __future__ import annotations

import functools
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from nas.benchmarks import StandaloneRecipe, build_ground_truth, load_records, sample_distinct
from nas.data import synthetic
from search_spaces.nb201 import NB201SearchSpace

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[ray]'")

ROOT = Path(__file__).resolve().parents[3]
TINY = StandaloneRecipe(train_size=128, epochs=1, batch_size=64)
SPACE = NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
LOAD = functools.partial(synthetic, train_size=128, valid_size=64, test_size=64)


def without_time(records):
    return sorted(json.dumps({k: v for k, v in r.items() if k != "seconds"}, sort_keys=True) for r in records)


@pytest.fixture(scope="module")
def cluster() -> str:
    """A local Ray cluster of 2 CPUs for this module (shut down after): its address."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def test_a_ray_build_gives_the_records_of_the_process_pool(cluster, tmp_path):
    """2 architectures x 2 seeds on 2 Ray workers and on a pool of 2 processes: the same records (but time)."""
    archs = sample_distinct(SPACE, 2, seed=1)
    pool = build_ground_truth(SPACE, LOAD, "synthetic", archs, [0, 1], tmp_path / "pool.jsonl", TINY, workers=2,
                              progress=False)
    on_ray = build_ground_truth(SPACE, LOAD, "synthetic", archs, [0, 1], tmp_path / "ray.jsonl", TINY, workers=2,
                                progress=False, backend="ray")
    assert len(on_ray) == 4 and without_time(on_ray) == without_time(pool)
    assert load_records(tmp_path / "ray.jsonl") == on_ray  # written by the driver's one atomic writer


def test_a_ray_worker_killed_mid_run_has_its_run_retried_once(cluster, tmp_path):
    """SIGKILL the Ray worker process of the first run while it is inside that run: Ray retries the run in a new
    worker; every (architecture, seed) has exactly one record, equal to an undisturbed build's. The first run to
    start parks itself until it is killed, so the kill always lands mid-run (no timing guess)."""
    archs, recipe = sample_distinct(SPACE, 2, seed=2), StandaloneRecipe(train_size=128, epochs=2, batch_size=16)
    pids, parked = tmp_path / "pids", tmp_path / "parked"
    pids.mkdir()

    def load_and_say_who():  # runs at the start of each run, in its Ray worker process (by value: a closure)
        (pids / str(os.getpid())).touch()
        try:
            os.close(os.open(parked, os.O_CREAT | os.O_EXCL | os.O_WRONLY))  # only the very first run gets here
        except FileExistsError:
            return LOAD()
        parked.write_text(str(os.getpid()))
        time.sleep(600)  # killed here, inside its run
        raise AssertionError("the parked run was never killed")

    def kill_first_worker():
        deadline = time.monotonic() + 120
        while not (parked.exists() and parked.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        victim = int(parked.read_text())
        os.kill(victim, signal.SIGKILL)  # a Ray worker that this test's cluster started
        killed.append(victim)

    killed: list[int] = []
    killer = threading.Thread(target=kill_first_worker)
    killer.start()
    records = build_ground_truth(SPACE, load_and_say_who, "synthetic", archs, [0, 1], tmp_path / "gt.jsonl", recipe,
                                 workers=2, progress=False, backend="ray")
    killer.join()
    assert killed and str(killed[0]) in {p.name for p in pids.iterdir()}
    assert len(list(pids.iterdir())) >= 2  # the killed worker, then another one for the retry
    assert sorted((r["arch"], r["seed"]) for r in records) == sorted((str(a), s) for a in archs for s in (0, 1))
    straight = build_ground_truth(SPACE, LOAD, "synthetic", archs, [0, 1], tmp_path / "straight.jsonl", recipe,
                                  progress=False)
    assert without_time(records) == without_time(straight)


def bench_build(cluster: str, output: Path, progress: bool = False) -> list[str]:
    return [sys.executable, "-m", "nas", "bench", "build", "dataset=synthetic", "recipe=tiny", "archs.sample=3",
            "recipe.epochs=3", "backend=ray", f"ray.address={cluster}", "workers=2", f"output={output}",
            f"progress={str(progress).lower()}"]


def test_a_driver_killed_mid_build_resumes_with_only_the_missing_runs(cluster, tmp_path):
    """SIGKILL `nas bench build backend=ray` (the driver) once 2 records are written: the file loads cleanly; the
    resumed build trains exactly the missing pairs (its progress bar counts them), keeps the finished records as
    they were, and ends with each of the 3 x 2 pairs once."""
    target = tmp_path / "gt.jsonl"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    driver = subprocess.Popen(bench_build(cluster, target), env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while driver.poll() is None and time.monotonic() < deadline:
        if target.exists() and len(target.read_text().splitlines()) >= 2:
            break
        time.sleep(0.02)
    assert driver.poll() is None, driver.communicate()[1]
    os.kill(driver.pid, signal.SIGKILL)  # the driver this test started
    driver.communicate(timeout=30)
    partial = load_records(target)  # never half-written
    assert 2 <= len(partial) < 6

    resumed = subprocess.run(bench_build(cluster, target, progress=True), env=env, capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    totals = {int(n) for n in re.findall(rf"ground truth \({len(partial)} done\):.*?\d+/(\d+)", resumed.stderr)}
    assert totals == {6 - len(partial)}, resumed.stderr  # trained only what was missing
    final = load_records(target)
    assert final[:len(partial)] == partial
    pairs = [(r["arch"], r["seed"]) for r in final]
    assert len(pairs) == 6 == len(set(pairs)) and {s for _, s in pairs} == {0, 1}
