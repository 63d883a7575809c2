"""Constraints: bounds on an architecture's cost (params, FLOPs, and latency with a latency model) that every
scored child meets."""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from nas.architecture import Architecture
from nas.errors import ConfigError
from nas.search_space import SearchSpace

EXACT_LIMIT = 100_000
"""Spaces with at most this many architectures are checked exactly (every cost computed once)."""

FEASIBILITY_SAMPLE = 5_000
"""Larger spaces are checked on this many uniform samples."""

LATENCY_SAMPLE = 100
"""Latency bounds are checked on this many children (meeting the analytic bounds) plus the smallest and largest:
a latency costs a prediction or a measurement, so no space is enumerated for it."""

ANALYTIC = ("max_params", "min_params", "max_flops", "min_flops")

_COST_TABLES: "weakref.WeakKeyDictionary[SearchSpace, tuple[list[Architecture], np.ndarray]]" = \
    weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Constraints:
    """Inclusive bounds on parameter count, FLOPs (multiply-accumulates) and latency in milliseconds (the
    ``latency_ms`` of ``space.cost(arch)``, which needs ``space.latency``: ``nas.latency``); ``None`` is no bound.

    Example:
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> space = NB201SearchSpace()
        >>> limits = Constraints(max_params=500_000)
        >>> arch = space.parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
        >>> limits.satisfied(space.cost(arch)), limits.violations({"params": 600_000, "flops": 1})
        (True, ['params 600,000 > max_params 500,000'])
        >>> bool(Constraints()), bool(limits)
        (False, True)
    """

    max_params: float | None = None
    min_params: float | None = None
    max_flops: float | None = None
    min_flops: float | None = None
    max_latency_ms: float | None = None
    min_latency_ms: float | None = None

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
                raise ConfigError(f"constraint {name}={value!r} must be a non-negative number or null")
        for cost in ("params", "flops", "latency_ms"):
            low, high = getattr(self, f"min_{cost}"), getattr(self, f"max_{cost}")
            if low is not None and high is not None and low > high:
                raise ConfigError(f"min_{cost}={low:,} is larger than max_{cost}={high:,}: no architecture can "
                                  f"meet both; swap or loosen them")

    @classmethod
    def coerce(cls, value: "Constraints | Mapping[str, Any] | None") -> "Constraints":
        """A Constraints from itself, a mapping of bounds (a Hydra node) or ``None`` (no bounds)."""
        if value is None:
            return cls()
        if isinstance(value, Constraints):
            return value
        if isinstance(value, Mapping):
            bounds = {k: v for k, v in value.items() if k != "_target_"}
            unknown = sorted(set(bounds) - set(cls.__dataclass_fields__))
            if unknown:
                raise ConfigError(f"unknown constraints {unknown}; choose from {list(cls.__dataclass_fields__)}")
            return cls(**bounds)
        raise ConfigError(f"constraints must be a Constraints, a mapping of bounds or null, got {type(value).__name__}")

    def __bool__(self) -> bool:
        return any(v is not None for v in asdict(self).values())

    def bounds(self) -> dict[str, float]:
        """The active bounds only, e.g. ``{"max_params": 500000}``."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    def violations(self, cost: Mapping[str, float]) -> list[str]:
        """What ``cost`` (``space.cost(arch)``) breaks, in words; empty when it satisfies every bound."""
        broken = []
        for name, bound in self.bounds().items():
            kind, metric = name.split("_", 1)
            value = cost[metric]
            if (kind == "max" and value > bound) or (kind == "min" and value < bound):
                broken.append(f"{metric} {value:,.6g} {'>' if kind == 'max' else '<'} {name} {bound:,.6g}"
                              if metric == "latency_ms" else
                              f"{metric} {value:,} {'>' if kind == 'max' else '<'} {name} {bound:,}")
        return broken

    def satisfied(self, cost: Mapping[str, float]) -> bool:
        return not self.violations(cost)

    def analytic(self) -> "Constraints":
        """These bounds without the latency ones: what ``space.params`` / ``space.flops`` decide alone."""
        return Constraints(**{k: v for k, v in self.bounds().items() if k in ANALYTIC})

    def latency_bounds(self) -> dict[str, float]:
        return {k: v for k, v in self.bounds().items() if k not in ANALYTIC}

    def mask(self, params: np.ndarray, flops: np.ndarray) -> np.ndarray:
        """Vectorised ``satisfied`` over arrays of costs (the analytic bounds)."""
        ok = np.ones(len(params), dtype=bool)
        values = {"params": params, "flops": flops}
        for name, bound in self.analytic().bounds().items():
            kind, metric = name.split("_", 1)
            ok &= values[metric] <= bound if kind == "max" else values[metric] >= bound
        return ok

    def feasible_architectures(self, space: SearchSpace) -> list[Architecture] | None:
        """Every architecture of ``space`` that meets the bounds (exact), or ``None`` for spaces too large
        and for latency bounds (then each proposal is checked).

        Latency bounds are checked on ``LATENCY_SAMPLE`` children that meet the analytic bounds plus the
        smallest and largest (:meth:`check_latency`): none meeting them is a ConfigError before any search.

        Raises ConfigError when no architecture meets them. Spaces with at most ``EXACT_LIMIT``
        architectures are enumerated (each cost computed once per space object); larger ones are
        judged on ``FEASIBILITY_SAMPLE`` uniform samples plus ``space.smallest()`` and
        ``space.largest()`` (the cheapest and costliest child where costs ascend with the options, as
        in the elastic spaces: then one bound that any child meets is never refused), and the error says so.
        """
        if self.latency_bounds():
            analytic = self.analytic()
            feasible = analytic.feasible_architectures(space) if analytic else None
            self.check_latency(space, feasible)
            return None
        if space.size <= EXACT_LIMIT:
            archs, costs = cost_table(space)
            feasible = self.mask(costs[:, 0], costs[:, 1])
            if not feasible.any():
                raise ConfigError(self._infeasible_message(space, costs, f"all {space.size:,} architectures"))
            return [a for a, ok in zip(archs, feasible) if ok]
        rng = np.random.default_rng(0)
        sample = [space.smallest(), space.largest(), *(space.sample(rng) for _ in range(FEASIBILITY_SAMPLE))]
        costs = np.array([[space.params(a), space.flops(a)] for a in sample], dtype=float)
        if not self.mask(costs[:, 0], costs[:, 1]).any():
            raise ConfigError(self._infeasible_message(
                space, costs, f"{FEASIBILITY_SAMPLE:,} uniform samples of its {space.size:,} architectures "
                              "and its smallest and largest"))
        return None

    def check_latency(self, space: SearchSpace, feasible: list[Architecture] | None = None) -> None:
        """Refuse (ConfigError) latency bounds that none of ``LATENCY_SAMPLE`` children meets (drawn from
        ``feasible`` when given, else uniformly), nor the smallest or largest child."""
        if space.latency is None:
            raise ConfigError(f"the constraints {self.latency_bounds()} need a latency model: add latency=table "
                              "latency.path=<file of `nas latency build`>, or latency=measured")
        rng = np.random.default_rng(0)
        if feasible is not None:
            sample = [feasible[int(i)] for i in rng.permutation(len(feasible))[:LATENCY_SAMPLE]]
        else:
            sample = [space.sample(rng) for _ in range(LATENCY_SAMPLE)]
        sample = list(dict.fromkeys([space.smallest(), space.largest(), *sample]))
        costs = [space.cost(a) for a in sample]
        if not any(self.satisfied(c) for c in costs):
            latencies = [c["latency_ms"] for c in costs]
            raise ConfigError(f"no architecture of search space {space.name!r} meets the constraints {self.bounds()} "
                              f"(checked {len(sample)} children, the smallest and largest among them: latency range "
                              f"{min(latencies):.4g}..{max(latencies):.4g} ms on this machine); loosen the bounds "
                              "(searcher.constraints.*) to overlap it")

    def _infeasible_message(self, space: SearchSpace, costs: np.ndarray, checked: str) -> str:
        return (f"no architecture of search space {space.name!r} meets the constraints {self.bounds()} "
                f"(checked {checked}: params range {int(costs[:, 0].min()):,}..{int(costs[:, 0].max()):,}, "
                f"FLOPs range {int(costs[:, 1].min()):,}..{int(costs[:, 1].max()):,}); "
                "loosen the bounds (searcher.constraints.*) to overlap these ranges")


def cost_table(space: SearchSpace) -> tuple[list[Architecture], np.ndarray]:
    """Every architecture of ``space`` and its (params, FLOPs), computed once per space object."""
    cached = _COST_TABLES.get(space)
    if cached is None:
        archs = list(space.enumerate())
        costs = np.array([[space.params(a), space.flops(a)] for a in archs], dtype=float)
        cached = _COST_TABLES[space] = (archs, costs)
    return cached
