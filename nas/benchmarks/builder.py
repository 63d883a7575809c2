"""Ground-truth builder: stand-alone training of many (architecture, seed) pairs, resumable."""

from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import functools
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nas.architecture import Architecture
from nas.benchmarks.recipe import StandaloneRecipe, train_standalone
from nas.benchmarks.records import load_records, write_records
from nas.data.splits import ImageDataset
from nas.errors import ConfigError
from nas.progress import progress_bar
from nas.search_space import SearchSpace


def sample_distinct(space: SearchSpace, count: int, seed: int) -> list[Architecture]:
    """``count`` distinct architectures drawn uniformly; a larger ``count`` extends a smaller one (same prefix)."""
    if count > space.size:
        raise ConfigError(f"cannot sample {count} distinct architectures from a space of {space.size}")
    rng = np.random.default_rng(seed)
    if space.size <= 1_000_000:
        every = list(space.enumerate())
        return [every[int(i)] for i in rng.permutation(space.size)[:count]]
    seen: dict[Architecture, None] = {}
    while len(seen) < count:
        seen.setdefault(space.sample(rng), None)
    return list(seen)


@dataclass
class _Worker:
    space: SearchSpace
    load_data: Callable[[], ImageDataset]
    recipe: StandaloneRecipe
    threads: int
    parent_pid: int = 0
    token: str = ""  # one build's workers: a Ray worker process that served another build loads its data anew


_STATE: dict = {}

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _die_with_parent(parent_pid: int, poll_seconds: float = 1.0) -> None:
    """End this process when process ``parent_pid`` (its parent) dies, even by ``kill -9``.

    Linux: ``prctl(PR_SET_PDEATHSIG, SIGKILL)``, the kernel's own notice. Elsewhere (no prctl), a
    daemon thread polls ``os.getppid()``. Either way, a parent that died before this call is
    noticed at once (the process was re-parented: ``os.getppid()`` changed).
    """
    armed = False
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            armed = libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
        except (OSError, AttributeError):
            armed = False
    if os.getppid() != parent_pid:
        os._exit(1)  # the parent died before the signal was armed
    if not armed:
        def watch() -> None:
            while os.getppid() == parent_pid:
                time.sleep(poll_seconds)
            os._exit(1)

        threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


def _init_worker(worker: _Worker) -> None:
    if worker.parent_pid:
        _die_with_parent(worker.parent_pid)  # a killed `nas bench build` leaves no orphan training on
    torch.set_num_threads(worker.threads)
    _STATE["worker"] = worker
    _STATE["data"] = worker.load_data()


def _run_job(job: tuple[str, int]) -> dict:
    worker: _Worker = _STATE["worker"]
    arch = worker.space.parse(job[0])
    return train_standalone(worker.space, arch, _STATE["data"], worker.recipe, job[1])


def _run_ray_job(worker: _Worker, job: tuple[str, int]) -> dict:
    """One run in a Ray worker process, which loads the data on its first run of the build."""
    if _STATE.get("worker") is None or _STATE["worker"].token != worker.token:
        _init_worker(worker)
    return _run_job(job)


BACKENDS = ("local", "ray")
"""Where the runs train: ``local`` (this process, or a pool of ``workers`` processes), ``ray`` (Ray tasks)."""


def build_ground_truth(
    space: SearchSpace,
    load_data: Callable[[], ImageDataset],
    dataset_name: str,
    archs: Sequence[Architecture],
    seeds: Sequence[int],
    output: str | Path,
    recipe: StandaloneRecipe = StandaloneRecipe(),
    workers: int = 1,
    threads_per_worker: int = 1,
    progress: bool = True,
    backend: str = "local",
    ray_address: str | None = None,
    ray_cpus: int | None = None,
) -> list[dict]:
    """Train every (architecture, seed) not yet in ``output`` and append its record.

    Finished records are skipped, so a killed build loses at most the runs in flight; the file
    is rewritten atomically after each record, never left half-written. A file built with
    another recipe, space or dataset is refused (its recipe hash differs).
    ``load_data`` must be picklable (a module-level function or ``functools.partial``) when
    ``workers > 1`` or on Ray.

    ``backend="ray"`` trains the runs as Ray tasks (``workers`` in flight, ``threads_per_worker`` CPUs each) on
    the cluster at ``ray_address``, or on a local one of ``ray_cpus`` CPUs (``None``: all), or on the cluster
    this process already initialised; records still come back to this process, which alone writes ``output``.
    """
    if backend not in BACKENDS:
        raise ConfigError(f"backend={backend!r}: choose one of {list(BACKENDS)}")
    fingerprint = recipe.fingerprint(space, dataset_name)
    with _exclusive(Path(output)):
        return _build(space, load_data, fingerprint, archs, seeds, output, recipe, workers, threads_per_worker,
                      progress, backend, ray_address, ray_cpus)


@contextmanager
def _exclusive(output: Path):
    """One builder per output file: a second one would overwrite the first one's records."""
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output.with_name(output.name + ".lock"), "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(f"another `nas bench build` is writing {output}: wait for it, or use another output")
        yield


def _build(space, load_data, fingerprint, archs, seeds, output, recipe, workers, threads_per_worker, progress,
           backend="local", ray_address=None, ray_cpus=None):
    records = load_records(output, recipe=fingerprint, allow_empty=True)
    done = {(r["arch"], int(r["seed"])) for r in records}
    jobs = [(str(a), int(s)) for a in archs for s in seeds if (str(a), int(s)) not in done]
    if not jobs:
        return records
    worker = _Worker(space, load_data, recipe, threads_per_worker, token=uuid.uuid4().hex)
    if backend == "ray":
        from nas.ray_backend import ray_cluster

        with ray_cluster(ray_address, ray_cpus):
            return _collect(records, _ray_results(worker, jobs, workers), fingerprint, output, len(jobs),
                            len(done), progress)
    pool = None
    try:
        if workers <= 1:
            _init_worker(worker)
            results = map(_run_job, jobs)
        else:
            worker.parent_pid = os.getpid()
            pool = mp.get_context("spawn").Pool(workers, initializer=_init_worker, initargs=(worker,))
            results = pool.imap_unordered(_run_job, jobs)
        _collect(records, results, fingerprint, output, len(jobs), len(done), progress)
        if pool is not None:
            pool.close()
            pool.join()
    finally:
        if pool is not None:
            pool.terminate()
    return records


def _ray_results(worker: _Worker, jobs: list[tuple[str, int]], workers: int) -> Iterator[dict]:
    from nas.ray_backend import imap_unordered

    return imap_unordered(functools.partial(_run_ray_job, worker), jobs, concurrency=workers,
                          num_cpus=worker.threads)


def _collect(records: list[dict], results, fingerprint: str, output, todo: int, done: int,
             progress: bool) -> list[dict]:
    """The one writer: append each finished run's record to ``records`` and rewrite ``output`` atomically."""
    bar = progress_bar(todo, f"ground truth ({done} done)", unit="run", enabled=progress)
    try:
        for record in results:
            if record["recipe"] != fingerprint:  # pragma: no cover - guards against a changed recipe mid-run
                raise ConfigError("a worker produced a record of another recipe")
            records.append(record)
            write_records(output, records)
            bar.set_postfix(last=f"{record['accuracy']:.2f}%", secs=f"{record['seconds']:.0f}")
            bar.update(1)
    finally:
        close = getattr(results, "close", None)
        if close is not None:
            close()  # a generator of Ray tasks cancels those in flight
        bar.close()
    return records
