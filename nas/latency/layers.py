"""The layers a child network is made of, for a latency lookup table (as once-for-all's tables are).

A network is cut into *layers* by one rule that holds for the built-in spaces and most plugins: the root
module and plain containers (``nn.Sequential``, ``nn.ModuleList``, ``nn.ModuleDict``, exactly those types) are
opened, and so is a module that holds such a container (a NAS-Bench-201 cell holds its edges in a
``ModuleDict``); everything else is one layer: a NAS-Bench-201 edge op, an inverted-residual block, a
transformer block, a stem convolution, a classifier. One forward pass with hooks records which layers run, in
order, on which input shapes. A layer's *key* names its structure (type, ``repr``, every plain attribute of it
and its submodules) and its input shapes: two layers with one key cost the same, whichever child they are in.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch
from torch import nn

CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)


@dataclass(frozen=True)
class Layer:
    """One layer call of a network: its key, the module, and its inputs' shapes (batch first) and layouts."""

    key: str
    module: nn.Module
    shapes: tuple[tuple[int, ...], ...]
    channels_last: tuple[bool, ...]

    def inputs(self, batch_size: int, device: str | torch.device = "cpu") -> tuple[torch.Tensor, ...]:
        """Random inputs of this layer's shapes with ``batch_size`` as the first dimension."""
        made = []
        for shape, last in zip(self.shapes, self.channels_last):
            x = torch.randn(int(batch_size), *shape[1:], device=device)
            made.append(x.contiguous(memory_format=torch.channels_last) if last else x)
        return tuple(made)


def layer_modules(model: nn.Module) -> list[nn.Module]:
    """The modules the rule above makes layers of, in registration order (each once).

    Example:
        >>> net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Sequential(nn.ReLU(), nn.Flatten()))
        >>> [type(m).__name__ for m in layer_modules(net)]
        ['Conv2d', 'ReLU', 'Flatten']
    """
    found: list[nn.Module] = []

    def visit(module: nn.Module, root: bool) -> None:
        children = list(module.children())
        opened = root or type(module) in CONTAINERS or any(type(c) in CONTAINERS for c in children)
        if opened and children:
            for child in children:
                visit(child, False)
        elif all(module is not m for m in found):
            found.append(module)

    visit(model, True)
    return found


def _signature(module: nn.Module) -> str:
    parts = [repr(module)]
    for name, sub in module.named_modules():
        plain = {k: v for k, v in vars(sub).items()
                 if not k.startswith("_") and k != "training" and isinstance(v, (bool, int, float, str, tuple))}
        parts.append(f"{name}:{sorted(plain.items())}")
    return "\n".join(parts)


def layer_key(module: nn.Module, shapes: tuple[tuple[int, ...], ...], channels_last: tuple[bool, ...]) -> str:
    """``<Type>[<input shapes without batch>]#<hash of the structure and layouts>``, e.g. ``Conv2d[1x16x16]#...``."""
    dims = ",".join("x".join(str(d) for d in shape[1:]) for shape in shapes)
    digest = hashlib.sha1(f"{_signature(module)}|{shapes}|{channels_last}".encode()).hexdigest()[:12]
    return f"{type(module).__name__}[{dims}]#{digest}"


@torch.no_grad()
def decompose(model: nn.Module, example: torch.Tensor) -> list[Layer]:
    """The layer calls of one forward pass of ``model`` (eval mode) on ``example``, in the order they ran.

    Example:
        >>> net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(72, 3))
        >>> [layer.key.split("#")[0] for layer in decompose(net, torch.zeros(1, 1, 8, 8))]
        ['Conv2d[1x8x8]', 'ReLU[2x6x6]', 'Flatten[2x6x6]', 'Linear[72]']
    """
    calls: list[Layer] = []

    def record(module: nn.Module, args: tuple) -> None:
        tensors = [a for a in args if isinstance(a, torch.Tensor)]
        shapes = tuple(tuple(t.shape) for t in tensors)
        last = tuple(bool(t.dim() == 4 and not t.is_contiguous() and t.is_contiguous(memory_format=torch.channels_last))
                     for t in tensors)
        calls.append(Layer(layer_key(module, shapes, last), module, shapes, last))

    hooks = [m.register_forward_pre_hook(record) for m in layer_modules(model)]
    try:
        model.eval()(example)
    finally:
        for hook in hooks:
            hook.remove()
    return calls
