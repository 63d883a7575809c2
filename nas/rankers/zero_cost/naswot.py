"""NASWOT: neural architecture search without training (Mellor et al. 2021)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from nas.errors import ConfigError
from nas.rankers.zero_cost.activations import ActivationCodes
from nas.rankers.zero_cost.layers import Batch


def activation_kernel(codes: Sequence[torch.Tensor]) -> torch.Tensor:
    """``K_H[i, j] = N_A - d_H(c_i, c_j)``: the number of the ``N_A`` rectifier units on which
    examples ``i`` and ``j`` agree (both on or both off), over every recorded layer.

    >>> activation_kernel([torch.tensor([[1.0, 0.0], [1.0, 1.0]])]).tolist()
    [[2.0, 1.0], [1.0, 2.0]]
    """
    total = None
    for c in codes:
        agree = c @ c.T + (1.0 - c) @ (1.0 - c).T
        total = agree if total is None else total + agree
    return total


def naswot(model: nn.Module, batches: Sequence[Batch]) -> float:
    """``log |K_H|`` of the binary activation-code kernel over a batch (mean over ``batches``).

    Codes are ``input > 0`` of every rectifier unit (see ``ActivationCodes``), with the model in
    whatever mode it is (a fresh model trains: batch statistics), as in the authors' code. A
    singular kernel (two examples with the same codes) scores ``-inf``.

    Example:
        >>> net = nn.Sequential(nn.Linear(3, 3, bias=False), nn.ReLU())
        >>> with torch.no_grad():
        ...     _ = net[0].weight.copy_(torch.eye(3))
        >>> round(naswot(net, [(torch.eye(3), torch.zeros(3))]), 6)  # K = [[3,1,1],[1,3,1],[1,1,3]]: det 20
        2.995732
    """
    values = []
    for x, _ in batches:
        with torch.no_grad(), ActivationCodes() as recorder:
            model(x)
        if not recorder.codes:
            raise ConfigError(f"NASWOT found no ReLU-like activation in {type(model).__name__}: it needs rectifier "
                              "units (nn.ReLU, torch.relu, ReLU6, ...); use another proxy for this space")
        sign, logdet = torch.linalg.slogdet(activation_kernel(recorder.codes))
        values.append(float(logdet) if float(sign) > 0 else float("-inf"))
    return sum(values) / len(values)
