"""`nas leaderboard backend=ray`: each (row, seed) trained by `nas run` as a task of a local Ray cluster (2 CPUs,
started and shut down by the command), in the basic launcher's run folders; a second call trains nothing."""

import subprocess
import sys

import pytest

pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[ray]'")


def nas(*args, cwd):
    return subprocess.run([sys.executable, "-m", "nas", *args], cwd=cwd, capture_output=True, text=True, timeout=900)


@pytest.mark.slow  # about 95 s on 2 busy cores: two `nas run` smoke runs on Ray, then a second call
def test_leaderboard_rows_on_a_local_ray_cluster(tmp_path):
    gt = tmp_path / "gt.jsonl"
    built = nas("bench", "build", "dataset=synthetic", "recipe=tiny", "archs.sample=5", f"output={gt}",
                "progress=false", "backend=ray", "ray.num_cpus=2", "workers=2", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    board = ("leaderboard", "only=[spos]", "dataset=synthetic", "seeds=[0,1]", "free.rankers=[]", "combined.rows=[]", "ensemble=[]",
             f"run_overrides=['preset=smoke','trainer.epochs=1','benchmark.oracle.records={gt}']",
             f"benchmark.oracle.records={gt}", "budget_curve.epochs=[]", "threads=1", "progress=false",
             "backend=ray", "ray.num_cpus=2", "jobs=2")
    done = nas(*board, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "[spos] seed 0 on Ray: " in done.stdout and "[spos] seed 1 on Ray: " in done.stdout
    runs = tmp_path / "runs" / "leaderboard" / "spos"
    for seed in (0, 1):  # the basic launcher's folders, each run's output in a log beside them
        assert (runs / f"seed{seed}" / "summary.json").is_file()
        assert (runs / f"seed{seed}.log").is_file()
    assert "| spos | 2 | supernet |" in (tmp_path / "LEADERBOARD.md").read_text()
    again = nas(*board, cwd=tmp_path)  # every run finished: nothing is trained again
    assert again.returncode == 0 and "on Ray" not in again.stdout, again.stderr[-3000:]
