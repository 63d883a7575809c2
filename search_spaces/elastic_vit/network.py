"""Standalone (plain) ViTs of the elastic ViT space: what ``build_model`` and ``subnet`` return."""

from __future__ import annotations

import torch
from torch import nn

from search_spaces.elastic_vit.architecture import ViTPlan
from search_spaces.elastic_vit.config import ElasticViTConfig
from supernets.elastic import MLP, SelfAttention


class TransformerBlock(nn.Module):
    """Pre-norm layer: ``x + attn(norm1(x))``, then ``x + mlp(norm2(x))``."""

    def __init__(self, norm1: nn.LayerNorm, attn: SelfAttention, norm2: nn.LayerNorm, mlp: MLP):
        super().__init__()
        self.norm1, self.attn, self.norm2, self.mlp = norm1, attn, norm2, mlp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    """Patch embedding, class token, position embedding, transformer layers, norm, classifier.

    Example:
        >>> from search_spaces.elastic_vit import ElasticViTSearchSpace
        >>> space = ElasticViTSearchSpace(in_channels=1, input_size=16)
        >>> space.build_model(space.smallest())(torch.zeros(2, 1, 16, 16)).shape
        torch.Size([2, 10])
    """

    def __init__(self, patch_embed: nn.Conv2d, cls_token: torch.Tensor, pos_embed: torch.Tensor,
                 blocks: list[TransformerBlock], norm: nn.LayerNorm, head: nn.Linear):
        super().__init__()
        self.patch_embed = patch_embed
        self.cls_token = nn.Parameter(cls_token)
        self.pos_embed = nn.Parameter(pos_embed)
        self.blocks = nn.Sequential(*blocks)
        self.norm, self.head = norm, head

    @classmethod
    def build(cls, config: ElasticViTConfig, plan: ViTPlan) -> "ViT":
        """A freshly initialised ViT of ``plan``."""
        e, p = plan.embed_dim, config.patch_size
        blocks = [TransformerBlock(nn.LayerNorm(e), SelfAttention.build(e, layer.num_heads, config.head_dim),
                                   nn.LayerNorm(e), MLP.build(e, layer.hidden)) for layer in plan.layers]
        return cls(nn.Conv2d(config.in_channels, e, p, p), init_token(torch.empty(1, 1, e)),
                   init_token(torch.empty(1, config.tokens, e)), blocks, nn.LayerNorm(e),
                   nn.Linear(e, config.num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        x = self.norm(self.blocks(x))
        return self.head(x[:, 0])


def init_token(tensor: torch.Tensor) -> torch.Tensor:
    """ViT's initialisation of class token and position embeddings: truncated normal, std 0.02."""
    return nn.init.trunc_normal_(tensor, std=0.02)
