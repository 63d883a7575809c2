"""Architecture: immutability, value semantics, text/JSON forms, errors."""

from __future__ import annotations

import json
import pickle

import pytest

from nas.architecture import Architecture
from nas.errors import InvalidArchitectureError

MIXED = {"op": "conv3x3", "depth": 3, "ratio": 0.25, "skip": True, "act": "relu", "bn": False}


# -- immutability ------------------------------------------------------------------------------------
def test_setattr_raises_and_leaves_the_architecture_unchanged():
    arch = Architecture({"depth": 3})
    with pytest.raises(AttributeError, match="immutable"):
        arch.depth = 4
    with pytest.raises(AttributeError, match="immutable"):
        arch._choices = {"depth": 4}
    with pytest.raises(TypeError):
        arch["depth"] = 4  # type: ignore[index]
    assert arch["depth"] == 3
    assert dict(arch) == {"depth": 3}


def test_changing_the_source_dict_does_not_change_the_architecture():
    source = {"depth": 3}
    arch = Architecture(source)
    source["depth"] = 9
    arch.to_dict()["depth"] = 7
    assert arch["depth"] == 3


def test_mapping_interface_and_unknown_key_message():
    arch = Architecture([("depth", 3), ("kernel", 5)])
    assert len(arch) == 2
    assert list(arch) == ["depth", "kernel"]
    assert arch["kernel"] == 5
    with pytest.raises(KeyError, match="width"):
        arch["width"]


# -- hashing / equality -----------------------------------------------------------------------------
def test_equality_and_hash_ignore_dict_order():
    a = Architecture({"depth": 3, "kernel": 5, "act": "relu"})
    b = Architecture({"act": "relu", "kernel": 5, "depth": 3})
    assert a == b
    assert hash(a) == hash(b)
    assert a != Architecture({"depth": 3, "kernel": 7, "act": "relu"})
    assert a != Architecture({"depth": 3, "kernel": 5})
    assert (a == {"depth": 3, "kernel": 5, "act": "relu"}) is False  # not equal to a plain dict


def test_usable_as_dict_keys_and_in_sets():
    a = Architecture({"depth": 3, "kernel": 5})
    b = Architecture({"kernel": 5, "depth": 3})
    c = Architecture({"depth": 4, "kernel": 5})
    assert len({a, b, c}) == 2
    cache = {a: 0.9}
    assert cache[b] == 0.9
    assert c not in cache
    cache[b] = 0.8
    assert cache == {a: 0.8}


def test_subclass_with_same_choices_is_equal():
    class Sub(Architecture):
        __slots__ = ()

    assert Sub({"x": 1}) == Architecture({"x": 1})
    assert hash(Sub({"x": 1})) == hash(Architecture({"x": 1}))


# -- text forms -----------------------------------------------------------------------------------------
def test_str_format_is_documented_form():
    assert str(Architecture({"depth": 3, "kernel": 5})) == "depth=3;kernel=5"
    assert str(Architecture({"op": "conv", "skip": True, "r": 0.5})) == "op=conv;skip=true;r=0.5"
    assert repr(Architecture({"depth": 3})) == "Architecture('depth=3')"


def test_str_from_string_round_trip_keeps_types():
    arch = Architecture(MIXED)
    back = Architecture.from_string(str(arch))
    assert back == arch
    assert str(back) == str(arch)
    for name, option in MIXED.items():
        assert type(back[name]) is type(option), name
        assert back[name] == option


def test_str_round_trip_of_numeric_looking_string_options():
    arch = Architecture({"width": "8", "flag": "true"})
    back = Architecture.from_string(str(arch))
    assert back.to_dict() == {"width": "8", "flag": "true"}


def test_json_round_trip_exact():
    arch = Architecture({**MIXED, "width": "8"})
    text = arch.to_json()
    assert json.loads(text) == arch.to_dict()
    back = Architecture.from_json(text)
    assert back == arch
    assert {k: type(v) for k, v in back.items()} == {k: type(v) for k, v in arch.items()}


def test_replace_returns_modified_copy():
    arch = Architecture({"depth": 3, "kernel": 5})
    new = arch.replace(kernel=7)
    assert new == Architecture({"depth": 3, "kernel": 7})
    assert arch["kernel"] == 5
    assert type(new) is Architecture
    assert list(new) == ["depth", "kernel"]
    with pytest.raises(InvalidArchitectureError, match="width"):
        arch.replace(width=8)


def test_pickle_round_trip():
    arch = Architecture(MIXED)
    back = pickle.loads(pickle.dumps(arch))
    assert back == arch
    assert hash(back) == hash(arch)
    assert type(back) is Architecture
    assert str(back) == str(arch)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("", "''"),
        ("   ", "'   '"),
        ("depth3", "depth3"),
        ("depth=3;kernel", "kernel"),
        ("=3", "=3"),
        ("depth=3;;kernel=5", "depth=3;;kernel=5"),
    ],
)
def test_malformed_strings_raise_naming_the_text(text, fragment):
    with pytest.raises(InvalidArchitectureError) as info:
        Architecture.from_string(text)
    assert fragment in str(info.value)


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '"depth"'])
def test_malformed_json_raises(text):
    with pytest.raises(InvalidArchitectureError) as info:
        Architecture.from_json(text)
    assert text[:10] in str(info.value)


@pytest.mark.parametrize(
    "choices, fragment",
    [
        ({"depth": [3]}, "list"),
        ({"depth": None}, "NoneType"),
        ({"": 3}, "''"),
        ({3: 3}, "3"),
    ],
)
def test_invalid_choices_raise(choices, fragment):
    with pytest.raises(InvalidArchitectureError) as info:
        Architecture(choices)
    assert fragment in str(info.value)
