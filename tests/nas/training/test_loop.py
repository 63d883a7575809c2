"""The training loop: exact resume (in process and after SIGKILL), refused checkpoints, the budget, bad options."""

import copy
import functools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from nas.checkpoint import load_checkpoint, save_atomic
from nas.data import synthetic
from nas.errors import CheckpointError, ConfigError
from nas.run_folder import RunFolder
from nas.training import TrainerCallback, TrainingBudget, cosine_schedule
from samplers import UniformDataSampler, UniformPathSampler
from search_spaces.nb201 import NB201SearchSpace
from tests.nas.training.helpers import one_shot_trainer

WORKER = Path(__file__).with_name("resume_worker.py")


def make_trainer(tmp_path, fingerprint=None, callbacks=(), **kwargs):
    torch.manual_seed(0)
    data = synthetic(train_size=128)
    space = NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
    options = dict(epochs=2, batch_size=32, progress=False, tensorboard=False, checkpoint_every=0)
    options.update(kwargs)
    return one_shot_trainer(space.build_supernet(), data.train, UniformPathSampler(space, seed=0),
                            UniformDataSampler(len(data.train), seed=0), tmp_path,
                            optimizer=functools.partial(torch.optim.SGD, lr=0.1, momentum=0.9),
                            fingerprint=fingerprint, callbacks=callbacks, **options)


