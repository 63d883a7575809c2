"""ElasticDepthwiseConv2d: slices equal plain depthwise convolutions; gradients stay in the slice."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nas.errors import InvalidArchitectureError
from supernets.elastic import ElasticDepthwiseConv2d
from tests.supernets.elastic.helpers import assert_copied, assert_grad_only_in


@pytest.fixture
def dw() -> ElasticDepthwiseConv2d:
    torch.manual_seed(0)
    return ElasticDepthwiseConv2d(12, kernel_sizes=(3, 5, 7), stride=1)


@pytest.mark.parametrize("channels, k", [(12, 7), (8, 5), (3, 3)])
def test_slice_equals_plain_depthwise_conv(dw, channels, k):
    x = torch.randn(2, channels, 8, 8)
    s = (7 - k) // 2
    plain = nn.Conv2d(channels, channels, k, padding=k // 2, groups=channels, bias=False)
    with torch.no_grad():
        plain.weight.copy_(dw.weight[:channels, :, s:s + k, s:s + k])
    out = dw(x, k)
    assert out.shape == x.shape
    torch.testing.assert_close(out, plain(x), atol=1e-6, rtol=1e-6)
    exported = dw.export(channels, k)
    assert type(exported) is nn.Conv2d and exported.groups == channels
    assert_copied(exported, dw)
    torch.testing.assert_close(exported(x), out, atol=1e-6, rtol=1e-6)


def test_stride_two():
    dw = ElasticDepthwiseConv2d(4, (3, 5), stride=2)
    assert dw(torch.randn(1, 4, 7, 7), 5).shape == (1, 4, 4, 4)


def test_gradient_only_in_the_active_slice(dw):
    dw(torch.randn(2, 5, 8, 8), 3).square().sum().backward()
    assert_grad_only_in(dw.weight, (slice(0, 5), slice(None), slice(2, 5), slice(2, 5)))


def test_transformed_kernel_gradient_stays_in_the_crop():
    dw = ElasticDepthwiseConv2d(6, (3, 5, 7), kernel_transform=True)
    dw(torch.randn(2, 4, 8, 8), 3).square().sum().backward()
    assert_grad_only_in(dw.weight, (slice(0, 4), slice(None), slice(1, 6), slice(1, 6)))
    assert dw.kernel.matrices["5to3"].grad is not None


def test_errors_name_value_and_range(dw):
    with pytest.raises(InvalidArchitectureError, match="active channels 13 is outside the stored range 1..12"):
        dw(torch.randn(1, 13, 8, 8), 3)
    with pytest.raises(InvalidArchitectureError, match=r"kernel size 9 .* \(3, 5, 7\)"):
        dw(torch.randn(1, 4, 8, 8), 9)
