"""Jacobian covariance (Mellor et al. 2020, v1 of "Neural Architecture Search without Training")."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from nas.rankers.zero_cost.layers import Batch

EPSILON = 1e-5
"""``k`` of the score, as in the authors' code."""


def jacobian_score(jacobians: np.ndarray) -> float:
    """``-sum_i (log(v_i + k) + 1 / (v_i + k))`` over the eigenvalues ``v`` of the correlation matrix of
    the rows of ``jacobians`` (one flattened input-gradient per example); ``-inf`` when a row is constant.

    >>> round(jacobian_score(np.array([[1.0, 2.0, 3.0], [3.0, 1.0, 2.0]])), 3)
    -2.379
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = np.corrcoef(jacobians)
    if not np.all(np.isfinite(corr)):
        return -math.inf
    v = np.linalg.eigvalsh(corr)
    return float(-np.sum(np.log(v + EPSILON) + 1.0 / (v + EPSILON)))


def jacob_cov(model: nn.Module, batches: Sequence[Batch]) -> float:
    """:func:`jacobian_score` of the gradients of the summed outputs w.r.t. each input image (mean over batches).

    With the model in whatever mode it is (a fresh model trains, so BatchNorm couples the
    examples of a batch), as in the zero-cost-proxies authors' code. An output that does not depend
    on the input scores ``-inf``.

    Example:
        >>> net = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
        >>> score = jacob_cov(net, [(torch.randn(5, 4), torch.zeros(5))])
        >>> math.isfinite(score) and score < 0
        True
    """
    values = []
    for x, _ in batches:
        x = x.detach().clone().requires_grad_(True)
        out = model(x)
        out.backward(torch.ones_like(out))
        if x.grad is None:  # the output does not depend on the input (a disconnected network)
            return -math.inf
        values.append(jacobian_score(x.grad.reshape(x.shape[0], -1).double().numpy()))
    return sum(values) / len(values)
