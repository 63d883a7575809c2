"""Elastic conv space: decisions, strings, validation, supernet == subnet, analytic costs,
memory, BN recalibration through the evaluator, configuration errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from nas.architecture import Architecture
from nas.data import synthetic
from nas.errors import ConfigError, InvalidArchitectureError
from nas.evaluator import Evaluator
from nas.registry import create_search_space
from search_spaces.elastic_conv import (
    ConvNet,
    ElasticConvArchitecture,
    ElasticConvSearchSpace,
    ElasticConvSupernet,
    InvertedResidual,
    scaled_channels,
)
from supernets.elastic import ElasticBatchNorm2d
from tests.search_spaces.elastic_helpers import hooked_macs, numel, perturb

FMNIST = dict(in_channels=1, input_size=16, stem_channels=8, stem_stride=2, stage_channels=(8, 16, 24),
              channel_divisor=2)  # conf/search_space/elastic_conv.yaml on fmnist201


@pytest.fixture(scope="module")
def space() -> ElasticConvSearchSpace:
    return ElasticConvSearchSpace(**FMNIST)


def random_archs(space, n: int, seed: int) -> list[Architecture]:
    rng = np.random.default_rng(seed)
    return [space.sample(rng) for _ in range(n)]


# -- decisions, extremes, strings -------------------------------------------------------------------
def test_decisions_are_named_and_ascending(space):
    d = space.decisions
    assert list(d)[:3] == ["stage1.depth", "stage1.block0.kernel", "stage1.block0.expand"]
    assert list(d)[-1] == "width" and len(d) == 3 * (1 + 2 * 3) + 1
    assert d["stage2.depth"] == (1, 2, 3) and d["stage3.block2.kernel"] == (3, 5, 7)
    assert d["stage1.block1.expand"] == (2, 3, 4) and d["width"] == (0.75, 1.0)
    assert all(type(o) is int for name, opts in d.items() if name != "width" for o in opts)
    assert all(type(o) is float for o in d["width"])
    assert space.size == 3**3 * 9**9 * 2


def test_largest_and_smallest(space):
    big, small = space.largest(), space.smallest()
    assert big["width"] == 1.0 and small["width"] == 0.75
    assert all(big[f"stage{i}.depth"] == 3 and small[f"stage{i}.depth"] == 1 for i in (1, 2, 3))
    assert big["stage2.block1.kernel"] == 7 and small["stage2.block1.expand"] == 2
    costs = [space.params(a) for a in random_archs(space, 30, seed=1)]
    assert space.params(small) <= min(costs) and max(costs) <= space.params(big)
    assert space.flops(small) < space.flops(big)


def test_compact_string_round_trips(space):
    for arch in [space.largest(), space.smallest(), *random_archs(space, 20, seed=2)]:
        text = str(arch)
        assert text.startswith("w") and len(text) < 90
        assert space.parse(text) == arch
        assert space.parse(Architecture(arch).__str__()) == arch  # the generic name=option form too
        assert Architecture.from_json(arch.to_json()) == arch
    assert str(space.smallest()) == "w0.75|d1:k3e2,k3e2,k3e2|d1:k3e2,k3e2,k3e2|d1:k3e2,k3e2,k3e2"


@pytest.mark.parametrize("text, fragment", [
    ("w1.0", "no stages"),
    ("w1.0|2:k3e2,k3e2,k3e2", "at 2:k3e2"),
    ("w1.0|d2:k3x2,k3e2,k3e2", "at k3x2"),
    ("wide|d2:k3e2", "at Expecting value"),
])
def test_malformed_strings_raise(space, text, fragment):
    with pytest.raises(InvalidArchitectureError, match="malformed elastic conv architecture") as info:
        space.parse(text)
    assert fragment in str(info.value)


# -- bad architectures: outside the space's ranges ---------------------------------------------------
@pytest.mark.parametrize("change, fragment", [
    ({"stage1.block0.kernel": 9}, "decision 'stage1.block0.kernel' of search space 'elastic_conv' has no option 9"),
    ({"stage2.depth": 4}, "'stage2.depth' of search space 'elastic_conv' has no option 4"),
    ({"stage3.block2.expand": 6}, "has no option 6"),
    ({"width": 0.5}, "'width' of search space 'elastic_conv' has no option 0.5"),
    ({"width": 1}, "has no option 1 (int)"),
])
def test_architectures_outside_the_ranges_raise(space, change, fragment):
    arch = space.largest().replace(**change)
    for call in (space.build_model, space.params, space.flops, space.build_supernet().subnet):
        with pytest.raises(InvalidArchitectureError) as info:
            call(arch)
        assert fragment in str(info.value) and "options are" in str(info.value)


@pytest.mark.parametrize("change, fragment", [
    ({"stage1.block0.kernel": 9}, "kernel size 9 is not available; stored kernel sizes are (3, 5, 7)"),
    ({"stage1.block1.kernel": 4}, "kernel size 4 is not available"),
    ({"stage2.depth": 4}, "stage2.depth 4 is outside the stored range 1..3"),
    ({"stage1.block0.expand": 5}, "expand ratio 5 is outside the stored range 1..4"),
    ({"width": 1.25}, "width 1.25 is not one of the stored width multipliers [0.75, 1.0]"),
])
def test_supernet_forward_rejects_what_it_does_not_store(space, change, fragment):
    supernet = space.build_supernet()
    with pytest.raises(InvalidArchitectureError) as info:
        supernet(torch.randn(1, 1, 16, 16), space.largest().replace(**change))
    assert fragment in str(info.value)


# -- supernet == subnet -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained_like_supernet(space) -> ElasticConvSupernet:
    torch.manual_seed(0)
    return perturb(space.build_supernet(), seed=1)


def test_subnet_equals_supernet_in_eval_mode(space, trained_like_supernet):
    supernet = trained_like_supernet.eval()
    x = torch.randn(4, 1, 16, 16)
    outputs = []
    with torch.no_grad():
        for arch in [space.largest(), space.smallest(), *random_archs(space, 8, seed=3)]:
            subnet = supernet.subnet(arch)
            assert isinstance(subnet, ConvNet) and not subnet.training
            expected = supernet(x, arch)
            torch.testing.assert_close(subnet(x), expected, atol=1e-5, rtol=1e-5)
            outputs.append(expected)
    assert not any(torch.allclose(outputs[i], outputs[j], atol=1e-4) for i in range(10) for j in range(i))


def test_subnet_equals_supernet_in_train_mode(space):
    torch.manual_seed(0)
    supernet = perturb(space.build_supernet(), seed=2).train()
    x = torch.randn(8, 1, 16, 16)
    for arch in [space.largest(), *random_archs(space, 5, seed=4)]:
        subnet = supernet.subnet(arch)
        assert subnet.training
        with torch.no_grad():
            torch.testing.assert_close(subnet(x), supernet(x, arch), atol=1e-4, rtol=1e-4)


def test_subnet_with_kernel_transform_and_head_conv():
    space = ElasticConvSearchSpace(**{**FMNIST, "kernel_transform": True, "head_channels": 32, "activation": "hswish"})
    supernet = perturb(space.build_supernet(), seed=3).eval()
    with torch.no_grad():
        for matrices in (m.kernel.matrices for m in supernet.modules() if hasattr(m, "kernel")):
            for matrix in matrices.values():
                matrix.add_(0.05 * torch.randn_like(matrix))
    x = torch.randn(3, 1, 16, 16)
    for arch in random_archs(space, 4, seed=5):
        torch.testing.assert_close(supernet.subnet(arch)(x), supernet(x, arch), atol=1e-5, rtol=1e-5)


def test_subnet_weights_are_copies_and_inactive_blocks_are_left_out(space, trained_like_supernet):
    supernet = trained_like_supernet.eval()
    arch = space.largest().replace(**{"stage2.depth": 1, "stage3.depth": 2, "width": 0.75})
    subnet = supernet.subnet(arch)
    assert len(subnet.blocks) == 3 + 1 + 2
    ptrs = {t.untyped_storage().data_ptr() for t in [*supernet.parameters(), *supernet.buffers()]}
    assert not ptrs & {t.untyped_storage().data_ptr() for t in [*subnet.parameters(), *subnet.buffers()]}
    before = {k: v.clone() for k, v in supernet.state_dict().items()}
    subnet.train()(torch.randn(4, 1, 16, 16)).sum().backward()
    assert all(torch.equal(v, before[k]) for k, v in supernet.state_dict().items())
    # BatchNorms are sliced to the active widths: 0.75 x (8, 8, 16, 24) -> (6, 6, 12, 18)
    assert subnet.stem_bn.num_features == 6
    first = subnet.blocks[0]
    assert isinstance(first, InvertedResidual) and first.residual
    assert (first.expand_bn.num_features, first.project_bn.num_features) == (6 * 4, 6)
    assert [b.project_bn.num_features for b in subnet.blocks] == [6, 6, 6, 12, 18, 18]
    assert [b.residual for b in subnet.blocks] == [True, True, True, False, False, True]
    assert subnet.classifier.in_features == 18


# -- costs -------------------------------------------------------------------------------------------------
def test_params_and_flops_match_the_standalone_models(space):
    x = torch.zeros(1, 1, 16, 16)
    for arch in [space.largest(), space.smallest(), *random_archs(space, 12, seed=6)]:
        model = space.build_model(arch)
        assert space.params(arch) == numel(model), str(arch)
        assert space.flops(arch) == hooked_macs(model, x), str(arch)


def test_costs_with_head_conv_on_cifar_sizes():
    space = ElasticConvSearchSpace(head_channels=64)  # CIFAR defaults: 3x32x32, stem stride 1
    x = torch.zeros(1, 3, 32, 32)
    for arch in [space.largest(), *random_archs(space, 3, seed=7)]:
        model = space.build_model(arch)
        assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
        assert space.params(arch) == numel(model) and space.flops(arch) == hooked_macs(model, x)


def test_smallest_by_hand(space):
    # w=0.75: stem 6, stages 6/12/18, one block each at k3 e2; stem stride 2 -> 8x8, then 8x8, 4x4, 2x2
    p = (9 * 6 + 12) + (6 * 12 + 12 * 9 + 12 * 6 + 4 * 12 + 12) + (6 * 12 + 12 * 9 + 12 * 12 + 4 * 12 + 24)
    p += (12 * 24 + 24 * 9 + 24 * 18 + 4 * 24 + 36) + 18 * 10 + 10
    assert space.params(space.smallest()) == p
    flops = 64 * 9 * 6 + 64 * (6 * 12 + 12 * 9 + 12 * 6) + (64 * 6 * 12 + 16 * 12 * (9 + 12))
    flops += 16 * 12 * 24 + 4 * 24 * (9 + 18) + 18 * 10
    assert space.flops(space.smallest()) == flops


def test_supernet_memory_is_that_of_the_largest_child(space):
    supernet = space.build_supernet()
    assert supernet.kind == "entangled"
    ratio = numel(supernet) / space.params(space.largest())
    assert ratio <= 1.05
    assert ratio == 1.0  # no kernel transform, no per-option copies: exactly the largest child
    transformed = ElasticConvSearchSpace(**{**FMNIST, "kernel_transform": True})
    extra = numel(transformed.build_supernet()) - transformed.params(transformed.largest())
    assert extra == 9 * (25 * 25 + 9 * 9)  # one 7->5 and one 5->3 matrix per block


def test_no_modules_are_built_in_forward(space, monkeypatch):
    supernet = space.build_supernet()
    built = []
    monkeypatch.setattr(nn.Module, "__init__", lambda self, *a, **k: built.append(type(self)))
    supernet(torch.randn(2, 1, 16, 16), random_archs(space, 1, seed=8)[0])
    assert built == []


# -- BN recalibration through the evaluator ------------------------------------------------------------
def test_evaluator_recalibration_equals_a_recalibrated_subnet():
    data = synthetic(train_size=512, valid_size=256, image_size=16)
    space = ElasticConvSearchSpace(**{**FMNIST, "num_classes": 4})
    torch.manual_seed(0)
    supernet = perturb(space.build_supernet(), seed=4)
    before = {k: v.clone() for k, v in supernet.state_dict().items()}
    evaluator = Evaluator(supernet, data.valid, data.train, valid_size=None, recalibration_batches=2,
                          recalibration_batch_size=128, progress=False)
    assert all(isinstance(m, ElasticBatchNorm2d) for m in evaluator._norms) and len(evaluator._norms) > 20
    for arch in [space.smallest(), *random_archs(space, 2, seed=9)]:
        score = evaluator.score(arch)
        subnet = supernet.subnet(arch)
        for bn in (m for m in subnet.modules() if isinstance(m, nn.BatchNorm2d)):
            bn.reset_running_stats()
            bn.momentum = None
        with torch.no_grad():
            subnet.train()
            for x in evaluator.recalibration:
                subnet(x)
            predictions = subnet.eval()(data.valid.x).argmax(1)
        assert score == pytest.approx(100.0 * float((predictions == data.valid.y).float().mean()))
    # the supernet's own statistics and momentum are restored after scoring
    assert all(torch.equal(v, before[k]) for k, v in supernet.state_dict().items())
    assert all(m.momentum == 0.1 for m in evaluator._norms)


# -- configuration ----------------------------------------------------------------------------------------
def test_registered_and_spec():
    space = create_search_space("elastic_conv", **FMNIST)
    assert isinstance(space, ElasticConvSearchSpace) and space.architecture_cls is ElasticConvArchitecture
    spec = space.spec()
    assert spec["name"] == "elastic_conv" and spec["stage_channels"] == [8, 16, 24] and spec["stem_stride"] == 2
    assert ElasticConvSearchSpace.from_config(space.config).spec() == spec


def test_scaled_channels():
    assert [scaled_channels(c, 0.75, 4) for c in (16, 24, 32)] == [12, 20, 24]
    assert [scaled_channels(c, 0.75, 2) for c in (8, 16, 24)] == [6, 12, 18]
    assert scaled_channels(8, 0.75, 8) == 8 and scaled_channels(32, 1.0, 8) == 32


@pytest.mark.parametrize("kwargs, fragment", [
    ({"kernel_sizes": (3, 4)}, "kernel_sizes must be odd"),
    ({"kernel_sizes": (5, 3)}, "distinct and ascending"),
    ({"expand_ratios": (2, 2)}, "distinct and ascending"),
    ({"depths": (0, 1)}, "depths must be positive"),
    ({"width_multipliers": ("a",)}, "width_multipliers must be a non-empty list of floats"),
    ({"stage_strides": (1, 2)}, "one stride per stage"),
    ({"stage_channels": ()}, "stage_channels must be a non-empty list"),
    ({"activation": "gelu"}, "activation must be one of"),
    ({"stem_channels": 0}, "stem_channels must be a positive integer"),
    ({"head_channels": -1}, "head_channels"),
])
def test_config_errors(kwargs, fragment):
    with pytest.raises(ConfigError, match=fragment):
        ElasticConvSearchSpace(**{**FMNIST, **kwargs})
