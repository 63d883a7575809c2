"""The ResNet-style network of the downsampling space: one block list, the downsampling positions per forward."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from nas.architecture import Architecture, Option


@dataclass(frozen=True)
class BlockPlan:
    """One residual block of a child: its channels, whether its input is halved, and its output size.

    Example:
        >>> from search_spaces.downsample import DownsampleSearchSpace
        >>> space = DownsampleSearchSpace()
        >>> [(b.out_channels, b.out_size) for b in space.plan(space.make({"down1": 1, "down2": 4, "pool": "stride"}))]
        [(4, 16), (4, 8), (4, 8), (8, 8), (8, 4), (8, 4), (16, 4), (16, 4), (16, 4)]
    """

    in_channels: int
    out_channels: int
    downsample: bool
    in_size: int
    out_size: int


class BasicBlock(nn.Module):
    """ResNet basic block: conv3x3-BN-ReLU-conv3x3-BN plus the shortcut (a 1x1 conv + BN projection where the
    channels change), then ReLU. How it halves the resolution is a forward argument, so one set of weights
    serves every position and pooling type:

    - ``"stride"``: the first 3x3 conv (and the projection) at stride 2; an identity shortcut takes every
      second pixel (ResNet's parameter-free option A);
    - ``"avg"`` / ``"max"``: 2x2 average / max pooling of the block's input, then the block at stride 1.

    Example:
        >>> block = BasicBlock(4, 8)
        >>> block(torch.zeros(2, 4, 8, 8), downsample=True, pool="stride").shape
        torch.Size([2, 8, 4, 4])
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.projection: nn.Sequential | None = None
        if in_channels != out_channels:
            self.projection = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                            nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor, downsample: bool = False, pool: str = "stride") -> torch.Tensor:
        stride = 1
        if downsample:
            if pool == "stride":
                stride = 2
            elif pool == "avg":
                x = F.avg_pool2d(x, 2)
            elif pool == "max":
                x = F.max_pool2d(x, 2)
            else:
                raise ValueError(f"unknown pooling type {pool!r}: use stride, avg or max")
        out = F.relu(self.bn1(_conv(self.conv1, x, stride)))
        out = self.bn2(self.conv2(out))
        if self.projection is not None:
            conv, norm = self.projection
            shortcut = norm(_conv(conv, x, stride))
        else:
            shortcut = x[:, :, ::stride, ::stride] if stride > 1 else x
        return F.relu(out + shortcut)


def _conv(conv: nn.Conv2d, x: torch.Tensor, stride: int) -> torch.Tensor:
    """``conv`` at ``stride``: the module itself when built with that stride (a standalone network: hooks, MAC
    counters and exporters see a plain call), else its weight at the other stride (the supernet)."""
    if conv.stride[0] == stride:
        return conv(x)
    return F.conv2d(x, conv.weight, None, stride, conv.padding)


class DownsampleBackbone(nn.Module):
    """Stem conv3x3-BN-ReLU, ``len(widths)`` basic blocks, global average pooling, linear classifier.

    ``run(x, downsample, pool)`` runs it with the blocks listed in ``downsample`` halving the resolution.
    ``strides``: the stride each block's convolutions are built with (a standalone network's strided blocks; the
    supernet's are all 1 and take stride 2 from the forward's arguments).
    The standalone network and the supernet both are this module (same parameter names), so a child's
    weights are the supernet's state dict as it is.

    Example:
        >>> net = DownsampleBackbone(1, 10, 4, [4, 8])
        >>> net.run(torch.zeros(2, 1, 8, 8), frozenset({1}), "max").shape
        torch.Size([2, 10])
    """

    def __init__(self, in_channels: int, num_classes: int, stem_channels: int, widths: Sequence[int],
                 strides: Sequence[int] | None = None):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, stem_channels, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(stem_channels), nn.ReLU(inplace=True))
        channels = [stem_channels, *widths]
        strides = list(strides) if strides is not None else [1] * len(widths)
        self.blocks = nn.ModuleList(BasicBlock(channels[i], channels[i + 1], strides[i]) for i in range(len(widths)))
        self.classifier = nn.Linear(channels[-1], num_classes)

    def run(self, x: torch.Tensor, downsample: frozenset[int], pool: str) -> torch.Tensor:
        x = self.stem(x)
        for index, block in enumerate(self.blocks):
            x = block(x, index in downsample, pool)
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def downsampling(arch: Architecture, position_decisions: Sequence[str]) -> tuple[frozenset[int], str]:
    """(the blocks that halve the resolution, the pooling type) of ``arch``."""
    return frozenset(int(arch[d]) for d in position_decisions), str(arch["pool"])


class DownsampleNet(DownsampleBackbone):
    """The standalone network of one child (ground truth, export): the backbone with its downsampling fixed.

    Example:
        >>> net = DownsampleNet(1, 10, 4, [4, 8], downsample=frozenset({0, 1}), pool="avg")
        >>> net(torch.zeros(2, 1, 8, 8)).shape
        torch.Size([2, 10])
    """

    def __init__(self, in_channels: int, num_classes: int, stem_channels: int, widths: Sequence[int],
                 downsample: frozenset[int], pool: Option):
        strides = [2 if i in downsample and str(pool) == "stride" else 1 for i in range(len(widths))]
        super().__init__(in_channels, num_classes, stem_channels, widths, strides)
        self.downsample = frozenset(downsample)
        self.pool = str(pool)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(x, self.downsample, self.pool)
