"""NB201SearchSpace: the NAS-Bench-201 cell space (6 edges x 5 ops = 15,625 cells)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from nas.architecture import Architecture
from nas.errors import ConfigError
from nas.search_space import SearchSpace
from search_spaces.nb201.architecture import EDGE_NAMES, NB201Architecture
from search_spaces.nb201.canonical import canonical_form
from search_spaces.nb201.entangled import NB201EntangledSupernet
from search_spaces.nb201.liveness import live_edges, without_dead_edges
from search_spaces.nb201.network import NB201Config, NB201Network, NB201Supernet, Reduction
from search_spaces.nb201.ops import OPS, op_macs, op_params


class NB201SearchSpace(SearchSpace):
    """The NAS-Bench-201 cell space over a configurable skeleton.

    Defaults are NAS-Bench-201's own (C=16, N=5, residual reduction, 3x32x32 input).
    FMNIST-201 is ``NB201SearchSpace(C=8, N=1, in_channels=1, input_size=16, reduction="light")``.

    ``superposition=True`` builds ``NB201EntangledSupernet`` (1x1 and 3x3 convolutions share one 3x3 weight per
    edge, TangleNAS) instead of the shared-weight supernet.
    ``drop_path``, ``bn_affine`` and ``bn_track_running_stats`` are supernet training heuristics
    (``NB201Supernet``): they change only ``build_supernet()``, never the standalone networks of
    ``build_model`` nor ``spec()`` (so ground-truth recipes keep their fingerprints).

    Example:
        >>> space = NB201SearchSpace(C=8, N=1, in_channels=1, input_size=16, reduction="light")
        >>> arch = space.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+"
        ...                    "|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|")
        >>> space.params(arch) == sum(p.numel() for p in space.build_model(arch).parameters())
        True
    """

    name: ClassVar[str] = "nb201"
    architecture_cls = NB201Architecture

    def __init__(
        self,
        C: int = 16,
        N: int = 5,
        in_channels: int = 3,
        num_classes: int = 10,
        input_size: int = 32,
        reduction: Reduction = "residual",
        drop_path: float = 0.0,
        bn_affine: bool = True,
        bn_track_running_stats: bool = True,
        superposition: bool = False,
    ):
        self.config = NB201Config(C, N, in_channels, num_classes, input_size, reduction)
        if superposition and float(drop_path) > 0:
            raise ConfigError("search_space.superposition=true builds the entangled supernet, which drops no paths: "
                              "use drop_path=0.0")
        self.superposition = bool(superposition)
        if not 0.0 <= float(drop_path) < 1.0:
            raise ConfigError(f"search_space.drop_path must be in [0, 1), got {drop_path}: the probability that a "
                              "live edge's output is dropped during supernet training")
        self.drop_path = float(drop_path)
        self.bn_affine, self.bn_track_running_stats = bool(bn_affine), bool(bn_track_running_stats)
        self._decisions = {name: OPS for name in EDGE_NAMES}

    def spec(self) -> dict:
        return {"name": self.name, **dataclasses.asdict(self.config)}

    @property
    def decisions(self) -> dict[str, tuple[str, ...]]:
        return self._decisions

    def largest(self) -> NB201Architecture:
        """Every edge ``nor_conv_3x3``: the most parameters and FLOPs (the sandwich rule's teacher)."""
        return self.make({name: "nor_conv_3x3" for name in EDGE_NAMES})

    def smallest(self) -> NB201Architecture:
        """Every edge ``skip_connect``: no cell parameters, yet connected (all-``none`` would output zeros)."""
        return self.make({name: "skip_connect" for name in EDGE_NAMES})

    def build_supernet(self) -> NB201Supernet | NB201EntangledSupernet:
        if self.superposition:  # 1x1 and 3x3 convolutions entangled in one 3x3 weight per edge (TangleNAS)
            return NB201EntangledSupernet(self.config, self.bn_affine, self.bn_track_running_stats)
        return NB201Supernet(self.config, self.drop_path, self.bn_affine, self.bn_track_running_stats)

    def build_model(self, arch: Architecture) -> NB201Network:
        return NB201Network(self.config, self.validate(arch))

    def params(self, arch: Architecture) -> int:
        arch = self.validate(arch)
        cfg = self.config
        total = cfg.in_channels * cfg.C * 9 + 2 * cfg.C  # stem conv + BN
        for stage, (channels, _) in enumerate(cfg.stage_shapes()):
            if stage > 0:
                c_in = channels // 2
                if cfg.reduction == "residual":
                    total += 9 * c_in * channels + 2 * channels + 9 * channels * channels + 2 * channels
                    total += c_in * channels
                else:
                    total += c_in * channels + 2 * channels
            total += cfg.N * sum(op_params(str(arch[e]), channels) for e in EDGE_NAMES)
        final = cfg.C * 4
        return total + 2 * final + final * cfg.num_classes + cfg.num_classes

    def flops(self, arch: Architecture) -> int:
        """Multiply-accumulates of the convolutions and the classifier for one input."""
        arch = self.validate(arch)
        cfg = self.config
        total = cfg.input_size**2 * cfg.in_channels * cfg.C * 9
        for stage, (channels, size) in enumerate(cfg.stage_shapes()):
            if stage > 0:
                c_in = channels // 2
                if cfg.reduction == "residual":
                    total += size * size * (9 * c_in * channels + 9 * channels * channels + c_in * channels)
                else:
                    total += size * size * c_in * channels
            total += cfg.N * sum(op_macs(str(arch[e]), channels, size, size) for e in EDGE_NAMES)
        return total + cfg.C * 4 * cfg.num_classes

    def live_decisions(self, arch: Architecture) -> frozenset[str]:
        """Edges on a path from cell node 0 to node 3 through non-``none`` edges (see ``liveness.live_edges``)."""
        return live_edges(self.validate(arch))

    def effective_cost(self, arch: Architecture) -> dict[str, int]:
        """Params and FLOPs with dead edges priced as ``none``; a cell with no live path costs only the skeleton."""
        return self.cost(self.make(without_dead_edges(self.validate(arch))))

    def canonical(self, arch: Architecture) -> str:
        """The computation the cell performs (``canonical.canonical_form``): 5,772 forms of connected cells."""
        return canonical_form(self.validate(arch))
