"""Gradient norm, as a zero-cost proxy (Abdelfattah et al. 2021)."""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import nn

from nas.rankers.zero_cost.layers import Batch, weighted_layers


def grad_norm(model: nn.Module, batches: Sequence[Batch]) -> float:
    """Sum over conv/linear layers of the Euclidean norm of the cross-entropy's gradient w.r.t. the weight.

    Gradients accumulate over ``batches`` (each batch's mean loss), as :func:`snip`'s do.

    Example:
        >>> import torch
        >>> net = nn.Linear(3, 2)
        >>> grad_norm(net, [(torch.randn(5, 3), torch.tensor([0, 1, 1, 0, 1]))]) > 0.0
        True
    """
    model.zero_grad(set_to_none=True)
    for x, y in batches:
        F.cross_entropy(model(x), y).backward()
    return float(sum(float(layer.weight.grad.norm()) for layer in weighted_layers(model)
                     if layer.weight.grad is not None))
