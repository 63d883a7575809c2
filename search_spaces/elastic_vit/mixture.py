"""Mixture-of-Supernets on the elastic ViT supernet: the MLP layers (fc1, fc2 of every block) are routed."""

from __future__ import annotations

from collections.abc import Callable

from nas.architecture import Architecture
from search_spaces.elastic_vit.architecture import DEPTH, EMBED, heads_name, mlp_ratio_name
from search_spaces.elastic_vit.architecture import decisions as space_decisions
from search_spaces.elastic_vit.config import ElasticViTConfig
from search_spaces.elastic_vit.supernet import ElasticViTSupernet
from supernets.mixture import ArchitectureEncoder, MixtureOfSupernets, MixtureSpec, RoutedLinear


def active_decisions(arch: Architecture) -> set[str]:
    """Depth, embedding dim, and heads and MLP ratio of the layers within the depth."""
    depth = int(arch[DEPTH])
    return {DEPTH, EMBED} | {f(i) for i in range(depth) for f in (heads_name, mlp_ratio_name)}


class MixtureViTSupernet(MixtureOfSupernets, ElasticViTSupernet):
    """The elastic ViT supernet with architecture-routed experts on every block's MLP (``fc1``, ``fc2``).

    A child's MLP weights are ``sum_i alpha_i(arch) W_i`` (``alpha`` from the router: per layer, or per
    output neuron), then sliced to its embedding dim and hidden width; everything else is the entangled
    supernet's. Expert 0 of each layer is the entangled weight, so ``experts=1`` computes exactly what
    ``ElasticViTSupernet`` computes. Parameters: the entangled supernet's, plus ``(experts - 1) *
    (2 * max_embed * max_hidden + max_hidden + max_embed)`` per block, plus the router's.

    Example:
        >>> import torch
        >>> from search_spaces.elastic_vit import ElasticViTSearchSpace
        >>> space = ElasticViTSearchSpace(in_channels=1, input_size=16, mixture={"experts": 2, "router": "neuron"})
        >>> supernet = space.build_supernet().eval()
        >>> type(supernet).__name__, len(supernet.routed_ops)
        ('MixtureViTSupernet', 8)
        >>> arch = space.sample(__import__("numpy").random.default_rng(0))
        >>> x = torch.randn(2, 1, 16, 16)
        >>> torch.allclose(supernet(x, arch), supernet.subnet(arch)(x), atol=1e-5)
        True
    """

    def __init__(self, config: ElasticViTConfig, validate: Callable[[Architecture], Architecture],
                 mixture: MixtureSpec):
        super().__init__(config, validate)
        routed = []
        for block in self.blocks:
            block.mlp.fc1 = RoutedLinear.adopt(block.mlp.fc1, mixture.experts)
            block.mlp.fc2 = RoutedLinear.adopt(block.mlp.fc2, mixture.experts)
            routed += [block.mlp.fc1, block.mlp.fc2]
        self.attach_mixture(mixture, ArchitectureEncoder(space_decisions(config), active_decisions), routed)
