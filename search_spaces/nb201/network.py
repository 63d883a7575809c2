"""NAS-Bench-201 networks: the skeleton, the standalone network and the shared-weight supernet."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from nas.architecture import Architecture, Option
from nas.errors import ConfigError
from search_spaces.nb201.architecture import EDGE_NAMES, EDGES, NB201Architecture
from search_spaces.nb201.liveness import live_edges
from search_spaces.nb201.ops import OPS, ReLUConvBN, drop_path, make_op, zeros_like_node
from supernets.base import Supernet
from supernets.choice import ChoiceOp
from supernets.mixed import mixed_output
from supernets.relaxable import Relaxable

Reduction = Literal["residual", "light"]


@dataclass(frozen=True)
class NB201Config:
    """Size of a NAS-Bench-201 network.

    ``reduction="residual"`` is NAS-Bench-201's own block between stages (two 3x3 convs plus an
    average-pool/1x1 shortcut); ``"light"`` is FMNIST-201's AvgPool(2) + Conv1x1 + BN, with no
    nonlinearity, so that all nonlinear depth comes from the cells.
    """

    C: int = 16
    N: int = 5
    in_channels: int = 3
    num_classes: int = 10
    input_size: int = 32
    reduction: Reduction = "residual"

    def __post_init__(self) -> None:
        for name in ("C", "N", "in_channels", "num_classes", "input_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"NAS-Bench-201 {name} must be a positive integer, got {value!r}")
        if self.reduction not in ("residual", "light"):
            raise ConfigError(f"NAS-Bench-201 reduction must be 'residual' or 'light', got {self.reduction!r}")
        if self.input_size % 4:
            raise ConfigError(
                f"NAS-Bench-201 input_size must be divisible by 4 (two stride-2 reductions), got {self.input_size}"
            )

    def stage_shapes(self) -> list[tuple[int, int]]:
        """(channels, spatial size) of the three stages."""
        return [(self.C * 2**i, self.input_size // 2**i) for i in range(3)]


class ResidualReduction(nn.Module):
    """NAS-Bench-201's stride-2 residual block: ReLUConvBN(3x3, s2) -> ReLUConvBN(3x3) + AvgPool/Conv1x1."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride=2, padding=1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, stride=1, padding=1)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, stride=2), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


class LightReduction(nn.Sequential):
    """FMNIST-201's reduction: AvgPool2d(2) -> Conv1x1 (no bias) -> BN, no nonlinearity."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__(nn.AvgPool2d(2), nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out))


def cell_dag(x: torch.Tensor, edge_output: Callable[[str, torch.Tensor], torch.Tensor | None]) -> torch.Tensor:
    """A cell's DAG: node ``j`` is the sum over ``i < j`` of ``edge_output("j<-i", node i)`` in ``EDGE_NAMES`` order
    (None: the edge carries nothing); a node no edge reaches is zeros. Returns node 3, the cell's output."""
    nodes, names = [x], iter(EDGE_NAMES)
    for to in (1, 2, 3):
        total = None
        for src in range(to):
            out = edge_output(next(names), nodes[src])
            if out is not None:
                total = out if total is None else total + out
        nodes.append(zeros_like_node(x) if total is None else total)
    return nodes[3]


