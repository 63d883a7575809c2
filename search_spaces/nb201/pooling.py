"""NAS-Bench-201's ``avg_pool_3x3`` (3x3 window, stride 1, zero padding left out of the count), fast on CPU.

PyTorch's CPU kernels for ``avg_pool2d`` and its backward took a third of a DARTS step on FMNIST-201. Here each
window is summed by nine shifted additions of whole (zero-padded) planes, in the row-major order in which PyTorch's
kernels sum a window, then divided by its count; the backward pass sums the gradient divided by the counts the same
way, in the order in which PyTorch's backward kernel accumulates it. The values and gradients are PyTorch's bit for
bit (float32 and float64), nothing is saved for the backward pass, and forward and backward together run 1.2-1.9x
faster (``scripts/bench_avg_pool.py``). On other devices, and where a graph is traced, scripted, compiled or exported
(TorchScript, ONNX), PyTorch's own ``avg_pool2d`` runs.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


CHUNK_BYTES = 512 * 1024
"""The planes are summed a chunk of about this many bytes at a time, which stays in a core's cache (on the 2-core
Xeon this was measured on, 512 KiB chunks ran 1.6x faster than one pass over a 2.6 MB batch)."""


def _window_sum_view(x: torch.Tensor) -> torch.Tensor:
    """:func:`window_sum_3x3` as a strided view of a padded buffer."""
    height, width = x.shape[-2:]
    padded_width = width + 2
    plane = (height + 2) * padded_width
    flat = F.pad(x, (1, 1, 1, 1)).reshape(-1)
    total = torch.empty_like(flat)
    step = plane * max(1, CHUNK_BYTES // (plane * flat.element_size()))
    for start in range(0, flat.numel(), step):
        n = min(step, flat.numel() - start) - 2 * padded_width - 2  # the last offset read stays in the chunk
        window = total[start:start + n]
        window.copy_(flat[start:start + n])
        for dy in range(3):
            for dx in range(3):
                if dy or dx:
                    offset = start + dy * padded_width + dx
                    window += flat[offset:offset + n]
    return total.view(*x.shape[:-2], height + 2, padded_width)[..., :height, :width]


def window_sum_3x3(x: torch.Tensor) -> torch.Tensor:
    """The sum of every 3x3 window of ``x``'s last two dimensions, zero padded (the same shape as ``x``), each
    window summed in row-major order: the order of PyTorch's CPU kernels, so the sums are theirs bit for bit.

    Every plane is zero padded and the planes laid end to end, so that each of the nine shifts is one offset into
    that flat buffer: nine contiguous additions over it (a cache-sized chunk of planes at a time), then the padding
    cropped off.

    >>> window_sum_3x3(torch.ones(1, 1, 3, 3))[0, 0]
    tensor([[4., 6., 4.],
            [6., 9., 6.],
            [4., 6., 4.]])
    """
    # contiguous, as PyTorch's kernels return their results: a strided view would make later reductions (a
    # BatchNorm's backward pass, a weight's gradient) sum in another order, and so round differently
    return _window_sum_view(x).contiguous()


_COUNTS: dict[tuple[int, int, torch.dtype, torch.device], torch.Tensor] = {}


def window_counts(height: int, width: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The number of in-image positions in each 3x3 window, an ``height x width`` tensor (cached).

    >>> window_counts(3, 2, torch.float64, torch.device("cpu"))
    tensor([[4., 4.],
            [6., 6.],
            [4., 4.]], dtype=torch.float64)
    """
    key = (height, width, dtype, device)
    if key not in _COUNTS:
        rows = torch.full((height,), 3.0, dtype=torch.float64)
        cols = torch.full((width,), 3.0, dtype=torch.float64)
        rows[0], cols[0] = rows[0] - 1, cols[0] - 1
        rows[-1], cols[-1] = rows[-1] - 1, cols[-1] - 1  # a single row or column: 1
        _COUNTS[key] = (rows[:, None] * cols[None, :]).to(dtype=dtype, device=device)
    return _COUNTS[key]


def avg_pool_3x3_transposed(grad: torch.Tensor) -> torch.Tensor:
    """The adjoint of :func:`avg_pool_3x3`: the gradient with respect to its input of ``<grad, avg_pool_3x3(x)>``."""
    return window_sum_3x3(grad / window_counts(*grad.shape[-2:], grad.dtype, grad.device))


class _AvgPool3x3(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        return _window_sum_view(x) / window_counts(*x.shape[-2:], x.dtype, x.device)  # a contiguous quotient

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        return avg_pool_3x3_transposed(grad)


def pool_runs_natively(x: torch.Tensor) -> bool:
    """Whether PyTorch's own kernel runs: off the CPU, and wherever a graph is traced, exported or compiled."""
    if torch.jit.is_tracing() or torch.jit.is_scripting() or torch.onnx.is_in_onnx_export() \
            or torch.compiler.is_compiling() or torch.compiler.is_exporting():
        return True
    channels_last = x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)
    return x.device.type != "cpu" or x.dim() < 2 or channels_last


def avg_pool_3x3(x: torch.Tensor) -> torch.Tensor:
    """``F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)``, computed as described above on CPU.

    >>> x = torch.randn(2, 3, 5, 4, dtype=torch.float64)
    >>> torch.allclose(avg_pool_3x3(x), F.avg_pool2d(x, 3, 1, 1, count_include_pad=False))
    True
    """
    if pool_runs_natively(x):
        return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
    return _AvgPool3x3.apply(x)


class AvgPool3x3(nn.Module):
    """NAS-Bench-201's ``avg_pool_3x3`` op as a module (:func:`avg_pool_3x3`); no parameters, no state.

    Example:
        >>> AvgPool3x3()(torch.ones(1, 2, 4, 4)).shape
        torch.Size([1, 2, 4, 4])
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return avg_pool_3x3(x)
