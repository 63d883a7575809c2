"""The runnable examples in the docstrings of the training package and the samplers run and print what they say."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "nas.training.budget", "nas.training.feedback", "nas.training.hooks", "nas.training.execution",
    "nas.training.optimization", "nas.training.one_shot", "nas.training.loop", "nas.training.snapshots",
    "nas.training.bilevel", "nas.training.rarts", "nas.training.held_out",
    "samplers.path.uniform", "samplers.path.strict_fair", "samplers.path.cost_bucket", "samplers.path.pada",
    "samplers.data.uniform", "samplers.data.pada", "samplers.ramp",
    "nas.training.controller", "samplers.shrinking", "samplers.path.controller", "samplers.path.enas",
    "samplers.path.controller_analysis", "samplers.path.complexity_bins", "samplers.path.arch_generator",
    "samplers.path.shiftnas", "nas.training.distributed",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 0, f"{name} has no runnable example"
