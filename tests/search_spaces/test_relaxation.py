"""The continuous relaxation of every built-in supernet (DARTS mixed ops on NB201, TangleNAS superposition on the
elastic spaces): one-hot weights are the child exactly (fp64), gradients in the architecture pass gradcheck, and
the exported argmax child equals the relaxed network at the argmax."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from search_spaces.elastic_conv import ElasticConvSearchSpace
from search_spaces.elastic_vit import ElasticViTSearchSpace
from search_spaces.nb201 import NB201SearchSpace
from supernets.architecture_parameters import ArchitectureParameters
from supernets.weight_maps import Softmax
from tests.search_spaces.elastic_helpers import perturb

SPACES = {
    "nb201": lambda: NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light"),
    "elastic_conv": lambda: ElasticConvSearchSpace(in_channels=1, num_classes=4, input_size=8, stem_channels=4,
                                                   stage_channels=[4, 8], stage_strides=[1, 2], depths=[1, 2],
                                                   kernel_sizes=[3, 5], expand_ratios=[1, 2],
                                                   width_multipliers=[0.5, 1.0], channel_divisor=2),
    "nb201_entangled": lambda: NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8,
                                                reduction="light", superposition=True),
    "elastic_vit": lambda: ElasticViTSearchSpace(in_channels=1, num_classes=4, input_size=8, patch_size=4,
                                                 embed_dims=[8, 12], depths=[1, 2], num_heads=[1, 2],
                                                 mlp_ratios=[1, 2], head_dim=4),
}
FULL = {  # the configured sizes (conf/search_space/*.yaml on FMNIST 16x16)
    "nb201": lambda: NB201SearchSpace(C=8, N=1, in_channels=1, input_size=16, reduction="light"),
    "nb201_entangled": lambda: NB201SearchSpace(C=8, N=1, in_channels=1, input_size=16, reduction="light",
                                                superposition=True),
    "elastic_conv": lambda: ElasticConvSearchSpace(in_channels=1, input_size=16, stem_channels=8, stem_stride=2,
                                                   stage_channels=[8, 16, 24], channel_divisor=2),
    "elastic_vit": lambda: ElasticViTSearchSpace(in_channels=1, input_size=16),
}


class Relaxed(torch.nn.Module):
    """``forward`` is the supernet's relaxed forward (so that ``torch.func.functional_call`` can swap weights)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x, weights):
        return self.net.forward_relaxed(x, weights)


def one_hot(supernet, arch) -> dict[str, torch.Tensor]:
    decisions = supernet.relaxed_decisions()
    return {d: F.one_hot(torch.tensor(decisions[d].index(arch[d])), len(decisions[d])).double() for d in decisions}


@pytest.fixture(autouse=True)
def float64():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


@pytest.mark.parametrize("name", sorted(FULL))
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_one_hot_weights_reproduce_the_standalone_child_exactly(name, mode):
    torch.manual_seed(0)
    space = FULL[name]()
    supernet = perturb(space.build_supernet()).train(mode == "train")
    rng = np.random.default_rng(1)
    x = torch.randn(4, 1, 16, 16)
    for arch in [space.largest(), space.smallest(), *(space.sample(rng) for _ in range(4))]:
        relaxed = supernet.forward_relaxed(x, one_hot(supernet, arch))
        child = supernet.subnet(arch).train(mode == "train")(x)
        assert torch.allclose(relaxed, supernet(x, arch), rtol=0, atol=1e-12), str(arch)
        assert torch.allclose(relaxed, child, rtol=0, atol=1e-12), str(arch)


