"""NAS-Bench-201: cell strings, supernet/subnet equivalence, analytic costs, the FMNIST-201 skeleton."""

from __future__ import annotations

import pickle
import re

import numpy as np
import pytest
import torch
from scipy.stats import kendalltau, spearmanr
from torch import nn

from nas.architecture import Architecture
from nas.errors import ConfigError, InvalidArchitectureError
from search_spaces.nb201 import (
    EDGE_NAMES,
    OPS,
    NB201Architecture,
    NB201Config,
    NB201Network,
    NB201SearchSpace,
    NB201Supernet,
)
from search_spaces.nb201.network import Cell, LightReduction, ResidualReduction
from search_spaces.nb201.ops import ReLUConvBN
from search_spaces.nb201.pooling import AvgPool3x3

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
NODE1_EMPTY = "|none~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_3x3~2|"


def arch_of(text: str) -> NB201Architecture:
    return NB201Architecture.from_string(text)


def random_archs(space: NB201SearchSpace, n: int, seed: int) -> list[NB201Architecture]:
    rng = np.random.default_rng(seed)
    return [space.sample(rng) for _ in range(n)]


def perturb(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random conv/linear weights and BN affine parameters and running statistics (not the init values)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                c = module.num_features
                module.weight.copy_(1 + 0.3 * torch.randn(c, generator=generator))
                module.bias.copy_(0.3 * torch.randn(c, generator=generator))
                module.running_mean.copy_(0.5 * torch.randn(c, generator=generator))
                module.running_var.copy_(0.5 + 1.5 * torch.rand(c, generator=generator))
            elif isinstance(module, (nn.Conv2d, nn.Linear)):
                module.weight.add_(0.1 * torch.randn(module.weight.shape, generator=generator))
    return model


# -- (1) cell strings ---------------------------------------------------------------------------------
def test_every_benchmark_string_round_trips(nb201_rows, fmnist_space):
    assert len(nb201_rows) == 15_625
    archs = []
    for row in nb201_rows:
        text = row["ArchitectureString"]
        arch = fmnist_space.parse(text)
        assert str(arch) == text
        archs.append(arch)
    assert set(archs) == set(fmnist_space.enumerate())  # the CSV is exactly the space


def test_cell_string_maps_edges():
    arch = arch_of(BEST)
    assert dict(arch) == {
        "1<-0": "nor_conv_3x3", "2<-0": "nor_conv_3x3", "2<-1": "avg_pool_3x3",
        "3<-0": "skip_connect", "3<-1": "nor_conv_3x3", "3<-2": "skip_connect",
    }
    assert list(EDGE_NAMES) == ["1<-0", "2<-0", "2<-1", "3<-0", "3<-1", "3<-2"]
    assert OPS == ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
    generic = Architecture(dict(arch))
    assert str(NB201SearchSpace().validate(generic)) == BEST


def test_pickle_keeps_the_nb201_type():
    arch = arch_of(BEST)
    back = pickle.loads(pickle.dumps(arch))
    assert type(back) is NB201Architecture
    assert back == arch and str(back) == BEST


# -- (2) malformed strings --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, fragments",
    [
        ("", ["1 node groups", "need 3"]),
        ("|nor_conv_3x3~0|+|none~0|none~1|", ["2 node groups", "need 3"]),
        (BEST + "+|none~0|", ["4 node groups"]),
        ("|none~0|+|none~0|+|none~0|none~1|none~2|", ["node 2", "2 incoming edges"]),
        ("|none~0|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", ["node 1", "1 incoming edges"]),
        ("nor_conv_3x3~0+|none~0|none~1|+|none~0|none~1|none~2|", ["node 1", "'nor_conv_3x3~0'"]),
        ("|none~0|+none~0|none~1+|none~0|none~1|none~2|", ["node 2", "'none~0|none~1'"]),
        ("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", ["edge 'none~1' of node 1", "'op~0'"]),
        ("|none~0|+|none~0|none~2|+|none~0|none~1|none~2|", ["edge 'none~2' of node 2", "'op~1'"]),
        ("|none|+|none~0|none~1|+|none~0|none~1|none~2|", ["edge 'none' of node 1"]),
        ("|nor_conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|", ["unknown op 'nor_conv_5x5'", "nor_conv_3x3"]),
        ("|none~0|+|none~0|none~1|+|none~0|Skip_Connect~1|none~2|", ["unknown op 'Skip_Connect'"]),
    ],
)
def test_malformed_cell_strings_raise_naming_the_problem(text, fragments):
    with pytest.raises(InvalidArchitectureError) as info:
        NB201SearchSpace().parse(text)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message


