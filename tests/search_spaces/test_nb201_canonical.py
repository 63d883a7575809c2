"""The canonical form of NAS-Bench-201 cells: the class count, the dead class, equal forms computing equal functions."""

from __future__ import annotations

import itertools
from collections import defaultdict

import numpy as np
import pytest
import torch
from torch import nn

from nas.architecture import Architecture
from tests.spaces import DecisionsOnlySpace
from search_spaces.nb201 import NB201SearchSpace
from search_spaces.nb201.canonical import DEAD_FORM, canonical_form
from search_spaces.nb201.liveness import live_edges
from search_spaces.nb201.network import Cell

SPACE = NB201SearchSpace()


@pytest.fixture(scope="module")
def forms() -> dict[str, list]:
    """Canonical form -> the cells of all 15,625 that have it."""
    groups: dict[str, list] = defaultdict(list)
    for arch in SPACE.enumerate():
        groups[SPACE.canonical(arch)].append(arch)
    return groups


def test_nb201_has_5772_functionally_distinct_connected_cells(forms):
    assert len(forms) == 5_772 + 1  # plus the one class of cells without a live path
    assert sum(len(members) for members in forms.values()) == 15_625


def test_the_dead_class_is_exactly_the_cells_without_a_live_path(forms):
    dead = forms[DEAD_FORM]
    assert all(not live_edges(arch) for arch in dead)
    assert all(live_edges(arch) for form, members in forms.items() if form != DEAD_FORM for arch in members)
    # No live path: 3<-0 is none and every path through node 1 or node 2 is cut; counted by brute force here.
    expected = sum(1 for arch in SPACE.enumerate()
                   if arch["3<-0"] == "none" and not any(
                       all(arch[e] != "none" for e in path)
                       for path in (("1<-0", "3<-1"), ("2<-0", "3<-2"), ("1<-0", "2<-1", "3<-2"))))
    assert len(dead) == expected > 0


def test_hand_examples():
    parse = SPACE.parse
    assert canonical_form(parse("|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|")) == "nor_conv_3x3[x]"
    # a skip chain computes what its last op computes
    assert canonical_form(parse("|skip_connect~0|+|none~0|skip_connect~1|+|none~0|none~1|avg_pool_3x3~2|")) \
        == "avg_pool_3x3[x]"
    # two convs on the input: a multiset of two terms, order-free
    assert canonical_form(parse("|nor_conv_1x1~0|+|none~0|none~1|+|skip_connect~0|nor_conv_3x3~1|none~2|")) \
        == "(nor_conv_3x3[nor_conv_1x1[x]]+x)"
    # the deepest cell: three 3x3 convs in a chain
    assert canonical_form(parse("|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|none~0|none~1|nor_conv_3x3~2|")) \
        == "nor_conv_3x3[nor_conv_3x3[nor_conv_3x3[x]]]"
    # a dead edge (1<-0 feeds only a node that reaches nothing) does not count
    assert canonical_form(parse("|nor_conv_3x3~0|+|none~0|nor_conv_1x1~1|+|skip_connect~0|none~1|none~2|")) == "x"
    assert canonical_form(parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")) == DEAD_FORM


def test_different_edges_in_the_same_role_give_the_same_form():
    a = SPACE.parse("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|skip_connect~1|none~2|")   # through node 1
    b = SPACE.parse("|none~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|skip_connect~2|")   # through node 2
    c = SPACE.parse("|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|")           # directly
    d = SPACE.parse("|nor_conv_1x1~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|")   # 1<-0 dead
    assert len({SPACE.canonical(a), SPACE.canonical(b), SPACE.canonical(c), SPACE.canonical(d)}) == 1
    e = SPACE.parse("|none~0|+|none~0|none~1|+|nor_conv_1x1~0|none~1|none~2|")
    assert SPACE.canonical(e) != SPACE.canonical(c)


def tied_cell(arch: Architecture, weights: dict[str, nn.Module]) -> Cell:
    """A standalone cell whose ops of one kind all share the same weights, BN in eval mode with zero shift
    (so that an op on a zero node outputs zero, as the canonical form assumes of dead edges)."""
    cell = Cell(arch, channels=4)
    for module in cell.edges.values():
        if isinstance(module, nn.Sequential):  # ReLU -> Conv -> BN
            conv = module[1]
            conv.weight.data.copy_(weights[f"k{conv.kernel_size[0]}"])
    for m in cell.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.zero_()
            m.running_var.fill_(1.0)
    return cell.eval()


def test_equal_forms_compute_equal_functions_with_tied_weights(forms):
    """Give every 3x3 conv one weight and every 1x1 conv another: cells of one class then compute the same
    output on the same input, and cells of different classes (almost always) do not."""
    generator = torch.Generator().manual_seed(0)
    weights = {"k3": torch.randn(4, 4, 3, 3, generator=generator) * 0.4,
               "k1": torch.randn(4, 4, 1, 1, generator=generator) * 0.6}
    x = torch.randn(2, 4, 6, 6, generator=generator)
    rng = np.random.default_rng(0)
    classes = [members for form, members in forms.items() if form != DEAD_FORM and len(members) >= 2]
    outputs = {}
    with torch.no_grad():
        for index in rng.choice(len(classes), size=60, replace=False):
            members = classes[int(index)]
            picks = rng.choice(len(members), size=min(3, len(members)), replace=False)
            outs = [tied_cell(members[int(i)], weights)(x) for i in picks]
            for other in outs[1:]:
                torch.testing.assert_close(other, outs[0], rtol=1e-5, atol=1e-5)
            outputs[SPACE.canonical(members[0])] = outs[0]
    # power: different classes differ (so the check above could fail)
    differing = sum(not torch.allclose(a, b, rtol=1e-4, atol=1e-4)
                    for a, b in itertools.combinations(outputs.values(), 2))
    pairs = len(outputs) * (len(outputs) - 1) // 2
    assert differing >= 0.95 * pairs, (differing, pairs)


def test_the_default_canonical_form_is_the_architecture_itself():
    toy = DecisionsOnlySpace({"a": (1, 2), "b": ("x", "y")})
    archs = list(toy.enumerate())
    assert [toy.canonical(a) for a in archs] == archs
    assert len({toy.canonical(a) for a in archs}) == 4


def test_the_synthetic_smoke_space_has_the_same_classes():
    smoke = NB201SearchSpace(C=8, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
    archs = list(smoke.enumerate())[::97]
    assert [smoke.canonical(a) for a in archs] == [SPACE.canonical(a) for a in archs]
