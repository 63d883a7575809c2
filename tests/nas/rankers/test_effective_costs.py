"""Live ops and effective costs: hand counts on NAS-Bench-201 cells, and a functional check of liveness."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nas.architecture import Architecture
from nas.rankers import CostRanker
from nas.search_space import SearchSpace
from search_spaces.elastic_conv import ElasticConvSearchSpace
from search_spaces.elastic_vit import ElasticViTSearchSpace
from search_spaces.nb201 import EDGE_NAMES, NB201SearchSpace

SPACE = NB201SearchSpace(C=8, N=1, in_channels=1, input_size=16, reduction="light")  # FMNIST-201
# Hand counts for C=8, N=1, light reduction, 1x16x16 input, 10 classes:
SKELETON_PARAMS = (1 * 8 * 9 + 2 * 8) + (8 * 16 + 2 * 16) + (16 * 32 + 2 * 32) + (2 * 32 + 32 * 10 + 10)  # 1218
CONV3 = sum(9 * c * c + 2 * c for c in (8, 16, 32))  # one nor_conv_3x3 edge in each of the three cells
CONV1 = sum(c * c + 2 * c for c in (8, 16, 32))
SKELETON_FLOPS = 16 * 16 * 1 * 8 * 9 + 8 * 8 * 8 * 16 + 4 * 4 * 16 * 32 + 32 * 10


def test_a_dead_edge_costs_nothing():
    # node 1 receives a 3x3 conv but feeds nothing (2<-1 and 3<-1 are none): that conv is dead
    cell = SPACE.parse("|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|")
    assert SPACE.live_decisions(cell) == {"2<-0", "3<-0", "3<-2"}
    assert SKELETON_PARAMS == 1218
    assert SPACE.params(cell) == SKELETON_PARAMS + CONV1 + 2 * CONV3
    assert SPACE.effective_cost(cell)["params"] == SKELETON_PARAMS + CONV1 + CONV3 == 14882
    assert CostRanker(SPACE, "params", effective=True).score([cell]) == [14882.0]


def test_an_edge_from_an_unreached_node_is_dead():
    # node 1 gets only `none`, so the 3x3 conv from node 1 to node 3 sees zeros
    cell = SPACE.parse("|none~0|+|nor_conv_1x1~0|none~1|+|none~0|nor_conv_3x3~1|skip_connect~2|")
    assert SPACE.live_decisions(cell) == {"2<-0", "3<-2"}
    assert SPACE.effective_cost(cell)["params"] == SKELETON_PARAMS + CONV1


def test_a_disconnected_cell_has_only_the_skeleton_cost():
    cell = SPACE.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|none~0|none~1|none~2|")
    assert SPACE.live_decisions(cell) == frozenset()
    assert SPACE.params(cell) == SKELETON_PARAMS + 2 * CONV3
    assert SPACE.effective_cost(cell) == {"params": SKELETON_PARAMS, "flops": SKELETON_FLOPS}


def test_a_fully_connected_cell_is_all_live():
    cell = SPACE.largest()
    assert SPACE.live_decisions(cell) == frozenset(EDGE_NAMES)
    assert SPACE.effective_cost(cell) == SPACE.cost(cell)


def test_live_edges_are_exactly_those_whose_removal_changes_the_output():
    """Functional check on 60 random cells: in eval mode at initialisation (BN shifts 0), an edge is live
    if and only if setting it to `none` (other weights kept) changes the network's output."""
    x = torch.randn(4, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(60):
        arch = SPACE.sample(rng)
        torch.manual_seed(0)
        full = SPACE.build_model(arch).eval()
        out = full(x)
        live = SPACE.live_decisions(arch)
        for edge in (e for e in EDGE_NAMES if arch[e] != "none"):
            cut = SPACE.build_model(arch.replace(**{edge: "none"})).eval()
            cut.load_state_dict({k: v for k, v in full.state_dict().items() if f".edges.{edge}." not in k})
            assert (not torch.equal(cut(x), out)) == (edge in live), (str(arch), edge)
            checked += 1
    assert checked > 100


@pytest.mark.parametrize("space", [ElasticConvSearchSpace(in_channels=1, input_size=16),
                                   ElasticViTSearchSpace(in_channels=1, input_size=16)])
def test_elastic_spaces_are_all_live(space):
    for seed in range(5):
        arch = space.sample(np.random.default_rng(seed))
        assert space.live_decisions(arch) == frozenset(space.decisions)
        assert space.effective_cost(arch) == space.cost(arch)


class Toy(SearchSpace):
    name = "toy"
    decisions = {"a": (0, 1), "b": (0, 1)}

    def build_supernet(self):
        raise NotImplementedError

    def build_model(self, arch):
        raise NotImplementedError

    def params(self, arch):
        return 10 * arch["a"] + arch["b"]

    def flops(self, arch):
        return 0

    def live_decisions(self, arch):
        return frozenset({"a"})


def test_a_space_with_dead_ops_must_price_them():
    with pytest.raises(NotImplementedError, match="does not override effective_cost"):
        Toy().effective_cost(Architecture({"a": 1, "b": 1}))
