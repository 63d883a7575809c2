"""DDP supernet training on 2 gloo ranks (CPU): same children, one gradient all-reduce, global feedback, resume.

The scenarios run once per module in one 2-rank job (``distributed_worker.spawn``); SIGKILL + resume runs the
pipeline under torchrun itself.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from nas.checkpoint import load_checkpoint
from nas.errors import ConfigError
from nas.run_folder import RunFolder
from nas.training import Distributed
from tests.nas.training import distributed_worker
from tests.nas.training.distributed_worker import sandwich_vit

WORKER = Path(distributed_worker.__file__)
REPO = Path(__file__).resolve().parents[3]
SCENARIOS = ["sequences", "reducer", "pada", "divergence", "resume", "few_shot", "sandwich_vit", "refusals"]


@pytest.fixture(scope="module")
def ranks(tmp_path_factory) -> dict[str, list[dict]]:
    """scenario -> [rank 0's result, rank 1's result]."""
    out = tmp_path_factory.mktemp("two_ranks")
    distributed_worker.spawn(out, SCENARIOS)
    return {name: [torch.load(out / f"{name}_rank{r}.pt", weights_only=False) for r in (0, 1)] for name in SCENARIOS}


def max_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a if a[k].numel())


def test_both_ranks_train_the_same_children_with_every_sampler(ranks):
    first, second = ranks["sequences"]
    assert first == second and set(first) == {"uniform", "strict_fair", "sandwich", "cost_bucket"}
    pada0, pada1 = ranks["pada"]
    assert pada0["archs"] == pada1["archs"] and len(pada0["archs"]) == 12  # data-dependent PA&DA paths too


def test_pada_ranks_hold_identical_path_and_data_distributions(ranks):
    first, second = ranks["pada"]
    for name, probs in first["path_probs"].items():
        assert np.array_equal(probs, second["path_probs"][name])
        assert np.array_equal(first["importance"][name], second["importance"][name])
    assert not all(np.allclose(p, p[0]) for p in first["path_probs"].values()), "importance must have acted"
    assert torch.equal(first["data_scores"], second["data_scores"])
    assert torch.equal(first["data_probs"], second["data_probs"])
    assert int((first["data_scores"] != 1).sum()) > 64, "every rank scores the whole global batch"
    assert max_difference(first["weights"], second["weights"]) == 0.0


def test_gradients_are_averaged_over_the_ranks_that_used_them(ranks):
    for result in ranks["reducer"]:
        assert result["a"].tolist() == [2.0, 2.0]          # both ranks: (1 + 3) / 2
        assert result["b"].tolist() == [2.0, 2.0, 2.0]     # rank 0 only
        assert result["c"].tolist() == [5.0]               # rank 1 only
        assert result["e"].dtype == torch.float64 and result["e"].tolist() == [2.0, 2.0]
        assert result["d"] is None                         # no rank: grad None, so ...
        assert result["d_after_step"].tolist() == [1.0, 1.0] and not result["d_has_state"]  # ... no decay, no momentum


def test_a_parameter_no_rank_used_keeps_its_value_and_momentum(ranks):
    for result in ranks["pada"]:
        assert result["unused_checked"] > 100
        assert result["unused_worst"] == 0.0


def test_two_ranks_of_b_equal_one_rank_of_2b_for_the_sandwich_rule(ranks, tmp_path):
    one_rank = sandwich_vit(tmp_path, rank=0, batch_size=16)   # this process: one rank, the global batch
    two_ranks = ranks["sandwich_vit"][0]
    assert two_ranks["steps"] == one_rank["steps"] == 8
    assert all(v.dtype == torch.float64 for v in one_rank["weights"].values())
    assert max_difference(ranks["sandwich_vit"][0]["weights"], ranks["sandwich_vit"][1]["weights"]) == 0.0
    assert max_difference(two_ranks["weights"], one_rank["weights"]) <= 1e-6
    assert max_difference(one_rank["weights"], one_rank["initial"]) > 1e-3, "training must move the weights"


def test_divergent_ranks_fail_loudly_naming_the_step_and_the_ranks(ranks):
    for result in ranks["divergence"]:
        assert result["error"] is not None and result["step"] == 1  # the first check, after steps 0 and 1
        assert result["error"].startswith("ranks trained different children at step 0 (ranks [0]:")
        assert "ranks [1]:" in result["error"]


def test_resume_of_a_stopped_two_rank_run_continues_the_same_sequence(ranks):
    for result in ranks["resume"]:
        assert result["steps"] == (8, 8)
        assert result["resumed_archs"] == result["reference_archs"][3:]  # resumed from the checkpoint at step 3
        assert max_difference(result["reference"], result["resumed"]) == 0.0


def test_few_shot_split_is_decided_once_and_applied_on_every_rank(ranks):
    first, second = ranks["few_shot"]
    assert len(first["history"]) == 1 and first["history"] == second["history"]
    assert max_difference(first["weights"], second["weights"]) == 0.0


def test_what_cannot_run_on_two_ranks_is_refused(ranks):
    for result in ranks["refusals"]:
        assert result["odd_batch"].startswith("trainer.batch_size=33 is the global batch and must split evenly")
        assert result["not_ready"].startswith("NotReady does not run on several ranks (it is not distributed_ready")
        assert result["odd_reward_batch"].startswith("the controller's reward batch of 7 held-out images does not "
                                                     "split evenly over the 2 ranks")


def test_one_rank_is_a_no_op():
    ranks = Distributed()
    assert (ranks.world_size, ranks.enabled, ranks.local_batch_size(7)) == (1, False, 7)
    with pytest.raises(ConfigError, match="backend must be one of"):
        Distributed(backend="mpi")
    with pytest.raises(ConfigError, match="check_every must be an integer >= 0"):
        Distributed(check_every=-1)


def _job_pids(agent: int) -> list[int]:
    """The torchrun agent's worker processes (they run in sessions of their own)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == agent:
            children.append(int(stat.parent.name))
    return children