class Cell(nn.Module):
    """A standalone cell: one module per edge that carries an op; ``none`` edges are left out.

    ``bn_affine`` / ``bn_track_running_stats`` set the BatchNorm of its convolutions (a supernet's
    ``subnet()`` passes its own; standalone networks keep the defaults).
    """

    def __init__(self, arch: Architecture, channels: int, bn_affine: bool = True,
                 bn_track_running_stats: bool = True):
        super().__init__()
        self.edges = nn.ModuleDict(
            {name: make_op(str(arch[name]), channels, bn_affine, bn_track_running_stats)
             for name in EDGE_NAMES if arch[name] != "none"}
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return cell_dag(x, lambda name, node: self.edges[name](node) if name in self.edges else None)


class SearchCell(nn.Module):
    """A supernet cell: a ChoiceOp over the four non-``none`` ops on every edge.

    In training mode, with ``drop_path`` > 0, the output of each live edge (``liveness.live_edges``) is
    dropped per example with that probability and the kept ones scaled by 1/(1 - p) (``ops.drop_path``);
    in eval mode nothing is dropped. ``bn_affine`` / ``bn_track_running_stats`` set the BatchNorm of the
    convolutions.
    """

    def __init__(self, channels: int, drop_path: float = 0.0, bn_affine: bool = True,
                 bn_track_running_stats: bool = True):
        super().__init__()
        self.drop_path = float(drop_path)
        self.edges = nn.ModuleDict(
            {name: ChoiceOp({op: make_op(op, channels, bn_affine, bn_track_running_stats)
                             for op in OPS if op != "none"}) for name in EDGE_NAMES}
        )

    def forward(self, x: torch.Tensor, arch: Architecture) -> torch.Tensor:
        dropped = live_edges(arch) if self.training and self.drop_path > 0 else frozenset()

        def edge_output(name: str, node: torch.Tensor) -> torch.Tensor | None:
            if arch[name] == "none":
                return None
            out = self.edges[name].op(arch[name])(node)
            return drop_path(out, self.drop_path) if name in dropped else out

        return cell_dag(x, edge_output)

    def forward_relaxed(self, x: torch.Tensor, weights: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Every edge the mixed operation of its ops (``supernets.mixed``), weighted by ``weights[edge]`` over
        ``OPS`` (``none`` contributes zeros); no path is dropped."""
        return cell_dag(x, lambda name, node: mixed_output(self.edges[name], node, OPS, weights[name]))


class _Skeleton(nn.Module):
    """Stem, three stages of N cells with reductions in between, and the classifier head."""

    def __init__(self, config: NB201Config, make_cell: Callable[[int], nn.Module]):
        super().__init__()
        self.config = config
        C = config.C
        self.stem = nn.Sequential(nn.Conv2d(config.in_channels, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        reduction = ResidualReduction if config.reduction == "residual" else LightReduction
        layers: list[nn.Module] = []
        is_cell: list[bool] = []
        channels = C
        for stage in range(3):
            if stage > 0:
                layers.append(reduction(channels, channels * 2))
                is_cell.append(False)
                channels *= 2
            for _ in range(config.N):
                layers.append(make_cell(channels))
                is_cell.append(True)
        self.layers = nn.ModuleList(layers)
        self._is_cell = tuple(is_cell)
        self.head_norm = nn.BatchNorm2d(channels)
        self.classifier = nn.Linear(channels, config.num_classes)

    def _head(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.head_norm(x))
        return self.classifier(x.mean(dim=(2, 3)))


class NB201Network(_Skeleton):
    """A standalone NAS-Bench-201 network of one architecture.

    Example:
        >>> from search_spaces.nb201.architecture import NB201Architecture
        >>> arch = NB201Architecture.from_string(
        ...     "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|")
        >>> net = NB201Network(NB201Config(C=8, N=1, in_channels=1, input_size=16, reduction="light"), arch)
        >>> net(torch.zeros(2, 1, 16, 16)).shape
        torch.Size([2, 10])
    """

    def __init__(self, config: NB201Config, arch: Architecture, bn_affine: bool = True,
                 bn_track_running_stats: bool = True):
        super().__init__(config, lambda channels: Cell(arch, channels, bn_affine, bn_track_running_stats))
        self.arch = arch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for layer in self.layers:
            x = layer(x)
        return self._head(x)


class NB201Supernet(_Skeleton, Supernet, Relaxable):
    """Shared-weight NAS-Bench-201 supernet: every edge of every cell holds all four ops.

    Example:
        >>> from search_spaces.nb201.architecture import NB201Architecture
        >>> arch = NB201Architecture.from_string(
        ...     "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|")
        >>> supernet = NB201Supernet(NB201Config(C=8, N=1, in_channels=1, input_size=16, reduction="light")).eval()
        >>> x = torch.randn(2, 1, 16, 16)
        >>> torch.equal(supernet(x, arch), supernet.subnet(arch).eval()(x))
        True

    Training heuristics (the standalone networks of ``NB201SearchSpace.build_model`` never change):
    ``drop_path`` is the probability that a live edge's output is dropped, per example, in training
    mode (``SearchCell``); ``bn_affine=False`` / ``bn_track_running_stats=False`` build the BatchNorm of
    every op of every cell (the shared, per-option modules; stem, reductions and head keep theirs)
    without affine parameters / without running statistics, as NAS-Bench-201's own search code does.
    Without running statistics those layers always normalise with the batch's statistics, so the
    evaluator must score with ``bn_policy="batch_stats"``. ``subnet()`` builds the same BatchNorm and
    never drops paths.
    """

    kind = "shared"

    def __init__(self, config: NB201Config, drop_path: float = 0.0, bn_affine: bool = True,
                 bn_track_running_stats: bool = True):
        if not 0.0 <= float(drop_path) < 1.0:
            raise ConfigError(f"NAS-Bench-201 supernet drop_path must be in [0, 1), got {drop_path}")
        super().__init__(config, lambda channels: SearchCell(channels, drop_path, bn_affine, bn_track_running_stats))
        self.drop_path = float(drop_path)
        self.bn_affine, self.bn_track_running_stats = bool(bn_affine), bool(bn_track_running_stats)

    def forward(self, x: torch.Tensor, arch: Architecture) -> torch.Tensor:
        x = self.stem(x)
        for layer, is_cell in zip(self.layers, self._is_cell):
            x = layer(x, arch) if is_cell else layer(x)
        return self._head(x)

    # -- the continuous relaxation (gradient-based search: DARTS, GDAS, DrNAS, RARTS) ------------------------
    def relaxed_decisions(self) -> dict[str, tuple[str, ...]]:
        """Every edge over the five ops, ``OPS`` order (``none`` first)."""
        return {name: OPS for name in EDGE_NAMES}

    def forward_relaxed(self, x: torch.Tensor, weights: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Logits of the relaxed supernet: every edge of every cell mixes its ops by ``weights[edge]``."""
        x = self.stem(x)
        for layer, is_cell in zip(self.layers, self._is_cell):
            x = layer.forward_relaxed(x, weights) if is_cell else layer(x)
        return self._head(x)

    def make_architecture(self, choices: Mapping[str, Option]) -> Architecture:
        return NB201Architecture(choices)

    def subnet(self, arch: Architecture) -> NB201Network:
        net = NB201Network(self.config, arch, self.bn_affine, self.bn_track_running_stats)
        state = {}
        for key, value in self.state_dict().items():
            parts = key.split(".")
            # layers.<i>.edges.<edge>.ops.<op>.<rest>  ->  layers.<i>.edges.<edge>.<rest> for the chosen op
            if len(parts) > 5 and parts[0] == "layers" and parts[2] == "edges" and parts[4] == "ops":
                if arch[parts[3]] != parts[5]:
                    continue
                key = ".".join(parts[:4] + parts[6:])
            state[key] = value.detach().clone()
        net.load_state_dict(state, strict=True)
        net.train(self.training)
        return net.to(next(self.parameters()).device)

    def option_parameters(self) -> dict[tuple[str, Option], list[nn.Parameter]]:
        owned: dict[tuple[str, Option], list[nn.Parameter]] = {(e, op): [] for e in EDGE_NAMES for op in OPS}
        for layer, is_cell in zip(self.layers, self._is_cell):
            if is_cell:
                for edge_name, choice in layer.edges.items():
                    for op_name, module in choice.ops.items():
                        owned[(edge_name, op_name)].extend(module.parameters())
        return owned


assert len(EDGES) == len(EDGE_NAMES)
