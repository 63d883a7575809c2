"""The runnable examples in the searchers' docstrings run and print what they say."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["base", "constraints", "random_search", "evolution", "constrained_evolution", "optuna_sampler",
           "optuna_storage", "optuna_search", "pareto", "epnas", "surrogate", "controller"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"nas.searchers.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    if name != "base":
        assert result.attempted > 0, f"nas.searchers.{name} has no runnable example"