def _torchrun(out: Path, delay: float, **popen) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               str(WORKER), str(out), str(delay)]
    return subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **popen)


def test_sigkill_of_a_torchrun_job_then_resume_ends_with_the_same_weights(tmp_path):
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    done = _torchrun(reference, 0)
    stdout, stderr = done.communicate(timeout=240)
    assert done.returncode == 0, stderr[-3000:]
    total = int(stdout.split()[-1])

    victim = _torchrun(killed, 0.2)
    checkpoint = RunFolder(killed).checkpoint
    deadline, step = time.time() + 180, 0
    while time.time() < deadline and victim.poll() is None and step < 6:
        if checkpoint.exists():
            step = load_checkpoint(checkpoint)["train_state"]["step"]
        time.sleep(0.05)
    for pid in [*_job_pids(victim.pid), victim.pid]:  # every rank and the agent, at once: a lost node
        os.kill(pid, signal.SIGKILL)
    victim.communicate()
    killed_at = load_checkpoint(checkpoint)["train_state"]["step"]
    assert 6 <= killed_at < total, f"the kill must land mid-training (checkpoint at {killed_at} of {total})"
    assert not (killed / "final_weights.pt").exists()
    assert [p.name for p in checkpoint.parent.iterdir()] == ["last.pt"], "no half-written files"

    resumed = _torchrun(killed, 0)
    stdout, stderr = resumed.communicate(timeout=240)
    assert resumed.returncode == 0, stderr[-3000:]
    assert int(stdout.split()[-1]) == total
    assert f"resumed from {checkpoint} at step {killed_at}" in stdout + stderr
    assert max_difference(torch.load(reference / "final_weights.pt"), torch.load(killed / "final_weights.pt")) == 0.0
