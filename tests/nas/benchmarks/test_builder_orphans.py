"""`nas bench build` killed with SIGKILL takes its pool workers with it: no orphan keeps training."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")


def children(parent: int) -> dict[int, str]:
    """pid -> command line of the live processes whose parent is ``parent`` (from /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # gone meanwhile
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == parent and state != "Z":
            found[int(entry.name)] = cmdline
    return found


def running(pid: int) -> bool:
    """Whether ``pid`` still exists and is not a zombie (a zombie runs nothing; its reaper is not ours)."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_pool_workers_die_with_a_killed_parent(tmp_path):
    output = tmp_path / "gt.jsonl"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    parent = subprocess.Popen(
        [sys.executable, "-m", "nas", "bench", "build", "dataset=synthetic", "recipe=tiny", "recipe.epochs=4",
         "archs.sample=40", "workers=2", "progress=false", f"output={output}"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: dict[int, str] = {}
    try:
        deadline = time.time() + 240
        while time.time() < deadline and parent.poll() is None:  # until the workers train (records appear)
            workers = {pid: cmd for pid, cmd in children(parent.pid).items() if "spawn_main" in cmd}
            if len(workers) == 2 and output.exists() and len(output.read_text().splitlines()) >= 4:
                break
            time.sleep(0.1)
        assert parent.poll() is None and len(workers) == 2, "the build ended or never started two workers"
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        deadline = time.time() + 10  # a worker still starting up ends as soon as its initializer runs
        while time.time() < deadline and any(running(pid) for pid in workers):
            time.sleep(0.05)
        assert not [pid for pid in workers if running(pid)], "pool workers outlived their killed parent"
    finally:
        if parent.poll() is None:
            parent.kill()
        for pid in workers:  # a failing run must not leave our orphans training
            if running(pid):
                os.kill(pid, signal.SIGKILL)
