"""Fisher channel saliency (Theis et al. 2018; Turner et al. 2020), as a zero-cost proxy (Abdelfattah et al. 2021)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from nas.rankers.zero_cost.layers import Batch, weighted_layers


def _channel_terms(layer: nn.Module, activation: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """Per example and output channel: the activation times its gradient, summed over positions."""
    product = activation * grad
    if isinstance(layer, nn.Linear):  # channels last: (N, ..., out)
        return product.sum(dim=tuple(range(1, product.dim() - 1))) if product.dim() > 2 else product
    return product.sum(dim=tuple(range(2, product.dim())))  # convolutions: (N, C, ...)


def fisher(model: nn.Module, batches: Sequence[Batch]) -> float:
    """Sum over conv/linear layers and their output channels ``k`` of ``0.5 * mean_n(g_nk^2)``, where
    ``g_nk`` sums over positions the layer's output activation times the cross-entropy's gradient
    w.r.t. it, for example ``n``; each batch adds its term.

    As in the zero-cost-proxies authors' code, each channel's saliency counts once per weight of
    that channel (their per-parameter sum): a layer's channel term is multiplied by its weights per
    output channel (``weight[0].numel()``).

    Example:
        >>> net = nn.Linear(2, 1, bias=False)
        >>> with torch.no_grad():
        ...     _ = net.weight.copy_(torch.tensor([[1.0, 0.0]]))
        >>> x, y = torch.tensor([[2.0, 5.0]]), torch.tensor([0])
        >>> fisher(net, [(x, y)])  # one class: the loss is 0, so is its gradient
        0.0
    """
    layers = weighted_layers(model)
    totals: dict[int, torch.Tensor] = {}

    def forward_hook(layer: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        if not output.requires_grad:
            return
        activation = output.detach()

        def grad_hook(grad: torch.Tensor) -> None:
            term = 0.5 * _channel_terms(layer, activation, grad.detach()).pow(2).mean(0)
            totals[id(layer)] = totals[id(layer)] + term if id(layer) in totals else term

        output.register_hook(grad_hook)

    handles = [layer.register_forward_hook(forward_hook) for layer in layers]
    try:
        for x, y in batches:
            model.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
    finally:
        for handle in handles:
            handle.remove()
    return float(sum(float(totals[id(layer)].abs().sum()) * layer.weight[0].numel()
                     for layer in layers if id(layer) in totals))
