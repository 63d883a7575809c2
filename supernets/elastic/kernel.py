"""Elastic kernel size: the centre crop of the largest kernel, optionally transformed (once-for-all)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from nas.errors import ConfigError
from supernets.elastic._checks import check_choice


def centre_crop(weight: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """The central ``kernel_size x kernel_size`` window of a ``(..., K, K)`` kernel (a view)."""
    full = weight.shape[-1]
    start = (full - kernel_size) // 2
    return weight[..., start : start + kernel_size, start : start + kernel_size]


def check_kernel_sizes(kernel_sizes: Sequence[int]) -> tuple[int, ...]:
    """Sorted, distinct, positive kernel sizes, odd when there are several (an even kernel has no
    centre to crop), or a ConfigError."""
    sizes = tuple(sorted({int(k) for k in kernel_sizes}))
    if not sizes or any(k < 1 for k in sizes) or (len(sizes) > 1 and any(k % 2 == 0 for k in sizes)):
        raise ConfigError(f"elastic kernel sizes must be positive integers, odd when there are several (a centre "
                          f"crop needs a centre), got {list(kernel_sizes)}")
    return sizes


class ElasticKernel(nn.Module):
    """Turns the stored largest kernel into the active one.

    Without a transform the active ``k x k`` kernel is the centre crop of the stored one. With
    ``transform=True`` (once-for-all's kernel transformation) every smaller size ``k`` owns a
    ``k^2 x k^2`` matrix, identity-initialised and shared by all channels of the layer; going
    from the largest size down, each step crops the centre of the previous (transformed) kernel
    and applies that size's matrix: 7 -> crop 5 -> transform -> crop 3 -> transform.

    Example:
        >>> kernel = ElasticKernel((3, 5), transform=True)
        >>> weight = torch.arange(25.0).view(1, 1, 5, 5)
        >>> kernel(weight, 3)  # identity transform at initialisation: the centre crop
        tensor([[[[ 6.,  7.,  8.],
                  [11., 12., 13.],
                  [16., 17., 18.]]]], grad_fn=<ViewBackward0>)
    """

    def __init__(self, kernel_sizes: Sequence[int], transform: bool = False):
        super().__init__()
        self.kernel_sizes = check_kernel_sizes(kernel_sizes)
        self.transform = bool(transform)
        self.matrices = nn.ParameterDict()
        if self.transform:
            for big, small in zip(self.kernel_sizes[:0:-1], self.kernel_sizes[-2::-1]):
                self.matrices[f"{big}to{small}"] = nn.Parameter(torch.eye(small * small))

    @property
    def max_size(self) -> int:
        return self.kernel_sizes[-1]

    def forward(self, weight: torch.Tensor, kernel_size: int) -> torch.Tensor:
        """The active ``(..., k, k)`` kernel from the stored ``(..., K, K)`` one."""
        if kernel_size == self.max_size:
            return weight
        check_choice(type(self).__name__, "kernel size", kernel_size, self.kernel_sizes)
        if not self.transform:
            return centre_crop(weight, kernel_size)
        lead = weight.shape[:-2]
        for big, small in zip(self.kernel_sizes[:0:-1], self.kernel_sizes[-2::-1]):
            cropped = centre_crop(weight, small).reshape(-1, small * small)
            weight = F.linear(cropped, self.matrices[f"{big}to{small}"]).view(*lead, small, small)
            if small == kernel_size:
                break
        return weight

    def extra_repr(self) -> str:
        return f"kernel_sizes={self.kernel_sizes}, transform={self.transform}"
