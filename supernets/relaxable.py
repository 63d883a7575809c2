"""Relaxable: a supernet that also runs a continuous relaxation of its space (gradient-based search).

``forward_relaxed(x, weights)`` takes, for every decision of ``relaxed_decisions()``, a vector of option
weights (in the decision's option order) and computes the relaxed network: a shared supernet mixes the
options' outputs (``supernets.mixed``, DARTS), an entangled one superposes the options' weight slices into
its one stored weight per layer (``supernets.superposition``, TangleNAS). With one-hot weights it computes
exactly the child ``forward(x, arch)`` of those options. ``make_architecture`` turns one option per
decision into the space's ``Architecture`` (what ``subnet(arch)`` exports).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping

import torch

from nas.architecture import Architecture, Option


class Relaxable(ABC):
    """Mixin of a ``Supernet`` that gradient-based methods (DARTS, GDAS, DrNAS, RARTS, TangleNAS) can train."""

    @abstractmethod
    def relaxed_decisions(self) -> dict[str, tuple[Option, ...]]:
        """Decision name -> its options, in the order of the weight vectors ``forward_relaxed`` takes."""

    @abstractmethod
    def forward_relaxed(self, x: torch.Tensor, weights: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Logits of the relaxed network on ``x``; ``weights[decision]`` weighs that decision's options.

        An option whose weight is exactly 0 is not computed (its term would be 0, and so would its share of
        the gradient of a softmax): with GDAS' one-hot samples a step runs one option per decision.
        """

    @abstractmethod
    def make_architecture(self, choices: Mapping[str, Option]) -> Architecture:
        """The space's (validated) architecture of one option per decision."""


def is_relaxable(supernet: object) -> bool:
    """Whether ``supernet`` implements ``Relaxable``."""
    return isinstance(supernet, Relaxable)
