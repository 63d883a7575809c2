"""Shared checks of the elastic-op tests."""

from __future__ import annotations

import torch
from torch import nn


def assert_grad_only_in(param: torch.Tensor, index: tuple) -> None:
    """``param.grad`` is nonzero somewhere inside ``param[index]`` and exactly zero outside it."""
    assert param.grad is not None
    inside = torch.zeros_like(param, dtype=torch.bool)
    inside[index] = True
    assert param.grad[inside].abs().sum() > 0
    assert torch.equal(param.grad[~inside], torch.zeros_like(param.grad[~inside]))


def assert_copied(exported: nn.Module, source: nn.Module) -> None:
    """No parameter or buffer of ``exported`` shares storage with ``source``."""
    source_ptrs = {t.untyped_storage().data_ptr() for t in [*source.parameters(), *source.buffers()]}
    for t in [*exported.parameters(), *exported.buffers()]:
        assert t.untyped_storage().data_ptr() not in source_ptrs
