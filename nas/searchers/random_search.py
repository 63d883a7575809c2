"""Random search: architectures drawn uniformly, without repeats."""

from __future__ import annotations

from nas.architecture import Architecture
from nas.searchers.base import Searcher


class RandomSearch(Searcher):
    """Uniform sampling of the (feasible part of the) space; never proposes an architecture twice.

    Example:
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> searcher = RandomSearch(NB201SearchSpace(), seed=0)
        >>> history = searcher.search(lambda arch: float(str(arch).count("nor_conv_3x3")), budget=20)
        >>> len(history), len({t.arch for t in history.trials})
        (20, 20)
    """

    def ask(self) -> Architecture:
        return self.sample_new()
