"""MixtureOfSupernets: an entangled supernet whose routed layers get architecture-specific weights."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import torch
from torch import nn

from nas.architecture import Architecture, Option
from nas.errors import ConfigError
from supernets.base import Supernet
from supernets.mixture.encoder import ArchitectureEncoder
from supernets.mixture.ops import RoutedConv2d, RoutedLinear
from supernets.mixture.router import Router
from supernets.mixture.spec import MixtureSpec

RoutedOp = RoutedLinear | RoutedConv2d


class MixtureOfSupernets(Supernet):
    """Mixture-of-Supernets (Jawahar et al., 2023) over a weight-entangled supernet: a mixin placed
    before the entangled supernet's class (``class MixtureViTSupernet(MixtureOfSupernets,
    ElasticViTSupernet)``).

    Its routed layers (``RoutedLinear`` / ``RoutedConv2d``, swapped in for the entangled ones by the
    subclass) hold ``experts`` full-size weights each, expert 0 being the entangled supernet's own.
    For a child ``arch`` the ``Router`` maps ``encoder(arch)`` to mixing weights ``alpha(arch)`` (per
    layer, or per output neuron), and the layer computes with ``sum_i alpha_i W_i``, sliced as the
    entangled op slices its weight. Children thus share weights only through the router and the
    experts. ``forward(x, arch)`` and ``subnet(arch)`` are the entangled supernet's, run inside
    ``routed(arch)``: ``subnet`` returns the space's plain standalone network holding the
    materialised routed weights. The continuous relaxation (``method=tanglenas`` and other
    bilevel methods) is refused: routing needs one architecture.

    The subclass builds the entangled supernet, swaps in its routed ops and calls
    ``attach_mixture(spec, encoder, routed_ops)``.

    Example:
        >>> from search_spaces.elastic_vit import ElasticViTSearchSpace
        >>> space = ElasticViTSearchSpace(in_channels=1, input_size=16,
        ...                               mixture=MixtureSpec(experts=4, router="layer", router_hidden=16))
        >>> supernet = space.build_supernet()
        >>> alphas = supernet.routing_weights(space.smallest())  # one (experts, 1) softmax per routed layer
        >>> len(alphas), tuple(alphas[0].shape), bool(torch.allclose(alphas[0].sum(0), torch.ones(1)))
        (8, (4, 1), True)
        >>> child = supernet.subnet(space.smallest())            # the plain ViT with the routed weights
        >>> type(child).__name__, child.blocks[0].mlp.fc1
        ('ViT', Linear(in_features=48, out_features=96, bias=True))
    """

    mixture: MixtureSpec
    encoder: ArchitectureEncoder
    router: Router

    def attach_mixture(self, spec: MixtureSpec, encoder: ArchitectureEncoder, routed: Sequence[RoutedOp]) -> None:
        """Builds the router over ``routed`` (in this order) and remembers the ops to route."""
        self.mixture = spec
        self.encoder = encoder
        self.router = Router(encoder.size, [op.max_outputs for op in routed], spec.experts, spec.router,
                             spec.router_hidden)
        self._routed: tuple[RoutedOp, ...] = tuple(routed)  # registered where they live; not a second time here

    @property
    def routed_ops(self) -> tuple[RoutedOp, ...]:
        """The routed layers, in the router's order."""
        return self._routed

    def routing_weights(self, arch: Architecture) -> tuple[torch.Tensor, ...]:
        """Per routed layer, the ``(experts, groups)`` mixing weights of ``arch`` (columns sum to 1)."""
        first = self.router.net[0].weight
        return self.router(self.encoder(arch, first.device, first.dtype))

    @contextmanager
    def routed(self, arch: Architecture) -> Iterator[tuple[torch.Tensor, ...]]:
        """Within the block, every routed op computes with ``arch``'s mixture of its experts."""
        alphas = self.routing_weights(arch)
        for op, alpha in zip(self._routed, alphas):
            op.routing = alpha
        try:
            yield alphas
        finally:
            for op in self._routed:
                op.routing = None

    def forward(self, x: torch.Tensor, arch: Architecture) -> torch.Tensor:
        with self.routed(arch):
            return super().forward(x, arch)

    @torch.no_grad()
    def subnet(self, arch: Architecture) -> nn.Module:
        with self.routed(arch):
            return super().subnet(arch)

    def expert_parameters(self) -> list[nn.Parameter]:
        """The experts beyond expert 0 (weights and biases) of every routed op."""
        return [p for op in self._routed for p in (op.experts, op.expert_bias) if p is not None]

    def relaxed_decisions(self) -> dict[str, tuple[Option, ...]]:
        raise ConfigError(_NO_RELAXATION)

    def forward_relaxed(self, x: torch.Tensor, weights: Mapping[str, torch.Tensor]) -> torch.Tensor:
        raise ConfigError(_NO_RELAXATION)


_NO_RELAXATION = ("a Mixture-of-Supernets routes the weights of one architecture, and the continuous relaxation "
                  "(method=darts | gdas | drnas | rarts | tanglenas) runs all of them at once: drop supernet=mos "
                  "(search_space.mixture=null), or train it with method=one_shot")
