"""NB201EntangledSupernet: the NAS-Bench-201 cell with its 1x1 and 3x3 convolutions entangled (TangleNAS).

Every edge stores one ReLU-Conv3x3-BN; ``nor_conv_1x1`` is the centre tap of that 3x3 weight (and shares its
BatchNorm), ``nor_conv_3x3`` the whole weight; skip, average pooling and none hold no parameters. Under the
relaxation the two convolutions are one convolution with the superposed kernel ``w_1x1 * pad(centre) + w_3x3 *
W`` (``supernets.superposition.superposed_kernel``) scaled by ``w_1x1 + w_3x3``, plus the weighted skip and
pooling: a step costs one convolution per edge instead of two. One-hot weights are exactly the child.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
import torch.nn.functional as F

from nas.architecture import Architecture, Option
from search_spaces.nb201.architecture import EDGE_NAMES, NB201Architecture
from search_spaces.nb201.network import NB201Config, NB201Network, _Skeleton, cell_dag
from search_spaces.nb201.ops import OPS, ReLUConvBN
from search_spaces.nb201.pooling import AvgPool3x3, avg_pool_3x3, avg_pool_3x3_transposed, pool_runs_natively
from supernets.base import Supernet
from supernets.elastic.kernel import ElasticKernel
from supernets.relaxable import Relaxable
from supernets.superposition import scaled_batch_norm, superposed_kernel

_CONVS = ("nor_conv_1x1", "nor_conv_3x3")


class _SkipPoolMix(torch.autograd.Function):
    """``w_skip * x + w_pool * avgpool3x3(x)`` (either weight None: that term left out), keeping only ``x``.

    The pooling weight's gradient needs ``<g, pool(x)>``, which is ``<pool^T(g), x>``: the backward pass computes
    ``pool^T(g)`` for ``x``'s gradient anyway, so neither the pooled tensor is kept nor the pooling run again.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, w_skip: torch.Tensor | None, w_pool: torch.Tensor | None) -> torch.Tensor:
        ctx.save_for_backward(x, w_skip, w_pool)
        total = None
        if w_skip is not None:
            total = w_skip * x
        if w_pool is not None:
            pooled = w_pool * avg_pool_3x3(x)
            total = pooled if total is None else total + pooled
        return total

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, w_skip, w_pool = ctx.saved_tensors
        grad_x = grad_skip = grad_pool = None
        if w_skip is not None:
            grad_x = w_skip * grad
            if ctx.needs_input_grad[1]:
                grad_skip = (grad * x).sum().reshape(w_skip.shape)
        if w_pool is not None:
            pooled_grad = _avg_pool_transposed(grad, x)
            grad_x = w_pool * pooled_grad if grad_x is None else grad_x + w_pool * pooled_grad
            if ctx.needs_input_grad[2]:
                grad_pool = (pooled_grad * x).sum().reshape(w_pool.shape)
        return grad_x, grad_skip, grad_pool


class _ReLUConv3x3(torch.autograd.Function):
    """``conv2d(relu(x), weight, padding=1)`` that keeps ``x`` instead of ``relu(x)`` for the backward pass, where
    ``relu(x)`` is computed again (an elementwise clamp). The node ``x`` feeds every edge leaving it, so its edges
    keep one tensor between them instead of one ReLU output each; the same kernels run, so values and gradients are
    those of ReLU then ``conv2d``."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        return F.conv2d(torch.relu(x), weight, None, 1, 1)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        x, weight = ctx.saved_tensors
        grad_input, grad_weight, _ = torch.ops.aten.convolution_backward(
            grad, torch.relu(x), weight, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1,
            [ctx.needs_input_grad[0], ctx.needs_input_grad[1], False])
        if grad_input is not None:
            grad_input = torch.ops.aten.threshold_backward(grad_input, x, 0)  # ReLU's own backward kernel
        return grad_input, grad_weight


def _avg_pool_transposed(grad: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """pool^T(grad): the fast CPU adjoint, or PyTorch's own kernel where :func:`avg_pool_3x3` runs that."""
    if pool_runs_natively(x):
        return torch.ops.aten.avg_pool2d_backward(grad, x, [3, 3], [1, 1], [1, 1], False, False, None)
    return avg_pool_3x3_transposed(grad)


