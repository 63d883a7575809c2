"""TangleNAS superposition of the elastic conv supernet: every option of every decision in one forward.

Each layer runs once at its stored (largest) size. The global width multiplier masks every layer's output
channels (``prefix_mask``); a block's expand ratio and the width both size its hidden channels (the product
of their weights, ``coupled_prefix_mask``); the depthwise kernel is the weighted sum of the centre-aligned,
zero-padded candidate kernels (``superposed_kernel``); a stage's depth is the weighted sum of its candidate
exits; the residual is weighted by the widths at which the block has one. Every mask is folded into a weight
(a BatchNorm's affine parameters or the next layer's input channels), so the superposition keeps the activations a
single path of the largest child keeps plus one exit per stage. See ``supernets.superposition``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from search_spaces.elastic_conv.architecture import WIDTH, depth_name, expand_name, kernel_name
from supernets.superposition import (coupled_prefix_mask, last_needed, mixed_exits, prefix_mask, scaled_batch_norm,
                                     superposed_kernel)

if TYPE_CHECKING:
    from search_spaces.elastic_conv.supernet import ElasticConvSupernet, ElasticInvertedResidual


def _block(block: ElasticInvertedResidual, x: torch.Tensor, in_mask: torch.Tensor | None, in_sizes: list[int],
           out_sizes: list[int], width: torch.Tensor, kernel: torch.Tensor, expand: torch.Tensor,
           expand_ratios: tuple[int, ...]) -> torch.Tensor:
    """One inverted-residual block with superposed expand ratio, kernel and (coupled) width.

    ``x`` is masked to its width already, or ``in_mask`` is the mask still to apply (the stem's). Every mask is
    folded into a weight (see ``supernets.superposition``): the hidden mask after the expansion into the
    depthwise kernel, the one after the depthwise convolution into the projection's input channels, the output
    mask into the projection BatchNorm's affine parameters. The block's output is masked.
    """
    act = block._act
    mid_max = block.expand_conv.max_out_channels
    mid = coupled_prefix_mask([[c * e for e in expand_ratios] for c in in_sizes], width, expand, mid_max)
    h = act(block.expand_bn(block.expand_conv(x, mid_max, input_scale=in_mask)))
    dw = block.dw_conv
    weight = superposed_kernel(dw.kernel, dw.weight, kernel) * mid.view(-1, 1, 1, 1)
    h = F.conv2d(h, weight, None, dw.stride, dw.kernel.max_size // 2, 1, h.shape[1])
    h = act(block.dw_bn(h))
    out_max = block.project_conv.max_out_channels
    h = scaled_batch_norm(block.project_bn, block.project_conv(h, out_max, input_scale=mid),
                          prefix_mask(out_sizes, width, out_max))
    if block.stride != 1:
        return h
    residual = width.new_tensor([float(i == o) for i, o in zip(in_sizes, out_sizes)]) @ width
    scale = residual if in_mask is None else residual * in_mask
    res = x * (scale if scale.dim() == 0 else scale.view(1, -1, 1, 1))  # keeps x, which the expansion keeps
    if res.shape[1] != out_max:  # widths differ at the largest multiplier: align the input (zeros beyond it)
        res = F.pad(res, (0, 0, 0, 0, 0, out_max - res.shape[1])) if res.shape[1] < out_max else res[:, :out_max]
    return h + res


def superposed_forward(supernet: ElasticConvSupernet, x: torch.Tensor, weights: Mapping[str, torch.Tensor]
                       ) -> torch.Tensor:
    """Logits of the relaxed elastic conv supernet (``Relaxable.forward_relaxed``)."""
    config = supernet.config
    width = weights[WIDTH]
    per_width = [config.channels(w) for w in config.width_multipliers]  # (stem, stages, head) per option
    act = supernet._act
    stem_max = supernet.stem_conv.max_out_channels
    stem_sizes = [c[0] for c in per_width]
    x = act(supernet.stem_bn(supernet.stem_conv(x, stem_max).contiguous(memory_format=torch.channels_last)))
    in_mask: torch.Tensor | None = prefix_mask(stem_sizes, width, stem_max)  # folded into the first block
    in_sizes = stem_sizes
    for stage, blocks in enumerate(supernet.stages):
        out_sizes = [c[1][stage] for c in per_width]
        depth = weights[depth_name(stage)]
        candidates = last_needed(depth)  # depths beyond the last one of non-zero weight are not run
        exits = []
        for b in range(config.depths[candidates - 1]):
            x = _block(blocks[b], x, in_mask, in_sizes if b == 0 else out_sizes, out_sizes, width,
                       weights[kernel_name(stage, b)], weights[expand_name(stage, b)], config.expand_ratios)
            in_mask = None
            exits.append(x)
        x = mixed_exits([exits[d - 1] for d in config.depths[:candidates]], depth[:candidates])
        in_sizes = out_sizes
    if supernet.head_conv is not None:
        head_max = supernet.head_conv.max_out_channels
        x = act(supernet.head_bn(supernet.head_conv(x, head_max)))
        pooled = x.mean(dim=(2, 3)) * prefix_mask([c[2] for c in per_width], width, head_max)
        return supernet.classifier(pooled)
    return supernet.classifier(x.mean(dim=(2, 3)))
