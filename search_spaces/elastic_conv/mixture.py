"""Mixture-of-Supernets on the elastic conv supernet: the pointwise (1x1) convolutions are routed."""

from __future__ import annotations

import functools
from collections.abc import Callable

from nas.architecture import Architecture
from search_spaces.elastic_conv.architecture import WIDTH, depth_name, expand_name, kernel_name
from search_spaces.elastic_conv.architecture import decisions as space_decisions
from search_spaces.elastic_conv.config import ElasticConvConfig
from search_spaces.elastic_conv.supernet import ElasticConvSupernet
from supernets.mixture import ArchitectureEncoder, MixtureOfSupernets, MixtureSpec, RoutedConv2d


def active_decisions(num_stages: int, arch: Architecture) -> set[str]:
    """The decisions ``arch`` uses: the width, every stage's depth, and kernel and expand ratio of the
    blocks within each stage's depth."""
    used = {WIDTH}
    for stage in range(num_stages):
        used.add(depth_name(stage))
        for block in range(int(arch[depth_name(stage)])):
            used.update((kernel_name(stage, block), expand_name(stage, block)))
    return used


class MixtureConvSupernet(MixtureOfSupernets, ElasticConvSupernet):
    """The elastic conv supernet with architecture-routed experts on every pointwise convolution: each
    block's 1x1 expand and 1x1 project, and the 1x1 head conv when the space has one.

    A child's pointwise weights are ``sum_i alpha_i(arch) W_i`` (``alpha`` from the router: per layer,
    or per output channel), then sliced to its channels; the stem, the depthwise convolutions, the
    BatchNorms and the classifier are the entangled supernet's. Expert 0 of each layer is the entangled
    weight, so ``experts=1`` computes exactly what ``ElasticConvSupernet`` computes. Parameters: the
    entangled supernet's, plus ``(experts - 1) * sum(out * in)`` over the routed convolutions at their
    largest size, plus the router's.

    Example:
        >>> import torch
        >>> from search_spaces.elastic_conv import ElasticConvSearchSpace
        >>> space = ElasticConvSearchSpace(in_channels=1, input_size=16, mixture={"experts": 2})
        >>> supernet = space.build_supernet().eval()
        >>> type(supernet).__name__, len(supernet.routed_ops)
        ('MixtureConvSupernet', 18)
        >>> arch = space.sample(__import__("numpy").random.default_rng(0))
        >>> x = torch.randn(2, 1, 16, 16)
        >>> torch.allclose(supernet(x, arch), supernet.subnet(arch)(x), atol=1e-5)
        True
    """

    def __init__(self, config: ElasticConvConfig, validate: Callable[[Architecture], Architecture],
                 mixture: MixtureSpec):
        super().__init__(config, validate)
        routed = []
        for blocks in self.stages:
            for block in blocks:
                block.expand_conv = RoutedConv2d.adopt(block.expand_conv, mixture.experts)
                block.project_conv = RoutedConv2d.adopt(block.project_conv, mixture.experts)
                routed += [block.expand_conv, block.project_conv]
        if self.head_conv is not None:
            self.head_conv = RoutedConv2d.adopt(self.head_conv, mixture.experts)
            routed.append(self.head_conv)
        active = functools.partial(active_decisions, config.num_stages)
        self.attach_mixture(mixture, ArchitectureEncoder(space_decisions(config), active), routed)
