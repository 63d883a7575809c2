"""ElasticSelfAttention and ElasticMLP: a child with h heads and width e equals plain attention
built from the sliced weights; gradients reach only the active heads and features."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from nas.errors import InvalidArchitectureError
from supernets.elastic import MLP, ElasticMLP, ElasticSelfAttention, SelfAttention
from tests.supernets.elastic.helpers import assert_copied, assert_grad_only_in

D = 4  # head dim


@pytest.fixture
def attn() -> ElasticSelfAttention:
    torch.manual_seed(0)
    return ElasticSelfAttention(max_dim=12, max_heads=3, head_dim=D)


def reference_attention(x, attn: ElasticSelfAttention, heads: int) -> torch.Tensor:
    """Head by head, from the sliced weights; qkv rows are head-major (head, q|k|v, head_dim)."""
    e = x.shape[-1]
    w, b = attn.qkv.weight.detach(), attn.qkv.bias.detach()
    outs = []
    for h in range(heads):
        rows = [slice((3 * h + j) * D, (3 * h + j + 1) * D) for j in range(3)]
        q, k, v = (x @ w[r, :e].T + b[r] for r in rows)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(D)
        outs.append(scores.softmax(-1) @ v)
    pw, pb = attn.proj.weight.detach(), attn.proj.bias.detach()
    return torch.cat(outs, dim=-1) @ pw[:e, :heads * D].T + pb[:e]


@pytest.mark.parametrize("e, heads", [(12, 3), (8, 2), (12, 1), (5, 3)])
def test_child_equals_reference_attention_and_export(attn, e, heads):
    x = torch.randn(2, 6, e)
    out = attn(x, heads)
    assert out.shape == x.shape
    torch.testing.assert_close(out, reference_attention(x, attn, heads), atol=1e-5, rtol=1e-5)
    plain = attn.export(e, heads)
    assert type(plain) is SelfAttention and plain.num_heads == heads
    assert (plain.qkv.in_features, plain.qkv.out_features, plain.proj.out_features) == (e, 3 * heads * D, e)
    assert_copied(plain, attn)
    torch.testing.assert_close(plain(x), out, atol=1e-6, rtol=1e-6)


def test_gradients_reach_only_the_active_heads_and_features(attn):
    x = torch.randn(2, 5, 8)
    attn(x, 2).square().sum().backward()
    assert_grad_only_in(attn.qkv.weight, (slice(0, 3 * 2 * D), slice(0, 8)))
    assert_grad_only_in(attn.qkv.bias, (slice(0, 3 * 2 * D),))
    assert_grad_only_in(attn.proj.weight, (slice(0, 8), slice(0, 2 * D)))


def test_heads_beyond_the_stored_width_raise(attn):
    with pytest.raises(InvalidArchitectureError, match=r"head_dim 4\): active heads 4 is outside the stored range 1..3"):
        attn(torch.randn(1, 3, 12), 4)
    with pytest.raises(InvalidArchitectureError, match="active heads 0"):
        attn.export(12, 0)
    with pytest.raises(InvalidArchitectureError, match="active input features 13"):
        attn(torch.randn(1, 3, 13), 2)


def test_mlp_child_equals_plain_linear_pair():
    torch.manual_seed(1)
    mlp = ElasticMLP(12, 48)
    x = torch.randn(2, 5, 8)
    f1, f2 = mlp.fc1, mlp.fc2
    expected = F.linear(F.gelu(F.linear(x, f1.weight[:20, :8], f1.bias[:20])), f2.weight[:8, :20], f2.bias[:8])
    torch.testing.assert_close(mlp(x, 20), expected)
    plain = mlp.export(8, 20)
    assert type(plain) is MLP and (plain.fc1.out_features, plain.fc2.in_features, plain.fc2.out_features) == (20, 20, 8)
    assert_copied(plain, mlp)
    torch.testing.assert_close(plain(x), expected)
    mlp(x, 20).square().sum().backward()
    assert_grad_only_in(f1.weight, (slice(0, 20), slice(0, 8)))
    assert_grad_only_in(f2.weight, (slice(0, 8), slice(0, 20)))
    with pytest.raises(InvalidArchitectureError, match="active output features 49"):
        mlp(x, 49)
