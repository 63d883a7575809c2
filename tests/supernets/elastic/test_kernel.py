"""ElasticKernel: centre crops and once-for-all's chained kernel transform."""

from __future__ import annotations

import pytest
import torch

from nas.errors import ConfigError, InvalidArchitectureError
from supernets.elastic import ElasticKernel, centre_crop


def test_centre_crop_is_the_middle_window():
    weight = torch.arange(49.0).view(1, 1, 7, 7)
    assert torch.equal(centre_crop(weight, 3), weight[..., 2:5, 2:5])
    assert torch.equal(centre_crop(weight, 5), weight[..., 1:6, 1:6])
    assert centre_crop(weight, 3)[0, 0, 1, 1] == 24  # the centre stays the centre
    assert centre_crop(weight, 7).data_ptr() == weight.data_ptr()  # a view, no copy


def test_without_transform_the_kernel_is_the_crop():
    kernel = ElasticKernel((3, 5, 7))
    weight = torch.randn(4, 2, 7, 7)
    assert len(list(kernel.parameters())) == 0
    for k in (3, 5):
        assert torch.equal(kernel(weight, k), centre_crop(weight, k))
    assert kernel(weight, 7) is weight


def test_transform_is_identity_at_init_and_one_matrix_per_smaller_size():
    kernel = ElasticKernel((3, 5, 7), transform=True)
    assert {name: tuple(p.shape) for name, p in kernel.matrices.items()} == {"7to5": (25, 25), "5to3": (9, 9)}
    weight = torch.randn(4, 2, 7, 7)
    for k in (3, 5):
        assert torch.equal(kernel(weight, k), centre_crop(weight, k))


def test_transform_chains_from_the_largest_size_down():
    torch.manual_seed(0)
    kernel = ElasticKernel((3, 5, 7), transform=True)
    with torch.no_grad():
        for matrix in kernel.matrices.values():
            matrix.add_(0.1 * torch.randn_like(matrix))
    weight = torch.randn(4, 2, 7, 7)
    m75, m53 = kernel.matrices["7to5"], kernel.matrices["5to3"]
    five = (centre_crop(weight, 5).reshape(8, 25) @ m75.T).view(4, 2, 5, 5)
    three = (centre_crop(five, 3).reshape(8, 9) @ m53.T).view(4, 2, 3, 3)
    torch.testing.assert_close(kernel(weight, 5), five)
    torch.testing.assert_close(kernel(weight, 3), three)
    assert not torch.allclose(kernel(weight, 3), centre_crop(weight, 3))


def test_gradients_reach_the_crop_and_only_the_used_matrices():
    kernel = ElasticKernel((3, 5, 7), transform=True)
    weight = torch.randn(2, 2, 7, 7, requires_grad=True)
    kernel(weight, 5).sum().backward()
    assert kernel.matrices["7to5"].grad is not None and kernel.matrices["5to3"].grad is None
    ring = torch.ones(7, 7, dtype=torch.bool)
    ring[1:6, 1:6] = False
    assert torch.equal(weight.grad[..., ring], torch.zeros_like(weight.grad[..., ring]))
    assert weight.grad[..., 1:6, 1:6].abs().sum() > 0


def test_unknown_kernel_size_names_value_and_stored_sizes():
    kernel = ElasticKernel((3, 5, 7))
    with pytest.raises(InvalidArchitectureError, match=r"kernel size 9 is not available; stored kernel sizes are \(3, 5, 7\)"):
        kernel(torch.randn(1, 1, 7, 7), 9)
    with pytest.raises(InvalidArchitectureError, match="kernel size 4"):
        kernel(torch.randn(1, 1, 7, 7), 4)


@pytest.mark.parametrize("sizes", [(3, 4), (2, 4), (0, 3), ()])
def test_bad_kernel_sizes_are_config_errors(sizes):
    with pytest.raises(ConfigError, match="kernel sizes"):
        ElasticKernel(sizes)


def test_a_single_even_kernel_is_allowed():  # e.g. a ViT's 4x4 patch embedding: nothing to crop
    assert ElasticKernel((4,)).kernel_sizes == (4,)
