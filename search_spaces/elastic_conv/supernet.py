"""The weight-entangled supernet of the elastic conv space (once-for-all style)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from nas.architecture import Architecture, Option
from nas.errors import InvalidArchitectureError
from search_spaces.elastic_conv.architecture import (
    WIDTH,
    BlockPlan,
    depth_name,
    expand_name,
    kernel_name,
    plan,
)
from search_spaces.elastic_conv.architecture import decisions as space_decisions
from search_spaces.elastic_conv.config import ElasticConvConfig
from search_spaces.elastic_conv.network import ConvNet, InvertedResidual, activation
from search_spaces.elastic_conv.superposition import superposed_forward
from supernets.base import Supernet
from supernets.relaxable import Relaxable
from supernets.elastic import ElasticBatchNorm2d, ElasticConv2d, ElasticDepthwiseConv2d, ElasticLinear

_ACT_FN = {"relu": F.relu, "relu6": F.relu6, "hswish": F.hardswish}


class ElasticInvertedResidual(nn.Module):
    """An inverted-residual block at its largest size; a child picks out channels, kernel, expand.

    The hidden width is ``in_channels * expand_ratio`` of the *active* input, each BatchNorm is
    sliced to its active width, and the residual is added when stride is 1 and the active input
    and output widths agree (the rule of the standalone ``InvertedResidual``).
    """

    def __init__(self, max_in: int, max_out: int, max_expand: int, kernel_sizes: Sequence[int], stride: int,
                 act: str, kernel_transform: bool = False):
        super().__init__()
        mid = max_in * max_expand
        self.max_expand, self.stride, self.act_name = int(max_expand), int(stride), act
        self.expand_conv, self.expand_bn = ElasticConv2d(max_in, mid), ElasticBatchNorm2d(mid)
        self.dw_conv = ElasticDepthwiseConv2d(mid, kernel_sizes, stride, kernel_transform)
        self.dw_bn = ElasticBatchNorm2d(mid)
        self.project_conv, self.project_bn = ElasticConv2d(mid, max_out), ElasticBatchNorm2d(max_out)
        self._act = _ACT_FN[act]

    def forward(self, x: torch.Tensor, out_channels: int, kernel_size: int, expand_ratio: int) -> torch.Tensor:
        if not 1 <= expand_ratio <= self.max_expand:
            raise InvalidArchitectureError(
                f"{type(self).__name__}: expand ratio {expand_ratio} is outside the stored range 1..{self.max_expand}")
        act = self._act
        h = act(self.expand_bn(self.expand_conv(x, x.shape[1] * expand_ratio)))
        h = act(self.dw_bn(self.dw_conv(h, kernel_size)))
        h = self.project_bn(self.project_conv(h, out_channels))
        return x + h if self.stride == 1 and x.shape[1] == out_channels else h

    def export(self, block: BlockPlan) -> InvertedResidual:
        """A plain ``InvertedResidual`` of ``block``'s shape with copies of the active weights."""
        c_in, mid, c_out = block.in_channels, block.mid_channels, block.out_channels
        return InvertedResidual(self.expand_conv.export(c_in, mid), self.expand_bn.export(mid),
                                self.dw_conv.export(mid, block.kernel_size), self.dw_bn.export(mid),
                                self.project_conv.export(mid, c_out), self.project_bn.export(c_out),
                                activation(self.act_name), block.residual)


