"""Binary activation codes of rectifier units, recorded from any model (module or functional calls)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

RECTIFIERS = {
    F.relu, torch.relu, torch.relu_, torch.Tensor.relu, torch.Tensor.relu_, F.relu_,
    F.relu6, F.hardtanh, F.leaky_relu, F.gelu, F.hardswish, F.silu,
}
"""Functions whose units are "on" where their input is positive: ``nn.ReLU``, ``nn.ReLU6`` (via
``hardtanh`` from 0), ``torch.relu`` in a ``forward`` alike. GELU, hard-swish and SiLU are coded
by the same sign, an extension that NASWOT's paper (ReLU only) does not test."""


class ActivationCodes(TorchFunctionMode):
    """Inside the block, records for every rectifier call the code ``input > 0`` as (N, units) floats.

    Catches module and functional calls alike, each call once (``nn.ReLU`` calls ``F.relu``,
    which is recorded, not the ``torch.relu`` it calls in turn). ``hardtanh`` is recorded only
    when its lower bound is 0 (ReLU6).

    Example:
        >>> with ActivationCodes() as recorder:
        ...     _ = torch.nn.ReLU()(torch.tensor([[-1.0, 2.0]])) + torch.relu(torch.tensor([[3.0, -4.0]]))
        >>> [c.tolist() for c in recorder.codes]
        [[[0.0, 1.0]], [[1.0, 0.0]]]
    """

    def __init__(self) -> None:
        super().__init__()
        self.codes: list[torch.Tensor] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in RECTIFIERS and args and isinstance(args[0], torch.Tensor):
            if func is not F.hardtanh or float(args[1] if len(args) > 1 else kwargs.get("min_val", -1.0)) == 0.0:
                x = args[0].detach()
                self.codes.append((x > 0).reshape(x.shape[0], -1).to(torch.float64))
        return func(*args, **kwargs)
