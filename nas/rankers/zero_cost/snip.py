"""SNIP (Lee et al. 2019), as a zero-cost proxy (Abdelfattah et al. 2021)."""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import nn

from nas.rankers.zero_cost.layers import Batch, weighted_layers


def snip(model: nn.Module, batches: Sequence[Batch]) -> float:
    """Sum over every conv/linear weight of ``|theta * dL/dtheta|`` (the loss's sensitivity to removing it).

    ``L`` is the cross-entropy, gradients accumulated over ``batches`` (each batch's mean loss),
    with the model in whatever mode it is (a fresh model trains: batch statistics).

    Example:
        >>> import torch
        >>> net = nn.Linear(2, 2, bias=False)
        >>> value = snip(net, [(torch.randn(4, 2), torch.tensor([0, 1, 0, 1]))])
        >>> value > 0.0
        True
    """
    model.zero_grad(set_to_none=True)
    for x, y in batches:
        F.cross_entropy(model(x), y).backward()
    total = 0.0
    for layer in weighted_layers(model):
        if layer.weight.grad is not None:
            total += float((layer.weight.detach() * layer.weight.grad).abs().sum())
    return total
