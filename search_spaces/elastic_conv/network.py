"""Standalone (plain) networks of the elastic conv space: what ``build_model`` and ``subnet`` return."""

from __future__ import annotations

import torch
from torch import nn

from search_spaces.elastic_conv.architecture import BlockPlan, ConvPlan
from search_spaces.elastic_conv.config import ElasticConvConfig

_ACTIVATIONS = {"relu": nn.ReLU, "relu6": nn.ReLU6, "hswish": nn.Hardswish}


def activation(name: str) -> nn.Module:
    """A fresh activation module by name (``relu``, ``relu6``, ``hswish``)."""
    return _ACTIVATIONS[name]()


class InvertedResidual(nn.Module):
    """1x1 expand-BN-act, kxk depthwise-BN-act, 1x1 project-BN, plus the input when shapes match."""

    def __init__(self, expand_conv: nn.Conv2d, expand_bn: nn.BatchNorm2d, dw_conv: nn.Conv2d,
                 dw_bn: nn.BatchNorm2d, project_conv: nn.Conv2d, project_bn: nn.BatchNorm2d,
                 act: nn.Module, residual: bool):
        super().__init__()
        self.expand_conv, self.expand_bn = expand_conv, expand_bn
        self.dw_conv, self.dw_bn = dw_conv, dw_bn
        self.project_conv, self.project_bn = project_conv, project_bn
        self.act = act
        self.residual = bool(residual)

    @classmethod
    def build(cls, block: BlockPlan, act: str) -> "InvertedResidual":
        """A freshly initialised block of ``block``'s shape."""
        c_in, mid, c_out, k = block.in_channels, block.mid_channels, block.out_channels, block.kernel_size
        return cls(nn.Conv2d(c_in, mid, 1, bias=False), nn.BatchNorm2d(mid),
                   nn.Conv2d(mid, mid, k, block.stride, k // 2, groups=mid, bias=False), nn.BatchNorm2d(mid),
                   nn.Conv2d(mid, c_out, 1, bias=False), nn.BatchNorm2d(c_out), activation(act), block.residual)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.expand_bn(self.expand_conv(x)))
        h = self.act(self.dw_bn(self.dw_conv(h)))
        h = self.project_bn(self.project_conv(h))
        return x + h if self.residual else h


class ConvNet(nn.Module):
    """Stem conv-BN-act, inverted-residual blocks, optional 1x1 head conv-BN-act, pool, classifier.

    Example:
        >>> from search_spaces.elastic_conv import ElasticConvSearchSpace
        >>> space = ElasticConvSearchSpace(in_channels=1, input_size=16)
        >>> net = space.build_model(space.smallest())
        >>> net(torch.zeros(2, 1, 16, 16)).shape
        torch.Size([2, 10])
    """

    def __init__(self, stem_conv: nn.Conv2d, stem_bn: nn.BatchNorm2d, blocks: list[InvertedResidual],
                 head_conv: nn.Conv2d | None, head_bn: nn.BatchNorm2d | None, classifier: nn.Linear,
                 act: nn.Module):
        super().__init__()
        self.stem_conv, self.stem_bn, self.act = stem_conv, stem_bn, act
        self.blocks = nn.Sequential(*blocks)
        self.head_conv, self.head_bn = head_conv, head_bn
        self.classifier = classifier

    @classmethod
    def build(cls, config: ElasticConvConfig, plan: ConvPlan) -> "ConvNet":
        """A freshly initialised network of ``plan``."""
        head = plan.head_channels
        last = plan.blocks[-1].out_channels if plan.blocks else plan.stem_channels
        return cls(nn.Conv2d(config.in_channels, plan.stem_channels, 3, config.stem_stride, 1, bias=False),
                   nn.BatchNorm2d(plan.stem_channels),
                   [InvertedResidual.build(b, config.activation) for b in plan.blocks],
                   nn.Conv2d(last, head, 1, bias=False) if head is not None else None,
                   nn.BatchNorm2d(head) if head is not None else None,
                   nn.Linear(plan.features, config.num_classes), activation(config.activation))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # channels-last activations: PyTorch's fast path for (depthwise) convolutions (mkldnn on CPU)
        x = self.blocks(self.act(self.stem_bn(self.stem_conv(x).contiguous(memory_format=torch.channels_last))))
        if self.head_conv is not None:
            x = self.act(self.head_bn(self.head_conv(x)))
        return self.classifier(x.mean(dim=(2, 3)))
