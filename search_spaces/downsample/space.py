"""DownsampleSearchSpace: where a ResNet-20-style network halves its resolution (Balanced Mixture of SuperNets)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from nas.architecture import Architecture, Option
from nas.search_space import SearchSpace
from search_spaces.downsample.config import DownsampleConfig
from search_spaces.downsample.network import BlockPlan, DownsampleNet, downsampling
from search_spaces.downsample.supernet import DownsampleSupernet


class DownsampleSearchSpace(SearchSpace):
    """A ResNet-20-style network (stem, ``len(stage_widths) x blocks_per_stage`` basic blocks whose widths
    step up at the stage boundaries, global pooling, linear head) whose decisions are where its resolution
    halves, as in "Balanced Mixture of SuperNets for Learning the CNN Pooling Architecture" (Javan
    Roshtkhari, Toews, Pedersoli 2023).

    Decisions: ``down1`` (the block whose input is halved first, one of ``first_positions``), ``down2`` (the
    second, one of ``second_positions``, all after the first) and ``pool`` (how both halve: ``stride`` =
    strided conv, ``avg`` / ``max`` = 2x2 pooling). The channel widths stay where the stages put them, so
    every child has the same parameters and the same weights in the supernet; only where they act changes.
    Options ascend in cost (a later halving keeps more blocks at full resolution), so ``largest()`` /
    ``smallest()`` are the base class's. The defaults (9 blocks of 4/8/16 channels after a 4-channel stem on
    FMNIST-201's 16x16 images, first halving at block 0-3, second at block 4-8, strided convolutions) give 20
    children, few enough for every one to get ground truth (``conf/benchmark/downsample_fmnist.yaml``);
    ``pools=[stride, avg]`` doubles the space.

    Example:
        >>> space = DownsampleSearchSpace(in_channels=1, input_size=16)
        >>> space.size, list(space.decisions)
        (20, ['down1', 'down2', 'pool'])
        >>> arch = space.make({"down1": 0, "down2": 4, "pool": "stride"})
        >>> space.params(arch) == sum(p.numel() for p in space.build_model(arch).parameters())
        True
        >>> space.flops(space.smallest()) < space.flops(space.largest())
        True
    """

    name: ClassVar[str] = "downsample"

    def __init__(self, in_channels: int = 1, num_classes: int = 10, input_size: int = 16, stem_channels: int = 4,
                 stage_widths: Sequence[int] = (4, 8, 16), blocks_per_stage: int = 3,
                 first_positions: Sequence[int] = (0, 1, 2, 3), second_positions: Sequence[int] = (4, 5, 6, 7, 8),
                 pools: Sequence[str] = ("stride",)):
        self.config = DownsampleConfig(
            int(in_channels), int(num_classes), int(input_size), int(stem_channels),
            tuple(int(w) for w in stage_widths), int(blocks_per_stage), tuple(int(p) for p in first_positions),
            tuple(int(p) for p in second_positions), tuple(str(p) for p in pools))
        self._decisions = self.config.decisions()

    def spec(self) -> dict:
        return {"name": self.name, **self.config.as_dict()}

    @property
    def decisions(self) -> dict[str, tuple[Option, ...]]:
        return self._decisions

    def build_supernet(self) -> DownsampleSupernet:
        return DownsampleSupernet(self.config, self.validate)

    def build_model(self, arch: Architecture) -> DownsampleNet:
        positions, pool = downsampling(self.validate(arch), self.config.position_decisions)
        cfg = self.config
        return DownsampleNet(cfg.in_channels, cfg.num_classes, cfg.stem_channels, cfg.widths, positions, pool)

    def plan(self, arch: Architecture) -> list[BlockPlan]:
        """Every block of ``arch``'s network: channels, whether it halves, input and output size."""
        positions, _ = downsampling(self.validate(arch), self.config.position_decisions)
        cfg, size, plans = self.config, self.config.input_size, []
        channels = [cfg.stem_channels, *cfg.widths]
        for index in range(len(cfg.widths)):
            out = size // 2 if index in positions else size
            plans.append(BlockPlan(channels[index], channels[index + 1], index in positions, size, out))
            size = out
        return plans

    def params(self, arch: Architecture) -> int:
        """The same for every child: the stem, the blocks (two 3x3 convs and BNs, a 1x1 projection where the
        channels change) and the classifier."""
        cfg = self.config
        total = cfg.in_channels * cfg.stem_channels * 9 + 2 * cfg.stem_channels
        for b in self.plan(arch):
            total += 9 * b.in_channels * b.out_channels + 9 * b.out_channels**2 + 4 * b.out_channels
            if b.in_channels != b.out_channels:
                total += b.in_channels * b.out_channels + 2 * b.out_channels
        return total + cfg.widths[-1] * cfg.num_classes + cfg.num_classes

    def flops(self, arch: Architecture) -> int:
        """Multiply-accumulates of the convolutions and the classifier for one input (pooling is free)."""
        cfg = self.config
        total = cfg.input_size**2 * cfg.in_channels * cfg.stem_channels * 9
        for b in self.plan(arch):
            area = b.out_size**2
            total += area * 9 * (b.in_channels * b.out_channels + b.out_channels**2)
            if b.in_channels != b.out_channels:
                total += area * b.in_channels * b.out_channels
        return total + cfg.widths[-1] * cfg.num_classes
