"""The runnable examples in the docstrings of the Mixture-of-Supernets modules stay correct."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "supernets.mixture.spec", "supernets.mixture.encoder", "supernets.mixture.router", "supernets.mixture.ops",
    "supernets.mixture.supernet", "search_spaces.elastic_vit.mixture", "search_spaces.elastic_conv.mixture",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 0, f"{name} has no runnable example"
