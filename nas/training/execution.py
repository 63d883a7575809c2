"""Execution: where tensors live and how gradients are taken (device, mixed precision).

A training method runs its forward passes under ``autocast()``, back-propagates with ``backward``
and steps its optimizers with ``step``; it never touches the AMP gradient scaler itself. A
distributed execution (DDP under torchrun) is a subclass that wraps the same calls; what else a method
shares across ranks goes through ``world_size``, ``shard``, ``mean`` and ``average``, which are identities
in one process.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch

from nas.errors import ConfigError


def resolve_device(device: str) -> torch.device:
    """``"auto"`` is CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device={device!r} but CUDA is not available here: use device=cpu or device=auto")
    return torch.device(device)


class Execution:
    """One process on ``device``; with ``amp`` on CUDA, autocast to bfloat16 (or float16 with a gradient scaler).

    Example:
        >>> execution = Execution("cpu")
        >>> w = torch.ones(2, requires_grad=True)
        >>> opt = torch.optim.SGD([w], lr=0.5)
        >>> with execution.autocast():
        ...     loss = (w * w).sum()
        >>> execution.backward(loss); execution.unscale_(opt); execution.step(opt)
        >>> w.tolist()
        [0.0, 0.0]
    """

    def __init__(self, device: str = "auto", amp: bool = True):
        self.device = resolve_device(device)
        self.amp_dtype = self._amp_dtype(amp)
        self.scaler = torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None

    def _amp_dtype(self, amp: bool) -> torch.dtype | None:
        if not amp or self.device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16

    def autocast(self) -> AbstractContextManager:
        """Mixed precision for the forward pass (a no-op without AMP)."""
        return torch.autocast(self.device.type, self.amp_dtype) if self.amp_dtype else nullcontext()

    def backward(self, loss: torch.Tensor) -> None:
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def unscale_(self, optimizer: torch.optim.Optimizer) -> None:
        """Bring the gradients to their true scale (before measuring or clipping them)."""
        if self.scaler is not None:
            self.scaler.unscale_(optimizer)

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        if self.scaler is not None:
            self.scaler.step(optimizer)
            self.scaler.update()
        else:
            optimizer.step()

    # -- across ranks: identities in one process (``DistributedExecution`` reduces over the ranks) ------------
    @property
    def world_size(self) -> int:
        """How many ranks train together (a method's batch is this rank's 1 / world_size of the global batch)."""
        return 1

    def shard(self, indices: torch.Tensor) -> torch.Tensor:
        """This rank's contiguous share of a global batch's ``indices`` (all of them in one process)."""
        return indices

    def mean(self, values: Sequence[float]) -> list[float]:
        """The mean over the ranks of each of ``values`` (e.g. rewards measured on each rank's shard)."""
        return [float(v) for v in values]

    def average(self, tensors: Sequence[torch.Tensor | None], like: Sequence[torch.Tensor] | None = None
                ) -> list[torch.Tensor | None]:
        """``tensors`` (gradients taken outside an optimizer step) averaged over the ranks that hold them
        (``Distributed.average``); in one process, ``tensors`` as they are."""
        return list(tensors)

    def state_dict(self) -> dict[str, Any] | None:
        return self.scaler.state_dict() if self.scaler is not None else None

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        if self.scaler is not None and state is not None:
            self.scaler.load_state_dict(state)
