"""ControllerTraining (ENAS): controller phases alternate with weight steps, leave the weights and BatchNorm
statistics alone, reward on held-out data, and resume exactly."""

from __future__ import annotations

import functools

import pytest
import torch

from nas.checkpoint import load_checkpoint
from nas.data import synthetic
from nas.errors import ConfigError
from nas.run_folder import RunFolder
from nas.training import ControllerTraining, Optimization, Trainer
from samplers import ENASPathSampler, UniformDataSampler
from search_spaces.nb201 import NB201SearchSpace
from tests.nas.training.helpers import KillAt

SPACE = NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")


def make_trainer(folder, callbacks=(), buffer_size=8, **method):
    torch.manual_seed(0)
    data = synthetic(train_size=160, image_size=8)
    sampler = ENASPathSampler(SPACE, seed=0, hidden_size=16, lr=0.01, buffer_size=buffer_size, buffer_batch=2)
    options = dict(controller_steps=3, controller_batch=2, controller_every=3, valid_fraction=0.2)
    options.update(method)
    training = ControllerTraining(SPACE.build_supernet(), sampler,
                                  Optimization(functools.partial(torch.optim.SGD, lr=0.1, momentum=0.9)), **options)
    train = training.bind_data(data.train)
    return Trainer(training, train, UniformDataSampler(len(train), seed=0), folder, epochs=2, batch_size=32,
                   progress=False, tensorboard=False, checkpoint_every=2, callbacks=callbacks)


def test_phases_follow_the_schedule_on_held_out_data(tmp_path):
    trainer = make_trainer(tmp_path)
    method = trainer.method
    assert len(trainer.train_data) == 128 and len(method.valid) == 32  # valid_fraction=0.2 of 160
    assert trainer.budget.total_steps == 8
    trainer.fit()
    assert method.path_sampler.updates == 3 * 2  # phases after steps 3 and 6, 3 updates each
    assert len(method.path_sampler.buffer) == 8  # 12 rewarded children, the last 8 kept
    assert set(method.last) == {"reward", "baseline", "entropy", "loss"} and 0.0 <= method.last["reward"] <= 1.0
    assert {"controller/reward", "controller/baseline"} <= method.scalars().keys()


def test_a_controller_phase_changes_only_the_controller(tmp_path):
    trainer = make_trainer(tmp_path)
    method = trainer.method
    weights = {k: v.clone() for k, v in method.supernet.state_dict().items()}
    controller = [p.detach().clone() for p in method.path_sampler.controller.parameters()]
    method.train_controller(0, 16)
    assert all(torch.equal(weights[k], v) for k, v in method.supernet.state_dict().items())  # BN stats too
    assert any(not torch.equal(a, b) for a, b in zip(controller, method.path_sampler.controller.parameters()))


def test_resume_after_a_kill_equals_the_uninterrupted_run(tmp_path):
    make_trainer(tmp_path / "straight").fit()
    with pytest.raises(RuntimeError, match="killed"):
        make_trainer(tmp_path / "killed", [KillAt(5)]).fit()  # last checkpoint at step 4, after one phase
    make_trainer(tmp_path / "killed").fit()
    a = load_checkpoint(RunFolder(tmp_path / "straight").checkpoint)
    b = load_checkpoint(RunFolder(tmp_path / "killed").checkpoint)
    for key in ("supernet",):
        assert all(torch.equal(a[key][k], b[key][k]) for k in a[key])
    ca, cb = a["path_sampler"], b["path_sampler"]
    assert all(torch.equal(ca["controller"][k], cb["controller"][k]) for k in ca["controller"])
    assert ca["baseline"] == cb["baseline"] and ca["buffer"] == cb["buffer"] and ca["updates"] == cb["updates"] == 6


@pytest.mark.parametrize("kwargs, fragment", [
    ({"valid_fraction": 1.0}, r"valid_fraction must be in \(0, 1\)"),
    ({"controller_steps": 0}, "controller_steps and controller_batch must be >= 1"),
    ({"controller_every": 0}, "controller_every must be >= 1 step or null"),
    ({"reward_batch_size": 64}, "reward_batch_size=64 is more than the 32 held-out validation images"),
])
def test_bad_options(tmp_path, kwargs, fragment):
    with pytest.raises(ConfigError, match=fragment):
        make_trainer(tmp_path, **kwargs)
