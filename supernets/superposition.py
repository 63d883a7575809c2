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

**Memory.** A mask multiplied into an activation makes autograd keep that activation a second time (for the
mask's gradient), so the search spaces fold every mask into a weight instead: into the affine parameters of the
BatchNorm that precedes it (``scaled_batch_norm``: ``m * BN(x)`` is BN with affine ``m * gamma``, ``m * beta``)
or into the input columns of the layer that follows it (``conv(x * m, W) = conv(x, W * m)``). The weights of the
architecture then get their gradients through those small weight tensors. The candidate LayerNorms keep only
their input and are recomputed in the backward pass (``recomputed``); NAS-Bench-201's skip and pooling keep only
their input too (``search_spaces.nb201.entangled``). ``scripts/bench_memory.py`` measures what is left.
"""

from __future__ import annotations

from collections.abc import Sequence

from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from supernets.elastic.kernel import ElasticKernel
from supernets.elastic.layernorm import ElasticLayerNorm


class _Recomputed(torch.autograd.Function):
    """``fn(*inputs)`` that saves only its inputs and runs ``fn`` again in the backward pass."""

    @staticmethod
    def forward(ctx: Any, fn: Callable[..., torch.Tensor], *inputs: torch.Tensor | None) -> torch.Tensor:
        ctx.fn = fn
        ctx.save_for_backward(*inputs)
        return fn(*inputs)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        inputs = [t if t is None else t.detach().requires_grad_(t.requires_grad) for t in ctx.saved_tensors]
        wanted = [t for t in inputs if t is not None and t.requires_grad]
        with torch.enable_grad():
            out = ctx.fn(*inputs)
        grads = iter(torch.autograd.grad(out, wanted, grad, allow_unused=True) if wanted else ())
        return (None, *(next(grads) if t is not None and t.requires_grad else None for t in inputs))


def recomputed(fn: Callable[..., torch.Tensor], *inputs: torch.Tensor | None) -> torch.Tensor:
    """``fn(*inputs)``, keeping only ``inputs`` for the backward pass, which runs ``fn`` again.

    For cheap elementwise mixtures whose intermediate tensors would otherwise each be kept. ``fn`` must be
    deterministic, free of side effects (no BatchNorm in training mode) and take every tensor it differentiates
    through, parameters included, as an argument (``torch.utils.checkpoint`` does the same, but keeps its inputs
    out of sight of ``torch.autograd.graph.saved_tensors_hooks``, which is how the memory benchmark counts).

    Example:
        >>> x = torch.tensor([1.0, -2.0], requires_grad=True)
        >>> y = recomputed(lambda t: torch.relu(t) * 3.0, x)
        >>> y.sum().backward()
        >>> x.grad
        tensor([3., 0.])
    """
    if not torch.is_grad_enabled() or not any(t is not None and t.requires_grad for t in inputs):
        return fn(*inputs)
    return _Recomputed.apply(fn, *inputs)


def scaled_batch_norm(bn: nn.BatchNorm2d, x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``scale[c] * bn(x)[:, c]``, with ``scale`` folded into the affine parameters (``gamma``, ``beta``).

    The BatchNorm runs as its own ``forward`` (running statistics, momentum, elastic slicing unchanged); only its
    affine parameters are replaced for this call, so no second copy of its output is kept for ``scale``'s
    gradient. Without affine parameters ``scale`` becomes the weight. ``scale`` has ``bn.num_features``
    entries (or is a scalar).

    Example:
        >>> bn = nn.BatchNorm2d(2).train()
        >>> x = torch.randn(4, 2, 3, 3)
        >>> scale = torch.tensor([0.5, 0.0])
        >>> torch.allclose(scaled_batch_norm(bn, x, scale), nn.BatchNorm2d(2).train()(x) * scale.view(1, 2, 1, 1))
        True
    """
    scale = scale.expand(bn.num_features) if scale.dim() == 0 else scale
    if bn.weight is None:
        return functional_call(bn, {"weight": scale}, (x,))
    return functional_call(bn, {"weight": bn.weight * scale, "bias": bn.bias * scale}, (x,))


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
    """``sum_d weights[d] * pad(LayerNorm_d(x[..., :d]))`` over the candidate widths ``dims`` of ``x``'s last axis.

    Only ``x`` (and the small weights) are kept for the backward pass, which normalises again (``recomputed``).
    """
    width = x.shape[-1]
    active = (weights != 0).tolist()
    if not any(active):
        return x * 0.0

    def mix(x: torch.Tensor, weights: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        total = None
        for i, d in enumerate(dims):
            if not active[i]:
                continue
            d = int(d)
            part = weights[i] * F.pad(F.layer_norm(x[..., :d], (d,), gamma[:d], beta[:d], norm.eps), (0, width - d))
            total = part if total is None else total + part
        return total

    return recomputed(mix, x, weights, norm.weight, norm.bias)


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