def test_non_string_raises():
    with pytest.raises(InvalidArchitectureError, match="must be a str, got int"):
        NB201Architecture.from_string(3)  # type: ignore[arg-type]


def test_unknown_op_in_mapping_rejected_by_space(fmnist_space):
    bad = Architecture({**dict(arch_of(BEST)), "2<-1": "nor_conv_5x5"})
    with pytest.raises(InvalidArchitectureError, match=r"'2<-1'.*'nor_conv_5x5'"):
        fmnist_space.build_model(bad)


# -- (3) supernet == subnet -----------------------------------------------------------------------------
@pytest.fixture
def equivalence_archs(fmnist_space) -> list[NB201Architecture]:
    archs = [arch_of(ALL_NONE), arch_of(NODE1_EMPTY), arch_of(BEST)] + random_archs(fmnist_space, 7, seed=11)
    assert len(set(archs)) == len(archs) == 10
    return archs


def test_subnet_matches_supernet_in_eval_mode(fmnist_space, equivalence_archs):
    torch.manual_seed(0)
    supernet = perturb(fmnist_space.build_supernet(), seed=1).eval()
    x = torch.randn(6, 1, 16, 16)
    outputs = []
    with torch.no_grad():
        for arch in equivalence_archs:
            subnet = supernet.subnet(arch)
            assert isinstance(subnet, NB201Network) and not subnet.training
            expected = supernet(x, arch)
            got = subnet(x)
            assert torch.equal(got, expected) or torch.allclose(got, expected, atol=1e-6, rtol=0), str(arch)
            outputs.append(expected)
    # not trivial: different cells give different logits, and connected cells depend on the input
    for i in range(len(outputs)):
        for j in range(i + 1, len(outputs)):
            assert not torch.allclose(outputs[i], outputs[j], atol=1e-4)
    assert torch.allclose(outputs[0][0], outputs[0][1])  # all-'none' cell: the input is cut off
    assert not torch.allclose(outputs[2][0], outputs[2][1], atol=1e-4)


def test_subnet_matches_supernet_in_train_mode(fmnist_space, equivalence_archs):
    torch.manual_seed(0)
    supernet = perturb(fmnist_space.build_supernet(), seed=2).train()
    x = torch.randn(8, 1, 16, 16)
    with torch.no_grad():
        for arch in equivalence_archs:
            subnet = supernet.subnet(arch)
            assert subnet.training
            torch.testing.assert_close(subnet(x), supernet(x, arch), atol=1e-5, rtol=1e-5)


def test_subnet_of_full_size_nb201_matches_supernet():
    space = NB201SearchSpace(C=4, N=2)  # residual reduction, 3x32x32, small width to stay fast
    supernet = perturb(space.build_supernet(), seed=3).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        for arch in [arch_of(NODE1_EMPTY), *random_archs(space, 2, seed=5)]:
            torch.testing.assert_close(supernet.subnet(arch)(x), supernet(x, arch), atol=1e-6, rtol=0)


# -- (4) subnet weights are copies ---------------------------------------------------------------------
def test_subnet_weights_are_copies(fmnist_space):
    supernet = perturb(fmnist_space.build_supernet(), seed=4).eval()
    arch = arch_of(BEST)
    before = {k: v.clone() for k, v in supernet.state_dict().items()}
    subnet = supernet.subnet(arch)
    conv = subnet.layers[0].edges["1<-0"][1]
    assert torch.equal(conv.weight, supernet.layers[0].edges["1<-0"].ops["nor_conv_3x3"][1].weight)
    super_ptrs = {p.data_ptr() for p in supernet.parameters()} | {b.data_ptr() for b in supernet.buffers()}
    assert not super_ptrs & {p.data_ptr() for p in subnet.parameters()}
    assert not super_ptrs & {b.data_ptr() for b in subnet.buffers()}

    with torch.no_grad():
        for p in subnet.parameters():
            p.add_(1.0)
    subnet.train()(torch.randn(4, 1, 16, 16)).sum().backward()  # BN stats and grads of the copy only
    after = supernet.state_dict()
    for key, value in before.items():
        assert torch.equal(after[key], value), key
    assert all(p.grad is None for p in supernet.parameters())


