"""ElasticBatchNorm2d: sliced affine parameters and running statistics, slice-only updates,
exact cumulative averages with momentum=None, and the evaluator's reset/restore."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nas.errors import InvalidArchitectureError
from supernets.elastic import ElasticBatchNorm2d
from tests.supernets.elastic.helpers import assert_copied, assert_grad_only_in


def perturbed(bn: ElasticBatchNorm2d, seed: int = 0) -> ElasticBatchNorm2d:
    g = torch.Generator().manual_seed(seed)
    n = bn.num_features
    with torch.no_grad():
        bn.weight.copy_(1 + 0.3 * torch.randn(n, generator=g))
        bn.bias.copy_(0.3 * torch.randn(n, generator=g))
        bn.running_mean.copy_(torch.randn(n, generator=g))
        bn.running_var.copy_(0.5 + torch.rand(n, generator=g))
    return bn


@pytest.fixture
def bn() -> ElasticBatchNorm2d:
    return perturbed(ElasticBatchNorm2d(12))


def test_is_a_batchnorm_that_the_evaluator_finds(bn):
    assert isinstance(bn, nn.modules.batchnorm._BatchNorm)


@pytest.mark.parametrize("c", [12, 7, 1])
def test_eval_output_equals_batch_norm_with_sliced_statistics(bn, c):
    x = torch.randn(4, c, 3, 3)
    bn.eval()
    expected = F.batch_norm(x, bn.running_mean[:c].clone(), bn.running_var[:c].clone(), bn.weight[:c],
                            bn.bias[:c], False, 0.0, bn.eps)
    torch.testing.assert_close(bn(x), expected)
    torch.testing.assert_close(bn.export(c)(x), expected)


def test_train_mode_equals_a_plain_bn_and_updates_only_the_active_slice(bn):
    c = 7
    plain = bn.export(c).train()
    before = (bn.running_mean.clone(), bn.running_var.clone())
    x = torch.randn(8, c, 4, 4) * 2 + 1
    torch.testing.assert_close(bn.train()(x), plain(x))
    torch.testing.assert_close(bn.running_mean[:c], plain.running_mean)
    torch.testing.assert_close(bn.running_var[:c], plain.running_var)
    assert not torch.allclose(bn.running_mean[:c], before[0][:c])
    assert torch.equal(bn.running_mean[c:], before[0][c:])
    assert torch.equal(bn.running_var[c:], before[1][c:])
    assert int(bn.num_batches_tracked) == 1
    assert bn.channel_batches_tracked.tolist() == [1] * c + [0] * (12 - c)


def test_gradients_only_in_the_active_slice(bn):
    bn.train()(torch.randn(6, 5, 3, 3)).square().mul(torch.randn(6, 5, 3, 3)).sum().backward()
    assert_grad_only_in(bn.weight, (slice(0, 5),))
    assert_grad_only_in(bn.bias, (slice(0, 5),))


def test_momentum_none_is_the_exact_cumulative_average_per_channel():
    bn = ElasticBatchNorm2d(8, momentum=None).train()
    batches = [(torch.randn(16, 8, 3, 3) * (i + 1) + i, width) for i, width in enumerate((4, 4, 8))]
    for x, width in batches:
        bn(x[:, :width])
    means = [x[:, :w].mean(dim=(0, 2, 3)) for x, w in batches]
    variances = [x[:, :w].var(dim=(0, 2, 3), unbiased=True) for x, w in batches]
    # channels 0-3 saw three batches; channels 4-7 only the last: no dilution by the batches they missed
    torch.testing.assert_close(bn.running_mean[:4], sum(m[:4] for m in means) / 3)
    torch.testing.assert_close(bn.running_var[:4], sum(v[:4] for v in variances) / 3)
    torch.testing.assert_close(bn.running_mean[4:], means[2][4:])
    torch.testing.assert_close(bn.running_var[4:], variances[2][4:])


def test_momentum_none_at_constant_width_matches_pytorch():
    elastic = ElasticBatchNorm2d(8, momentum=None).train()
    plain = nn.BatchNorm2d(5, momentum=None).train()
    for i in range(4):
        x = torch.randn(16, 5, 3, 3) * (i + 1) - i
        torch.testing.assert_close(elastic(x), plain(x))
    torch.testing.assert_close(elastic.running_mean[:5], plain.running_mean)
    torch.testing.assert_close(elastic.running_var[:5], plain.running_var)
    assert int(elastic.num_batches_tracked) == int(plain.num_batches_tracked) == 4


def test_state_dict_has_the_keys_of_a_plain_batch_norm(bn):
    assert set(bn.state_dict()) == set(nn.BatchNorm2d(12).state_dict())


def test_reset_running_stats_resets_every_slice_and_the_counts(bn):
    bn.train()(torch.randn(4, 5, 3, 3))
    bn.reset_running_stats()
    assert torch.equal(bn.running_mean, torch.zeros(12)) and torch.equal(bn.running_var, torch.ones(12))
    assert int(bn.num_batches_tracked) == 0 and int(bn.channel_batches_tracked.sum()) == 0


def test_batch_stats_policy_leaves_running_statistics_alone(bn):
    before = bn.running_mean.clone()
    bn.train().momentum = 0.0  # the evaluator's "batch_stats" policy
    bn(torch.randn(4, 6, 3, 3) + 5)
    assert torch.equal(bn.running_mean, before)


def test_export_copies_everything(bn):
    bn.num_batches_tracked.fill_(3)
    plain = bn.export(5)
    assert type(plain) is nn.BatchNorm2d and plain.num_features == 5
    assert int(plain.num_batches_tracked) == 3 and plain.momentum == bn.momentum and plain.eps == bn.eps
    assert torch.equal(plain.running_var, bn.running_var[:5]) and torch.equal(plain.weight, bn.weight[:5])
    assert_copied(plain, bn)


def test_too_many_channels_raise(bn):
    with pytest.raises(InvalidArchitectureError, match="active channels 13 is outside the stored range 1..12"):
        bn(torch.randn(2, 13, 2, 2))
