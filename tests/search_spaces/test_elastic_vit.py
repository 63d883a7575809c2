"""Elastic ViT space: decisions, strings, validation, supernet == subnet, analytic costs, memory,
configuration errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from nas.architecture import Architecture
from nas.errors import ConfigError, InvalidArchitectureError
from nas.registry import create_search_space
from search_spaces.elastic_vit import ElasticViTArchitecture, ElasticViTSearchSpace, ElasticViTSupernet, ViT
from tests.search_spaces.elastic_helpers import hooked_macs, numel, perturb

FMNIST = dict(in_channels=1, input_size=16)  # conf/search_space/elastic_vit.yaml on fmnist201


@pytest.fixture(scope="module")
def space() -> ElasticViTSearchSpace:
    return ElasticViTSearchSpace(**FMNIST)


def random_archs(space, n: int, seed: int) -> list[Architecture]:
    rng = np.random.default_rng(seed)
    return [space.sample(rng) for _ in range(n)]


def test_decisions_are_named_and_ascending(space):
    d = space.decisions
    assert list(d) == ["depth", "embed_dim"] + [f"layer{i}.{k}" for i in range(4) for k in ("heads", "mlp_ratio")]
    assert d["depth"] == (2, 3, 4) and d["embed_dim"] == (48, 64)
    assert d["layer3.heads"] == (2, 3, 4) and d["layer0.mlp_ratio"] == (2, 3, 4)
    assert space.size == 3 * 2 * 9**4
    assert space.config.tokens == 17


def test_largest_and_smallest(space):
    big, small = space.largest(), space.smallest()
    assert (big["depth"], big["embed_dim"], big["layer3.heads"], big["layer3.mlp_ratio"]) == (4, 64, 4, 4)
    assert (small["depth"], small["embed_dim"], small["layer0.heads"], small["layer0.mlp_ratio"]) == (2, 48, 2, 2)
    costs = [space.params(a) for a in random_archs(space, 30, seed=1)]
    assert space.params(small) <= min(costs) and max(costs) <= space.params(big)


def test_compact_string_round_trips(space):
    for arch in [space.largest(), space.smallest(), *random_archs(space, 20, seed=2)]:
        assert space.parse(str(arch)) == arch
        assert space.parse(Architecture(arch).__str__()) == arch
    assert str(space.largest()) == "d4|e64|h4m4,h4m4,h4m4,h4m4"
    floats = ElasticViTSearchSpace(**FMNIST, mlp_ratios=(3.5, 4.0))
    arch = floats.largest().replace(**{"layer1.mlp_ratio": 3.5})
    assert str(arch) == "d4|e64|h4m4.0,h4m3.5,h4m4.0,h4m4.0" and floats.parse(str(arch)) == arch


@pytest.mark.parametrize("text", ["d2|e48", "d2|x48|h2m2,h2m2,h2m2,h2m2", "d2|e48|h2m2,h2", "dx|e48|h2m2"])
def test_malformed_strings_raise(space, text):
    with pytest.raises(InvalidArchitectureError, match="malformed elastic ViT architecture"):
        space.parse(text)


@pytest.mark.parametrize("change, fragment", [
    ({"layer1.heads": 5}, "decision 'layer1.heads' of search space 'elastic_vit' has no option 5"),
    ({"embed_dim": 80}, "'embed_dim' of search space 'elastic_vit' has no option 80"),
    ({"depth": 5}, "'depth' of search space 'elastic_vit' has no option 5"),
    ({"layer0.mlp_ratio": 8}, "'layer0.mlp_ratio' of search space 'elastic_vit' has no option 8"),
])
def test_architectures_outside_the_ranges_raise(space, change, fragment):
    arch = space.largest().replace(**change)
    for call in (space.build_model, space.params, space.flops, space.build_supernet().subnet):
        with pytest.raises(InvalidArchitectureError) as info:
            call(arch)
        assert fragment in str(info.value) and "options are" in str(info.value)


@pytest.mark.parametrize("change, fragment", [
    ({"layer1.heads": 5}, "active heads 5 is outside the stored range 1..4"),
    ({"embed_dim": 80}, "active output channels 80 is outside the stored range 1..64"),
    ({"depth": 5}, "depth 5 is outside the stored range 1..4"),
    ({"layer0.mlp_ratio": 5}, "active output features 320 is outside the stored range 1..256"),
])
def test_supernet_forward_rejects_what_it_does_not_store(space, change, fragment):
    with pytest.raises(InvalidArchitectureError) as info:
        space.build_supernet()(torch.randn(1, 1, 16, 16), space.largest().replace(**change))
    assert fragment in str(info.value)


def test_subnet_equals_supernet(space):
    torch.manual_seed(0)
    supernet = perturb(space.build_supernet(), seed=1)
    x = torch.randn(4, 1, 16, 16)
    outputs = []
    for training in (False, True):
        supernet.train(training)
        with torch.no_grad():
            for arch in [space.largest(), space.smallest(), *random_archs(space, 8, seed=3)]:
                subnet = supernet.subnet(arch)
                assert isinstance(subnet, ViT) and subnet.training == training
                expected = supernet(x, arch)
                torch.testing.assert_close(subnet(x), expected, atol=1e-5, rtol=1e-5)
                outputs.append(expected)
    assert not any(torch.allclose(outputs[i], outputs[j], atol=1e-4) for i in range(10) for j in range(i))


def test_subnet_weights_are_copies_and_inactive_layers_are_left_out(space):
    supernet = perturb(space.build_supernet(), seed=2)
    arch = space.largest().replace(depth=3, embed_dim=48, **{"layer1.heads": 2, "layer2.mlp_ratio": 3})
    subnet = supernet.subnet(arch)
    assert len(subnet.blocks) == 3
    assert subnet.cls_token.shape == (1, 1, 48) and subnet.pos_embed.shape == (1, 17, 48)
    assert [b.attn.num_heads for b in subnet.blocks] == [4, 2, 4]
    assert [b.mlp.fc1.out_features for b in subnet.blocks] == [192, 192, 144]
    assert subnet.blocks[1].attn.qkv.out_features == 3 * 2 * 16 and subnet.norm.normalized_shape == (48,)
    ptrs = {t.untyped_storage().data_ptr() for t in supernet.parameters()}
    assert not ptrs & {t.untyped_storage().data_ptr() for t in subnet.parameters()}
    before = {k: v.clone() for k, v in supernet.state_dict().items()}
    subnet(torch.randn(2, 1, 16, 16)).sum().backward()
    assert all(torch.equal(v, before[k]) for k, v in supernet.state_dict().items())
    assert all(p.grad is None for p in supernet.parameters())


def test_supernet_gradients_stay_in_the_active_slices(space):
    supernet = space.build_supernet()
    arch = space.smallest()
    supernet(torch.randn(2, 1, 16, 16), arch).sum().backward()
    assert torch.equal(supernet.cls_token.grad[..., 48:], torch.zeros(1, 1, 16))
    assert all(b.attn.qkv.weight.grad is None for b in supernet.blocks[2:])  # skipped layers
    qkv = supernet.blocks[0].attn.qkv.weight.grad
    assert torch.equal(qkv[96:], torch.zeros_like(qkv[96:])) and qkv[:96, :48].abs().sum() > 0


def test_params_and_flops_match_the_standalone_models(space):
    x = torch.zeros(1, 1, 16, 16)
    for arch in [space.largest(), space.smallest(), *random_archs(space, 10, seed=4)]:
        model = space.build_model(arch)
        assert space.params(arch) == numel(model), str(arch)
        assert space.flops(arch) == hooked_macs(model, x), str(arch)


def test_smallest_by_hand(space):
    e, t = 48, 17
    layer = 4 * e + (e + 1) * 96 + (32 + 1) * e + (e + 1) * 96 + (96 + 1) * e
    assert space.params(space.smallest()) == (16 + 1) * e + e + t * e + 2 * layer + 2 * e + (e + 1) * 10
    layer_macs = t * (e * 96 + 32 * e + 2 * e * 96) + 2 * t * t * 32
    assert space.flops(space.smallest()) == 16 * 16 * e + 2 * layer_macs + e * 10


def test_supernet_memory_is_that_of_the_largest_child(space):
    supernet = space.build_supernet()
    assert isinstance(supernet, ElasticViTSupernet) and supernet.kind == "entangled"
    assert numel(supernet) == space.params(space.largest())  # ratio exactly 1.0 <= 1.05


def test_no_modules_are_built_in_forward(space, monkeypatch):
    supernet = space.build_supernet()
    built = []
    monkeypatch.setattr(nn.Module, "__init__", lambda self, *a, **k: built.append(type(self)))
    supernet(torch.randn(2, 1, 16, 16), random_archs(space, 1, seed=5)[0])
    assert built == []


def test_heads_need_not_divide_the_embedding_dim():
    """AutoFormer's convention: attention width = heads x head_dim, independent of the embed dim."""
    space = ElasticViTSearchSpace(**FMNIST, embed_dims=(40,), num_heads=(3,), head_dim=16)
    arch = space.largest()
    torch.testing.assert_close(space.build_supernet().eval().subnet(arch)(torch.zeros(1, 1, 16, 16)).shape,
                               torch.Size([1, 10]))
    assert space.build_model(arch).blocks[0].attn.qkv.out_features == 3 * 3 * 16


