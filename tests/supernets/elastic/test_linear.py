"""ElasticLinear and ElasticLayerNorm: slices equal plain ops; gradients stay in the slice."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nas.errors import InvalidArchitectureError
from supernets.elastic import ElasticLayerNorm, ElasticLinear
from tests.supernets.elastic.helpers import assert_copied, assert_grad_only_in


@pytest.fixture
def fc() -> ElasticLinear:
    torch.manual_seed(0)
    return ElasticLinear(10, 8)


@pytest.mark.parametrize("d_in, d_out", [(10, 8), (6, 3), (1, 1)])
def test_linear_slice_equals_plain_linear(fc, d_in, d_out):
    x = torch.randn(3, 2, d_in)
    plain = nn.Linear(d_in, d_out)
    with torch.no_grad():
        plain.weight.copy_(fc.weight[:d_out, :d_in])
        plain.bias.copy_(fc.bias[:d_out])
    torch.testing.assert_close(fc(x, d_out), plain(x))
    exported = fc.export(d_in, d_out)
    assert type(exported) is nn.Linear and (exported.in_features, exported.out_features) == (d_in, d_out)
    assert_copied(exported, fc)
    torch.testing.assert_close(exported(x), plain(x))


def test_linear_gradient_only_in_the_active_slice(fc):
    fc(torch.randn(4, 6), 3).square().sum().backward()
    assert_grad_only_in(fc.weight, (slice(0, 3), slice(0, 6)))
    assert_grad_only_in(fc.bias, (slice(0, 3),))


def test_linear_without_bias():
    fc = ElasticLinear(4, 4, bias=False)
    x = torch.randn(2, 3)
    torch.testing.assert_close(fc(x, 2), F.linear(x, fc.weight[:2, :3]))
    assert fc.export(3, 2).bias is None


def test_linear_errors(fc):
    with pytest.raises(InvalidArchitectureError, match="active input features 11 is outside the stored range 1..10"):
        fc(torch.randn(2, 11), 4)
    with pytest.raises(InvalidArchitectureError, match="active output features 9 is outside the stored range 1..8"):
        fc(torch.randn(2, 10), 9)


def test_layer_norm_slice_equals_plain_layer_norm():
    ln = ElasticLayerNorm(16)
    with torch.no_grad():
        ln.weight.copy_(torch.randn(16))
        ln.bias.copy_(torch.randn(16))
    x = torch.randn(2, 5, 12)
    plain = nn.LayerNorm(12)
    with torch.no_grad():
        plain.weight.copy_(ln.weight[:12])
        plain.bias.copy_(ln.bias[:12])
    torch.testing.assert_close(ln(x), plain(x))
    exported = ln.export(12)
    assert type(exported) is nn.LayerNorm and exported.normalized_shape == (12,)
    assert_copied(exported, ln)
    torch.testing.assert_close(exported(x), plain(x))
    ln(x).square().mul(torch.randn_like(x)).sum().backward()
    assert_grad_only_in(ln.weight, (slice(0, 12),))
    assert_grad_only_in(ln.bias, (slice(0, 12),))
    with pytest.raises(InvalidArchitectureError, match="active dim 17 is outside the stored range 1..16"):
        ln(torch.randn(1, 17))


def test_input_and_output_scales_equal_scaling_the_input_and_the_output(fc):
    x = torch.randn(3, 2, 6, requires_grad=True)
    s_in = torch.rand(6, requires_grad=True)
    s_out = torch.rand(5, requires_grad=True)
    folded = fc(x, 5, input_scale=s_in, output_scale=s_out)
    plain = fc(x * s_in, 5) * s_out
    torch.testing.assert_close(folded, plain)
    g = torch.randn_like(folded)
    grads = torch.autograd.grad(folded, (x, s_in, s_out, fc.weight, fc.bias), g)
    ref = torch.autograd.grad(plain, (x, s_in, s_out, fc.weight, fc.bias), g)
    for a, b in zip(grads, ref):
        torch.testing.assert_close(a, b)
