"""Oracles: ground-truth accuracy of architectures, from a table."""

from __future__ import annotations

import csv
import gzip
import io
from abc import ABC, abstractmethod
from functools import lru_cache
from pathlib import Path

from nas.architecture import Architecture
from nas.benchmarks.records import RecordsError, load_records
from nas.errors import ConfigError, InvalidArchitectureError
from nas.search_space import SearchSpace

DATA_DIR = Path(__file__).resolve().parent / "data"


class Oracle(ABC):
    """Ground truth: ``query(arch)`` returns its metrics; calling it returns the primary one.

    An oracle is a searcher objective like any other: ``searcher.search(oracle, budget)``.
    """

    metric: str = "accuracy"

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
        >>> oracle = TableOracle("fmnist201", space)                 # doctest: +SKIP
        >>> 10.0 <= oracle(oracle.architectures()[0]) <= 100.0       # doctest: +SKIP
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


NB201_DATASETS = {
    "cifar10": "CIFAR10TestAccuracy200Epochs",
    "cifar100": "CIFAR100TestAccuracy200Epochs",
    "ImageNet16-120": "ImageNetTestAccuracy200Epochs",
}


@lru_cache(maxsize=1)
def _nb201_table() -> dict[str, tuple[float, float, float]]:
    path = DATA_DIR / "nb201_test_acc_200ep.csv.gz"
    if not path.is_file():
        raise RecordsError(f"the NAS-Bench-201 table {path} is missing from the package: reinstall it")
    with gzip.open(path, "rt") as handle:
        rows = list(csv.DictReader(io.StringIO(handle.read())))
    return {r["ArchitectureString"]: tuple(float(r[c]) for c in NB201_DATASETS.values()) for r in rows}


class NB201Oracle(Oracle):
    """NAS-Bench-201's 200-epoch test accuracy of all 15,625 cells (shipped; offline).

    Data: NAS-Bench-201 / NATS-Bench by Xuanyi Dong et al., MIT license (see
    ``nas/benchmarks/data/NB201_PROVENANCE.md``).

    Example:
        >>> oracle = NB201Oracle("cifar10")
        >>> round(oracle("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"), 2)
        94.37
    """

    def __init__(self, dataset: str = "cifar10", space: SearchSpace | None = None):
        if dataset not in NB201_DATASETS:
            raise ConfigError(f"NAS-Bench-201 has no dataset {dataset!r}; choose one of {list(NB201_DATASETS)}")
        from search_spaces.nb201 import NB201SearchSpace

        self.dataset = dataset
        self.space = space if space is not None else NB201SearchSpace()
        self._column = list(NB201_DATASETS).index(dataset)
        self._table = _nb201_table()

    def query(self, arch: Architecture | str) -> dict[str, float]:
        text = str(self.space.parse(arch) if isinstance(arch, str) else self.space.validate(arch))
        row = self._table.get(text)
        if row is None:  # cannot happen for a valid NB201 cell; kept for tables of other spaces
            raise InvalidArchitectureError(f"{text} is not in NAS-Bench-201")
        return {"accuracy": row[self._column], "params": float(self.space.params(self.space.parse(text))),
                "flops": float(self.space.flops(self.space.parse(text)))}

    def architectures(self) -> list[Architecture]:
        return [self.space.parse(text) for text in self._table]
