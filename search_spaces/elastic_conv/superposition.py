"""TangleNAS superposition of the elastic conv supernet: every option of every decision in one forward.

Each layer runs once at its stored (largest) size. The global width multiplier masks every layer's output
channels (``prefix_mask``); a block's expand ratio and the width both size its hidden channels (the product
of their weights, ``coupled_prefix_mask``); the depthwise kernel is the weighted sum of the centre-aligned,
zero-padded candidate kernels (``superposed_kernel``); a stage's depth is the weighted sum of its candidate
exits; the residual is weighted by the widths at which the block has one. See ``supernets.superposition``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from search_spaces.elastic_conv.architecture import WIDTH, depth_name, expand_name, kernel_name
from supernets.superposition import coupled_prefix_mask, last_needed, mixed_exits, prefix_mask, superposed_kernel

if TYPE_CHECKING:
    from search_spaces.elastic_conv.supernet import ElasticConvSupernet, ElasticInvertedResidual


def _channel_mask(mask: torch.Tensor) -> torch.Tensor:
    return mask.view(1, -1, 1, 1)


def _block(block: ElasticInvertedResidual, x: torch.Tensor, in_sizes: list[int], out_sizes: list[int],
           width: torch.Tensor, kernel: torch.Tensor, expand: torch.Tensor, expand_ratios: tuple[int, ...]
           ) -> torch.Tensor:
    """One inverted-residual block with superposed expand ratio, kernel and (coupled) width."""
    act = block._act
    mid_max = block.expand_conv.max_out_channels
    mid = _channel_mask(coupled_prefix_mask([[c * e for e in expand_ratios] for c in in_sizes], width, expand,
                                            mid_max))
    h = act(block.expand_bn(block.expand_conv(x, mid_max))) * mid
    dw = block.dw_conv
    weight = superposed_kernel(dw.kernel, dw.weight, kernel)
    h = F.conv2d(h, weight, None, dw.stride, dw.kernel.max_size // 2, 1, h.shape[1])
    h = act(block.dw_bn(h)) * mid
    out_max = block.project_conv.max_out_channels
    h = block.project_bn(block.project_conv(h, out_max)) * _channel_mask(prefix_mask(out_sizes, width, out_max))
    if block.stride != 1:
        return h
    residual = width.new_tensor([float(i == o) for i, o in zip(in_sizes, out_sizes)]) @ width
    if x.shape[1] != out_max:  # widths differ at the largest multiplier: align the input (zeros beyond it)
        x = F.pad(x, (0, 0, 0, 0, 0, out_max - x.shape[1])) if x.shape[1] < out_max else x[:, :out_max]
    return h + residual * x


def superposed_forward(supernet: ElasticConvSupernet, x: torch.Tensor, weights: Mapping[str, torch.Tensor]
                       ) -> torch.Tensor:
    """Logits of the relaxed elastic conv supernet (``Relaxable.forward_relaxed``)."""
    config = supernet.config
    width = weights[WIDTH]
    per_width = [config.channels(w) for w in config.width_multipliers]  # (stem, stages, head) per option
    act = supernet._act
    stem_max = supernet.stem_conv.max_out_channels
    stem_sizes = [c[0] for c in per_width]
    x = supernet.stem_bn(supernet.stem_conv(x, stem_max).contiguous(memory_format=torch.channels_last))
    x = act(x) * _channel_mask(prefix_mask(stem_sizes, width, stem_max))
    in_sizes = stem_sizes
    for stage, blocks in enumerate(supernet.stages):
        out_sizes = [c[1][stage] for c in per_width]
        depth = weights[depth_name(stage)]
        candidates = last_needed(depth)  # depths beyond the last one of non-zero weight are not run
        exits = []
        for b in range(config.depths[candidates - 1]):
            x = _block(blocks[b], x, in_sizes if b == 0 else out_sizes, out_sizes, width,
                       weights[kernel_name(stage, b)], weights[expand_name(stage, b)], config.expand_ratios)
            exits.append(x)
        x = mixed_exits([exits[d - 1] for d in config.depths[:candidates]], depth[:candidates])
        in_sizes = out_sizes
    if supernet.head_conv is not None:
        head_max = supernet.head_conv.max_out_channels
        x = act(supernet.head_bn(supernet.head_conv(x, head_max)))
        x = x * _channel_mask(prefix_mask([c[2] for c in per_width], width, head_max))
    return supernet.classifier(x.mean(dim=(2, 3)))
