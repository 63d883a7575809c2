"""The mixed operation of a shared-weight supernet: the weighted sum of the options' outputs (DARTS)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from nas.architecture import Option
from supernets.choice import ChoiceOp


def mixed_output(choice: ChoiceOp, x: torch.Tensor, options: Sequence[Option], weights: torch.Tensor
                 ) -> torch.Tensor:
    """``sum_i weights[i] * op_i(x)`` over ``options`` (in the order of ``weights``).

    An option that ``choice`` holds no module for (NAS-Bench-201's ``none``) contributes zeros, and an
    option of weight exactly 0 is not run: its term is 0 and so is its share of a softmax's gradient, so
    one-hot weights (GDAS' samples) run one option, and a one-hot mix equals the chosen op.

    Example:
        >>> from torch import nn
        >>> choice = ChoiceOp({"skip": nn.Identity(), "scale": nn.Linear(1, 1, bias=False)})
        >>> with torch.no_grad():
        ...     _ = choice.op("scale").weight.fill_(2.0)
        >>> x = torch.ones(1, 1)
        >>> mixed_output(choice, x, ("none", "skip", "scale"), torch.tensor([0.5, 0.25, 0.25]))
        tensor([[0.7500]], grad_fn=<AddBackward0>)
    """
    if len(options) != weights.shape[-1]:
        raise ValueError(f"{len(options)} options but {weights.shape[-1]} weights")
    active = (weights != 0).tolist()  # one device sync per decision, not one per option
    total = None
    for i, option in enumerate(options):
        if not active[i] or option not in choice.ops:
            continue
        out = weights[i] * choice.ops[str(option)](x)
        total = out if total is None else total + out
    return total if total is not None else torch.zeros_like(x) * weights.sum()
