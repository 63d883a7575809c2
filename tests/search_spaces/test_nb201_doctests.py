"""The runnable examples in the docstrings of the NAS-Bench-201 package run and print what they say."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["search_spaces.nb201.architecture", "search_spaces.nb201.canonical", "search_spaces.nb201.liveness",
           "search_spaces.nb201.network", "search_spaces.nb201.ops", "search_spaces.nb201.pooling",
           "search_spaces.nb201.space"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 0, f"{name} has no runnable example"
