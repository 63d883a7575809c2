"""DownsampleSupernet: one set of residual-block weights; where the resolution halves is chosen per forward."""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch

from nas.architecture import Architecture, Option
from search_spaces.downsample.config import DownsampleConfig
from search_spaces.downsample.network import DownsampleBackbone, DownsampleNet, downsampling
from supernets.base import Supernet


class DownsampleSupernet(Supernet):
    """The downsampling space's supernet (shared weights): every child runs the same stem, blocks and
    classifier; the child's positions say which blocks halve the resolution and its ``pool`` how. No option
    owns a parameter (``option_parameters`` maps each to ``[]``): a downsampling position is a change of
    where the weights act, not of which weights act. ``subnet(arch)`` is a ``DownsampleNet`` holding copies
    of all the weights (the same parameter names), so its outputs equal ``forward(x, arch)``'s.

    Example:
        >>> from search_spaces.downsample import DownsampleSearchSpace
        >>> space = DownsampleSearchSpace(input_size=8, stem_channels=4, stage_widths=[4, 8], blocks_per_stage=2,
        ...                               first_positions=[0, 1], second_positions=[2, 3], pools=["stride", "avg"])
        >>> supernet = space.build_supernet().eval()
        >>> arch = space.make({"down1": 1, "down2": 3, "pool": "avg"})
        >>> x = torch.randn(2, 1, 8, 8)
        >>> torch.equal(supernet(x, arch), supernet.subnet(arch).eval()(x))
        True
    """

    kind = "shared"

    def __init__(self, config: DownsampleConfig, validate: Callable[[Architecture], Architecture]):
        super().__init__()
        self.config = config
        self._validate = validate
        self.backbone = DownsampleBackbone(config.in_channels, config.num_classes, config.stem_channels,
                                           config.widths)

    def forward(self, x: torch.Tensor, arch: Architecture) -> torch.Tensor:
        positions, pool = downsampling(self._validate(arch), self.config.position_decisions)
        return self.backbone.run(x, positions, pool)

    def subnet(self, arch: Architecture) -> DownsampleNet:
        positions, pool = downsampling(self._validate(arch), self.config.position_decisions)
        cfg = self.config
        child = DownsampleNet(cfg.in_channels, cfg.num_classes, cfg.stem_channels, cfg.widths, positions, pool)
        child.load_state_dict(copy.deepcopy(self.backbone.state_dict()))
        return child.train(self.training)

    def option_parameters(self) -> dict[tuple[str, Option], list]:
        return {(name, option): [] for name, options in self.config.decisions().items() for option in options}