class EntangledEdge(nn.Module):
    """One edge: a ReLU-Conv3x3-BN whose centre tap is the 1x1 op, and the parameter-free ops."""

    def __init__(self, channels: int, bn_affine: bool = True, bn_track_running_stats: bool = True):
        super().__init__()
        self.conv = ReLUConvBN(channels, channels, 3, padding=1, affine=bn_affine,
                               track_running_stats=bn_track_running_stats)
        self.pool = AvgPool3x3()
        self.kernel = ElasticKernel((1, 3))

    def _conv(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return self.conv[2](_ReLUConv3x3.apply(x, weight))

    def forward(self, x: torch.Tensor, op: str) -> torch.Tensor | None:
        """The output of ``op`` (None for ``none``)."""
        if op == "nor_conv_3x3":
            return self._conv(x, self.conv[1].weight)
        if op == "nor_conv_1x1":
            return self._conv(x, F.pad(self.kernel(self.conv[1].weight, 1), [1] * 4))
        if op == "skip_connect":
            return x
        if op == "avg_pool_3x3":
            return self.pool(x)
        return None

    def forward_relaxed(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """``sum`` of the weighted parameter-free ops plus one convolution with the superposed kernel.

        Memory: the skip and pooling terms keep only ``x`` (``_SkipPoolMix``), the convolution keeps ``x`` instead
        of its ReLU output (``_ReLUConv3x3``, as in a single path of this supernet), and the convolutions' total
        weight ``w_1x1 + w_3x3`` scales the BatchNorm's affine parameters instead of its output, so the edge keeps
        what a single ``nor_conv_3x3`` of this supernet keeps.
        """
        w = dict(zip(OPS, weights))
        active = dict(zip(OPS, (weights != 0).tolist()))
        total = None
        if active["skip_connect"] or active["avg_pool_3x3"]:
            w_skip = w["skip_connect"] if active["skip_connect"] else None
            w_pool = w["avg_pool_3x3"] if active["avg_pool_3x3"] else None
            total = _SkipPoolMix.apply(x, w_skip, w_pool)
        if active["nor_conv_1x1"] or active["nor_conv_3x3"]:
            conv_weights = torch.stack([w["nor_conv_1x1"], w["nor_conv_3x3"]])
            kernel = superposed_kernel(self.kernel, self.conv[1].weight, conv_weights)
            out = scaled_batch_norm(self.conv[2], _ReLUConv3x3.apply(x, kernel), conv_weights.sum())
            total = out if total is None else total + out
        return total if total is not None else torch.zeros_like(x) * weights.sum()


class EntangledCell(nn.Module):
    def __init__(self, channels: int, bn_affine: bool = True, bn_track_running_stats: bool = True):
        super().__init__()
        self.edges = nn.ModuleDict({name: EntangledEdge(channels, bn_affine, bn_track_running_stats)
                                    for name in EDGE_NAMES})

    def forward(self, x: torch.Tensor, arch: Architecture | None = None,
                weights: Mapping[str, torch.Tensor] | None = None) -> torch.Tensor:
        return cell_dag(x, lambda name, node: self.edges[name](node, str(arch[name])) if weights is None
                        else self.edges[name].forward_relaxed(node, weights[name]))


class NB201EntangledSupernet(_Skeleton, Supernet, Relaxable):
    """The NAS-Bench-201 supernet with entangled convolutions (see the module docstring): ``kind="entangled"``.

    Example:
        >>> arch = NB201Architecture.from_string(
        ...     "|nor_conv_1x1~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|none~2|")
        >>> supernet = NB201EntangledSupernet(NB201Config(C=4, N=1, in_channels=1, input_size=8,
        ...                                               reduction="light")).eval()
        >>> x = torch.randn(2, 1, 8, 8)
        >>> torch.allclose(supernet(x, arch), supernet.subnet(arch).eval()(x), atol=1e-6)
        True
    """

    kind = "entangled"

    def __init__(self, config: NB201Config, bn_affine: bool = True, bn_track_running_stats: bool = True):
        super().__init__(config, lambda channels: EntangledCell(channels, bn_affine, bn_track_running_stats))
        self.bn_affine, self.bn_track_running_stats = bool(bn_affine), bool(bn_track_running_stats)

    def _run(self, x: torch.Tensor, arch: Architecture | None, weights: Mapping[str, torch.Tensor] | None
             ) -> torch.Tensor:
        x = self.stem(x)
        for layer, is_cell in zip(self.layers, self._is_cell):
            x = layer(x, arch, weights) if is_cell else layer(x)
        return self._head(x)

    def forward(self, x: torch.Tensor, arch: Architecture) -> torch.Tensor:
        return self._run(x, arch, None)

    def relaxed_decisions(self) -> dict[str, tuple[str, ...]]:
        return {name: OPS for name in EDGE_NAMES}

    def forward_relaxed(self, x: torch.Tensor, weights: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return self._run(x, None, weights)

    def make_architecture(self, choices: Mapping[str, Option]) -> Architecture:
        return NB201Architecture(choices)

    @torch.no_grad()
    def subnet(self, arch: Architecture) -> NB201Network:
        net = NB201Network(self.config, arch, self.bn_affine, self.bn_track_running_stats)
        state = {}
        for key, value in self.state_dict().items():
            parts = key.split(".")
            # layers.<i>.edges.<edge>.conv.<j>.<rest> -> layers.<i>.edges.<edge>.<j>.<rest> for a conv op
            if len(parts) > 5 and parts[0] == "layers" and parts[2] == "edges" and parts[4] == "conv":
                op = arch[parts[3]]
                if op not in _CONVS:
                    continue
                if parts[5] == "1" and parts[6] == "weight" and op == "nor_conv_1x1":
                    value = value[:, :, 1:2, 1:2]
                key = ".".join(parts[:4] + parts[5:])
            state[key] = value.detach().clone()
        net.load_state_dict(state, strict=True)
        net.train(self.training)
        return net.to(next(self.parameters()).device)
