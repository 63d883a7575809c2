"""Mixture-of-Supernets building blocks: the spec's checks, the encoder, the router (both kinds) and the
routed ops (mixing, slicing, one expert = the elastic op, export = forward, gradients)."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch

from nas.architecture import Architecture
from nas.errors import ConfigError, InvalidArchitectureError
from supernets.elastic import ElasticConv2d, ElasticLinear
from supernets.mixture import ArchitectureEncoder, MixtureSpec, RoutedConv2d, RoutedLinear, Router, mix_experts


# -- spec -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, fragment", [
    ({"experts": 0}, "experts=0: a Mixture-of-Supernets needs at least one expert"),
    ({"experts": 1.5}, "experts=1.5"),
    ({"experts": True}, "experts=True"),
    ({"router": "token"}, "router='token': unknown router kind; use router=layer"),
    ({"router_hidden": 0}, "router_hidden=0"),
])
def test_spec_refuses_bad_values_naming_the_fix(kwargs, fragment):
    with pytest.raises(ConfigError) as info:
        MixtureSpec(**kwargs)
    assert fragment in str(info.value) and "use" in str(info.value)


def test_spec_coerces_mappings_and_refuses_unknown_keys():
    assert MixtureSpec.coerce(None) is None
    assert MixtureSpec.coerce({"experts": 4, "_target_": "x"}) == MixtureSpec(experts=4)
    spec = MixtureSpec(router="neuron")
    assert MixtureSpec.coerce(spec) is spec
    with pytest.raises(ConfigError, match=r"unknown keys \['expert'\]"):
        MixtureSpec.coerce({"expert": 2})
    with pytest.raises(ConfigError, match="supernet=mos"):
        MixtureSpec.coerce(3)


# -- encoder ----------------------------------------------------------------------------------------------------
DECISIONS = {"depth": (1, 2), "width": (0.5, 1.0), "layer0.k": (3, 5), "layer1.k": (3, 5)}


def active(arch):
    return {"depth", "width"} | {f"layer{i}.k" for i in range(arch["depth"])}


def test_encoder_scales_by_the_largest_option_and_zeroes_unused_decisions():
    encoder = ArchitectureEncoder(DECISIONS, active)
    deep = Architecture({"depth": 2, "width": 0.5, "layer0.k": 3, "layer1.k": 5})
    shallow = Architecture({"depth": 1, "width": 0.5, "layer0.k": 3, "layer1.k": 5})
    same = Architecture({"depth": 1, "width": 0.5, "layer0.k": 3, "layer1.k": 3})
    assert encoder.values(deep) == [1.0, 0.5, 0.6, 1.0]
    assert encoder.values(shallow) == [0.5, 0.5, 0.6, 0.0]
    assert torch.equal(encoder(shallow), encoder(same))      # differs only in an unused decision
    assert encoder(deep) is encoder(deep)                     # cached
    assert ArchitectureEncoder(DECISIONS).values(shallow)[-1] == 1.0  # no `active`: every decision counts


def test_an_encoding_cached_in_inference_mode_serves_training():
    encoder, router = ArchitectureEncoder(DECISIONS), Router(4, [3], 2, "layer", hidden=4)
    arch = Architecture({"depth": 2, "width": 1.0, "layer0.k": 3, "layer1.k": 5})
    with torch.inference_mode():
        encoder(arch)
    router(encoder(arch))[0].sum().backward()
    assert router.net[0].weight.grad is not None


def test_encoder_errors_name_the_problem():
    with pytest.raises(ConfigError, match="numeric options; decision 'op' has options"):
        ArchitectureEncoder({"op": ("conv", "skip")})
    with pytest.raises(InvalidArchitectureError, match="no decision 'layer1.k'"):
        ArchitectureEncoder(DECISIONS).values(Architecture({"depth": 1, "width": 1.0, "layer0.k": 3}))


def test_encoder_cache_is_bounded_and_not_copied():
    encoder = ArchitectureEncoder(DECISIONS, cache_size=2)
    archs = [Architecture({"depth": 1, "width": 1.0, "layer0.k": k, "layer1.k": 3}) for k in (3, 5)]
    archs.append(Architecture({"depth": 2, "width": 1.0, "layer0.k": 3, "layer1.k": 3}))
    for arch in archs:
        encoder(arch)
    assert len(encoder._cache) == 2
    assert len(copy.deepcopy(encoder)._cache) == 0 and len(pickle.loads(pickle.dumps(encoder))._cache) == 0


# -- router -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind, groups", [("layer", [1, 1, 1]), ("neuron", [5, 3, 7])])
@pytest.mark.parametrize("experts", [1, 2, 4])
def test_routing_weights_sum_to_one_over_the_experts(kind, groups, experts):
    torch.manual_seed(0)
    router = Router(6, [5, 3, 7], experts, kind, hidden=16)
    for _ in range(5):
        alphas = router(torch.rand(6))
        assert [tuple(a.shape) for a in alphas] == [(experts, g) for g in groups]
        for alpha in alphas:
            assert bool((alpha >= 0).all())
            assert torch.allclose(alpha.sum(dim=0), torch.ones(alpha.shape[1]), atol=1e-6)
    params = sum(p.numel() for p in router.parameters())
    assert params == (6 + 1) * 16 + (16 + 1) * experts * sum(groups)


def test_router_with_one_expert_gives_exactly_one():
    alphas = Router(4, [3, 2], 1, "neuron", hidden=8)(torch.rand(4))
    assert all(torch.equal(a, torch.ones_like(a)) for a in alphas)


def test_router_refuses_unknown_kind():
    with pytest.raises(ConfigError, match="unknown router kind 'token'"):
        Router(4, [3], 2, "token")


# -- routed ops -------------------------------------------------------------------------------------------------
def test_mix_experts_layer_and_neuron_wise():
    own, experts = torch.randn(4, 3), torch.randn(2, 4, 3)
    layer = torch.tensor([[0.2], [0.3], [0.5]])
    assert torch.allclose(mix_experts(own, experts, layer), 0.2 * own + 0.3 * experts[0] + 0.5 * experts[1])
    neuron = torch.softmax(torch.randn(3, 6), dim=0)  # 6 stored neurons, the slice uses the first 4
    expected = neuron[0, :4, None] * own + neuron[1, :4, None] * experts[0] + neuron[2, :4, None] * experts[1]
    assert torch.allclose(mix_experts(own, experts, neuron), expected)
    assert mix_experts(own, None, torch.ones(1, 1)) is own


def test_routed_linear_with_one_expert_is_its_elastic_parent():
    torch.manual_seed(0)
    plain = ElasticLinear(8, 6)
    routed = RoutedLinear.adopt(plain, experts=1)
    assert routed.weight is plain.weight and routed.bias is plain.bias and routed.experts is None
    routed.routing = torch.ones(1, 1)
    x = torch.randn(3, 5)
    assert torch.equal(routed(x, 4), plain(x, 4))
    assert [n for n, _ in routed.named_parameters()] == ["weight", "bias"]


@pytest.mark.parametrize("groups", [1, 6])
def test_routed_linear_mixes_then_slices_and_exports_the_mixture(groups):
    torch.manual_seed(0)
    fc = RoutedLinear(8, 6, experts=3)
    alpha = torch.softmax(torch.randn(3, groups), dim=0)
    fc.routing = alpha
    full_w = mix_experts(fc.weight, fc.experts, alpha)          # mix the full-size weights, then slice
    full_b = mix_experts(fc.bias, fc.expert_bias, alpha)
    x = torch.randn(2, 5)
    assert torch.allclose(fc(x, 4), x @ full_w[:4, :5].T + full_b[:4], atol=1e-6)
    exported = fc.export(5, 4)
    assert type(exported) is torch.nn.Linear and torch.allclose(exported(x), fc(x, 4), atol=1e-6)


def test_routed_conv_mixes_pointwise_weights_and_bias():
    torch.manual_seed(0)
    conv = RoutedConv2d(4, 8, bias=True, experts=2)
    alpha = torch.softmax(torch.randn(2, 8), dim=0)
    conv.routing = alpha
    x = torch.randn(2, 3, 4, 4)
    weight = mix_experts(conv.weight, conv.experts, alpha)[:5, :3]
    bias = mix_experts(conv.bias, conv.expert_bias, alpha)[:5]
    assert torch.allclose(conv(x, 5), torch.nn.functional.conv2d(x, weight, bias), atol=1e-6)
    assert torch.allclose(conv.export(3, 5)(x), conv(x, 5), atol=1e-6)
    plain = ElasticConv2d(4, 8, kernel_sizes=(3, 5), kernel_transform=True)
    adopted = RoutedConv2d.adopt(plain, experts=1)
    adopted.routing = torch.ones(1, 1)
    assert adopted.kernel is plain.kernel and torch.equal(adopted(x, 6, 3), plain(x, 6, 3))


def test_gradients_reach_every_expert_and_the_routing():
    torch.manual_seed(0)
    fc = RoutedLinear(8, 6, experts=3)
    logits = torch.randn(3, 6, requires_grad=True)
    fc.routing = torch.softmax(logits, dim=0)
    fc(torch.randn(4, 8)).square().sum().backward()
    for tensor in (fc.weight, fc.bias, fc.experts, fc.expert_bias, logits):
        assert tensor.grad is not None and tensor.grad.abs().sum() > 0


def test_a_routed_op_without_routing_says_how_to_run_it():
    fc = RoutedLinear(4, 4, experts=2)
    with pytest.raises(RuntimeError, match=r"no routing: run it inside its supernet's forward\(x, arch\)"):
        fc(torch.randn(1, 4))
    fc.routing = torch.ones(3, 1) / 3
    with pytest.raises(RuntimeError, match="routing over 3 experts, the op holds 2"):
        fc(torch.randn(1, 4))
    with pytest.raises(ConfigError, match="experts=0"):
        RoutedConv2d(4, 4, experts=0)
