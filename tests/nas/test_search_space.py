"""SearchSpace behaviour inherited by every plugin, checked on a tiny space defined here."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from torch import nn

from nas.architecture import Architecture
from nas.errors import InvalidArchitectureError
from nas.search_space import SearchSpace


class Tiny(SearchSpace):
    """3 x 2 x 4 x 1 = 24 architectures; ``fixed`` has a single option and can never mutate."""

    name = "tiny"

    @property
    def decisions(self):
        return {"width": (4, 8, 16), "act": ("relu", "tanh"), "kernel": (1, 3, 5, 7), "fixed": ("only",)}

    def build_supernet(self):
        raise NotImplementedError

    def build_model(self, arch):
        return nn.Linear(2, self.validate(arch)["width"])

    def params(self, arch):
        return 3 * arch["width"]

    def flops(self, arch):
        return 2 * arch["width"]


class Frozen(Tiny):
    @property
    def decisions(self):
        return {"a": (1,), "b": ("x",)}


def within(count: int, n: int, p: float, z: float = 4.5) -> bool:
    """|freq - p| <= z * sqrt(p (1 - p) / n): a binomial bound; z = 4.5 fails a fair draw ~7e-6 of the time."""
    return abs(count / n - p) <= z * math.sqrt(p * (1 - p) / n)


@pytest.fixture
def space() -> Tiny:
    return Tiny()


def test_size_is_product_of_option_counts(space):
    assert space.size == 24
    assert Frozen().size == 1


def test_enumerate_yields_every_architecture_once(space):
    archs = list(space.enumerate())
    assert len(archs) == space.size == 24
    assert len(set(archs)) == 24
    for arch in archs:
        assert space.validate(arch) is arch
    # fixed order: the last decision varies fastest
    assert archs[0] == Architecture({"width": 4, "act": "relu", "kernel": 1, "fixed": "only"})
    assert archs[1] == Architecture({"width": 4, "act": "relu", "kernel": 3, "fixed": "only"})
    assert archs[-1] == Architecture({"width": 16, "act": "tanh", "kernel": 7, "fixed": "only"})


def test_sample_is_uniform_per_decision(space):
    rng = np.random.default_rng(1234)
    n = 10_000
    draws = [space.sample(rng) for _ in range(n)]
    for name, options in space.decisions.items():
        counts = Counter(arch[name] for arch in draws)
        assert set(counts) == set(options), name
        p = 1 / len(options)
        for option in options:
            assert within(counts[option], n, p), (name, option, counts[option])
    # decisions are drawn independently: the joint (width, kernel) is uniform over its 12 cells too
    joint = Counter((arch["width"], arch["kernel"]) for arch in draws)
    assert len(joint) == 12
    for cell, count in joint.items():
        assert within(count, n, 1 / 12), (cell, count)


def test_sample_is_reproducible_and_valid(space):
    a = [space.sample(np.random.default_rng(7)) for _ in range(3)]
    assert a[0] == a[1] == a[2]
    rng = np.random.default_rng(0)
    for _ in range(50):
        assert space.validate(space.sample(rng))


@pytest.mark.parametrize("num_decisions", [1, 2, 3])
def test_mutate_changes_exactly_num_decisions(space, num_decisions):
    rng = np.random.default_rng(num_decisions)
    for _ in range(200):
        parent = space.sample(rng)
        child = space.mutate(parent, rng, num_decisions=num_decisions)
        changed = [d for d in space.decisions if child[d] != parent[d]]
        assert len(changed) == num_decisions
        assert "fixed" not in changed
        assert space.validate(child) == child
        assert type(child) is type(parent)


def test_mutate_caps_at_mutable_decisions_and_picks_uniformly(space):
    rng = np.random.default_rng(3)
    parent = Architecture({"width": 4, "act": "relu", "kernel": 1, "fixed": "only"})
    child = space.mutate(parent, rng, num_decisions=10)
    assert [d for d in space.decisions if child[d] != parent[d]] == ["width", "act", "kernel"]

    n = 6_000
    which, kernels = Counter(), Counter()
    for _ in range(n):
        child = space.mutate(parent, rng)
        (name,) = [d for d in space.decisions if child[d] != parent[d]]
        which[name] += 1
        if name == "kernel":
            kernels[child["kernel"]] += 1
    for name in ("width", "act", "kernel"):
        assert within(which[name], n, 1 / 3), which
    assert set(kernels) == {3, 5, 7}
    for option in (3, 5, 7):
        assert within(kernels[option], which["kernel"], 1 / 3), kernels


def test_mutate_without_mutable_decision_raises():
    space = Frozen()
    with pytest.raises(InvalidArchitectureError, match="frozen|two options|mutate"):
        space.mutate(Architecture({"a": 1, "b": "x"}), np.random.default_rng(0))


def test_crossover_takes_each_decision_from_a_parent(space):
    rng = np.random.default_rng(5)
    first = Architecture({"width": 4, "act": "relu", "kernel": 1, "fixed": "only"})
    second = Architecture({"width": 16, "act": "tanh", "kernel": 7, "fixed": "only"})
    n = 4_000
    from_first = Counter()
    for _ in range(n):
        child = space.crossover(first, second, rng)
        assert space.validate(child) == child
        for name in space.decisions:
            assert child[name] in (first[name], second[name])
            from_first[name] += child[name] == first[name]
    for name in ("width", "act", "kernel"):
        assert within(from_first[name], n, 0.5), from_first
    assert space.crossover(first, first, rng) == first


def test_validate_names_decision_and_options(space):
    good = {"width": 8, "act": "relu", "kernel": 3, "fixed": "only"}
    with pytest.raises(InvalidArchitectureError) as info:
        space.validate(Architecture({**good, "kernel": 9}))
    message = str(info.value)
    assert "'kernel'" in message and "9" in message and "[1, 3, 5, 7]" in message

    with pytest.raises(InvalidArchitectureError) as info:
        space.validate(Architecture({k: v for k, v in good.items() if k != "act"}))
    assert "missing decisions ['act']" in str(info.value)

    with pytest.raises(InvalidArchitectureError) as info:
        space.validate(Architecture({**good, "depth": 2}))
    assert "unknown decisions ['depth']" in str(info.value)

    with pytest.raises(InvalidArchitectureError, match="got str"):
        space.validate("width=8")  # type: ignore[arg-type]


def test_make_and_validate_accept_plain_mappings(space):
    arch = space.make({"kernel": 3, "width": 8, "fixed": "only", "act": "tanh"})
    assert type(arch) is Architecture
    assert arch == Architecture({"width": 8, "act": "tanh", "kernel": 3, "fixed": "only"})
    with pytest.raises(InvalidArchitectureError, match="'width'"):
        space.make({"kernel": 3, "width": 5, "fixed": "only", "act": "tanh"})


def test_parse_round_trips_every_architecture(space):
    for arch in space.enumerate():
        assert space.parse(str(arch)) == arch
    assert space.parse("width=16;act=tanh;kernel=7;fixed=only") == Architecture(
        {"width": 16, "act": "tanh", "kernel": 7, "fixed": "only"}
    )
    with pytest.raises(InvalidArchitectureError, match="'width'"):
        space.parse("width=32;act=tanh;kernel=7;fixed=only")


def test_cost_and_describe(space):
    arch = space.parse("width=8;act=relu;kernel=3;fixed=only")
    assert space.cost(arch) == {"params": 24, "flops": 16}
    text = space.describe()
    assert text.splitlines()[0] == "tiny: 4 decisions, 24 architectures"
    assert "  kernel: [1, 3, 5, 7]" in text.splitlines()