@pytest.mark.parametrize("name", sorted(SPACES))
def test_gradients_in_the_architecture_parameters_pass_gradcheck(name):
    torch.manual_seed(0)
    space = SPACES[name]()
    supernet = perturb(space.build_supernet()).eval()
    decisions = supernet.relaxed_decisions()
    x = torch.randn(2, 1, 8, 8)
    logits = tuple(torch.randn(len(options), requires_grad=True) for options in decisions.values())

    def relaxed(*alphas):
        return supernet.forward_relaxed(x, {d: torch.softmax(a, 0) for d, a in zip(decisions, alphas)})

    assert torch.autograd.gradcheck(relaxed, logits, eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("name", sorted(SPACES))
def test_gradients_in_every_weight_and_the_input_pass_gradcheck_in_training_mode(name):
    """The masks folded into weights, the recomputed mixtures and the scaled BatchNorms (``supernets.superposition``)
    differentiate correctly in everything: input, architecture and every parameter (a random projection of the
    Jacobian, ``fast_mode``), with batch statistics."""
    torch.manual_seed(0)
    space = SPACES[name]()
    supernet = perturb(space.build_supernet()).train()
    decisions = supernet.relaxed_decisions()
    names = [n for n, _ in supernet.named_parameters()]
    x = torch.randn(3, 1, 8, 8, requires_grad=True)
    logits = [torch.randn(len(options), requires_grad=True) for options in decisions.values()]
    params = [p.detach().clone().requires_grad_() for p in supernet.parameters()]

    wrapper = Relaxed(supernet)

    def relaxed(x, *rest):
        alphas, weights = rest[: len(logits)], rest[len(logits):]
        return torch.func.functional_call(wrapper, {f"net.{n}": w for n, w in zip(names, weights)},
                                          (x, {d: torch.softmax(a, 0) for d, a in zip(decisions, alphas)}))

    assert torch.autograd.gradcheck(relaxed, (x, *logits, *params), eps=1e-6, atol=1e-5, fast_mode=True)


@pytest.mark.parametrize("name", sorted(SPACES))
def test_exported_child_equals_the_argmax_slices(name):
    torch.manual_seed(0)
    space = SPACES[name]()
    supernet = perturb(space.build_supernet()).eval()
    alphas = ArchitectureParameters(supernet.relaxed_decisions(), init_std=1.0).double()
    arch = supernet.make_architecture(alphas.derive())
    assert space.validate(arch) == arch and type(arch) is space.architecture_cls
    at_argmax = one_hot(supernet, arch)
    for d, w in at_argmax.items():  # the argmax is where the softmax weight is largest
        assert int(w.argmax()) == int(alphas.weights(Softmax(), 0.0)[d].argmax())
    x = torch.randn(3, 1, 8, 8)
    exported = supernet.subnet(arch)
    assert not any(p is q for p in exported.parameters() for q in supernet.parameters())  # copies
    assert torch.allclose(exported(x), supernet.forward_relaxed(x, at_argmax), rtol=0, atol=1e-12)


@pytest.mark.parametrize("skip, pool", [(True, True), (True, False), (False, True)])
def test_the_entangled_cells_skip_and_pool_mix_is_exact_and_keeps_only_its_input(skip, pool):
    """NB201's parameter-free terms under superposition: the weighted skip and 3x3 average pooling (no padding
    counted) by hand, gradients by gradcheck, and only ``x`` (and the two weights) kept for the backward pass."""
    from search_spaces.nb201.entangled import _SkipPoolMix

    torch.manual_seed(0)
    x = torch.randn(2, 3, 5, 5, requires_grad=True)
    w_skip = torch.tensor(0.3, requires_grad=True) if skip else None
    w_pool = torch.tensor(0.6, requires_grad=True) if pool else None
    out = _SkipPoolMix.apply(x, w_skip, w_pool)
    by_hand = torch.zeros_like(x)
    if skip:
        by_hand = by_hand + 0.3 * x
    if pool:
        padded = F.pad(x, (1, 1, 1, 1))
        ones = F.pad(torch.ones(1, 1, 5, 5), (1, 1, 1, 1))
        window = sum(padded[..., i:i + 5, j:j + 5] for i in range(3) for j in range(3))
        count = sum(ones[..., i:i + 5, j:j + 5] for i in range(3) for j in range(3))
        by_hand = by_hand + 0.6 * window / count
    torch.testing.assert_close(out, by_hand, rtol=0, atol=1e-12)
    inputs = tuple(t for t in (x, w_skip, w_pool) if t is not None)

    def mix(*t):
        it = iter(t)
        return _SkipPoolMix.apply(next(it), next(it) if skip else None, next(it) if pool else None)

    assert torch.autograd.gradcheck(mix, inputs)
    kept = {}

    def pack(tensor):
        kept[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        mix(*inputs)
    assert sum(kept.values()) == sum(t.untyped_storage().nbytes() for t in inputs)


def test_the_entangled_cells_lean_relu_conv_has_the_plain_layers_gradients():
    """``_ReLUConv3x3`` keeps the node instead of each edge's ReLU output: the child's gradients (input, every
    weight) are those of the standalone network's ReLU, Conv2d and BatchNorm modules, in training mode."""
    torch.manual_seed(0)
    space = SPACES["nb201_entangled"]()
    supernet = perturb(space.build_supernet()).train()
    rng = np.random.default_rng(3)
    for arch in [space.largest(), *(space.sample(rng) for _ in range(3))]:
        child = supernet.subnet(arch).train()
        x = torch.randn(4, 1, 8, 8)
        x_super, x_child = x.clone().requires_grad_(), x.clone().requires_grad_()
        supernet.zero_grad()
        F.cross_entropy(supernet(x_super, arch), torch.arange(4) % 4).backward()
        F.cross_entropy(child(x_child), torch.arange(4) % 4).backward()
        torch.testing.assert_close(x_super.grad, x_child.grad, rtol=0, atol=1e-12)
        child_grads = dict(child.named_parameters())
        for name, p in supernet.named_parameters():
            parts = name.split(".")
            if len(parts) > 5 and parts[2] == "edges" and parts[4] == "conv":
                op = arch[parts[3]]
                if op not in ("nor_conv_1x1", "nor_conv_3x3"):
                    assert p.grad is None or not p.grad.any(), name  # an unused edge's weights get no gradient
                    continue
                theirs = child_grads[".".join(parts[:4] + parts[5:])].grad
                ours = p.grad[:, :, 1:2, 1:2] if op == "nor_conv_1x1" and parts[5] == "1" else p.grad
            else:
                theirs, ours = child_grads[name].grad, p.grad
            torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-12, msg=name)
