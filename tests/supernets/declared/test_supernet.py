"""DeclaredSupernet: children of shared and entangled declarations equal their exports; who owns which weights."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nas.architecture import Architecture
from supernets.declared import (
    BatchNorm2d,
    Choice,
    Conv2d,
    DeclaredSupernet,
    DepthwiseConv2d,
    Elastic,
    LayerNorm,
    Linear,
    Repeat,
    SelfAttention,
)
from supernets.declared.places import find_places


def shared_network() -> nn.Module:
    """Two layers of four ops each (shared weights), one of them holding a nested choice."""
    def conv(k: int) -> nn.Module:
        return nn.Sequential(nn.Conv2d(4, 4, k, padding=k // 2), nn.BatchNorm2d(4), nn.ReLU())
    nested = nn.Sequential(nn.Conv2d(4, 4, 1), Choice("inner", {"relu": nn.ReLU(), "tanh": nn.Tanh()}))
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        Choice("l0", {"conv3": conv(3), "conv5": conv(5), "pool": nn.AvgPool2d(3, 1, 1), "nested": nested}),
        Choice("l1", ("conv3", "skip"), lambda o: conv(3) if o == "conv3" else nn.Identity()),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3))


def entangled_network() -> nn.Module:
    width = Elastic("width", (4, 6, 8))

    def block(i: int) -> nn.Module:
        kernel = Elastic(f"k{i}", (3, 5))
        return nn.Sequential(Conv2d(width, width * 2, 1), BatchNorm2d(width * 2), nn.ReLU(),
                             DepthwiseConv2d(width * 2, kernel), Conv2d(width * 2, width, 1), BatchNorm2d(width))
    return nn.Sequential(Conv2d(1, width, 3, stride=2), BatchNorm2d(width), nn.ReLU(),
                         Repeat(block, depth=Elastic("depth", (1, 2))),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), Linear(width, 3))


def every(decisions: dict) -> list[Architecture]:
    import itertools
    names = list(decisions)
    return [Architecture(dict(zip(names, combo))) for combo in itertools.product(*decisions.values())]


@pytest.mark.parametrize("build", [shared_network, entangled_network])
def test_every_child_equals_its_export_after_training_steps(build):
    torch.manual_seed(0)
    supernet = DeclaredSupernet(build())
    optimizer = torch.optim.SGD(supernet.parameters(), lr=0.1)
    archs = every(supernet.decisions)
    x, y = torch.randn(6, 1, 8, 8), torch.randint(0, 3, (6,))
    for arch in archs[:: max(1, len(archs) // 6)]:  # weights and BN statistics move away from initialisation
        optimizer.zero_grad()
        nn.functional.cross_entropy(supernet.train()(x, arch), y).backward()
        optimizer.step()
    supernet.eval()
    for arch in archs:
        child = supernet.subnet(arch)
        assert not any(isinstance(m, (Choice, Repeat, Linear, Conv2d)) for m in child.modules())
        assert torch.allclose(child(x), supernet(x, arch), atol=1e-6), arch
        assert sum(p.numel() for p in child.parameters()) <= sum(p.numel() for p in supernet.parameters())


def test_kinds_and_decisions_in_module_order():
    shared, entangled = DeclaredSupernet(shared_network()), DeclaredSupernet(entangled_network())
    assert shared.kind == "shared" and entangled.kind == "entangled"
    assert shared.decisions == {"l0": ("conv3", "conv5", "pool", "nested"), "inner": ("relu", "tanh"),
                                "l1": ("conv3", "skip")}
    assert list(entangled.decisions) == ["width", "depth", "k0", "k1"]
    paths = {p.path: p.conditions for p in find_places(shared.network)}
    assert [(c.decision, c.option) for c in paths["1.ops.3.1"]] == [("l0", "nested")]  # runs only under l0=nested


def test_option_parameters_are_each_options_own_modules():
    supernet = DeclaredSupernet(shared_network())
    owned = supernet.option_parameters()
    assert set(owned) == {(d, o) for d, options in supernet.decisions.items() for o in options}
    ops0 = supernet.network[1].ops
    assert [id(p) for p in owned[("l0", "conv5")]] == [id(p) for p in ops0[1].parameters()]
    assert sum(p.numel() for p in owned[("l0", "conv3")]) == 4 * 4 * 9 + 4 + 8  # conv + bias + BN affine
    assert owned[("l0", "pool")] == [] and owned[("l1", "skip")] == [] and owned[("inner", "tanh")] == []
    # an option with a nested choice owns everything inside it
    assert sum(p.numel() for p in owned[("l0", "nested")]) == 4 * 4 + 4
    shared_ids = {id(p) for p in supernet.network[0].parameters()} | {id(p) for p in supernet.network[5].parameters()}
    assert not shared_ids & {id(p) for params in owned.values() for p in params}
    with pytest.raises(NotImplementedError, match="elastic"):
        DeclaredSupernet(entangled_network()).option_parameters()


def test_entangled_child_inherits_the_first_slices():
    supernet = DeclaredSupernet(entangled_network())
    child = supernet.subnet({"width": 4, "depth": 1, "k0": 3, "k1": 5})
    stem = supernet.network[0].elastic.weight
    assert torch.equal(child[0].weight, stem[:4])
    dw = supernet.network[3].blocks[0][3].elastic.weight  # 16 x 1 x 5 x 5, child: first 8 channels, centre 3x3
    assert torch.equal(child[3][0][3].weight, dw[:8, :, 1:4, 1:4])
    assert len(child[3]) == 1  # depth 1: one block


def test_attention_and_layernorm_children_equal_their_exports():
    torch.manual_seed(0)
    dim, heads = Elastic("dim", (8, 12)), Elastic("heads", (1, 2, 3))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm, self.attn = LayerNorm(dim), SelfAttention(dim, heads, head_dim=4)

        def forward(self, x):
            return x + self.attn(self.norm(x))

    supernet = DeclaredSupernet(nn.Sequential(Linear(5, dim), Block(), Linear(dim, 2))).eval()
    x = torch.randn(3, 7, 5)
    for arch in every(supernet.decisions):
        assert torch.allclose(supernet.subnet(arch)(x), supernet(x, arch), atol=1e-6)


def test_a_layer_whose_input_has_another_size_says_which():
    supernet = DeclaredSupernet(nn.Sequential(Linear(3, Elastic("a", (4, 8))), Linear(Elastic("b", (4, 8)), 2)))
    with pytest.raises(ValueError, match=r"expects 4 input features in this child, got 8"):
        supernet(torch.randn(1, 3), {"a": 8, "b": 4})


def test_reading_outside_a_supernet_forward_is_a_clear_error():
    supernet = DeclaredSupernet(Choice("act", {"relu": nn.ReLU(), "tanh": nn.Tanh()}))
    with pytest.raises(ValueError, match="outside a supernet forward"):
        supernet.network(torch.ones(1))
    with pytest.raises(ValueError, match="has no decision 'act'"):
        supernet(torch.ones(1), {"other": 1})


def test_conflicting_declarations_are_refused():
    with pytest.raises(ValueError, match=r"decision 'w' has options \[4, 8\] at 0 but \[4, 16\] at 1"):
        DeclaredSupernet(nn.Sequential(Linear(2, Elastic("w", (4, 8))), Linear(Elastic("w", (4, 16)), 2)))
    with pytest.raises(ValueError, match="is a module Choice at 0 and an Elastic size at 1"):
        DeclaredSupernet(nn.Sequential(Choice("w", {4: nn.Identity(), 8: nn.Identity()}),
                                       Linear(2, Elastic("w", (4, 8)))))
    with pytest.raises(ValueError, match="odd positive integers"):
        Conv2d(1, 2, Elastic("k", (2, 3)))


def test_few_shot_deep_copy_keeps_each_copy_on_its_own_context():
    import copy
    supernet = DeclaredSupernet(shared_network()).eval()
    twin = copy.deepcopy(supernet)
    x = torch.randn(2, 1, 8, 8)
    arch = {"l0": "nested", "inner": "tanh", "l1": "conv3"}
    assert torch.equal(twin(x, arch), supernet(x, arch))
    assert twin.network[1].ops[3][1]._context is twin.context
