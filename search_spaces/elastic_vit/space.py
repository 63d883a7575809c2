"""ElasticViTSearchSpace: a small ViT with elastic depth, embedding dim, heads and MLP ratio
(AutoFormer)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from nas.architecture import Architecture, Option
from nas.search_space import SearchSpace
from search_spaces.elastic_vit.architecture import ElasticViTArchitecture, decisions, plan
from search_spaces.elastic_vit.config import ElasticViTConfig
from search_spaces.elastic_vit.network import ViT
from search_spaces.elastic_vit.mixture import MixtureViTSupernet
from search_spaces.elastic_vit.supernet import ElasticViTSupernet
from supernets.mixture import MixtureSpec


class ElasticViTSearchSpace(SearchSpace):
    """Elastic ViT space over a configurable skeleton (see ``ElasticViTConfig``).

    Decisions: ``depth``, ``embed_dim`` and, per layer ``i`` (from 0; layers at or beyond the
    depth are inactive), ``layer{i}.heads`` and ``layer{i}.mlp_ratio``. Options are ascending in
    cost: ``largest()`` takes the last option of every decision, ``smallest()`` the first.
    ``flops`` counts the multiply-accumulates of the patch embedding, every linear layer and the
    two attention products (``QK^T`` and ``AV``).
    Every op a child builds lies on its one input-to-output chain, so every op is live: the base
    class's ``live_decisions`` (all) and ``effective_cost`` (``== cost``) hold as they are.
    ``mixture`` (a ``supernets.mixture.MixtureSpec`` or a mapping of its keys; ``supernet=mos``) makes
    ``build_supernet()`` a Mixture-of-Supernets with routed experts on the MLP layers; it changes
    no child: decisions, ``spec()``, costs and standalone models stay the same.

    Example:
        >>> space = ElasticViTSearchSpace(in_channels=1, input_size=16)
        >>> space.size
        39366
        >>> space.params(space.largest()) == sum(p.numel() for p in space.build_model(space.largest()).parameters())
        True
    """

    architecture_cls = ElasticViTArchitecture
    name: ClassVar[str] = "elastic_vit"

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 10,
        input_size: int = 32,
        patch_size: int = 4,
        embed_dims: Sequence[int] = (48, 64),
        depths: Sequence[int] = (2, 3, 4),
        num_heads: Sequence[int] = (2, 3, 4),
        mlp_ratios: Sequence[float] = (2, 3, 4),
        head_dim: int = 16,
        mixture: MixtureSpec | Mapping | None = None,
    ):
        self.config = ElasticViTConfig(in_channels, num_classes, input_size, patch_size, tuple(embed_dims),
                                       tuple(depths), tuple(num_heads), tuple(mlp_ratios), head_dim)
        self._decisions = decisions(self.config)
        self.mixture = MixtureSpec.coerce(mixture)

    @classmethod
    def from_config(cls, config: ElasticViTConfig) -> "ElasticViTSearchSpace":
        return cls(**config.as_dict())

    def spec(self) -> dict:
        return {"name": self.name, **self.config.as_dict()}

    @property
    def decisions(self) -> dict[str, tuple[Option, ...]]:
        return self._decisions

    def largest(self) -> Architecture:
        """Every decision at its largest option: deepest, widest, most heads, widest MLPs."""
        return self.architecture_cls({name: max(options) for name, options in self.decisions.items()})

    def smallest(self) -> Architecture:
        """Every decision at its smallest option."""
        return self.architecture_cls({name: min(options) for name, options in self.decisions.items()})

    def build_supernet(self) -> ElasticViTSupernet:
        """The entangled supernet; with ``mixture`` (``supernet=mos``) its Mixture-of-Supernets
        (``MixtureViTSupernet``)."""
        if self.mixture is not None:
            return MixtureViTSupernet(self.config, self.validate, self.mixture)
        return ElasticViTSupernet(self.config, self.validate)

    def build_model(self, arch: Architecture) -> ViT:
        return ViT.build(self.config, plan(self.config, self.validate(arch)))

    def params(self, arch: Architecture) -> int:
        cfg, child = self.config, plan(self.config, self.validate(arch))
        e, d = child.embed_dim, cfg.head_dim
        total = (cfg.in_channels * cfg.patch_size**2 + 1) * e + e + cfg.tokens * e  # patches, cls, positions
        for layer in child.layers:
            inner, hidden = layer.num_heads * d, layer.hidden
            total += 4 * e + (e + 1) * 3 * inner + (inner + 1) * e + (e + 1) * hidden + (hidden + 1) * e
        return total + 2 * e + (e + 1) * cfg.num_classes

    def flops(self, arch: Architecture) -> int:
        """Multiply-accumulates of one forward pass of one input (see the class docstring)."""
        cfg, child = self.config, plan(self.config, self.validate(arch))
        e, d, t = child.embed_dim, cfg.head_dim, cfg.tokens
        total = cfg.num_patches * cfg.in_channels * cfg.patch_size**2 * e
        for layer in child.layers:
            inner = layer.num_heads * d
            total += t * (e * 3 * inner + inner * e + 2 * e * layer.hidden) + 2 * t * t * inner
        return total + e * cfg.num_classes
