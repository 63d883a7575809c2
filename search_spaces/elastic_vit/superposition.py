"""TangleNAS superposition of the elastic ViT supernet: every option of every decision in one forward.

Every layer runs once at its stored (largest) size. The embedding dim masks every embedding, attention and
MLP output (``prefix_mask``) and mixes the LayerNorms (``mixed_layer_norm``); a layer's heads mask its
attention heads' outputs; its MLP ratio and the embedding dim size its hidden units together (the product of
their weights, ``coupled_prefix_mask``); depth is the weighted sum of the candidate exits. The masks scale
weights (the patch embedding's and projections' rows, the projections' input columns, the class and position
tokens), never activations, and the mixed LayerNorms keep only their input, so the superposition keeps about what
a single path of the largest child keeps. See ``supernets.superposition``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from search_spaces.elastic_vit.architecture import DEPTH, EMBED, heads_name, mlp_ratio_name
from search_spaces.elastic_vit.config import hidden_features
from supernets.elastic.attention import attend
from supernets.superposition import coupled_prefix_mask, last_needed, mixed_exits, mixed_layer_norm, prefix_mask

if TYPE_CHECKING:
    from search_spaces.elastic_vit.supernet import ElasticTransformerBlock, ElasticViTSupernet


def _layer(block: ElasticTransformerBlock, x: torch.Tensor, embed_mask: torch.Tensor, dims: tuple[int, ...],
           embed: torch.Tensor, heads: torch.Tensor, ratio: torch.Tensor, head_options: tuple[int, ...],
           ratios: tuple[float, ...]) -> torch.Tensor:
    """One transformer layer; the head, hidden and embedding masks scale the projections' weights."""
    attn, mlp = block.attn, block.mlp
    inner = attn.max_heads * attn.head_dim
    h = mixed_layer_norm(block.norm1, x, dims, embed)
    h = attend(attn.qkv(h, 3 * inner), attn.max_heads, attn.head_dim)
    head_mask = prefix_mask([n * attn.head_dim for n in head_options], heads, inner)
    x = x + attn.proj(h, x.shape[-1], input_scale=head_mask, output_scale=embed_mask)
    h = mixed_layer_norm(block.norm2, x, dims, embed)
    hidden_max = mlp.fc1.max_out_features
    hidden = coupled_prefix_mask([[hidden_features(e, r) for r in ratios] for e in dims], embed, ratio, hidden_max)
    h = F.gelu(mlp.fc1(h, hidden_max))
    return x + mlp.fc2(h, x.shape[-1], input_scale=hidden, output_scale=embed_mask)


def superposed_forward(supernet: ElasticViTSupernet, x: torch.Tensor, weights: Mapping[str, torch.Tensor]
                       ) -> torch.Tensor:
    """Logits of the relaxed elastic ViT supernet (``Relaxable.forward_relaxed``)."""
    config = supernet.config
    dims, embed, depth = config.embed_dims, weights[EMBED], weights[DEPTH]
    e_max = config.max_embed
    embed_mask = prefix_mask(dims, embed, e_max)
    x = supernet.patch_embed(x, e_max, output_scale=embed_mask).flatten(2).transpose(1, 2)
    cls_token = (supernet.cls_token * embed_mask).expand(x.shape[0], -1, -1)
    x = torch.cat([cls_token, x], dim=1) + supernet.pos_embed * embed_mask
    candidates = last_needed(depth)  # layers beyond the deepest candidate of non-zero weight are not run
    exits = []
    for i in range(config.depths[candidates - 1]):
        x = _layer(supernet.blocks[i], x, embed_mask, dims, embed, weights[heads_name(i)],
                   weights[mlp_ratio_name(i)], config.num_heads, config.mlp_ratios)
        exits.append(x)
    x = mixed_exits([exits[d - 1] for d in config.depths[:candidates]], depth[:candidates])
    return supernet.head(mixed_layer_norm(supernet.norm, x[:, 0], dims, embed))  # the class token only