def test_registered_and_spec():
    space = create_search_space("elastic_vit", **FMNIST)
    assert isinstance(space, ElasticViTSearchSpace) and space.architecture_cls is ElasticViTArchitecture
    assert space.spec() == {"name": "elastic_vit", "in_channels": 1, "num_classes": 10, "input_size": 16,
                            "patch_size": 4, "embed_dims": [48, 64], "depths": [2, 3, 4], "num_heads": [2, 3, 4],
                            "mlp_ratios": [2, 3, 4], "head_dim": 16}


@pytest.mark.parametrize("kwargs, fragment", [
    ({"input_size": 18}, "input_size 18 must be divisible by patch_size 4"),
    ({"num_heads": (4, 2)}, "num_heads must be distinct and ascending"),
    ({"embed_dims": (0, 48)}, "embed_dims must be a non-empty list of positive numbers"),
    ({"mlp_ratios": ()}, "mlp_ratios must be a non-empty list"),
    ({"head_dim": 0}, "head_dim must be a positive integer"),
    ({"depths": (2.5,)}, "depths must be a non-empty list of positive numbers"),
])
def test_config_errors(kwargs, fragment):
    with pytest.raises(ConfigError, match=fragment):
        ElasticViTSearchSpace(**{**FMNIST, **kwargs})
