"""StepFeedback: what the trainer measured in one step, for the participants that asked for it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch

from nas.architecture import Architecture, Option
from nas.errors import ConfigError

MEASUREMENTS: dict[str, str] = {
    "losses": "the loss of each child of the step (floats, in the order of archs)",
    "option_grad_norms": "(decision, option) -> L2 norm of the gradient of that option's own parameters, before "
                         "clipping, for the options whose parameters got a gradient",
    "logits": "each child's logits on the batch (detached, in the order of archs)",
    "example_losses": "each child's per-example cross-entropy on the labels (detached, unweighted)",
}
"""The measurements a participant can declare in ``needs``, and what each holds."""


@dataclass(frozen=True)
class StepFeedback:
    """One training step as the trainer saw it.

    ``step``, ``archs`` (the children trained), ``indices`` (the batch's example indices) and ``labels``
    are always there. Each measurement of ``MEASUREMENTS`` is filled only for a participant whose
    ``needs`` names it (``None`` otherwise): the trainer computes nothing nobody asked for, and every
    participant receives only what it declared (``restricted``).

    Example:
        >>> feedback = StepFeedback(3, [], losses=[0.5], option_grad_norms={("1<-0", "nor_conv_3x3"): 2.0})
        >>> view = feedback.restricted({"option_grad_norms"})
        >>> view.losses is None, view.option_grad_norms
        (True, {('1<-0', 'nor_conv_3x3'): 2.0})
    """

    step: int
    archs: list[Architecture]
    indices: torch.Tensor | None = None
    labels: torch.Tensor | None = None
    losses: list[float] | None = None
    option_grad_norms: dict[tuple[str, Option], float] | None = None
    logits: list[torch.Tensor] | None = None
    example_losses: list[torch.Tensor] | None = None

    def restricted(self, needs: Iterable[str]) -> StepFeedback:
        """This feedback with every measurement outside ``needs`` set to ``None``."""
        keep = set(needs)
        return dataclasses.replace(self, **{name: None for name in MEASUREMENTS if name not in keep})


def check_needs(owner: Any) -> frozenset[str]:
    """``owner.needs`` as a frozenset, refused with one clear line when it names an unknown measurement."""
    needs = frozenset(getattr(owner, "needs", frozenset()))
    unknown = sorted(needs - MEASUREMENTS.keys())
    if unknown:
        raise ConfigError(f"{type(owner).__name__} needs {unknown}, which the trainer does not measure; "
                          f"it measures {sorted(MEASUREMENTS)}")
    return needs
