"""Mixture-of-Supernets on both elastic spaces: one expert is the plain supernet, routing weights are
softmaxes, the routed forward equals the materialised child, parameter counts by hand, gradients, the
state dict, refused relaxation, the config switch's checks, and exact resume of a killed training run."""

from __future__ import annotations

import copy
import functools

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir

from nas.architecture import Architecture
from nas.cli.common import CONF_DIR
from nas.data import synthetic
from nas.errors import ConfigError
from nas.training import OneShot, Optimization, Trainer
from nas.validation import check_config
from samplers import UniformDataSampler, UniformPathSampler
from search_spaces.elastic_conv import ConvNet, ElasticConvSearchSpace, ElasticConvSupernet, MixtureConvSupernet
from search_spaces.elastic_vit import ElasticViTSearchSpace, ElasticViTSupernet, MixtureViTSupernet, ViT
from supernets.mixture import MixtureSpec, RoutedConv2d, RoutedLinear
from tests.nas.training.helpers import KillAt
from tests.search_spaces.elastic_helpers import perturb

FMNIST = dict(in_channels=1, input_size=16)  # conf/search_space/elastic_*.yaml on fmnist201
SPACES = {"elastic_vit": ElasticViTSearchSpace, "elastic_conv": ElasticConvSearchSpace}
KINDS = ("layer", "neuron")


def build(name: str, seed: int = 0, **mixture):
    """(space, supernet) built after ``torch.manual_seed(seed)``; no ``mixture`` keys: the plain supernet."""
    space = SPACES[name](**FMNIST, mixture=mixture or None)
    torch.manual_seed(seed)
    return space, space.build_supernet()


def archs(space, n: int = 4, seed: int = 0) -> list[Architecture]:
    rng = np.random.default_rng(seed)
    return [space.largest(), space.smallest(), *(space.sample(rng) for _ in range(n))]


