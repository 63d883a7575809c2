"""The DARTS mixed op and the TangleNAS superposition helpers against hand computations."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from supernets.choice import ChoiceOp
from supernets.elastic.kernel import ElasticKernel
from supernets.elastic.layernorm import ElasticLayerNorm
from supernets.mixed import mixed_output
from supernets.superposition import coupled_prefix_mask, mixed_exits, mixed_layer_norm, prefix_mask, superposed_kernel


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
