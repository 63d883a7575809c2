"""Supernet: the module interface every weight-sharing supernet implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Literal

import torch
from torch import nn

from nas.architecture import Architecture, Option

SupernetKind = Literal["shared", "entangled"]


class Supernet(nn.Module, ABC):
    """A network that runs any child of its search space with inherited weights.

    ``forward(x, arch)`` runs exactly the child ``arch``; ``subnet(arch)`` exports that child
    as a plain standalone module (same outputs); ``option_parameters()`` says which parameters
    belong to which (decision, option), for importance sampling and gradient matching.
    ``kind`` is ``"shared"`` (one module per option) or ``"entangled"`` (options are slices).
    """

    kind: ClassVar[SupernetKind] = "shared"

    @abstractmethod
    def forward(self, x: torch.Tensor, arch: Architecture) -> torch.Tensor:  # noqa: D401
        """Logits of child ``arch`` on ``x``."""

    @abstractmethod
    def subnet(self, arch: Architecture) -> nn.Module:
        """A standalone ``nn.Module`` of ``arch`` holding copies of the inherited weights."""

    def option_parameters(self) -> dict[tuple[str, Option], list[nn.Parameter]]:
        """(decision, option) -> the parameters that only that option uses.

        Options without parameters (skip, pooling, none) map to an empty list.
        """
        raise NotImplementedError(
            f"{type(self).__name__} does not say which parameters belong to which option; "
            "samplers that need per-option parameters (importance sampling, gradient matching) cannot use it"
        )
