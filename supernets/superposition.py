"""TangleNAS superposition: the options of an entangled layer mixed inside its one stored weight.

An entangled supernet stores one weight per layer at its largest size; a child uses slices of it. Under a
continuous relaxation (``Relaxable.forward_relaxed``) the slices of all options are weighted and summed into
one tensor, so a step costs one forward of the largest layer whatever the number of options:

- kernel sizes: ``sum_k w_k * pad(kernel_k)``, each candidate kernel centre-aligned and zero-padded to the
  largest (``superposed_kernel``);
- channels / features / heads (prefix slices): zero-padding a weight's first ``c`` rows is multiplying the
  layer's output by the 0/1 mask of its first ``c`` channels, so the superposed layer is the full layer times
  ``sum_c w_c * 1[channel < c]`` (``prefix_mask``). The mask is applied after the layer's normalisation and
  activation: BatchNorm would divide a channel's scale out again;
- two decisions that slice the same dimension (a block's expand ratio times the global width) weigh each pair
  of options by the product of their weights (``coupled_prefix_mask``);
- depth: the weighted sum of the candidate exits (``mixed_exits``);
- LayerNorm over the first ``d`` features: the weighted sum of the candidates' normalisations, each
  zero-padded (``mixed_layer_norm``): elementwise, so as cheap as one.

With one-hot weights every helper returns exactly the chosen child's slice (zero-padded), which is why a
one-hot relaxed forward equals ``forward(x, arch)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from supernets.elastic.kernel import ElasticKernel
from supernets.elastic.layernorm import ElasticLayerNorm


def prefix_mask(sizes: Sequence[int], weights: torch.Tensor, length: int) -> torch.Tensor:
    """``mask[c] = sum_i weights[i] * 1[c < sizes[i]]`` for ``c < length``.

    Example:
        >>> prefix_mask([2, 4], torch.tensor([0.25, 0.75]), 5)
        tensor([1.0000, 1.0000, 0.7500, 0.7500, 0.0000])
    """
    positions = torch.arange(length, device=weights.device)
    indicator = torch.stack([positions < int(s) for s in sizes]).to(weights.dtype)  # (options, length)
    return weights @ indicator


def coupled_prefix_mask(sizes: Sequence[Sequence[int]], weights_a: torch.Tensor, weights_b: torch.Tensor,
                        length: int) -> torch.Tensor:
    """``mask[c] = sum_ij weights_a[i] * weights_b[j] * 1[c < sizes[i][j]]``: two decisions that size one dimension.

    Example:
        >>> coupled_prefix_mask([[1, 2], [2, 4]], torch.tensor([0.5, 0.5]), torch.tensor([0.0, 1.0]), 4)
        tensor([1.0000, 1.0000, 0.5000, 0.5000])
    """
    flat = [int(s) for row in sizes for s in row]
    joint = torch.outer(weights_a, weights_b).reshape(-1)
    return prefix_mask(flat, joint, length)


def superposed_kernel(kernel: ElasticKernel, weight: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``sum_k weights[k] * pad(kernel(weight, k))`` over ``kernel.kernel_sizes``, each centre-padded to the largest.

    Example:
        >>> kernel = ElasticKernel((1, 3))
        >>> w = torch.arange(9.0).view(1, 1, 3, 3)
        >>> superposed_kernel(kernel, w, torch.tensor([1.0, 0.0]))[0, 0]
        tensor([[0., 0., 0.],
                [0., 4., 0.],
                [0., 0., 0.]])
    """
    largest = kernel.max_size
    active = (weights != 0).tolist()
    total = None
    for i, size in enumerate(kernel.kernel_sizes):
        if not active[i]:
            continue
        pad = (largest - size) // 2
        part = weights[i] * F.pad(kernel(weight, size), [pad] * 4)
        total = part if total is None else total + part
    return total if total is not None else weight * 0.0


def mixed_layer_norm(norm: ElasticLayerNorm, x: torch.Tensor, dims: Sequence[int], weights: torch.Tensor
                     ) -> torch.Tensor:
    """``sum_d weights[d] * pad(LayerNorm_d(x[..., :d]))`` over the candidate widths ``dims`` of ``x``'s last axis."""
    width = x.shape[-1]
    active = (weights != 0).tolist()
    total = None
    for i, d in enumerate(dims):
        if not active[i]:
            continue
        part = weights[i] * F.pad(norm(x[..., : int(d)]), (0, width - int(d)))
        total = part if total is None else total + part
    return total if total is not None else x * 0.0


def mixed_exits(exits: Sequence[torch.Tensor], weights: torch.Tensor) -> torch.Tensor:
    """``sum_d weights[d] * exits[d]``: depth as the weighted sum of the candidate exits (zero weights skipped)."""
    active = (weights != 0).tolist()
    total = None
    for i, out in enumerate(exits):
        if active[i]:
            total = weights[i] * out if total is None else total + weights[i] * out
    return total if total is not None else exits[-1] * 0.0


def last_needed(weights: torch.Tensor) -> int:
    """The index of the last non-zero weight (+1): how many candidate exits a mixed depth needs computed."""
    nonzero = (weights != 0).nonzero()
    return int(nonzero.max()) + 1 if len(nonzero) else 1
