"""The child of one architecture in a declared network: the plain module it is, its parameters, its decisions."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import torch
from torch import nn

from nas.architecture import Option
from supernets.declared.module import DeclaredModule
from supernets.declared.sizes import Choose


def outer_places(module: nn.Module) -> Iterator[DeclaredModule]:
    """The declared places of ``module`` that are not nested in another declared place."""
    for child in module.children():
        if isinstance(child, DeclaredModule):
            yield child
        else:
            yield from outer_places(child)


@torch.no_grad()
def export_module(module: nn.Module, choose: Choose, fresh: bool = False) -> nn.Module:
    """``module`` as a plain ``nn.Module`` for the architecture ``choose`` reads from.

    Plain modules are deep copies (weights, buffers, hooks, training mode); every declared place becomes what
    it exports (a Choice its chosen module, an elastic layer a torch layer with copies of the active slices,
    a Repeat an ``nn.Sequential`` of its active blocks), so the child's outputs equal the supernet's.
    ``fresh``: elastic layers get newly initialised weights of their own size (``build_model``).

    Example:
        >>> from supernets.declared import Choice
        >>> net = nn.Sequential(nn.Linear(2, 2), Choice("act", {"relu": nn.ReLU(), "tanh": nn.Tanh()}))
        >>> export_module(net, {"act": "tanh"}.__getitem__)
        Sequential(
          (0): Linear(in_features=2, out_features=2, bias=True)
          (1): Tanh()
        )
    """
    def export_child(child: nn.Module) -> nn.Module:
        return export_module(child, choose, fresh)

    if isinstance(module, DeclaredModule):
        return module.export(choose, export_child, fresh)
    memo = {id(place): place.export(choose, export_child, fresh) for place in outer_places(module)}
    return copy.deepcopy(module, memo)


def count_params(module: nn.Module, choose: Choose, seen: set[int] | None = None) -> int:
    """Parameters of ``module``'s child for the architecture ``choose`` reads from, from the declaration alone:
    plain modules' own tensors (each counted once), declared places' formulas. Equals
    ``sum(p.numel() for p in export_module(module, choose).parameters())``."""
    seen = set() if seen is None else seen
    if isinstance(module, DeclaredModule):
        total, children = module.own_params(choose), module.active_children(choose)
    else:
        total, children = 0, list(module.children())
        for param in module.parameters(recurse=False):
            if id(param) not in seen:
                seen.add(id(param))
                total += param.numel()
    return total + sum(count_params(child, choose, seen) for child in children)


def active_decisions(module: nn.Module, choose: Choose, found: set[str] | None = None) -> set[str]:
    """The decisions that the child of that architecture reads (decisions of blocks it skips, or of options it
    does not take, are not among them)."""
    found = set() if found is None else found
    if isinstance(module, DeclaredModule):
        found.update(module.decision_options())
        children = module.active_children(choose)
    else:
        children = list(module.children())
    for child in children:
        active_decisions(child, choose, found)
    return found


def chosen(arch) -> Choose:
    """The ``choose`` function of a mapping decision -> option."""
    def choose(decision: str) -> Option:
        return arch[decision]
    return choose
