"""Constraints: bounds, violations in words, exact and sampled feasibility checks, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from nas.errors import ConfigError
from nas.searchers import Constraints
from nas.searchers import constraints as constraints_module
from tests.nas.searchers.helpers import Grid


def test_empty_constraints_are_falsy_and_satisfied_by_anything():
    empty = Constraints()
    assert not empty
    assert empty.bounds() == {}
    assert empty.satisfied({"params": 10**12, "flops": 0})
    assert Constraints.coerce(None) == empty


def test_bounds_are_inclusive_and_violations_name_the_bound():
    limits = Constraints(max_params=100, min_params=10, max_flops=1000, min_flops=500)
    assert limits.satisfied({"params": 100, "flops": 500})
    assert limits.satisfied({"params": 10, "flops": 1000})
    assert limits.violations({"params": 101, "flops": 499}) == ["params 101 > max_params 100",
                                                               "flops 499 < min_flops 500"]
    assert limits.violations({"params": 9, "flops": 1001}) == ["params 9 < min_params 10",
                                                              "flops 1,001 > max_flops 1,000"]


def test_mask_agrees_with_satisfied():
    limits = Constraints(max_params=150, min_flops=1003)
    rng = np.random.default_rng(0)
    params, flops = rng.integers(100, 200, 500), rng.integers(1000, 1010, 500)
    expected = [limits.satisfied({"params": p, "flops": f}) for p, f in zip(params, flops)]
    assert limits.mask(params, flops).tolist() == expected


def test_coerce_a_mapping_such_as_a_hydra_node():
    assert Constraints.coerce({"max_flops": 5, "min_params": None}) == Constraints(max_flops=5)
    assert Constraints.coerce({"_target_": "nas.searchers.Constraints", "max_params": 7}) == Constraints(max_params=7)
    with pytest.raises(ConfigError, match=r"unknown constraints \['max_latency'\]"):
        Constraints.coerce({"max_latency": 3})
    with pytest.raises(ConfigError, match="must be a Constraints"):
        Constraints.coerce(42)


@pytest.mark.parametrize("bounds, message", [
    ({"max_params": -1}, "max_params=-1 must be a non-negative number"),
    ({"max_flops": "big"}, "max_flops='big' must be a non-negative number"),
    ({"min_params": 10, "max_params": 5}, "min_params=10 is larger than max_params=5"),
])
def test_bad_bounds_are_config_errors(bounds, message):
    with pytest.raises(ConfigError, match=message):
        Constraints(**bounds)


def test_exact_feasible_set_on_nas_bench_201(nb201):
    limits = Constraints(max_flops=50_000_000, min_params=100_000)
    feasible = limits.feasible_architectures(nb201)
    expected = [a for a in nb201.enumerate() if limits.satisfied(nb201.cost(a))]
    assert feasible == expected
    assert 0 < len(feasible) < nb201.size


def test_no_feasible_architecture_is_a_config_error_naming_the_check(nb201):
    with pytest.raises(ConfigError) as info:
        Constraints(max_params=1_000).feasible_architectures(nb201)
    message = str(info.value)
    assert "no architecture of search space 'nb201' meets the constraints {'max_params': 1000}" in message
    assert "checked all 15,625 architectures" in message
    assert "params range 73,306..1,531,546" in message
    assert "loosen the bounds" in message
    # each bound is feasible alone, but not together
    with pytest.raises(ConfigError, match="no architecture"):
        Constraints(max_params=100_000, min_flops=100_000_000).feasible_architectures(nb201)


def test_large_spaces_are_judged_on_a_sample(monkeypatch):
    space = Grid(*[6] * 7)  # 279,936 architectures: above the exact limit
    assert space.size > constraints_module.EXACT_LIMIT
    monkeypatch.setattr(constraints_module, "FEASIBILITY_SAMPLE", 300)
    assert Constraints(max_params=400).feasible_architectures(space) is None  # feasible: no list
    with pytest.raises(ConfigError, match="checked 300 uniform samples of its 279,936 architectures"):
        Constraints(max_params=50).feasible_architectures(space)


def test_a_large_space_meets_a_bound_that_only_its_smallest_child_meets(monkeypatch):
    space = Grid(*[6] * 7)  # 279,936 architectures; costs ascend with every option
    monkeypatch.setattr(constraints_module, "FEASIBILITY_SAMPLE", 300)
    cheapest = space.params(space.smallest())
    assert cheapest < min(space.params(space.sample(np.random.default_rng(0))) for _ in range(300))
    assert Constraints(max_params=cheapest).feasible_architectures(space) is None  # not refused
    with pytest.raises(ConfigError, match="and its smallest and largest"):
        Constraints(max_params=cheapest - 1).feasible_architectures(space)


def test_cost_table_is_computed_once_per_space(nb201, monkeypatch):
    archs, costs = constraints_module.cost_table(nb201)
    monkeypatch.setattr(type(nb201), "params", lambda self, arch: pytest.fail("recomputed"))
    again = constraints_module.cost_table(nb201)
    assert again[0] is archs and again[1] is costs
