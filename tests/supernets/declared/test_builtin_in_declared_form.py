"""The built-in NAS-Bench-201 space written in declared form (README "Writing a search-space plugin", docs/
architecture.md "Declared search spaces"): six `Choice`s in the hand-written skeleton give the same decisions,
parameter counts and FLOPs as the hand-written space, and a declared child is the hand-written network (same
module names, same outputs once it holds the child's weights), for every architecture drawn."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from search_spaces.nb201 import NB201SearchSpace
from search_spaces.nb201.architecture import EDGE_NAMES
from search_spaces.nb201.network import NB201Config, _Skeleton, cell_dag
from search_spaces.nb201.ops import OPS, make_op
from supernets.declared import Choice, DeclaredSearchSpace


class Zero(nn.Module):
    """NAS-Bench-201's ``none``: the edge contributes zeros."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x)


class DeclaredCell(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.edges = nn.ModuleDict({name: Choice(name, {op: Zero() if op == "none" else make_op(op, channels)
                                                         for op in OPS}) for name in EDGE_NAMES})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return cell_dag(x, lambda name, node: self.edges[name](node))


class DeclaredNetwork(_Skeleton):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for layer in self.layers:
            x = layer(x)
        return self._head(x)


class DeclaredNB201(DeclaredSearchSpace):
    name = "nb201_declared"

    def __init__(self, reduction: str):
        self.config = NB201Config(C=4, N=2, in_channels=1, num_classes=4, input_size=8, reduction=reduction)
        self.input_shape = (1, 8, 8)

    def network(self) -> nn.Module:
        return DeclaredNetwork(self.config, DeclaredCell)


@pytest.mark.parametrize("reduction", ["light", "residual"])
def test_the_declared_form_has_the_hand_written_spaces_decisions_params_and_flops(reduction):
    declared = DeclaredNB201(reduction)
    built_in = NB201SearchSpace(C=4, N=2, in_channels=1, num_classes=4, input_size=8, reduction=reduction)
    assert {d: tuple(o) for d, o in declared.decisions.items()} == {d: tuple(o) for d, o in built_in.decisions.items()}
    rng = np.random.default_rng(0)
    archs = [built_in.sample(rng) for _ in range(40)] + [built_in.largest(), built_in.smallest()]
    x = torch.randn(3, 1, 8, 8)
    for arch in archs:
        choices = {d: arch[d] for d in built_in.decisions}
        assert declared.params(choices) == built_in.params(arch), str(arch)
        assert declared.flops(choices) == built_in.flops(arch), str(arch)
        child, reference = declared.build_model(choices).eval(), built_in.build_model(arch).eval()
        reference.load_state_dict(child.state_dict())  # the same module names: the declared child is the network
        with torch.no_grad():
            torch.testing.assert_close(child(x), reference(x), rtol=0, atol=1e-6)
