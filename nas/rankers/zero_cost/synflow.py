"""SynFlow (Tanaka et al. 2020), as a zero-cost proxy (Abdelfattah et al. 2021)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from nas.rankers.zero_cost.layers import Batch, batchnorm_as_identity, weighted_layers


def synflow(model: nn.Module, batches: Sequence[Batch]) -> float:
    """Sum over every conv/linear weight of ``|theta * dR/dtheta|``, where ``R`` is the sum of the outputs
    of the network with all parameters replaced by their absolute values, on one all-ones input.

    As the zero-cost-proxies authors compute it: in double precision, with BatchNorm switched off
    (an identity), on an input of one image's shape (taken from ``batches``; the data is not used).
    The model is consumed (its parameters become absolute values in float64): pass a fresh one.

    Example:
        >>> net = nn.Sequential(nn.Linear(1, 1, bias=False))
        >>> with torch.no_grad():
        ...     _ = net[0].weight.fill_(-3.0)
        >>> synflow(net, [(torch.zeros(1, 1), torch.zeros(1))])   # |w| * d(|w| * 1)/dw = 3 * 1
        3.0
    """
    shape = tuple(batches[0][0].shape[1:])
    model.double()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.abs_()
    model.zero_grad(set_to_none=True)
    with batchnorm_as_identity(model):
        model(torch.ones((1, *shape), dtype=torch.float64)).sum().backward()
    total = 0.0
    for layer in weighted_layers(model):
        if layer.weight.grad is not None:
            total += float((layer.weight.detach() * layer.weight.grad).abs().sum())
    return total
