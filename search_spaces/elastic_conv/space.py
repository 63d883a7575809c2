"""ElasticConvSearchSpace: MobileNetV2/V3-style inverted-residual stages with elastic depth,
kernel, expand ratio and width (once-for-all, BigNAS)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from nas.architecture import Architecture, Option
from nas.search_space import SearchSpace
from search_spaces.elastic_conv.architecture import ElasticConvArchitecture, decisions, plan
from search_spaces.elastic_conv.config import ElasticConvConfig
from search_spaces.elastic_conv.network import ConvNet
from search_spaces.elastic_conv.mixture import MixtureConvSupernet
from search_spaces.elastic_conv.supernet import ElasticConvSupernet
from supernets.mixture import MixtureSpec


class ElasticConvSearchSpace(SearchSpace):
    """Elastic MobileNet-style space over a configurable skeleton (see ``ElasticConvConfig``).

    Decisions: ``stage{i}.depth`` (i from 1), ``stage{i}.block{j}.kernel`` and
    ``stage{i}.block{j}.expand`` (j from 0; blocks at or beyond the depth are inactive), and the
    global ``width`` multiplier. Options are ascending in cost, so ``largest()`` takes the last
    option of every decision and ``smallest()`` the first. The defaults fit Fashion-MNIST 16x16
    on a CPU once ``in_channels=1, input_size=16``; CIFAR/ImageNet sizes are a config away.
    Every op a child builds lies on its one input-to-output chain, so every op is live: the base
    class's ``live_decisions`` (all) and ``effective_cost`` (``== cost``) hold as they are.
    ``mixture`` (a ``supernets.mixture.MixtureSpec`` or a mapping of its keys; ``supernet=mos``) makes
    ``build_supernet()`` a Mixture-of-Supernets with routed experts on the pointwise convolutions; it changes
    no child: decisions, ``spec()``, costs and standalone models stay the same.

    Example:
        >>> space = ElasticConvSearchSpace(in_channels=1, input_size=16)
        >>> space.size
        20920706406
        >>> big = space.largest()
        >>> big["stage1.depth"], big["stage1.block0.kernel"], big["width"]
        (3, 7, 1.0)
        >>> space.params(big) == sum(p.numel() for p in space.build_model(big).parameters())
        True
    """

    architecture_cls = ElasticConvArchitecture
    name: ClassVar[str] = "elastic_conv"

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 10,
        input_size: int = 32,
        stem_channels: int = 16,
        stem_stride: int = 1,
        stage_channels: Sequence[int] = (16, 24, 32),
        stage_strides: Sequence[int] = (1, 2, 2),
        depths: Sequence[int] = (1, 2, 3),
        kernel_sizes: Sequence[int] = (3, 5, 7),
        expand_ratios: Sequence[int] = (2, 3, 4),
        width_multipliers: Sequence[float] = (0.75, 1.0),
        head_channels: int | None = None,
        channel_divisor: int = 4,
        activation: str = "relu6",
        kernel_transform: bool = False,
        mixture: MixtureSpec | Mapping | None = None,
    ):
        self.config = ElasticConvConfig(
            in_channels, num_classes, input_size, stem_channels, stem_stride, tuple(stage_channels),
            tuple(stage_strides), tuple(depths), tuple(kernel_sizes), tuple(expand_ratios),
            tuple(width_multipliers), head_channels, channel_divisor, activation, kernel_transform)
        self._decisions = decisions(self.config)
        self.mixture = MixtureSpec.coerce(mixture)

    @classmethod
    def from_config(cls, config: ElasticConvConfig) -> "ElasticConvSearchSpace":
        return cls(**{k: v for k, v in config.as_dict().items()})

    def spec(self) -> dict:
        return {"name": self.name, **self.config.as_dict()}

    @property
    def decisions(self) -> dict[str, tuple[Option, ...]]:
        return self._decisions

    def largest(self) -> Architecture:
        """Every decision at its largest option: the deepest, widest child with the biggest kernels."""
        return self.architecture_cls({name: max(options) for name, options in self.decisions.items()})

    def smallest(self) -> Architecture:
        """Every decision at its smallest option."""
        return self.architecture_cls({name: min(options) for name, options in self.decisions.items()})

    def build_supernet(self) -> ElasticConvSupernet:
        """The entangled supernet; with ``mixture`` (``supernet=mos``) its Mixture-of-Supernets
        (``MixtureConvSupernet``)."""
        if self.mixture is not None:
            return MixtureConvSupernet(self.config, self.validate, self.mixture)
        return ElasticConvSupernet(self.config, self.validate)

    def build_model(self, arch: Architecture) -> ConvNet:
        return ConvNet.build(self.config, plan(self.config, self.validate(arch)))

    def params(self, arch: Architecture) -> int:
        cfg, child = self.config, plan(self.config, self.validate(arch))
        total = cfg.in_channels * child.stem_channels * 9 + 2 * child.stem_channels
        for b in child.blocks:
            mid = b.mid_channels
            total += b.in_channels * mid + mid * b.kernel_size**2 + mid * b.out_channels + 4 * mid + 2 * b.out_channels
        if child.head_channels is not None:
            last = child.blocks[-1].out_channels
            total += last * child.head_channels + 2 * child.head_channels
        return total + child.features * cfg.num_classes + cfg.num_classes

    def flops(self, arch: Architecture) -> int:
        """Multiply-accumulates of the convolutions and the classifier for one input."""
        cfg, child = self.config, plan(self.config, self.validate(arch))
        total = child.stem_size**2 * cfg.in_channels * child.stem_channels * 9
        for b in child.blocks:
            mid = b.mid_channels
            total += b.in_size**2 * b.in_channels * mid
            total += b.out_size**2 * mid * (b.kernel_size**2 + b.out_channels)
        if child.head_channels is not None:
            total += child.final_size**2 * child.blocks[-1].out_channels * child.head_channels
        return total + child.features * cfg.num_classes
