"""Atomic checkpoint files: never half-written, clear errors when unreadable."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nas.atomic import atomic_file

from nas.errors import CheckpointError


def save_atomic(obj: Any, path: str | Path) -> None:
    """``torch.save`` to a temporary file in the same folder, fsync, then rename over ``path``."""
    with atomic_file(path, "wb") as handle:
        torch.save(obj, handle)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint written by :func:`save_atomic`; a damaged file is a CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist: train first (`nas train`) or fix the path")
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:
        raise CheckpointError(
            f"checkpoint {path} is corrupt or unreadable ({type(exc).__name__}: {str(exc)[:200]}). "
            "Fix: delete it to start this run afresh, or point run_dir at another folder."
        ) from None
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {path} does not hold a state dict: delete it or fix the path")
    return state


def rng_state() -> dict[str, Any]:
    """Every global random state a run touches (python, numpy, torch, CUDA: every device's, and the current
    device's apart, which a rank of a torchrun job restores on its own device)."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
        state["cuda_current"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
        if "cuda_current" in state:  # rank 0 saved its device's state: every rank continues it on its own device
            torch.cuda.set_rng_state(state["cuda_current"])


def tensor_bytes(state: Any) -> int:
    """Bytes of the distinct tensor storages in ``state`` (nested dicts, lists and tuples): for a training
    checkpoint, what a run keeps between steps (weights, optimizer state, samplers).

    >>> w = torch.zeros(4)
    >>> tensor_bytes({"a": w, "b": [w, torch.zeros(2, dtype=torch.float64)], "c": 3})
    32
    """
    seen: dict[tuple[str, int], int] = {}
    stack = [state]
    while stack:
        item = stack.pop()
        if isinstance(item, torch.Tensor):
            storage = item.untyped_storage()
            seen[(str(item.device), storage.data_ptr())] = storage.nbytes()
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return sum(seen.values())
