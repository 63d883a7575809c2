"""The runnable examples of the declared-space modules, of nas.space_checks and of docs/architecture.md stay correct."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

MODULES = ["supernets.declared.sizes", "supernets.declared.choice", "supernets.declared.repeat",
           "supernets.declared.layers", "supernets.declared.child", "supernets.declared.macs",
           "supernets.declared.supernet", "supernets.declared.space", "nas.space_checks", "nas.registry"]
DOCS = Path(__file__).resolve().parents[3] / "docs" / "architecture.md"


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 0, f"{name} has no runnable example"


def test_architecture_doc_examples():
    result = doctest.testfile(str(DOCS), module_relative=False, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted >= 8
