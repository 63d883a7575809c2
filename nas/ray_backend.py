"""Jobs on a Ray cluster (``backend=ray``): the driver submits them and gets each result back exactly once.

Ray is an optional extra (``pip install -e .[ray]``). ``ray_cluster(address)`` connects to a cluster at
``address``, or starts a local one (``address=None``) that ends with it; a cluster the caller already
initialised (``ray.init(...)`` earlier in the process) is used as it is and left running.
``imap_unordered(function, jobs, concurrency)`` keeps at most ``concurrency`` jobs in flight and yields their
results as they finish, as ``multiprocessing.Pool.imap_unordered`` does. Whatever the results are written to,
the driver writes them, one at a time: a Ray worker that dies mid-job has the job retried by Ray
(``max_retries``), whose result still comes back once; a driver that dies takes its in-flight jobs with it (Ray
ends a job's tasks when its driver exits) and nothing half-done is written.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import signal
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nas.errors import ConfigError

INSTALL = "pip install -e '.[ray]'"
"""How to get Ray (the optional extra ``ray``)."""


def import_ray():
    """The ``ray`` module, or a ConfigError that says how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError(f"backend=ray needs Ray: {INSTALL} (or backend=local)") from None
    return ray


@contextmanager
def ray_cluster(address: str | None = None, num_cpus: int | None = None) -> Iterator[Any]:
    """Ray, connected to ``address`` (``auto``, ``ray://host:10001``, ``host:6379``) or to a new local cluster
    of ``num_cpus`` CPUs (``None``: all); the ``ray`` module is yielded. Ray already initialised in this process
    is used as it is. A local cluster started here is shut down on exit."""
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    options: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
    if address is None:
        options.update(num_cpus=num_cpus, include_dashboard=False)
    elif num_cpus is not None:
        raise ConfigError(f"ray.num_cpus={num_cpus} sizes a local cluster only: a cluster at ray.address={address} "
                          "has the CPUs its nodes were started with; drop ray.num_cpus")
    try:
        ray.init(address=address, **options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ConfigError(f"cannot connect to Ray at ray.address={address} ({type(exc).__name__}: "
                          f"{str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ''}); start the "
                          "cluster (`ray start --head` on its head node) or set ray.address=null for a local "
                          "cluster") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def imap_unordered(function: Callable[[Any], Any], jobs: Iterable[Any], concurrency: int, num_cpus: float = 1,
                   max_retries: int = 3) -> Iterator[Any]:
    """``function(job)`` of every job as Ray tasks, at most ``concurrency`` in flight, each needing ``num_cpus``;
    results in the order they finish. Needs Ray initialised (``ray_cluster``). A task whose worker process dies
    is retried up to ``max_retries`` times; an exception raised by ``function`` is raised here. Closing the
    iterator early cancels the tasks in flight."""
    ray = import_ray()
    remote = ray.remote(num_cpus=num_cpus, max_retries=max_retries)(_call)
    stored = ray.put(function)  # sent to the cluster once, not with every job
    pending = iter(jobs)
    in_flight: list = []
    try:
        while True:
            while len(in_flight) < max(1, int(concurrency)):
                job = next(pending, _END)
                if job is _END:
                    break
                in_flight.append(remote.remote(stored, job))
            if not in_flight:
                return
            done, in_flight = ray.wait(in_flight, num_returns=1)
            yield ray.get(done[0])
    finally:
        for ref in in_flight:
            ray.cancel(ref, force=True)


_END = object()


def _call(function: Callable[[Any], Any], job: Any) -> Any:
    """The Ray task: ``function(job)`` (a task needs a plain function; ``function`` may be a partial)."""
    return function(job)


def run_logged(job: tuple[Sequence[str], str, str]) -> int:
    """Run ``command`` in folder ``cwd`` with its stdout and stderr in file ``log``: ``job = (command, cwd, log)``;
    its exit status. For commands as Ray tasks (``imap_unordered(run_logged, ...)``): on Linux the command is
    killed with the Ray worker that started it, so a killed driver or worker leaves no orphan command running."""
    command, cwd, log = job
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        return subprocess.run(list(command), cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                              preexec_fn=_end_with_parent if sys.platform.startswith("linux") else None).returncode


def _end_with_parent() -> None:
    """In the child, before it runs: SIGKILL it when its parent (the Ray worker) dies (Linux ``prctl``)."""
    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").prctl(1, signal.SIGKILL, 0, 0, 0)  # PDEATHSIG
    except (OSError, AttributeError):
        pass
