"""The runnable examples of the relaxation modules (weight maps, architecture parameters, mixed op, superposition)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["supernets.weight_maps", "supernets.architecture_parameters", "supernets.mixed", "supernets.superposition"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 0, f"{name} has no runnable example"
