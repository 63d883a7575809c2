"""ElasticConv2d: slices equal plain convolutions; gradients stay in the slice; export copies."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nas.errors import InvalidArchitectureError
from supernets.elastic import ElasticConv2d
from tests.supernets.elastic.helpers import assert_copied, assert_grad_only_in


@pytest.fixture
def conv() -> ElasticConv2d:
    torch.manual_seed(0)
    return ElasticConv2d(6, 10, kernel_sizes=(3, 5, 7), stride=2, bias=True)


@pytest.mark.parametrize("c_in, c_out, k", [(6, 10, 7), (4, 7, 5), (1, 1, 3), (3, 10, 3)])
def test_slice_equals_plain_conv_with_sliced_weights(conv, c_in, c_out, k):
    x = torch.randn(2, c_in, 9, 9)
    s = (7 - k) // 2
    plain = nn.Conv2d(c_in, c_out, k, stride=2, padding=k // 2, bias=True)
    with torch.no_grad():
        plain.weight.copy_(conv.weight[:c_out, :c_in, s:s + k, s:s + k])
        plain.bias.copy_(conv.bias[:c_out])
    out = conv(x, c_out, k)
    assert out.shape == (2, c_out, 5, 5)
    torch.testing.assert_close(out, plain(x), atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(conv.export(c_in, c_out, k)(x), out, atol=1e-6, rtol=1e-6)


def test_defaults_are_the_largest(conv):
    x = torch.randn(1, 6, 8, 8)
    torch.testing.assert_close(conv(x), F.conv2d(x, conv.weight, conv.bias, 2, 3))


def test_gradient_only_in_the_active_slice(conv):
    conv(torch.randn(2, 4, 9, 9), 7, 3).square().sum().backward()
    assert_grad_only_in(conv.weight, (slice(0, 7), slice(0, 4), slice(2, 5), slice(2, 5)))
    assert_grad_only_in(conv.bias, (slice(0, 7),))


def test_export_is_a_plain_conv_with_copied_weights(conv):
    plain = conv.export(4, 7, 5)
    assert type(plain) is nn.Conv2d
    assert (plain.in_channels, plain.out_channels, plain.kernel_size, plain.stride, plain.padding) == (
        4, 7, (5, 5), (2, 2), (2, 2))
    assert_copied(plain, conv)
    assert plain.weight.requires_grad  # a trainable module
    with torch.no_grad():
        plain.weight.add_(1.0)
    assert not torch.allclose(plain.weight, conv.weight[:7, :4, 1:6, 1:6])


def test_explicit_padding_and_fixed_even_kernel():
    patch = ElasticConv2d(1, 8, kernel_sizes=(4,), stride=4, padding=0, bias=True)
    x = torch.randn(2, 1, 16, 16)
    out = patch(x, 6)
    assert out.shape == (2, 6, 4, 4)
    torch.testing.assert_close(out, F.conv2d(x, patch.weight[:6], patch.bias[:6], 4))


@pytest.mark.parametrize("c_in, c_out, k, fragment", [
    (7, 5, 3, "active input channels 7 is outside the stored range 1..6"),
    (6, 11, 3, "active output channels 11 is outside the stored range 1..10"),
    (6, 0, 3, "active output channels 0 is outside the stored range 1..10"),
    (6, 5, 9, "kernel size 9 is not available; stored kernel sizes are (3, 5, 7)"),
])
def test_out_of_range_active_sizes_raise(conv, c_in, c_out, k, fragment):
    with pytest.raises(InvalidArchitectureError) as info:
        conv(torch.randn(1, c_in, 8, 8), c_out, k)
    assert fragment in str(info.value)


def test_conv_input_and_output_scales_equal_scaling_the_input_and_the_output():
    torch.manual_seed(0)
    conv = ElasticConv2d(4, 8, kernel_sizes=(3, 5), bias=True)
    x = torch.randn(2, 3, 6, 6, requires_grad=True)
    s_in = torch.rand(3, requires_grad=True)
    s_out = torch.rand(5, requires_grad=True)
    folded = conv(x, 5, 3, input_scale=s_in, output_scale=s_out)
    plain = conv(x * s_in.view(1, -1, 1, 1), 5, 3) * s_out.view(1, -1, 1, 1)
    torch.testing.assert_close(folded, plain)
    g = torch.randn_like(folded)
    grads = torch.autograd.grad(folded, (x, s_in, s_out, conv.weight, conv.bias), g)
    ref = torch.autograd.grad(plain, (x, s_in, s_out, conv.weight, conv.bias), g)
    for a, b in zip(grads, ref):
        torch.testing.assert_close(a, b)
