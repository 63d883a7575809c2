"""Gradient-based search methods (Bilevel: DARTS / GDAS / DrNAS / TangleNAS; RARTS): the hypergradient of unrolled
DARTS against the exact one, the architecture step's direction, the data split, exact resume, clear refusals."""

from __future__ import annotations

import functools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nas.data import synthetic
from nas.errors import ConfigError
from nas.losses import KLDistillation
from nas.training import Bilevel, RARTS, Execution, Optimization, Trainer, TrainingBudget
from nas.training.held_out import HeldOutBatches, split_training_data
from samplers import UniformDataSampler
from search_spaces.elastic_conv import ElasticConvSearchSpace
from search_spaces.nb201 import NB201SearchSpace
from supernets.weight_maps import Dirichlet, GumbelSoftmax
from tests.nas.training.helpers import KillAt

SPACE = dict(C=2, N=1, in_channels=1, num_classes=3, input_size=4, reduction="light")


def sgd(lr=0.1, weight_decay=0.0):
    return Optimization(functools.partial(torch.optim.SGD, lr=lr, momentum=0.9, weight_decay=weight_decay))


def adam(lr=3e-4):
    return Optimization(functools.partial(torch.optim.Adam, lr=lr, betas=(0.5, 0.999)), grad_clip_norm=None)


def set_up(method, total_steps=10):
    method.setup(TrainingBudget(total_steps, 5), Execution("cpu", amp=False), [])
    return method


