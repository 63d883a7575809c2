"""Multiply-accumulates of a network per example: of its convolutions, linear layers and attention products.

What is counted is what the built-in spaces count: every ``nn.Linear`` and ``nn.Conv1d/2d/3d`` (and the two
attention products of ``supernets.elastic.SelfAttention``); normalisation, activations and pooling are free.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from supernets.declared.module import DeclaredModule
from supernets.declared.sizes import Choose
from supernets.elastic import SelfAttention


def plain_macs(module: nn.Module, output: torch.Tensor) -> int | None:
    """MACs per example of one call of a plain layer that is counted, from its output; None for others."""
    if not isinstance(output, torch.Tensor) or output.dim() == 0:
        return None
    batch = output.shape[0]
    if isinstance(module, nn.Linear):
        return output.numel() // batch * module.in_features
    if isinstance(module, nn.modules.conv._ConvNd):
        return output.numel() // batch * (module.in_channels // module.groups) * math.prod(module.kernel_size)
    if isinstance(module, SelfAttention):  # qkv and proj are nn.Linear, counted on their own
        tokens = output.shape[1]
        return 2 * tokens * tokens * module.num_heads * module.head_dim
    return None


def counted(module: nn.Module) -> bool:
    return isinstance(module, (nn.Linear, nn.modules.conv._ConvNd, SelfAttention))


@torch.no_grad()
def measure_macs(model: nn.Module, x: torch.Tensor) -> int:
    """MACs per example of ``model`` on ``x``, measured by forward hooks on every counted layer.

    Example:
        >>> net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Flatten(), nn.Linear(4 * 8 * 8, 10))
        >>> measure_macs(net, torch.zeros(1, 1, 8, 8)) == 8 * 8 * 4 * 9 + 256 * 10
        True
    """
    total = 0

    def hook(module: nn.Module, inputs, output) -> None:
        nonlocal total
        total += plain_macs(module, output) or 0

    handles = [m.register_forward_hook(hook) for m in model.modules() if counted(m)]
    was_training = model.training
    try:
        model.eval()
        model(x)
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return int(total)


class CallRecorder:
    """Records, per module, what each call costs: positions (declared layers) or MACs (plain counted layers).

    Used while probing a supernet: if every probe records the same calls for a module, its MACs do not depend
    on the architecture beyond its declared sizes, and FLOPs can be computed without running anything.
    """

    def __init__(self, network: nn.Module):
        self.calls: dict[int, list[int]] = {}
        self._handles = []
        for module in network.modules():
            if isinstance(module, DeclaredModule) or counted(module):
                self._handles.append(module.register_forward_hook(self._hook))

    def _hook(self, module: nn.Module, inputs, output) -> None:
        value = module.positions(output) if isinstance(module, DeclaredModule) else plain_macs(module, output)
        self.calls.setdefault(id(module), []).append(int(value or 0))

    def take(self) -> dict[int, tuple[int, ...]]:
        calls, self.calls = {k: tuple(v) for k, v in self.calls.items()}, {}
        return calls

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()


def count_macs(module: nn.Module, choose: Choose, calls: Callable[[nn.Module], tuple[int, ...]],
               seen: set[int] | None = None) -> int:
    """MACs per example of the child that ``choose`` reads, from recorded calls (``calls(module)``): declared
    layers by their formulas at the active sizes, plain counted layers as recorded."""
    seen = set() if seen is None else seen
    if id(module) in seen:
        return 0
    seen.add(id(module))
    if isinstance(module, DeclaredModule):
        total, children = module.own_macs(choose, calls(module)), module.active_children(choose)
    else:
        total, children = (sum(calls(module)) if counted(module) else 0), list(module.children())
    return total + sum(count_macs(child, choose, calls, seen) for child in children)
