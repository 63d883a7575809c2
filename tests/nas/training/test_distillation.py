"""One-shot training with in-place distillation: the teacher (first child) learns from labels only, the
other children from the teacher's detached logits; options are checked."""

from __future__ import annotations

import functools

import pytest
import torch
import torch.nn.functional as F

from nas.data import synthetic
from nas.errors import ConfigError
from nas.losses import AdaptiveAlphaDivergence, KLDistillation, adaptive_alpha_divergence
from nas.training import Trainer
from samplers import SandwichPathSampler, UniformDataSampler, UniformPathSampler
from search_spaces.elastic_vit import ElasticViTSearchSpace
from supernets.base import Supernet
from tests.nas.training.helpers import one_shot_trainer


def tiny_space() -> ElasticViTSearchSpace:
    return ElasticViTSearchSpace(in_channels=1, num_classes=4, input_size=8, embed_dims=(8, 12), depths=(1, 2),
                                 num_heads=(1, 2), mlp_ratios=(1, 2), head_dim=4)


class Recording(Supernet):
    """Wraps a supernet; keeps every child's logits and the gradient that reaches them."""

    kind = "entangled"

    def __init__(self, inner: Supernet):
        super().__init__()
        self.inner, self.logits, self.grads = inner, [], []

    def forward(self, x, arch):
        out = self.inner(x, arch)
        self.logits.append(out.detach().clone())
        slot = len(self.grads)
        self.grads.append(None)
        out.register_hook(lambda grad: self.grads.__setitem__(slot, grad.clone()))
        return out

    def subnet(self, arch):
        return self.inner.subnet(arch)


def make_trainer(tmp_path, sampler_cls=SandwichPathSampler, **kwargs) -> Trainer:
    torch.manual_seed(0)
    data = synthetic(train_size=64, image_size=8)
    space = tiny_space()
    sampler = sampler_cls(space, seed=0) if sampler_cls is UniformPathSampler else sampler_cls(space, seed=0,
                                                                                                 num_random=2)
    return one_shot_trainer(Recording(space.build_supernet()), data.train, sampler,
                            UniformDataSampler(len(data.train)), tmp_path,
                            optimizer=functools.partial(torch.optim.SGD, lr=0.1), epochs=1, batch_size=16,
                            progress=False, tensorboard=False, checkpoint_every=0, **kwargs)


def one_step(trainer: Trainer):
    x, y = trainer.train_data.x[:16], trainer.train_data.y[:16]
    trainer.train_step(x, y, torch.arange(16))
    return trainer.supernet.logits, trainer.supernet.grads, y


def test_kl_distillation_gradients(tmp_path):
    trainer = make_trainer(tmp_path, distillation=KLDistillation())
    logits, grads, y = one_step(trainer)
    assert len(logits) == 4
    teacher = logits[0]
    # the teacher learns from the labels only: its logits' gradient is exactly cross-entropy's
    torch.testing.assert_close(grads[0], (teacher.softmax(1) - F.one_hot(y, 4)) / 16, atol=1e-7, rtol=0)
    # each student's gradient w.r.t. its logits is (softmax(student) - teacher probabilities) / batch
    for student, grad in zip(logits[1:], grads[1:]):
        torch.testing.assert_close(grad, (student.softmax(1) - teacher.softmax(1)) / 16, atol=1e-7, rtol=0)
    assert not torch.allclose(grads[1], (logits[1].softmax(1) - F.one_hot(y, 4)) / 16)


def test_alpha_distillation_gradients(tmp_path):
    trainer = make_trainer(tmp_path, distillation=AdaptiveAlphaDivergence(alpha_min=-0.5, alpha_max=0.8, beta=3.0))
    logits, grads, y = one_step(trainer)
    torch.testing.assert_close(grads[0], (logits[0].softmax(1) - F.one_hot(y, 4)) / 16, atol=1e-7, rtol=0)
    for student, grad in zip(logits[1:], grads[1:]):
        s = student.clone().requires_grad_()
        adaptive_alpha_divergence(s, logits[0], -0.5, 0.8, 3.0).backward()
        torch.testing.assert_close(grad, s.grad, atol=1e-7, rtol=1e-5)


def test_without_distillation_every_child_learns_from_labels(tmp_path):
    logits, grads, y = one_step(make_trainer(tmp_path))
    for out, grad in zip(logits, grads):
        torch.testing.assert_close(grad, (out.softmax(1) - F.one_hot(y, 4)) / 16, atol=1e-7, rtol=0)


def test_distillation_trains_end_to_end(tmp_path):
    trainer = make_trainer(tmp_path, distillation=AdaptiveAlphaDivergence())
    state = trainer.fit()
    assert state.step == 4 and trainer.checkpoint_path.exists()


def test_distillation_needs_a_teacher_first_sampler(tmp_path):
    with pytest.raises(ConfigError, match=r"distillation \(KLDistillation\(\)\) needs a path sampler whose first "
                                          "child is the teacher; UniformPathSampler has none: use "
                                          "path_sampler=sandwich, or distillation=none"):
        make_trainer(tmp_path, sampler_cls=UniformPathSampler, distillation=KLDistillation())


@pytest.mark.parametrize("overrides, fragment", [
    (["distillation=alpha", "trainer.method.distillation.alpha_min=1.0", "trainer.method.distillation.alpha_max=-1"],
     r"alpha_min \(1.0\) must not exceed alpha_max \(-1\)"),
    (["distillation=alpha", "trainer.method.distillation.beta=0"], "beta .* must be positive"),
    (["trainer.method.loss.label_smoothing=1.0"], r"label_smoothing must be in \[0, 1\)"),
])
def test_bad_loss_options_are_config_errors(overrides, fragment):
    from hydra import compose, initialize_config_dir
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    from nas.cli.common import CONF_DIR

    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3", job_name="t"):
        cfg = compose("train", overrides=["path_sampler=sandwich", *overrides])
    node = cfg.trainer.method.distillation if overrides[0] == "distillation=alpha" else cfg.trainer.method.loss
    with pytest.raises((ConfigError, InstantiationException), match=fragment):
        instantiate(node)


def test_the_distillation_group_picks_the_loss_object():
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    from nas.cli.common import CONF_DIR

    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3", job_name="t"):
        plain = compose("train")
        kl = compose("train", overrides=["distillation=kl"])
        alpha = compose("run", overrides=["experiment=elastic_sandwich_alpha"])
        off = compose("run", overrides=["experiment=elastic_sandwich_kl", "distillation=none"])
    assert plain.trainer.method.distillation is None and off.trainer.method.distillation is None
    assert isinstance(instantiate(kl.trainer.method.distillation), KLDistillation)
    loss = instantiate(alpha.trainer.method.distillation)
    assert isinstance(loss, AdaptiveAlphaDivergence) and (loss.alpha_min, loss.alpha_max, loss.beta) == (-1, 1, 5)