def numel(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("name", SPACES)
def test_build_supernet_follows_the_mixture_key(name):
    plain, mos = build(name)[1], build(name, experts=2)[1]
    assert type(plain) in (ElasticViTSupernet, ElasticConvSupernet)
    assert isinstance(mos, (MixtureViTSupernet, MixtureConvSupernet)) and isinstance(mos, type(plain))
    assert mos.kind == "entangled" and mos.mixture == MixtureSpec(experts=2)
    assert SPACES[name](**FMNIST, mixture=MixtureSpec(experts=3)).build_supernet().mixture.experts == 3
    assert build(name, experts=2)[0].spec() == build(name)[0].spec()  # the children are the same space


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", SPACES)
def test_one_expert_is_exactly_the_plain_supernet(name, kind):
    space, plain = build(name, seed=3)
    _, mos = build(name, seed=3, experts=1, router=kind)
    plain_state, mos_state = plain.state_dict(), mos.state_dict()
    assert set(mos_state) - set(plain_state) == {k for k in mos_state if k.startswith("router.")}
    assert all(torch.equal(plain_state[k], mos_state[k]) for k in plain_state)  # expert 0 is the supernet's weight
    x = torch.randn(3, 1, 16, 16)
    for train in (True, False):
        plain.train(train), mos.train(train)
        for arch in archs(space):
            with torch.no_grad():
                assert torch.equal(mos(x, arch), plain(x, arch)), (train, str(arch))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", SPACES)
def test_routing_weights_are_softmaxes_over_the_experts(name, kind):
    space, mos = build(name, experts=4, router=kind)
    for arch in archs(space, n=3):
        alphas = mos.routing_weights(arch)
        assert len(alphas) == len(mos.routed_ops)
        for op, alpha in zip(mos.routed_ops, alphas):
            assert tuple(alpha.shape) == (4, 1 if kind == "layer" else op.max_outputs)
            assert bool((alpha >= 0).all()) and torch.allclose(alpha.sum(0), torch.ones(alpha.shape[1]), atol=1e-6)
    first, second = (mos.routing_weights(a)[0] for a in (space.largest(), space.smallest()))
    assert not torch.allclose(first, second)  # the weights depend on the architecture


@pytest.mark.parametrize("experts, kind", [(2, "layer"), (2, "neuron"), (4, "neuron")])
@pytest.mark.parametrize("name", SPACES)
def test_routed_forward_equals_the_materialised_child(name, experts, kind):
    space, mos = build(name, experts=experts, router=kind)
    perturb(mos).eval()
    expected_type = ViT if name == "elastic_vit" else ConvNet
    x = torch.randn(4, 1, 16, 16)
    for arch in archs(space, n=5, seed=1):
        child = mos.subnet(arch)
        assert type(child) is expected_type
        assert not any(type(m) in (RoutedLinear, RoutedConv2d) for m in child.modules())
        with torch.no_grad():
            assert torch.allclose(mos(x, arch), child(x), atol=1e-5), str(arch)
        standalone = space.build_model(arch)  # export / ONNX load the child's weights into the plain network
        standalone.load_state_dict(child.state_dict())
        assert torch.allclose(standalone.eval()(x), child(x), atol=1e-6)
    assert all(op.routing is None for op in mos.routed_ops)  # the routing lives for one call only


@pytest.mark.parametrize("name", SPACES)
def test_unused_decisions_change_neither_routing_nor_output(name):
    space, mos = build(name, experts=2, router="neuron")
    mos.eval()
    arch = space.smallest()  # every depth at its smallest: the deeper layers' decisions are unused
    unused = next(d for d in reversed(list(space.decisions)) if d not in ("width", "embed_dim")
                  and "depth" not in d)
    other = space.make({**arch, unused: space.decisions[unused][-1]})
    assert other != arch
    x = torch.randn(2, 1, 16, 16)
    with torch.no_grad():
        assert torch.equal(mos(x, arch), mos(x, other))


def expert_size_vit(space: ElasticViTSearchSpace) -> int:
    e, h = space.config.max_embed, space.config.max_hidden
    return space.config.max_depth * ((e * h + h) + (h * e + e))  # fc1 and fc2 with their biases


def expert_size_conv(space: ElasticConvSearchSpace) -> int:
    cfg = space.config
    _, stages, _ = cfg.max_channels
    total, c_in = 0, cfg.max_channels[0]
    routed_outputs = []
    for c_out in stages:
        for block in range(cfg.max_depth):
            mid = (c_in if block == 0 else c_out) * cfg.expand_ratios[-1]
            total += (c_in if block == 0 else c_out) * mid + mid * c_out  # 1x1 expand, 1x1 project, no bias
            routed_outputs += [mid, c_out]
        c_in = c_out
    return total, routed_outputs


@pytest.mark.parametrize("experts", [1, 2, 4])
@pytest.mark.parametrize("kind", KINDS)
def test_parameter_count_by_hand(kind, experts):
    hidden = 32
    # elastic ViT: 8 routed layers (fc1: max_hidden outputs, fc2: max_embed), 2 + 2 * 4 decisions encoded
    space, mos = build("elastic_vit", experts=experts, router=kind, router_hidden=hidden)
    base = numel(build("elastic_vit")[1])
    e, h, depth = space.config.max_embed, space.config.max_hidden, space.config.max_depth
    groups = 2 * depth if kind == "layer" else depth * (h + e)
    router = (len(space.decisions) + 1) * hidden + (hidden + 1) * experts * groups
    assert len(space.decisions) == 10 and base == 202_954
    assert numel(mos) == base + (experts - 1) * expert_size_vit(space) + router
    assert numel(mos.router) == router and sum(p.numel() for p in mos.expert_parameters()) == \
        (experts - 1) * expert_size_vit(space)
    # elastic conv: 18 routed pointwise convolutions (no head conv in this space), 3 * 7 + 1 decisions encoded
    space, mos = build("elastic_conv", experts=experts, router=kind, router_hidden=hidden)
    base = numel(build("elastic_conv")[1])
    size, outputs = expert_size_conv(space)
    groups = len(outputs) if kind == "layer" else sum(outputs)
    router = (len(space.decisions) + 1) * hidden + (hidden + 1) * experts * groups
    assert len(space.decisions) == 22 and len(outputs) == 18 and base == 83_018
    assert numel(mos) == base + (experts - 1) * size + router


def test_head_conv_is_routed_when_the_space_has_one():
    space = ElasticConvSearchSpace(**FMNIST, head_channels=32, mixture={"experts": 2})
    mos = space.build_supernet().eval()
    assert isinstance(mos.head_conv, RoutedConv2d) and mos.routed_ops[-1] is mos.head_conv
    arch = space.sample(np.random.default_rng(0))
    x = torch.randn(2, 1, 16, 16)
    with torch.no_grad():
        assert torch.allclose(mos(x, arch), mos.subnet(arch)(x), atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", SPACES)
def test_gradients_reach_the_router_and_every_expert(name, kind):
    space, mos = build(name, experts=2, router=kind)
    x, y = torch.randn(4, 1, 16, 16), torch.tensor([0, 1, 2, 3])
    torch.nn.functional.cross_entropy(mos.train()(x, space.largest()), y).backward()
    for param_name, param in mos.router.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, param_name
    for op in mos.routed_ops:
        for param in (op.weight, op.experts):
            assert param.grad is not None and param.grad.abs().sum() > 0


@pytest.mark.parametrize("name", SPACES)
def test_state_dict_round_trip(name):
    space, mos = build(name, seed=0, experts=2, router="neuron")
    perturb(mos).eval()
    state = mos.state_dict()
    assert any(k.startswith("router.") for k in state) and any(k.endswith(".experts") for k in state)
    _, fresh = build(name, seed=1, experts=2, router="neuron")
    x = torch.randn(2, 1, 16, 16)
    arch = space.sample(np.random.default_rng(5))
    with torch.no_grad():
        assert not torch.allclose(fresh.eval()(x, arch), mos(x, arch))
        fresh.load_state_dict(state)
        assert torch.equal(fresh(x, arch), mos(x, arch))
    clone = copy.deepcopy(mos)  # few-shot splits copy supernets: the copy routes its own ops
    assert all(any(op is m for m in clone.modules()) for op in clone.routed_ops)
    with torch.no_grad():
        assert torch.equal(clone(x, arch), mos(x, arch))
    _, layer_wise = build(name, experts=2, router="layer")  # another router: one clear load error
    with pytest.raises(RuntimeError, match="router"):
        layer_wise.load_state_dict(state)


@pytest.mark.parametrize("name", SPACES)
def test_the_continuous_relaxation_is_refused(name):
    _, mos = build(name, experts=2)
    with pytest.raises(ConfigError, match="drop supernet=mos .* method=one_shot"):
        mos.relaxed_decisions()
    with pytest.raises(ConfigError, match="routes the weights of one architecture"):
        mos.forward_relaxed(torch.zeros(1, 1, 16, 16), {})


# -- the config switch -------------------------------------------------------------------------------------------
def composed(*overrides: str):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("run", overrides=list(overrides))


@pytest.mark.parametrize("overrides, fragment", [
    (["supernet=mos"], "search_space.mixture: search_spaces.nb201.NB201SearchSpace builds no Mixture-of-Supernets"),
    (["search_space=fmnist201_entangled", "supernet=mos"], "drop supernet=mos, or use search_space=elastic_conv"),
    (["search_space=elastic_vit", "supernet=mos", "search_space.mixture.experts=0"],
     "search_space.mixture.experts=0: out of range; use an integer >= 1"),
    (["search_space=elastic_conv", "supernet=mos", "search_space.mixture.router=token"],
     "search_space.mixture.router=token: unknown choice; use one of layer, neuron"),
    (["search_space=elastic_conv", "supernet=mos", "method=tanglenas"],
     "trains the continuous relaxation, which runs every architecture at once"),
])
def test_config_errors_name_the_fix(overrides, fragment):
    problems = check_config(composed(*overrides))
    assert any(fragment in p for p in problems), problems


@pytest.mark.parametrize("experiment, space, experts", [
    ("elastic_mos", "elastic_conv", 2), ("vit_mos", "elastic_vit", 2), ("vit_uniform", "elastic_vit", None),
    ("vit_sandwich_kl", "elastic_vit", None), ("elastic_uniform", "elastic_conv", None),
])
def test_experiments_compose_and_pass_validation(experiment, space, experts):
    cfg = composed(f"experiment={experiment}")
    assert check_config(cfg) == []
    assert cfg.search_space._target_.split(".")[1] == space
    mixture = cfg.search_space.get("mixture")
    assert (mixture.experts if mixture is not None else None) == experts
    if experiment.startswith("vit_"):
        assert cfg.benchmark.oracle.records == "elastic_vit_fmnist"


# -- training: exact resume of a killed run ------------------------------------------------------------------------
def make_trainer(folder, callbacks=()):
    torch.manual_seed(0)
    data = synthetic(train_size=96)
    space = ElasticConvSearchSpace(in_channels=1, input_size=8, num_classes=4, stem_stride=1,
                                   stage_channels=(4, 8), stage_strides=(1, 2), depths=(1, 2),
                                   mixture={"experts": 2, "router": "neuron", "router_hidden": 8})
    optimization = Optimization(functools.partial(torch.optim.SGD, lr=0.1, momentum=0.9), 0, 5.0)
    method = OneShot(space.build_supernet(), UniformPathSampler(space, seed=0), optimization)
    return Trainer(method, data.train, UniformDataSampler(len(data.train), seed=0), folder, epochs=2,
                   batch_size=24, progress=False, tensorboard=False, checkpoint_every=1, callbacks=callbacks)


def test_resume_of_a_killed_mixture_training_equals_the_uninterrupted_one(tmp_path):
    straight = make_trainer(tmp_path / "straight")
    straight.fit()
    with pytest.raises(RuntimeError, match="killed at step 5"):
        make_trainer(tmp_path / "killed", callbacks=[KillAt(5)]).fit()
    resumed = make_trainer(tmp_path / "killed")
    resumed.fit()
    assert resumed.state.step == straight.state.step == 8
    a, b = straight.supernet.state_dict(), resumed.supernet.state_dict()
    assert any(k.startswith("router.") for k in a) and a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
