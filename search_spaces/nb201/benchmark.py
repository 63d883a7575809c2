"""NAS-Bench-201's ground truth: the 200-epoch test accuracy of all 15,625 cells, shipped with the space."""

from __future__ import annotations

import csv
import gzip
import io
from functools import lru_cache
from pathlib import Path

from nas.architecture import Architecture
from nas.benchmarks.oracle import Oracle
from nas.benchmarks.records import RecordsError
from nas.errors import ConfigError, InvalidArchitectureError
from nas.search_space import SearchSpace
from search_spaces.nb201.space import NB201SearchSpace

DATA_DIR = Path(__file__).resolve().parent / "data"
TABLE = DATA_DIR / "nb201_test_acc_200ep.csv.gz"
"""The table (provenance and checksum in ``NB201_PROVENANCE.md`` beside it)."""

NB201_DATASETS = {
    "cifar10": "CIFAR10TestAccuracy200Epochs",
    "cifar100": "CIFAR100TestAccuracy200Epochs",
    "ImageNet16-120": "ImageNetTestAccuracy200Epochs",
}
"""Dataset name -> its column of the table."""


@lru_cache(maxsize=1)
def _nb201_table() -> dict[str, tuple[float, float, float]]:
    """Cell string -> test accuracy per dataset of ``NB201_DATASETS`` (read once)."""
    if not TABLE.is_file():
        raise RecordsError(f"the NAS-Bench-201 table {TABLE} is missing from the package: reinstall it")
    with gzip.open(TABLE, "rt") as handle:
        rows = list(csv.DictReader(io.StringIO(handle.read())))
    return {r["ArchitectureString"]: tuple(float(r[c]) for c in NB201_DATASETS.values()) for r in rows}


class NB201Oracle(Oracle):
    """NAS-Bench-201's 200-epoch test accuracy of all 15,625 cells (shipped; offline).

    ``space`` parses architectures and prices them (params, FLOPs); by default it is the network
    the benchmark trained (CIFAR skeleton, C=16, N=5), which ``on_own_space()`` returns to.

    Data: NAS-Bench-201 / NATS-Bench by Xuanyi Dong et al., MIT license (see
    ``search_spaces/nb201/data/NB201_PROVENANCE.md``).

    Example:
        >>> oracle = NB201Oracle("cifar10")
        >>> round(oracle("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"), 2)
        94.37
    """

    def __init__(self, dataset: str = "cifar10", space: SearchSpace | None = None):
        if dataset not in NB201_DATASETS:
            raise ConfigError(f"NAS-Bench-201 has no dataset {dataset!r}; choose one of {list(NB201_DATASETS)}")
        self.dataset = dataset
        self.space = space if space is not None else NB201SearchSpace()
        self._column = list(NB201_DATASETS).index(dataset)
        self._table = _nb201_table()

    def on_own_space(self) -> NB201Oracle:
        """This oracle over the benchmark's own CIFAR network (C=16, N=5): its costs are that network's."""
        return NB201Oracle(self.dataset)

    def query(self, arch: Architecture | str) -> dict[str, float]:
        text = str(self.space.parse(arch) if isinstance(arch, str) else self.space.validate(arch))
        row = self._table.get(text)
        if row is None:  # cannot happen for a valid NB201 cell; kept for tables of other spaces
            raise InvalidArchitectureError(f"{text} is not in NAS-Bench-201")
        return {"accuracy": row[self._column], "params": float(self.space.params(self.space.parse(text))),
                "flops": float(self.space.flops(self.space.parse(text)))}

    def architectures(self) -> list[Architecture]:
        return [self.space.parse(text) for text in self._table]