def test_sigkill_mid_training_then_restart_ends_with_the_same_weights(tmp_path):
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    run = [sys.executable, str(WORKER)]
    done = subprocess.run(run + [str(reference), "0"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    total = int(done.stdout.split()[-1])

    victim = subprocess.Popen(run + [str(killed), "0.15"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    checkpoint = RunFolder(killed).checkpoint
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
    state = load_checkpoint(RunFolder(tmp_path / "b").checkpoint)
    assert state["train_state"]["step"] == 3
    assert set(state) >= {"supernet", "optimizer", "scheduler", "path_sampler", "data_sampler", "rng", "train_state"}
    second = make_trainer(tmp_path / "b")
    # same folder, longer budget: a different schedule -> but same fingerprint (None); resume continues
    save = load_checkpoint(RunFolder(tmp_path / "b").checkpoint)
    save["total_steps"] = second.total_steps
    second.load_state_dict(save)
    assert second.state.step == 3 and second.state.batch_in_epoch == 3
    assert second.method.optimizer.state_dict()["state"], "optimizer momentum restored"


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
    assert sum(trainer.method.option_counts.values()) == 5 * 6  # one child per step, 6 decisions each
    before = {k: v.clone() for k, v in trainer.supernet.state_dict().items()}
    x, y = trainer.train_data.x[:32], trainer.train_data.y[:32]
    arch = trainer.method.path_sampler.sample(trainer.state.step)[0]
    output = trainer.train_step(x, y, torch.arange(32))
    assert output.feedback.archs == [arch] and 0.0 <= output.accuracy <= 1.0 and output.loss > 0
    after = trainer.supernet.state_dict()
    # parameters of ops the child did not use do not move
    assert sum(trainer.method.option_counts.values()) == 6 * 6
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


class Recorder(TrainerCallback):
    """Keeps the feedback it receives and the events of the loop, in order; its state is a counter."""

    def __init__(self, needs=frozenset()):
        self.needs = frozenset(needs)
        self.feedback, self.events, self.steps_seen = [], [], 0

    def observe(self, feedback):
        self.feedback.append(feedback)

    def on_train_start(self, trainer):
        self.events.append(("start", trainer.state.step))

    def on_step_end(self, trainer):
        self.steps_seen += 1

    def on_epoch_end(self, trainer):
        self.events.append(("epoch", trainer.state.epoch))

    def on_train_end(self, trainer):
        self.events.append(("end", trainer.state.step))

    def state_dict(self):
        return {"steps_seen": self.steps_seen}

    def load_state_dict(self, state):
        self.steps_seen = state["steps_seen"]


def test_every_participant_learns_the_budget_in_steps(tmp_path):
    recorder = Recorder()
    trainer = make_trainer(tmp_path, epochs=3, max_steps=7, callbacks=[recorder])  # 128 examples / 32 = 4 per epoch
    expected = TrainingBudget(total_steps=7, steps_per_epoch=4)
    assert trainer.budget == expected and trainer.total_steps == 7
    assert trainer.data_sampler.budget == trainer.method.path_sampler.budget == recorder.budget == expected
    assert (expected.epochs, expected.full_epochs) == (2, 1)


def test_callbacks_hear_the_loop_events_and_their_state_is_checkpointed(tmp_path):
    recorder = Recorder()
    trainer = make_trainer(tmp_path, epochs=3, max_steps=10, callbacks=[recorder])
    trainer.fit()
    assert recorder.events == [("start", 0), ("epoch", 1), ("epoch", 2), ("end", 10)]
    assert recorder.steps_seen == len(recorder.feedback) == 10
    assert [f.step for f in recorder.feedback] == list(range(10))
    assert load_checkpoint(trainer.checkpoint_path)["callbacks"] == [{"steps_seen": 10}]
    again = Recorder()
    make_trainer(tmp_path, epochs=3, max_steps=10, callbacks=[again]).fit()  # finished: nothing more to train
    assert again.steps_seen == 10 and again.events == []


def test_feedback_carries_what_each_participant_declared_and_nothing_else(tmp_path):
    losses, outputs = Recorder({"losses"}), Recorder({"logits", "example_losses"})
    trainer = make_trainer(tmp_path, callbacks=[losses, outputs])
    x, y, idx = trainer.train_data.x[:32], trainer.train_data.y[:32], torch.arange(32, 64)
    arch = trainer.method.path_sampler.sample(0)[0]
    reference = copy.deepcopy(trainer.supernet).train()
    with torch.no_grad():
        logits = reference(x, arch)
    output = trainer.train_step(x, y, idx)
    [a], [b] = losses.feedback, outputs.feedback
    for feedback in (a, b):
        assert feedback.step == 0 and feedback.archs == [arch]
        assert torch.equal(feedback.indices, idx) and torch.equal(feedback.labels, y)
        assert feedback.option_grad_norms is None  # nobody asked: not even measured
    assert a.losses == [pytest.approx(output.loss)] and a.logits is None and a.example_losses is None
    assert b.losses is None
    torch.testing.assert_close(b.logits[0], logits, atol=1e-5, rtol=0)
    torch.testing.assert_close(b.example_losses[0], F.cross_entropy(logits, y, reduction="none"), atol=1e-5, rtol=0)
    assert output.feedback.option_grad_norms is None and output.feedback.losses == a.losses
    assert trainer.data_sampler.needs == frozenset()


def test_an_unknown_need_is_refused_with_the_known_ones(tmp_path):
    with pytest.raises(ConfigError, match=r"Recorder needs \['hessian'\], which the trainer does not measure"):
        make_trainer(tmp_path, callbacks=[Recorder({"hessian"})])


def test_the_checkpoint_is_the_run_folder_s(tmp_path):
    trainer = make_trainer(tmp_path, max_steps=1)
    trainer.fit()
    assert trainer.checkpoint_path == RunFolder(tmp_path).checkpoint == tmp_path / "checkpoints" / "last.pt"
    assert trainer.checkpoint_path.is_file()


def test_a_method_may_not_reuse_the_loop_s_checkpoint_keys(tmp_path):
    trainer = make_trainer(tmp_path, max_steps=1)
    original = trainer.method.state_dict
    trainer.method.state_dict = lambda: {**original(), "rng": 0}
    with pytest.raises(ConfigError, match=r"uses the trainer's keys \['rng'\]"):
        trainer.save_checkpoint()
