import functools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from nas.checkpoint import load_checkpoint, save_atomic
from nas.data import synthetic
from nas.errors import CheckpointError, ConfigError
from nas.trainer import Trainer, cosine_schedule
from samplers import UniformDataSampler, UniformPathSampler
from search_spaces.nb201 import NB201SearchSpace

WORKER = Path(__file__).with_name("resume_worker.py")


def make_trainer(tmp_path, fingerprint=None, **kwargs):
    torch.manual_seed(0)
    data = synthetic(train_size=128)
    space = NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
    options = dict(epochs=2, batch_size=32, progress=False, tensorboard=False, checkpoint_every=0)
    options.update(kwargs)
    return Trainer(space.build_supernet(), data.train, UniformPathSampler(space, seed=0),
                   UniformDataSampler(len(data.train), seed=0),
                   functools.partial(torch.optim.SGD, lr=0.1, momentum=0.9), output_dir=tmp_path,
                   fingerprint=fingerprint, **options)


def test_sigkill_mid_training_then_restart_ends_with_the_same_weights(tmp_path):
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    run = [sys.executable, str(WORKER)]
    done = subprocess.run(run + [str(reference), "0"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    total = int(done.stdout.split()[-1])

    victim = subprocess.Popen(run + [str(killed), "0.15"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    checkpoint = killed / Trainer.CHECKPOINT
    deadline = time.time() + 240
    step = 0
    while time.time() < deadline and victim.poll() is None:
        if checkpoint.exists():
            step = load_checkpoint(checkpoint)["train_state"]["step"]
            if step >= 6:
                break
        time.sleep(0.05)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    assert victim.returncode == -signal.SIGKILL
    killed_at = load_checkpoint(checkpoint)["train_state"]["step"]
    assert 6 <= killed_at < total, f"the kill must land mid-training (checkpoint at {killed_at} of {total})"
    assert not (killed / "final_weights.pt").exists()
    assert not [p for p in checkpoint.parent.iterdir() if p.name != "last.pt"], "no half-written files"

    resumed = subprocess.run(run + [str(killed), "0"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert int(resumed.stdout.split()[-1]) == total
    a = torch.load(reference / "final_weights.pt")
    b = torch.load(killed / "final_weights.pt")
    assert a.keys() == b.keys()
    worst = max(float((a[k].double() - b[k].double()).abs().max()) for k in a if a[k].numel())
    assert worst <= 1e-6, f"resumed run differs from the uninterrupted one by {worst}"


def test_resume_in_process_equals_uninterrupted_and_restores_every_state(tmp_path):
    straight = make_trainer(tmp_path / "a")
    straight.fit()
    first = make_trainer(tmp_path / "b", max_steps=3)
    first.fit()  # stops after 3 steps and saves
    state = load_checkpoint(tmp_path / "b" / Trainer.CHECKPOINT)
    assert state["train_state"]["step"] == 3
    assert set(state) >= {"supernet", "optimizer", "scheduler", "path_sampler", "data_sampler", "rng", "train_state"}
    second = make_trainer(tmp_path / "b")
    # same folder, longer budget: a different schedule -> but same fingerprint (None); resume continues
    save = load_checkpoint(tmp_path / "b" / Trainer.CHECKPOINT)
    save["total_steps"] = second.total_steps
    second.load_state_dict(save)
    assert second.state.step == 3 and second.state.batch_in_epoch == 3
    assert second.optimizer.state_dict()["state"], "optimizer momentum restored"


def test_checkpoint_of_another_configuration_is_refused(tmp_path):
    make_trainer(tmp_path, fingerprint="aaaa", max_steps=2).fit()
    other = make_trainer(tmp_path, fingerprint="bbbb")
    with pytest.raises(CheckpointError, match="another training configuration"):
        other.fit()


def test_corrupt_checkpoint_gives_one_clear_error(tmp_path):
    trainer = make_trainer(tmp_path, max_steps=2)
    trainer.fit()
    trainer.checkpoint_path.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupt.*delete it"):
        make_trainer(tmp_path).fit()


def test_atomic_save_leaves_old_file_and_no_temporary_on_failure(tmp_path):
    path = tmp_path / "x.pt"
    save_atomic({"a": 1}, path)

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        save_atomic({"a": Unpicklable()}, path)
    assert torch.load(path) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.pt"]


def test_step_trains_every_sampled_child_and_counts_options(tmp_path):
    trainer = make_trainer(tmp_path, max_steps=5)
    trainer.fit()
    assert trainer.state.step == 5
    assert sum(trainer.option_counts.values()) == 5 * 6  # one child per step, 6 decisions each
    before = {k: v.clone() for k, v in trainer.supernet.state_dict().items()}
    x, y = trainer.train_data.x[:32], trainer.train_data.y[:32]
    arch = trainer.path_sampler.sample(trainer.state.step)[0]
    trainer.train_step(x, y, torch.arange(32))
    after = trainer.supernet.state_dict()
    # parameters of ops the child did not use do not move
    for (edge, op), params in trainer.supernet.option_parameters().items():
        names = {id(p) for p in params}
        for name, p in trainer.supernet.named_parameters():
            if id(p) in names and arch[edge] != op and "weight" in name:
                assert torch.equal(before[name], after[name]), f"{name} moved although {edge} used {arch[edge]}"


def test_cosine_schedule_warms_up_then_decays_to_zero():
    f = cosine_schedule(100, warmup_steps=10)
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0)
    assert f(10) == pytest.approx(1.0) and f(55) == pytest.approx(0.5) and f(100) == pytest.approx(0.0)


def test_bad_options_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="child_loss"):
        make_trainer(tmp_path, child_loss="max")
    with pytest.raises(ConfigError, match="fewer than batch_size"):
        make_trainer(tmp_path, batch_size=1000)
    with pytest.raises(ConfigError, match="CUDA is not available"):
        if torch.cuda.is_available():
            pytest.skip("CUDA present")
        make_trainer(tmp_path, device="cuda")