# -- (5) analytic params ----------------------------------------------------------------------------------
def numel(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def test_params_match_fmnist201_models(fmnist_space):
    archs = [arch_of(ALL_NONE), arch_of(BEST), *random_archs(fmnist_space, 48, seed=21)]
    for arch in archs:
        assert fmnist_space.params(arch) == numel(fmnist_space.build_model(arch)), str(arch)
    # hand-computed: stem 72 + 16, reductions 160 + 576, head 64 + 330; all-'none' cells hold nothing
    assert fmnist_space.params(arch_of(ALL_NONE)) == (9 * 8 + 16) + (8 * 16 + 32) + (16 * 32 + 64) + 64 + 330


def test_params_match_nb201_models():
    space = NB201SearchSpace()
    all_conv = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    for arch in [arch_of(all_conv), arch_of(NODE1_EMPTY), *random_archs(space, 1, seed=31)]:
        assert space.params(arch) == numel(space.build_model(arch)), str(arch)
    assert space.params(arch_of(all_conv)) == 1_531_546  # NAS-Bench-201's largest cell (1.53 M parameters)


# -- (6) analytic flops -------------------------------------------------------------------------------------
def hooked_macs(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    total = 0

    def conv_hook(module: nn.Conv2d, inputs, output):
        nonlocal total
        kh, kw = module.kernel_size
        out_h, out_w = output.shape[-2:]
        total += out_h * out_w * (module.in_channels // module.groups) * module.out_channels * kh * kw

    def linear_hook(module: nn.Linear, inputs, output):
        nonlocal total
        total += module.in_features * module.out_features

    handles = []
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            handles.append(module.register_forward_hook(conv_hook))
        elif isinstance(module, nn.Linear):
            handles.append(module.register_forward_hook(linear_hook))
    with torch.no_grad():
        model.eval()(torch.zeros(1, *input_shape))
    for handle in handles:
        handle.remove()
    return total


def test_flops_match_hooked_macs_fmnist201(fmnist_space):
    for arch in [arch_of(ALL_NONE), arch_of(BEST), *random_archs(fmnist_space, 18, seed=41)]:
        assert fmnist_space.flops(arch) == hooked_macs(fmnist_space.build_model(arch), (1, 16, 16)), str(arch)
    # all-'none': stem 16*16*1*8*9 + reductions 8*8*8*16 + 4*4*16*32 + classifier 32*10
    assert fmnist_space.flops(arch_of(ALL_NONE)) == 18_432 + 8_192 + 8_192 + 320


def test_flops_match_hooked_macs_nb201():
    space = NB201SearchSpace()
    for arch in [arch_of(BEST), *random_archs(space, 1, seed=43)]:
        assert space.flops(arch) == hooked_macs(space.build_model(arch), (3, 32, 32)), str(arch)


# -- (7) the FMNIST-201 standalone skeleton (BENCHMARK.md section 2) ---------------------------------
def assert_conv(conv: nn.Module, c_in: int, c_out: int, k: int, stride: int = 1, padding: int = 0) -> None:
    assert type(conv) is nn.Conv2d
    assert (conv.in_channels, conv.out_channels) == (c_in, c_out)
    assert conv.kernel_size == (k, k) and conv.stride == (stride, stride) and conv.padding == (padding, padding)
    assert conv.bias is None and conv.groups == 1


def assert_bn(bn: nn.Module, c: int) -> None:
    assert type(bn) is nn.BatchNorm2d and bn.num_features == c and bn.affine and bn.track_running_stats


def test_fmnist201_skeleton_structure(fmnist_space):
    net = fmnist_space.build_model(arch_of(BEST))
    assert net.config == NB201Config(C=8, N=1, in_channels=1, num_classes=10, input_size=16, reduction="light")
    assert len(net.stem) == 2
    assert_conv(net.stem[0], 1, 8, 3, padding=1)
    assert_bn(net.stem[1], 8)

    assert [type(layer) for layer in net.layers] == [Cell, LightReduction, Cell, LightReduction, Cell]
    for cell, channels in zip(net.layers[::2], (8, 16, 32)):
        assert set(cell.edges) == set(EDGE_NAMES)  # BEST has no 'none' edge
        for name in ("1<-0", "2<-0", "3<-1"):
            op = cell.edges[name]
            assert type(op) is ReLUConvBN and len(op) == 3
            assert type(op[0]) is nn.ReLU
            assert_conv(op[1], channels, channels, 3, padding=1)
            assert_bn(op[2], channels)
        pool = cell.edges["2<-1"]   # 3x3, stride 1, padding 1, count_include_pad=False (test_nb201_pooling.py)
        assert type(pool) is AvgPool3x3
        assert type(cell.edges["3<-0"]) is nn.Identity and type(cell.edges["3<-2"]) is nn.Identity

    for reduction, c_in in zip(net.layers[1::2], (8, 16)):
        parts = list(reduction.children())
        assert [type(p) for p in parts] == [nn.AvgPool2d, nn.Conv2d, nn.BatchNorm2d]
        assert parts[0].kernel_size == 2 and parts[0].stride == 2 and parts[0].padding == 0
        assert_conv(parts[1], c_in, 2 * c_in, 1)
        assert_bn(parts[2], 2 * c_in)
        assert not any(isinstance(m, (nn.ReLU, nn.ReLU6, nn.GELU, nn.SiLU, nn.Tanh)) for m in reduction.modules())

    assert_bn(net.head_norm, 32)
    assert type(net.classifier) is nn.Linear
    assert (net.classifier.in_features, net.classifier.out_features) == (32, 10)
    assert net.classifier.bias is not None


def test_conv_1x1_op_structure(fmnist_space):
    net = fmnist_space.build_model(arch_of(NODE1_EMPTY))
    cell = net.layers[4]
    assert set(cell.edges) == set(EDGE_NAMES) - {"1<-0"}  # 'none' edges are left out
    op = cell.edges["2<-1"]
    assert type(op) is ReLUConvBN and type(op[0]) is nn.ReLU
    assert_conv(op[1], 32, 32, 1)
    assert_bn(op[2], 32)


def test_light_reduction_is_affine(fmnist_space):
    """No nonlinearity between stages: in eval mode f(a) + f(b) == f(a + b) + f(0)."""
    net = perturb(fmnist_space.build_model(arch_of(BEST)), seed=5).eval()
    torch.manual_seed(0)
    for reduction, c in zip(net.layers[1::2], (8, 16)):
        a, b = torch.randn(2, c, 8, 8), torch.randn(2, c, 8, 8)
        with torch.no_grad():
            torch.testing.assert_close(
                reduction(a) + reduction(b), reduction(a + b) + reduction(torch.zeros_like(a)), atol=1e-5, rtol=0
            )
            assert reduction(a).shape == (2, 2 * c, 4, 4)


def test_forward_shapes_and_head(fmnist_space):
    net = perturb(fmnist_space.build_model(arch_of(BEST)), seed=6).eval()
    seen: dict[int, torch.Size] = {}
    head_in: list[torch.Tensor] = []
    handles = [layer.register_forward_hook(lambda m, i, o, k=k: seen.__setitem__(k, o.shape))
               for k, layer in enumerate(net.layers)]
    handles.append(net.classifier.register_forward_hook(lambda m, i, o: head_in.append(i[0])))
    x = torch.randn(3, 1, 16, 16)
    with torch.no_grad():
        logits = net(x)
        features = net.stem(x)
        for layer in net.layers:
            features = layer(features)
        expected_head = torch.relu(net.head_norm(features)).mean(dim=(2, 3))
    for handle in handles:
        handle.remove()
    assert [tuple(seen[k]) for k in range(5)] == [(3, 8, 16, 16), (3, 16, 8, 8), (3, 16, 8, 8), (3, 32, 4, 4),
                                                   (3, 32, 4, 4)]
    assert logits.shape == (3, 10)
    torch.testing.assert_close(head_in[0], expected_head, atol=1e-6, rtol=0)  # BN, ReLU, global average pool
    assert (head_in[0] >= 0).all() and (head_in[0] == 0).any()


def test_avg_pool_op_excludes_padding(fmnist_space):
    net = fmnist_space.build_model(arch_of(BEST))
    pool = net.layers[0].edges["2<-1"]
    out = pool(torch.ones(1, 8, 5, 5))
    assert torch.equal(out, torch.ones(1, 8, 5, 5))  # corners average 4 real values, not 4/9


def test_disconnected_node_is_zero(fmnist_space):
    cell = fmnist_space.build_model(arch_of(ALL_NONE)).layers[0]
    assert len(cell.edges) == 0
    out = cell(torch.randn(2, 8, 16, 16))
    assert torch.equal(out, torch.zeros(2, 8, 16, 16))


def test_nb201_default_skeleton_uses_residual_reduction():
    net = NB201SearchSpace().build_model(arch_of(BEST))
    assert sum(isinstance(layer, Cell) for layer in net.layers) == 15
    reductions = [layer for layer in net.layers if isinstance(layer, ResidualReduction)]
    assert len(reductions) == 2
    assert_conv(reductions[0].conv_a[1], 16, 32, 3, stride=2, padding=1)
    assert_conv(reductions[1].conv_b[1], 64, 64, 3, padding=1)
    assert_conv(reductions[0].shortcut[1], 16, 32, 1)
    assert_conv(net.stem[0], 3, 16, 3, padding=1)
    assert (net.classifier.in_features, net.classifier.out_features) == (64, 10)


# -- (8) the parameter-count baseline (BENCHMARK.md section 1) --------------------------------------
def test_param_count_baseline_on_nb201(nb201_rows):
    space = NB201SearchSpace()
    params = [space.params(space.parse(row["ArchitectureString"])) for row in nb201_rows]
    accuracy = [float(row["CIFAR10TestAccuracy200Epochs"]) for row in nb201_rows]
    tau = kendalltau(params, accuracy).statistic
    rho = spearmanr(params, accuracy).statistic
    assert tau == pytest.approx(0.578, abs=0.001)
    assert rho == pytest.approx(0.753, abs=0.001)


# -- (9) option_parameters ------------------------------------------------------------------------------------
def test_option_parameters_partition_cell_parameters(fmnist_space):
    supernet = fmnist_space.build_supernet()
    assert isinstance(supernet, NB201Supernet) and supernet.kind == "shared"
    owned = supernet.option_parameters()
    assert set(owned) == {(edge, op) for edge in EDGE_NAMES for op in OPS}

    channels = (8, 16, 32)
    expected = {
        "nor_conv_1x1": sum(c * c + 2 * c for c in channels),
        "nor_conv_3x3": sum(9 * c * c + 2 * c for c in channels),
    }
    for (edge, op), params in owned.items():
        if op in expected:
            assert len(params) == 3 * 3  # conv weight, BN weight, BN bias in each of the 3 cells
            assert sum(p.numel() for p in params) == expected[op], (edge, op)
        else:
            assert params == [], (edge, op)

    names = {id(p): name for name, p in supernet.named_parameters()}
    counts: dict[int, int] = {}
    for (edge, op), params in owned.items():
        for p in params:
            assert re.fullmatch(rf"layers\.\d+\.edges\.{re.escape(edge)}\.ops\.{op}\..+", names[id(p)])
            counts[id(p)] = counts.get(id(p), 0) + 1
    assert set(counts.values()) == {1}
    shared = {pid for pid, name in names.items()
              if name.startswith(("stem.", "head_norm.", "classifier.", "layers.1.", "layers.3."))}
    assert set(counts) == set(names) - shared
    assert len(shared) == 3 + 3 + 3 + 2 + 2  # stem conv+BN(2), two reductions conv+BN(2), head BN(2), classifier


# -- (10) configuration errors -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"input_size": 18}, "divisible by 4"),
        ({"input_size": 30}, "got 30"),
        ({"reduction": "foo"}, "'foo'"),
        ({"C": 0}, "C must be a positive integer"),
        ({"N": 2.5}, "N must be a positive integer"),
        ({"num_classes": -1}, "num_classes"),
    ],
)
def test_config_errors(kwargs, fragment):
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        NB201Config(**kwargs)
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        NB201SearchSpace(**kwargs)


def test_config_stage_shapes():
    assert NB201Config(C=8, input_size=16).stage_shapes() == [(8, 16), (16, 8), (32, 4)]
    assert NB201Config().stage_shapes() == [(16, 32), (32, 16), (64, 8)]
