"""Ground truth of the architectures that searches found: the board's table, then the cells trained for the board.

``GroundTruth`` looks an architecture up in the benchmark's table, else in the extra table that `nas searchboard`
builds by stand-alone training with the table's recipe (`nas bench build archs.file=...`), each by the
architecture itself or by a functionally equivalent cell (``space.canonical``: NAS-Bench-201's dead edges and
isomorphic cells). ``missing`` says which classes neither holds, one representative each: what to train.
``build_order`` orders the any-time curves' architectures by how many curve points each one settles, so that
``anytime.max_archs`` trains the most useful ones. `nas run` looks a gradient-based search's found architecture up
the same way (nas.gradient_search), over the table and what ``found_truth.build=true`` trained into its run folder;
both build with nas.cli.truth.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

from nas.architecture import Architecture
from nas.benchmarks.oracle import Oracle
from nas.errors import ConfigError
from nas.search_space import SearchSpace

SOURCES = ("table", "trained")
"""Where a truth came from: the benchmark's table, or the board's own stand-alone training."""


@dataclass(frozen=True)
class Truth:
    """An architecture's ground truth: ``accuracy`` of ``cell`` (the architecture or an equivalent one) from
    ``source`` (``table`` or ``trained``)."""

    accuracy: float
    cell: str
    source: str


class GroundTruth:
    """Truth by architecture or functional class over ``oracle`` (the board's table) and ``extra`` (cells the board
    trained; None: none yet). ``extra`` must have been built by the table's recipe.

    Example:
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> from nas.benchmarks import TableOracle
        >>> space = NB201SearchSpace(C=8, N=1, in_channels=1, input_size=16, reduction="light")
        >>> truth = GroundTruth(space, TableOracle("fmnist201", space))
        >>> cell = truth.cells()[0]
        >>> truth.lookup(cell).source, truth.lookup(cell).cell == str(cell)
        ('table', True)
        >>> len(truth), truth.best() <= 100.0
        (200, True)
    """

    def __init__(self, space: SearchSpace, oracle: Oracle, extra: Oracle | None = None):
        table_recipe, extra_recipe = getattr(oracle, "recipe", None), getattr(extra, "recipe", None)
        if extra is not None and table_recipe != extra_recipe:
            raise ConfigError(f"the extra ground truth {getattr(extra, 'path', '')} was trained by recipe "
                              f"{extra_recipe} and the board's table by {table_recipe}: their accuracies do not "
                              "compare; delete the extra file (or use another truth.output) and rerun with the "
                              "table's recipe, dataset and search space")
        self.space = space
        self.oracle = oracle
        self.extra = extra
        self._by_arch: dict[Architecture, Truth] = {}
        self._by_class: dict[Hashable, Truth] = {}
        for source, table in (("table", oracle), ("trained", extra)):
            if table is None:
                continue
            for cell in table.architectures():
                found = Truth(float(table(cell)), str(cell), source)
                self._by_arch.setdefault(cell, found)
                self._by_class.setdefault(space.canonical(cell), found)

    def __len__(self) -> int:
        return len(self.oracle)

    def cells(self) -> list[Architecture]:
        """The table's cells (not the extra ones)."""
        return list(self.oracle.architectures())

    def best(self) -> float:
        """The table's best accuracy (its cells only)."""
        return max(float(self.oracle(c)) for c in self.oracle.architectures())

    def lookup(self, arch: Architecture | str) -> Truth | None:
        """``arch``'s truth: its own record, else an equivalent cell's (the table's first); None when neither."""
        arch = self.space.parse(arch) if isinstance(arch, str) else self.space.validate(arch)
        return self._by_arch.get(arch) or self._by_class.get(self.space.canonical(arch))

    def missing(self, archs: Iterable[Architecture | str]) -> list[Architecture]:
        """The architectures of ``archs`` whose class has no truth, one per class, in ``archs``' order."""
        seen: set[Hashable] = set()
        out = []
        for arch in archs:
            arch = self.space.parse(arch) if isinstance(arch, str) else self.space.validate(arch)
            key = self.space.canonical(arch)
            if key not in seen and self.lookup(arch) is None:
                seen.add(key)
                out.append(arch)
        return out


def build_order(space: SearchSpace, found: Sequence[str], curves: Sequence[Sequence[str]],
                max_archs: int | None) -> list[str]:
    """The architectures whose truth the board wants, one per functional class: every found architecture, then the
    any-time curves' architectures, the class that covers most curve points first (ties: first seen), at most
    ``max_archs`` of those (None: all).

    Example:
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> space = NB201SearchSpace(C=8, N=1, in_channels=1, input_size=16, reduction="light")
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> a, b, c = (str(space.sample(rng)) for _ in range(3))
        >>> build_order(space, [a], [[b, c, c, a], [c]], None) == [a, c, b]
        True
        >>> build_order(space, [a], [[b, c, c, a], [c]], 1) == [a, c]
        True
    """
    key = {text: space.canonical(space.parse(text)) for text in [*found, *(a for curve in curves for a in curve)]}
    chosen = list(dict.fromkeys(key[a] for a in found))
    first = {k: a for a in reversed([*found, *(a for curve in curves for a in curve)]) for k in [key[a]]}
    counts = Counter(key[a] for curve in curves for a in curve)
    order = sorted((k for k in counts if k not in chosen), key=lambda k: -counts[k])  # stable: first seen on ties
    if max_archs is not None:
        order = order[:max_archs]
    return [first[k] for k in [*chosen, *order]]
