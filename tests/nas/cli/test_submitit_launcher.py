"""`nas run -m` sweeps through Hydra's submitit launcher: the README's SLURM recipe with its local executor
(``hydra/launcher=submitit_local``, which submitit runs as local processes, as SLURM would on nodes)."""

import json
import subprocess
import sys

import pytest

pytest.importorskip("hydra_plugins.hydra_submitit_launcher",
                    reason="hydra-submitit-launcher is not installed: pip install -e '.[slurm]'")


def test_a_two_job_sweep_runs_through_submitit_local(tmp_path):
    """2 seeds of a smoke `nas run`, each a submitit job: both finish in their own run folder, and submitit kept
    each job's logs and result under the sweep's .submitit folder."""
    sweep = tmp_path / "sweep"
    done = subprocess.run([sys.executable, "-m", "nas", "run", "-m", "preset=smoke", "seed=0,1", "threads=1",
                           "progress=false", "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=10",
                           "hydra.launcher.cpus_per_task=1", f"hydra.sweep.dir={sweep}",
                           "hydra.sweep.subdir=seed${seed}"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Submitit 'local' sweep output dir" in done.stdout + done.stderr
    for seed in (0, 1):
        summary = json.loads((sweep / f"seed{seed}" / "summary.json").read_text())
        assert summary["child_evaluations"] > 0
    jobs = [p for p in (sweep / ".submitit").iterdir() if p.name.isdigit()]  # and submitit's "%j" template folder
    assert len(jobs) == 2 and all(list(job.glob("*_result.pkl")) for job in jobs)
