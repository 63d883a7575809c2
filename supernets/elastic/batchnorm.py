"""ElasticBatchNorm2d: one BatchNorm whose first channels serve every narrower child (once-for-all)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from supernets.elastic._checks import check_size


class ElasticBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm over the first ``x.shape[1]`` channels of the largest one.

    The affine parameters and running statistics of a child are slices of the stored ones, and
    training updates only the active slice (channels beyond it keep their statistics). With
    ``momentum=None`` (the evaluator's BN recalibration) the running statistics are the exact
    cumulative average over the batches each channel has seen since ``reset_running_stats()``:
    ``channel_batches_tracked`` counts them per channel, so children of different widths never
    dilute each other's averages. ``num_batches_tracked`` counts forward passes, as in PyTorch.
    The per-channel counts are a recalibration aid, not state: they are not saved in
    ``state_dict()`` (whose keys are ``nn.BatchNorm2d``'s), so a cumulative average restarts at
    ``reset_running_stats()``, which is how momentum=None is used. Being a ``BatchNorm2d``, it is
    found, reset and restored by code that handles BatchNorm (the evaluator).

    Example:
        >>> bn = ElasticBatchNorm2d(8).train()
        >>> _ = bn(torch.randn(4, 5, 3, 3) + 2.0)
        >>> bool((bn.running_mean[:5] > 0.1).all()), bool((bn.running_mean[5:] == 0).all())
        (True, True)
        >>> plain = bn.eval().export(5)
        >>> x = torch.randn(2, 5, 3, 3)
        >>> torch.allclose(plain(x), bn(x))
        True
    """

    def __init__(self, max_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True):
        super().__init__(max_features, eps, momentum, affine, track_running_stats)
        if self.track_running_stats:
            self.register_buffer("channel_batches_tracked", torch.zeros(max_features, dtype=torch.long),
                                 persistent=False)
        else:
            self.register_buffer("channel_batches_tracked", None, persistent=False)

    def reset_running_stats(self) -> None:
        super().reset_running_stats()
        if getattr(self, "channel_batches_tracked", None) is not None:
            self.channel_batches_tracked.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = check_size(type(self).__name__, "channels", x.shape[1], self.num_features)
        weight = self.weight[:c] if self.weight is not None else None
        bias = self.bias[:c] if self.bias is not None else None
        if not self.track_running_stats:
            return F.batch_norm(x, None, None, weight, bias, True, 0.0, self.eps)
        if not self.training:
            return F.batch_norm(x, self.running_mean[:c], self.running_var[:c], weight, bias, False, 0.0,
                                self.eps)
        self.num_batches_tracked.add_(1)
        self.channel_batches_tracked[:c].add_(1)
        if self.momentum is not None:  # updates the slices in place, i.e. the active channels of the buffers
            return F.batch_norm(x, self.running_mean[:c], self.running_var[:c], weight, bias, True,
                                self.momentum, self.eps)
        out = F.batch_norm(x, None, None, weight, bias, True, 0.0, self.eps)
        with torch.no_grad():  # cumulative moving average, per channel
            dims = [0] + list(range(2, x.dim()))
            count = self.channel_batches_tracked[:c].to(self.running_mean.dtype)
            mean, var = x.mean(dims), x.var(dims, unbiased=True)
            self.running_mean[:c].add_((mean.to(count.dtype) - self.running_mean[:c]) / count)
            self.running_var[:c].add_((var.to(count.dtype) - self.running_var[:c]) / count)
        return out

    @torch.no_grad()
    def export(self, num_features: int) -> nn.BatchNorm2d:
        """A plain ``nn.BatchNorm2d`` with copies of the active parameters and running statistics."""
        c = check_size(type(self).__name__, "channels", num_features, self.num_features)
        ref = self.running_mean if self.running_mean is not None else self.weight
        bn = nn.BatchNorm2d(c, self.eps, self.momentum, self.affine, self.track_running_stats,
                            device=ref.device, dtype=ref.dtype)
        if self.affine:
            bn.weight.copy_(self.weight[:c])
            bn.bias.copy_(self.bias[:c])
        if self.track_running_stats:
            bn.running_mean.copy_(self.running_mean[:c])
            bn.running_var.copy_(self.running_var[:c])
            bn.num_batches_tracked.copy_(self.num_batches_tracked)
        bn.train(self.training)
        return bn
