"""The weight-entangled supernet of the elastic ViT space (AutoFormer style)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import nn

from nas.architecture import Architecture, Option
from nas.errors import InvalidArchitectureError
from search_spaces.elastic_vit.architecture import DEPTH, EMBED, LayerPlan, heads_name, mlp_ratio_name, plan
from search_spaces.elastic_vit.architecture import decisions as space_decisions
from search_spaces.elastic_vit.config import ElasticViTConfig, hidden_features
from search_spaces.elastic_vit.network import TransformerBlock, ViT, init_token
from search_spaces.elastic_vit.superposition import superposed_forward
from supernets.base import Supernet
from supernets.elastic import ElasticConv2d, ElasticLayerNorm, ElasticLinear, ElasticMLP, ElasticSelfAttention
from supernets.relaxable import Relaxable


class ElasticTransformerBlock(nn.Module):
    """A pre-norm transformer layer at its largest size; a child picks heads and MLP hidden width
    (its embedding dim is the input's)."""

    def __init__(self, max_dim: int, max_heads: int, head_dim: int, max_hidden: int):
        super().__init__()
        self.norm1 = ElasticLayerNorm(max_dim)
        self.attn = ElasticSelfAttention(max_dim, max_heads, head_dim)
        self.norm2 = ElasticLayerNorm(max_dim)
        self.mlp = ElasticMLP(max_dim, max_hidden)

    def forward(self, x: torch.Tensor, num_heads: int, hidden_features: int) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), num_heads)
        return x + self.mlp(self.norm2(x), hidden_features)

    def export(self, dim: int, layer: LayerPlan) -> TransformerBlock:
        """A plain ``TransformerBlock`` with copies of the active weights."""
        return TransformerBlock(self.norm1.export(dim), self.attn.export(dim, layer.num_heads),
                                self.norm2.export(dim), self.mlp.export(dim, layer.hidden))


class ElasticViTSupernet(Supernet, Relaxable):
    """Every child of the elastic ViT space in one set of weights: memory of the largest child.

    A child of embedding dim ``e`` uses the first ``e`` features of every embedding, norm and
    projection, the first ``depth`` layers (deeper ones are skipped), and in layer ``i`` the
    first ``heads`` attention heads and ``round(e * mlp_ratio)`` MLP hidden units. ``validate`` is
    the space's ``SearchSpace.validate``, which ``subnet`` checks an architecture with.

    Example:
        >>> from search_spaces.elastic_vit import ElasticViTSearchSpace
        >>> space = ElasticViTSearchSpace(in_channels=1, input_size=16)
        >>> supernet = space.build_supernet().eval()
        >>> arch = space.sample(__import__("numpy").random.default_rng(0))
        >>> x = torch.randn(2, 1, 16, 16)
        >>> torch.allclose(supernet(x, arch), supernet.subnet(arch)(x), atol=1e-5)
        True
    """

    kind = "entangled"

    def __init__(self, config: ElasticViTConfig, validate: Callable[[Architecture], Architecture]):
        super().__init__()
        self.config = config
        self._validate = validate
        e = config.max_embed
        self.patch_embed = ElasticConv2d(config.in_channels, e, (config.patch_size,), config.patch_size, padding=0,
                                         bias=True)
        self.cls_token = nn.Parameter(init_token(torch.empty(1, 1, e)))
        self.pos_embed = nn.Parameter(init_token(torch.empty(1, config.tokens, e)))
        self.blocks = nn.ModuleList(
            ElasticTransformerBlock(e, config.max_heads, config.head_dim, config.max_hidden)
            for _ in range(config.max_depth))
        self.norm = ElasticLayerNorm(e)
        self.head = ElasticLinear(e, config.num_classes)
        self._names = tuple((heads_name(i), mlp_ratio_name(i)) for i in range(config.max_depth))

    def forward(self, x: torch.Tensor, arch: Architecture) -> torch.Tensor:
        e, depth = arch[EMBED], arch[DEPTH]
        if not 1 <= depth <= len(self.blocks):
            raise InvalidArchitectureError(f"depth {depth} is outside the stored range 1..{len(self.blocks)}")
        x = self.patch_embed(x, e).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token[..., :e].expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed[..., :e]
        for i in range(depth):  # (slicing the ModuleList would build a new module)
            heads_key, ratio_key = self._names[i]
            x = self.blocks[i](x, arch[heads_key], hidden_features(e, arch[ratio_key]))
        return self.head(self.norm(x)[:, 0])

    # -- the continuous relaxation (TangleNAS superposition, search_spaces.elastic_vit.superposition) ---------
    def relaxed_decisions(self) -> dict[str, tuple[Option, ...]]:
        return space_decisions(self.config)

    def forward_relaxed(self, x: torch.Tensor, weights: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """One forward of the largest child with every decision's options superposed by ``weights``."""
        return superposed_forward(self, x, weights)

    def make_architecture(self, choices: Mapping[str, Option]) -> Architecture:
        return self._validate(Architecture(choices))

    @torch.no_grad()
    def subnet(self, arch: Architecture) -> ViT:
        child = plan(self.config, self._validate(arch))
        e = child.embed_dim
        blocks = [self.blocks[layer.index].export(e, layer) for layer in child.layers]
        net = ViT(self.patch_embed.export(self.config.in_channels, e), self.cls_token[..., :e].clone(),
                  self.pos_embed[..., :e].clone(), blocks, self.norm.export(e), self.head.export(e))
        return net.train(self.training)