class Relaxed(nn.Module):
    """The relaxed supernet as a module whose forward takes the option weights (for torch.func.functional_call)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x, weights):
        return self.net.forward_relaxed(x, weights)


def test_second_order_hypergradient_equals_the_exact_one_through_the_virtual_step():
    torch.manual_seed(0)
    dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        space = NB201SearchSpace(**SPACE)
        lr, decay = 0.5, 1e-2
        # a small perturbation: this tiny ReLU network is piecewise smooth at DARTS' default scale (0.01)
        method = Bilevel(space.build_supernet(), sgd(lr, decay), adam(), order="second", init_std=0.5,
                         finite_difference=1e-5)
        method.bind_data(synthetic(train_size=64).train)
        set_up(method)
        x, y = torch.randn(8, 1, 4, 4), torch.randint(0, 3, (8,))
        xa, ya = torch.randn(8, 1, 4, 4), torch.randint(0, 3, (8,))
        before = {k: v.clone() for k, v in method.supernet.state_dict().items()}
        approx, _ = method.unrolled_gradient(x, y, xa, ya, progress=0.0, lr=lr)
        after = method.supernet.state_dict()
        assert all(torch.equal(before[k], after[k]) for k in before), "weights and BN statistics restored"

        # exact: d/d alpha L_val(w - lr (grad_w L_train(w, alpha) + decay w), alpha), by autograd through the step
        net = Relaxed(method.supernet)
        names = [n for n, _ in net.named_parameters()]
        w = [p.detach().clone().requires_grad_() for p in net.parameters()]
        alphas = [a.detach().clone().requires_grad_() for a in method.alphas.parameters()]
        decisions = list(method.alphas.decisions)

        def loss(params, xb, yb):
            weights = {d: torch.softmax(a, 0) for d, a in zip(decisions, alphas)}
            out = torch.func.functional_call(net, dict(zip(names, params)), (xb, weights))
            return F.cross_entropy(out, yb)

        g = torch.autograd.grad(loss(w, x, y), w, create_graph=True)
        stepped = [p - lr * (gi + decay * p) for p, gi in zip(w, g)]
        exact = torch.autograd.grad(loss(stepped, xa, ya), alphas)
        first_order = torch.autograd.grad(loss([p.detach() for p in stepped], xa, ya), alphas)
    finally:
        torch.set_default_dtype(dtype)
    flat = lambda grads: torch.cat([t.reshape(-1) for t in grads])  # noqa: E731
    error = (flat(approx) - flat(exact)).norm() / flat(exact).norm()
    implicit = (flat(first_order) - flat(exact)).norm() / flat(exact).norm()
    assert error < 1e-4, f"finite-difference hypergradient off by {error:.2e}"
    assert implicit > 100 * error, "the implicit (Hessian-vector) term is large enough to be checked"


def test_first_order_architecture_step_follows_the_held_out_gradient():
    torch.manual_seed(0)
    space = NB201SearchSpace(**{**SPACE, "num_classes": 4, "input_size": 8})  # synthetic: 4 classes, 8x8
    method = Bilevel(space.build_supernet(), sgd(), adam(lr=1e-2), init_std=0.1)
    train = method.bind_data(synthetic(train_size=64).train)
    set_up(method)
    batch_x, batch_y = train.x[:8], train.y[:8]
    xa, ya = method.held_out.batch(0, 8)
    state = {k: v.clone() for k, v in method.supernet.state_dict().items()}
    grads = method.alpha_gradients(method.architecture_loss(xa, ya, 0.0))
    method.supernet.load_state_dict(state)  # the BN statistics of the probe forward undone
    before = [a.detach().clone() for a in method.alphas.parameters()]
    from nas.training.method import Batch

    out = method.training_step(0, Batch(batch_x, batch_y, torch.arange(8)), frozenset({"losses"}))
    for a, b, g in zip(method.alphas.parameters(), before, grads):
        # Adam's first step moves every logit by lr against the sign of its gradient
        assert torch.allclose(a.detach() - b, -1e-2 * torch.sign(g), atol=1e-5)
    assert out.feedback.losses == [out.loss] and out.feedback.archs == [method.found_architecture()]


def test_the_weights_and_the_architecture_train_on_disjoint_halves():
    data = synthetic(train_size=100).train
    weights, arch = split_training_data(data, 0.5, seed=3)
    key = lambda split: {tuple(x.flatten().tolist()) for x in split.x}  # noqa: E731
    assert len(weights) == len(arch) == 50 and not key(weights) & key(arch)
    held_out = HeldOutBatches(arch, seed=3)
    epoch = torch.cat([held_out.batch(step, 10)[1] for step in range(5)])
    assert sorted(epoch.tolist()) == sorted(arch.y.tolist())  # an epoch of the held-out half, each example once
    assert torch.equal(held_out.batch(7, 10)[0], HeldOutBatches(arch, seed=3).batch(7, 10)[0])
    with pytest.raises(ConfigError, match="arch_fraction"):
        split_training_data(data, 1.0, 0)


def make(method_name, folder, callbacks=(), **kwargs):
    torch.manual_seed(0)
    space = NB201SearchSpace(C=2, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
    supernet = space.build_supernet()
    if method_name == "rarts":
        method = RARTS(supernet, sgd(), adam(), **kwargs)
    else:
        weight_map = {"gdas": GumbelSoftmax(), "drnas": Dirichlet(kl_weight=0.1), "darts": None}[method_name]
        method = Bilevel(supernet, sgd(), adam(), weight_map=weight_map, **kwargs)
    train = method.bind_data(synthetic(train_size=128).train)
    return Trainer(method, train, UniformDataSampler(len(train), seed=0), folder, epochs=2, batch_size=16,
                   progress=False, tensorboard=False, checkpoint_every=1, callbacks=callbacks)


@pytest.mark.parametrize("method_name,kwargs", [
    ("gdas", {}), ("rarts", {}),
    pytest.param("drnas", {}, marks=pytest.mark.slow), pytest.param("darts", {"order": "second"}, marks=pytest.mark.slow),
])
def test_resume_of_a_killed_search_equals_the_uninterrupted_one(tmp_path, method_name, kwargs):
    straight = make(method_name, tmp_path / "straight", **kwargs)
    straight.fit()
    with pytest.raises(RuntimeError, match="killed at step 5"):
        make(method_name, tmp_path / "killed", callbacks=[KillAt(5)], **kwargs).fit()  # checkpoint of step 4
    resumed = make(method_name, tmp_path / "killed", **kwargs)
    resumed.fit()
    assert resumed.state.step == straight.state.step == 8
    for key, value in straight.method.state_dict().items():
        if key in ("supernet", "architecture", "copy"):
            other = resumed.method.state_dict()[key]
            assert all(torch.equal(value[k], other[k]) for k in value), f"{method_name}: {key} differs"
    assert resumed.method.found_architecture() == straight.method.found_architecture()


def test_bad_combinations_are_one_clear_error():
    nb201 = NB201SearchSpace(**SPACE).build_supernet()
    with pytest.raises(ConfigError, match="order=second .* GumbelSoftmax"):
        Bilevel(nb201, sgd(), adam(), weight_map=GumbelSoftmax(), order="second")
    with pytest.raises(ConfigError, match="searches entangled supernets.*elastic_conv or elastic_vit"):
        Bilevel(nb201, sgd(), adam(), require_kind="entangled")
    with pytest.raises(ConfigError, match="distillation=none"):
        Bilevel(nb201, sgd(), adam(), distillation=KLDistillation())
    with pytest.raises(ConfigError, match="continuous relaxation"):
        Bilevel(nn.Linear(2, 2), sgd(), adam())
    with pytest.raises(ConfigError, match="bind_data"):
        set_up(Bilevel(nb201, sgd(), adam()))
    entangled = ElasticConvSearchSpace(in_channels=1, input_size=8).build_supernet()
    assert Bilevel(entangled, sgd(), adam(), require_kind="entangled").supernet is entangled

    class NeedsNorms:
        needs = frozenset({"option_grad_norms"})

    method = Bilevel(nb201, sgd(), adam())
    method.bind_data(synthetic(train_size=64).train)
    with pytest.raises(ConfigError, match="NeedsNorms needs per-option gradient norms"):
        method.setup(TrainingBudget(4, 2), Execution("cpu", amp=False), [NeedsNorms()])