class ElasticConvSupernet(Supernet, Relaxable):
    """Every child of the elastic conv space in one set of weights: memory of the largest child.

    ``forward(x, arch)`` runs the first ``depth`` blocks of every stage (deeper ones are skipped),
    each at its kernel and expand ratio, all at the widths of the chosen multiplier. ``validate``
    is the space's ``SearchSpace.validate``, which ``subnet`` checks an architecture with.

    Example:
        >>> from search_spaces.elastic_conv import ElasticConvSearchSpace
        >>> space = ElasticConvSearchSpace(in_channels=1, input_size=16)
        >>> supernet = space.build_supernet().eval()
        >>> arch = space.sample(__import__("numpy").random.default_rng(0))
        >>> x = torch.randn(2, 1, 16, 16)
        >>> torch.allclose(supernet(x, arch), supernet.subnet(arch)(x), atol=1e-5)
        True
    """

    kind = "entangled"

    def __init__(self, config: ElasticConvConfig, validate: Callable[[Architecture], Architecture]):
        super().__init__()
        self.config = config
        self._validate = validate
        stem, stages, head = config.max_channels
        self.stem_conv = ElasticConv2d(config.in_channels, stem, (3,), config.stem_stride)
        self.stem_bn = ElasticBatchNorm2d(stem)
        blocks, names, c_in = [], [], stem
        for stage, (c_out, stride) in enumerate(zip(stages, config.stage_strides)):
            blocks.append(nn.ModuleList(
                ElasticInvertedResidual(c_in if b == 0 else c_out, c_out, config.expand_ratios[-1],
                                        config.kernel_sizes, stride if b == 0 else 1, config.activation,
                                        config.kernel_transform)
                for b in range(config.max_depth)))
            names.append((depth_name(stage), tuple((kernel_name(stage, b), expand_name(stage, b))
                                                   for b in range(config.max_depth))))
            c_in = c_out
        self.stages = nn.ModuleList(blocks)
        self._names = tuple(names)
        self.head_conv = ElasticConv2d(c_in, head) if head is not None else None
        self.head_bn = ElasticBatchNorm2d(head) if head is not None else None
        self.classifier = ElasticLinear(head if head is not None else c_in, config.num_classes)
        self._act = _ACT_FN[config.activation]

    def _channels(self, arch: Architecture) -> tuple[int, tuple[int, ...], int | None]:
        try:
            return self.config.channels(arch[WIDTH])
        except KeyError:
            raise InvalidArchitectureError(
                f"width {arch.get(WIDTH)!r} is not one of the stored width multipliers "
                f"{list(self.config.width_multipliers)}") from None

    def forward(self, x: torch.Tensor, arch: Architecture) -> torch.Tensor:
        stem, stage_channels, head = self._channels(arch)
        act = self._act
        x = act(self.stem_bn(self.stem_conv(x, stem).contiguous(memory_format=torch.channels_last)))
        for blocks, (depth_key, block_keys), c_out in zip(self.stages, self._names, stage_channels):
            depth = arch[depth_key]
            if not 1 <= depth <= len(blocks):
                raise InvalidArchitectureError(f"{depth_key} {depth} is outside the stored range 1..{len(blocks)}")
            for b in range(depth):
                kernel_key, expand_key = block_keys[b]
                x = blocks[b](x, c_out, arch[kernel_key], arch[expand_key])
        if self.head_conv is not None:
            x = act(self.head_bn(self.head_conv(x, head)))
        return self.classifier(x.mean(dim=(2, 3)))

    # -- the continuous relaxation (TangleNAS superposition, search_spaces.elastic_conv.superposition) --------
    def relaxed_decisions(self) -> dict[str, tuple[Option, ...]]:
        return space_decisions(self.config)

    def forward_relaxed(self, x: torch.Tensor, weights: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """One forward of the largest child with every decision's options superposed by ``weights``."""
        return superposed_forward(self, x, weights)

    def make_architecture(self, choices: Mapping[str, Option]) -> Architecture:
        return self._validate(Architecture(choices))

    @torch.no_grad()
    def subnet(self, arch: Architecture) -> ConvNet:
        child = plan(self.config, self._validate(arch))
        blocks = [self.stages[b.stage][b.index].export(b) for b in child.blocks]
        last = blocks[-1].project_conv.out_channels
        head = child.head_channels
        net = ConvNet(self.stem_conv.export(self.config.in_channels, child.stem_channels),
                      self.stem_bn.export(child.stem_channels), blocks,
                      self.head_conv.export(last, head) if head is not None else None,
                      self.head_bn.export(head) if head is not None else None,
                      self.classifier.export(child.features), activation(self.config.activation))
        return net.train(self.training)
