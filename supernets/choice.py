"""ChoiceOp: the shared-weight building block, one module per option."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from nas.errors import InvalidArchitectureError


class ChoiceOp(nn.Module):
    """Holds one module per option and runs the chosen one.

    Example:
        >>> op = ChoiceOp({"id": nn.Identity(), "double": nn.Linear(2, 2)})
        >>> op(torch.ones(1, 2), "id")
        tensor([[1., 1.]])
        >>> sorted(op.options)
        ['double', 'id']
    """

    def __init__(self, options: Mapping[str, nn.Module]):
        super().__init__()
        if not options:
            raise ValueError("ChoiceOp needs at least one option")
        self.ops = nn.ModuleDict(dict(options))

    @property
    def options(self) -> list[str]:
        return list(self.ops.keys())

    def forward(self, x: torch.Tensor, option: str) -> torch.Tensor:
        return self.op(option)(x)

    def op(self, option: str) -> nn.Module:
        try:
            return self.ops[option]
        except KeyError:
            raise InvalidArchitectureError(f"unknown option {option!r}; this choice has {self.options}") from None
