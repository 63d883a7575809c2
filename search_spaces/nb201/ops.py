"""The five NAS-Bench-201 operations."""

from __future__ import annotations

import torch
from torch import nn

from nas.errors import InvalidArchitectureError
from search_spaces.nb201.pooling import AvgPool3x3

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
"""Operation names in NAS-Bench-201's own order and spelling."""


class ReLUConvBN(nn.Sequential):
    """ReLU -> Conv (no bias) -> BatchNorm, NAS-Bench-201's ``nor_conv`` block.

    ``affine`` and ``track_running_stats`` are the BatchNorm's (NAS-Bench-201's own search code turns
    them off in its supernet's ops); the defaults are the standalone networks'.
    """

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int = 1, padding: int = 0,
                 affine: bool = True, track_running_stats: bool = True):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out, affine=affine, track_running_stats=track_running_stats),
        )


def make_op(name: str, channels: int, affine: bool = True, track_running_stats: bool = True) -> nn.Module:
    """A fresh module for NAS-Bench-201 op ``name`` at ``channels`` channels (stride 1); ``affine`` and
    ``track_running_stats`` set the BatchNorm of the convolutions."""
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1, affine=affine, track_running_stats=track_running_stats)
    if name == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3, padding=1, affine=affine, track_running_stats=track_running_stats)
    if name == "avg_pool_3x3":
        return AvgPool3x3()
    if name == "none":
        raise ValueError("'none' has no module: cells leave its edge out (it contributes zeros)")
    raise InvalidArchitectureError(f"unknown NAS-Bench-201 op {name!r}; ops are {list(OPS)}")


def op_params(name: str, channels: int) -> int:
    """Trainable parameters of op ``name`` at ``channels`` channels."""
    if name == "nor_conv_1x1":
        return channels * channels + 2 * channels
    if name == "nor_conv_3x3":
        return 9 * channels * channels + 2 * channels
    return 0


def op_macs(name: str, channels: int, height: int, width: int) -> int:
    """Multiply-accumulates of op ``name`` on a ``channels x height x width`` input."""
    if name == "nor_conv_1x1":
        return height * width * channels * channels
    if name == "nor_conv_3x3":
        return height * width * channels * channels * 9
    return 0


def drop_path(x: torch.Tensor, p: float) -> torch.Tensor:
    """``x`` with each example (first dimension) zeroed with probability ``p``, the others scaled by 1/(1-p).

    DARTS' / ENAS' drop-path: one Bernoulli draw per example from the global torch generator of
    ``x``'s device (so a checkpoint's RNG state resumes it exactly); the expectation is ``x``.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> out = drop_path(torch.ones(6, 1, 1, 1), 0.5)
        >>> sorted(set(out.flatten().tolist()))
        [0.0, 2.0]
    """
    keep = 1.0 - p
    mask = torch.empty((x.shape[0],) + (1,) * (x.dim() - 1), dtype=x.dtype, device=x.device).bernoulli_(keep)
    return x * mask / keep


def zeros_like_node(x: torch.Tensor) -> torch.Tensor:
    """The value of a node none of whose incoming edges carries an op."""
    return torch.zeros_like(x)
