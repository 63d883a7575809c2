"""The runnable examples in the docstrings of the elastic ops and spaces stay correct."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "supernets.elastic.kernel", "supernets.elastic.conv", "supernets.elastic.depthwise",
    "supernets.elastic.batchnorm", "supernets.elastic.linear", "supernets.elastic.layernorm",
    "supernets.elastic.mlp", "supernets.elastic.attention",
    "search_spaces.elastic_conv.architecture", "search_spaces.elastic_conv.network",
    "search_spaces.elastic_conv.supernet", "search_spaces.elastic_conv.space",
    "search_spaces.elastic_vit.architecture", "search_spaces.elastic_vit.network",
    "search_spaces.elastic_vit.supernet", "search_spaces.elastic_vit.space",
    "samplers.path.sandwich", "nas.losses",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 0, f"{name} has no runnable example"
