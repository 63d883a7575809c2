"""DεpS's delayed ε-shrinking: the ramp's values at its boundaries, continuity, the old delay_fraction meaning,
the gradient the trainer takes, and exact resume mid-ramp."""

from __future__ import annotations

import copy
import functools

import pytest
import torch

from nas.data import synthetic
from nas.errors import ConfigError
from nas.training import TrainingBudget
from samplers import SandwichPathSampler, ShrinkingRamp, UniformDataSampler
from search_spaces.nb201 import NB201SearchSpace
from tests.nas.training.helpers import KillAt, one_shot_trainer

SPACE = NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")


def test_ramp_values_at_the_boundaries():
    ramp = ShrinkingRamp.of(TrainingBudget(200, 20), delay_fraction=0.25, ramp_epochs=2.5)
    assert (ramp.delay_steps, ramp.ramp_steps) == (50, 50)
    values = {s: ramp.factor(s) for s in (0, 49, 50, 51, 75, 99, 100, 101, 199)}
    assert values == {0: 0.0, 49: 0.0, 50: 0.0, 51: 0.02, 75: 0.5, 99: 0.98, 100: 1.0, 101: 1.0, 199: 1.0}


def test_ramp_is_continuous_and_monotone():
    ramp = ShrinkingRamp(delay_steps=37, ramp_steps=13)
    factors = [ramp.factor(s) for s in range(100)]
    steps = [b - a for a, b in zip(factors, factors[1:])]
    assert min(steps) >= 0.0 and max(steps) == pytest.approx(1 / 13)  # no jump bigger than one ramp step
    assert factors[37] == 0.0 and factors[50] == 1.0


def test_no_ramp_is_the_old_delayed_shrinking():
    ramp = ShrinkingRamp.of(TrainingBudget(101, 10), delay_fraction=0.25, ramp_epochs=0)
    assert ramp.delay_steps == 26  # ceil(0.25 * 101), as delay_fraction always meant
    assert [ramp.factor(s) for s in (25, 26)] == [0.0, 1.0]
    old = SandwichPathSampler(SPACE, seed=3, num_random=2, delay_fraction=0.25)
    old.set_budget(TrainingBudget(101, 10))
    assert all(old.loss_scales(s) is None for s in range(101))  # every child counts fully, as before
    assert [len(old.sample(s)) for s in (25, 26)] == [1, 4]


def test_a_ramp_past_the_end_of_training_is_refused():
    with pytest.raises(ConfigError, match=r"end after the 100 steps of training: lower path_sampler.delay_fraction"):
        ShrinkingRamp.of(TrainingBudget(100, 10), delay_fraction=0.5, ramp_epochs=6)
    sampler = SandwichPathSampler(SPACE, delay_fraction=0.5, ramp_epochs=6)
    with pytest.raises(ConfigError, match="ramp_epochs=6"):
        sampler.set_budget(TrainingBudget(100, 10))


def test_sampler_scales_subnets_by_the_ramp_times_their_multipliers():
    sampler = SandwichPathSampler(SPACE, seed=0, num_random=2, delay_fraction=0.5, ramp_epochs=1,
                                  subnet_scales=[0.5, 1.0, 2.0])
    sampler.set_budget(TrainingBudget(40, 10))  # teacher phase: steps 0-19; ramp: 20-30
    assert sampler.sample(20) == [SPACE.largest()] and sampler.loss_scales(20) is None
    assert len(sampler.sample(21)) == 4
    assert sampler.loss_scales(21) == pytest.approx([1.0, 0.05, 0.1, 0.2])
    assert sampler.loss_scales(25) == pytest.approx([1.0, 0.25, 0.5, 1.0])
    assert sampler.loss_scales(30) == pytest.approx([1.0, 0.5, 1.0, 2.0])
    assert sampler.loss_scales(39) == pytest.approx([1.0, 0.5, 1.0, 2.0])


@pytest.mark.parametrize("kwargs, fragment", [
    ({"ramp_epochs": -1}, "ramp_epochs must be >= 0"),
    ({"subnet_scales": [1.0]}, r"subnet_scales must be one number >= 0 or 3 of them"),
    ({"subnet_scales": -0.5}, "subnet_scales must be one number >= 0"),
])
def test_bad_ramp_options(kwargs, fragment):
    with pytest.raises(ConfigError, match=fragment):
        SandwichPathSampler(SPACE, num_random=2, **kwargs)


def _trainer(folder, callbacks=(), **loop):
    torch.manual_seed(0)
    data = synthetic(train_size=128, image_size=8)
    sampler = SandwichPathSampler(SPACE, seed=0, num_random=1, delay_fraction=0.25, ramp_epochs=1.5,
                                  subnet_scales=[0.5, 2.0])
    options = dict(epochs=4, batch_size=32, progress=False, tensorboard=False, checkpoint_every=5)
    options.update(loop)
    return one_shot_trainer(SPACE.build_supernet(), data.train, sampler, UniformDataSampler(len(data.train), seed=0),
                            folder, optimizer=functools.partial(torch.optim.SGD, lr=0.1, momentum=0.9),
                            grad_clip_norm=None, callbacks=callbacks, **options)


def test_the_step_gradient_is_the_ramped_sum_of_the_childrens_gradients(tmp_path):
    trainer = _trainer(tmp_path)  # 16 steps: teacher 0-3, ramp 4-10 (6 steps)
    method, step = trainer.method, 7
    x, y = trainer.train_data.x[:32], trainer.train_data.y[:32]
    archs, scales = method.path_sampler.sample(step), method.path_sampler.loss_scales(step)
    assert scales == pytest.approx([1.0, 0.25, 1.0])  # factor 3/6 times the multipliers [0.5, 2.0]
    reference = copy.deepcopy(method.supernet)
    reference.train()
    expected = None
    for arch, scale in zip(archs, scales):
        grads = torch.autograd.grad(torch.nn.functional.cross_entropy(reference(x, arch), y),
                                    list(reference.parameters()), allow_unused=True)
        grads = [torch.zeros_like(p) if g is None else g for p, g in zip(reference.parameters(), grads)]
        scaled = [scale * g for g in grads]
        expected = scaled if expected is None else [e + g for e, g in zip(expected, scaled)]
    from nas.training.method import Batch

    method.training_step(step, Batch(x, y, torch.arange(32)), frozenset())
    got = [torch.zeros_like(p) if p.grad is None else p.grad for p in method.supernet.parameters()]
    worst = max(float((a - b).abs().max()) for a, b in zip(got, expected))
    assert worst < 1e-5, worst


def test_resume_mid_ramp_equals_the_uninterrupted_run(tmp_path):
    _trainer(tmp_path / "straight").fit()
    with pytest.raises(RuntimeError, match="killed"):
        _trainer(tmp_path / "killed", [KillAt(8)]).fit()  # last checkpoint at step 5: resumes inside the ramp
    _trainer(tmp_path / "killed").fit()
    from nas.checkpoint import load_checkpoint
    from nas.run_folder import RunFolder

    a = load_checkpoint(RunFolder(tmp_path / "straight").checkpoint)["supernet"]
    b = load_checkpoint(RunFolder(tmp_path / "killed").checkpoint)["supernet"]
    assert max(float((a[k].double() - b[k].double()).abs().max()) for k in a if a[k].numel()) == 0.0
