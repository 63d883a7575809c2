"""The DARTS mixed op and the TangleNAS superposition helpers against hand computations."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from supernets.choice import ChoiceOp
from supernets.elastic.batchnorm import ElasticBatchNorm2d
from supernets.elastic.kernel import ElasticKernel
from supernets.elastic.layernorm import ElasticLayerNorm
from supernets.mixed import mixed_output
from supernets.superposition import (coupled_prefix_mask, mixed_exits, mixed_layer_norm, prefix_mask, recomputed,
                                     scaled_batch_norm, superposed_kernel)


def saved_storages(fn) -> dict[int, int]:
    """data_ptr -> bytes of every storage autograd keeps for the backward pass of ``fn()``."""
    storages: dict[int, int] = {}

    def pack(tensor):
        storages[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return storages


class Counting(nn.Module):
    def __init__(self, factor: float):
        super().__init__()
        self.factor, self.calls = factor, 0

    def forward(self, x):
        self.calls += 1
        return self.factor * x


def test_mixed_output_is_the_weighted_sum_and_skips_zero_weights():
    double, triple = Counting(2.0), Counting(3.0)
    choice = ChoiceOp({"two": double, "three": triple})
    x = torch.tensor([1.0, -2.0])
    out = mixed_output(choice, x, ("none", "two", "three"), torch.tensor([0.2, 0.3, 0.5]))
    assert torch.allclose(out, (0.3 * 2 + 0.5 * 3) * x)
    out = mixed_output(choice, x, ("none", "two", "three"), torch.tensor([0.0, 1.0, 0.0]))
    assert torch.equal(out, 2.0 * x) and triple.calls == 1  # the zero-weight option did not run
    zeros = mixed_output(choice, x, ("none", "two", "three"), torch.tensor([1.0, 0.0, 0.0]))
    assert torch.equal(zeros, torch.zeros(2))


def test_prefix_masks_weigh_each_option_and_couple_by_products():
    assert prefix_mask([1, 3], torch.tensor([0.4, 0.6]), 4).tolist() == pytest.approx([1.0, 0.6, 0.6, 0.0])
    a, b = torch.tensor([0.3, 0.7]), torch.tensor([0.5, 0.5])
    mask = coupled_prefix_mask([[1, 2], [2, 4]], a, b, 4)  # sizes[i][j]: option i of a, j of b
    by_hand = [0.3 * 0.5 * (c < 1) + 0.3 * 0.5 * (c < 2) + 0.7 * 0.5 * (c < 2) + 0.7 * 0.5 * (c < 4) for c in range(4)]
    assert mask.tolist() == pytest.approx(by_hand)


def test_superposed_kernel_is_the_weighted_sum_of_centre_padded_crops():
    kernel = ElasticKernel((1, 3, 5))
    w = torch.randn(2, 1, 5, 5)
    weights = torch.tensor([0.2, 0.3, 0.5])
    small = torch.zeros_like(w)
    small[..., 2, 2] = w[..., 2, 2]
    middle = torch.zeros_like(w)
    middle[..., 1:4, 1:4] = w[..., 1:4, 1:4]
    assert torch.allclose(superposed_kernel(kernel, w, weights), 0.2 * small + 0.3 * middle + 0.5 * w)
    x = torch.randn(1, 2, 6, 6)
    one_hot = superposed_kernel(kernel, w, torch.tensor([0.0, 1.0, 0.0]))
    assert torch.allclose(nn.functional.conv2d(x, one_hot, padding=2, groups=2),
                          nn.functional.conv2d(x, w[..., 1:4, 1:4], padding=1, groups=2), atol=1e-6)


def test_mixed_layer_norm_and_exits():
    norm = ElasticLayerNorm(6)
    x = torch.randn(2, 3, 6)
    out = mixed_layer_norm(norm, x, (4, 6), torch.tensor([0.25, 0.75]))
    by_hand = 0.75 * nn.functional.layer_norm(x, (6,))
    by_hand[..., :4] += 0.25 * nn.functional.layer_norm(x[..., :4], (4,))
    assert torch.allclose(out, by_hand, atol=1e-6)
    exits = [torch.ones(2), 2 * torch.ones(2), 3 * torch.ones(2)]
    assert mixed_exits(exits, torch.tensor([0.5, 0.0, 0.5])).tolist() == [2.0, 2.0]


def test_superposed_kernel_gradient_passes_gradcheck():
    kernel = ElasticKernel((1, 3))
    w = torch.randn(2, 1, 3, 3, dtype=torch.float64)
    logits = torch.randn(2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a: superposed_kernel(kernel, w, torch.softmax(a, 0)), (logits,))


def test_recomputed_gives_the_direct_gradients_and_keeps_only_its_inputs():
    torch.manual_seed(0)
    x = torch.randn(5, 7, dtype=torch.float64, requires_grad=True)
    w = torch.rand(2, dtype=torch.float64, requires_grad=True)
    frozen = torch.randn(7, dtype=torch.float64)  # an input without a gradient
    fn = lambda x, w, f: w[0] * torch.tanh(x) * f + w[1] * nn.functional.avg_pool1d(x[None], 3, 1, 1)[0]  # noqa: E731
    g = torch.randn(5, 7, dtype=torch.float64)
    direct = torch.autograd.grad(fn(x, w, frozen), (x, w), g)
    again = torch.autograd.grad(recomputed(fn, x, w, frozen), (x, w), g)
    for a, b in zip(direct, again):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    kept = saved_storages(lambda: recomputed(fn, x, w, frozen))
    assert set(kept) == {t.untyped_storage().data_ptr() for t in (x, w, frozen)}
    assert len(saved_storages(lambda: fn(x, w, frozen))) > 3  # the direct form keeps its intermediates too
    assert torch.autograd.gradcheck(lambda x, w: recomputed(fn, x, w, frozen), (x, w))
    with torch.no_grad():  # no graph: just the function
        assert torch.equal(recomputed(fn, x, w, frozen), fn(x, w, frozen))


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("elastic, momentum", [(False, 0.1), (False, None), (True, 0.1), (True, None)])
def test_scaled_batch_norm_is_the_scaled_output_with_the_same_statistics(affine, elastic, momentum):
    torch.manual_seed(0)
    make = (lambda: ElasticBatchNorm2d(4, momentum=momentum, affine=affine)) if elastic else \
        (lambda: nn.BatchNorm2d(4, momentum=momentum, affine=affine))
    folded, plain = make().train(), make().train()
    if affine:
        with torch.no_grad():
            for bn in (folded, plain):
                bn.weight.copy_(torch.tensor([1.5, -0.5, 2.0, 0.7]))
                bn.bias.copy_(torch.tensor([0.1, 0.2, -0.3, 0.4]))
    scale = torch.tensor([1.0, 0.25, 0.0, 0.6], requires_grad=True)
    ref_scale = scale.detach().clone().requires_grad_()
    for _ in range(2):  # two batches: the statistics' updates agree too
        x = torch.randn(8, 4, 3, 3) + 1.0
        g = torch.randn(8, 4, 3, 3)
        out = scaled_batch_norm(folded, x, scale)
        ref = plain(x) * ref_scale.view(1, -1, 1, 1)
        torch.testing.assert_close(out, ref)
        out.backward(g)
        ref.backward(g)
    torch.testing.assert_close(scale.grad, ref_scale.grad)
    for name, buffer in plain.named_buffers():
        torch.testing.assert_close(dict(folded.named_buffers())[name], buffer)
    if affine:
        torch.testing.assert_close(folded.weight.grad, plain.weight.grad)
        torch.testing.assert_close(folded.bias.grad, plain.bias.grad)
    # no copy of the output is kept for the scale's gradient: only what the BatchNorm itself keeps
    x = torch.randn(8, 4, 3, 3, requires_grad=True)
    assert sum(saved_storages(lambda: scaled_batch_norm(make().train(), x, scale)).values()) < 2 * x.numel() * 4
    assert scaled_batch_norm(folded, x, torch.tensor(0.5)).shape == x.shape  # a scalar scale


def test_mixed_layer_norm_keeps_only_its_input_and_passes_gradcheck():
    torch.manual_seed(0)
    norm = ElasticLayerNorm(6).double()
    with torch.no_grad():
        norm.weight.copy_(1 + 0.3 * torch.randn(6))
        norm.bias.copy_(0.3 * torch.randn(6))
    x = torch.randn(2, 3, 6, dtype=torch.float64, requires_grad=True)
    weights = torch.tensor([0.25, 0.75], dtype=torch.float64, requires_grad=True)
    kept = saved_storages(lambda: mixed_layer_norm(norm, x, (4, 6), weights))
    assert x.untyped_storage().data_ptr() in kept
    assert sum(kept.values()) == sum(t.untyped_storage().nbytes() for t in (x, weights, norm.weight, norm.bias))

    def mixed(x, weights, gamma, beta):  # the affine parameters as inputs, so that gradcheck perturbs them too
        return mixed_layer_norm(SimpleNamespace(weight=gamma, bias=beta, eps=norm.eps), x, (4, 6), weights)

    gamma = norm.weight.detach().clone().requires_grad_()
    beta = norm.bias.detach().clone().requires_grad_()
    assert torch.autograd.gradcheck(mixed, (x, weights, gamma, beta))
