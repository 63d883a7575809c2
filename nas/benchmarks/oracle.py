"""Oracles: ground-truth accuracy of architectures, from a table; ``build_oracle`` makes one from a config.

A table of one space lives with that space (NAS-Bench-201's: ``search_spaces.nb201.NB201Oracle``);
``TableOracle`` reads any table that ``nas bench build`` wrote.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import instantiate

from nas.architecture import Architecture
from nas.benchmarks.records import RecordsError, load_records
from nas.errors import ConfigError, InvalidArchitectureError, NASError
from nas.search_space import SearchSpace

DATA_DIR = Path(__file__).resolve().parent / "data"
"""Tables that ``nas bench build`` wrote and the package ships (``TableOracle("fmnist201", space)``)."""


class Oracle(ABC):
    """Ground truth: ``query(arch)`` returns its metrics; calling it returns the primary one.

    An oracle is a searcher objective like any other: ``searcher.search(oracle, budget)``.
    ``space`` parses the architectures it is asked about and prices them (params, FLOPs).
    """

    metric: str = "accuracy"
    space: SearchSpace

    def on_own_space(self) -> Oracle:
        """This oracle over the space whose networks its numbers measure: what ``objective=oracle`` searches.

        A table that ``nas bench build`` wrote measured the space it is given (this default
        returns ``self``); a benchmark that trained networks of its own (NAS-Bench-201's CIFAR
        network, C=16, N=5) returns itself over that network, whose costs and constraints then apply.
        """
        return self

    @abstractmethod
    def query(self, arch: Architecture | str) -> dict[str, float]:
        """All metrics the table holds for ``arch``."""

    @abstractmethod
    def architectures(self) -> list[Architecture]:
        """Every architecture the table covers."""

    def __call__(self, arch: Architecture | str) -> float:
        return self.query(arch)[self.metric]

    def __len__(self) -> int:
        return len(self.architectures())


class TableOracle(Oracle):
    """An oracle over ground-truth records built by ``nas bench build`` (mean over seeds).

    ``records`` is a path, or the name of a table shipped with the package (``"fmnist201"``).
    Only architectures with at least ``min_seeds`` seeds count (a table still being built).

    Example:
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> space = NB201SearchSpace(C=8, N=1, in_channels=1, input_size=16, reduction="light")
        >>> oracle = TableOracle("fmnist201", space)
        >>> 10.0 <= oracle(oracle.architectures()[0]) <= 100.0
        True
    """

    def __init__(self, records: str | Path, space: SearchSpace, min_seeds: int = 2):
        path = Path(records)
        if not path.suffix and not path.exists():
            path = DATA_DIR / f"{records}.jsonl"
        rows = load_records(path)
        recipes = {r["recipe"] for r in rows}
        if len(recipes) > 1:
            raise RecordsError(f"{path} mixes records of {len(recipes)} recipes {sorted(recipes)}: rebuild it")
        self.path = path
        self.space = space
        self.recipe = recipes.pop()
        by_arch: dict[str, list[dict]] = {}
        for row in rows:
            by_arch.setdefault(row["arch"], []).append(row)
        self._table: dict[Architecture, dict[str, float]] = {}
        for text, group in by_arch.items():
            seeds = {int(r["seed"]) for r in group}
            if len(seeds) < min_seeds:
                continue
            accuracies = [float(r["accuracy"]) for r in group]
            try:
                arch = space.parse(text)
            except InvalidArchitectureError as exc:
                raise RecordsError(
                    f"{path.name} holds architectures that are not of search space {space.name!r} ({exc}): it is the "
                    "ground truth of another space. Use benchmark=none, or a table built for this space "
                    "(`nas bench build search_space=...`)"
                ) from None
            self._table[arch] = {
                "accuracy": sum(accuracies) / len(accuracies),
                **{f"accuracy_seed{int(r['seed'])}": float(r["accuracy"]) for r in group},
                "params": float(group[0]["params"]),
                "flops": float(group[0]["flops"]),
                "seconds": sum(float(r["seconds"]) for r in group),
            }
        if not self._table:
            raise RecordsError(f"{path} has no architecture with {min_seeds} seeds yet: let `nas bench build` finish")

    def query(self, arch: Architecture | str) -> dict[str, float]:
        key = self.space.parse(arch) if isinstance(arch, str) else self.space.validate(arch)
        if key not in self._table:
            raise InvalidArchitectureError(
                f"{key} is not in the ground-truth table {self.path.name} ({len(self._table)} architectures): "
                "query one of oracle.architectures(), or add it with `nas bench build`"
            )
        return dict(self._table[key])

    def architectures(self) -> list[Architecture]:
        return list(self._table)


def build_oracle(benchmark: Mapping[str, Any] | None, space: SearchSpace) -> Oracle | None:
    """The oracle of a ``benchmark`` config (its ``oracle`` node) over ``space``; None without ground truth.

    Every command builds its oracle here, so that a table of another space fails the same way
    everywhere (with the oracle's own ``NASError``, not Hydra's wrapper) and before any training.
    ``oracle.on_own_space()`` then gives the oracle that a search of the table itself queries.

    Example:
        >>> from omegaconf import OmegaConf
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> space = NB201SearchSpace(C=8, N=1, in_channels=1, input_size=16, reduction="light")
        >>> table = {"oracle": {"_target_": "nas.benchmarks.TableOracle", "records": "fmnist201"}}
        >>> oracle = build_oracle(OmegaConf.create(table), space)
        >>> oracle.space is space and oracle.on_own_space() is oracle
        True
        >>> build_oracle(OmegaConf.create({"oracle": None}), space) is None
        True
    """
    node = benchmark.get("oracle") if benchmark is not None else None
    if node is None:
        return None
    try:
        oracle = instantiate(node, space=space)
    except InstantiationException as exc:  # Hydra wraps what the oracle raised: raise that, it names the fix
        cause = exc.__cause__
        while cause is not None and not isinstance(cause, NASError):
            cause = cause.__cause__
        if cause is None:
            raise
        raise cause from None
    if not isinstance(oracle, Oracle):
        raise ConfigError(f"benchmark.oracle built a {type(oracle).__name__}, not an Oracle: point its _target_ "
                          "at an Oracle subclass (nas.benchmarks.TableOracle, search_spaces.nb201.NB201Oracle)")
    return oracle
