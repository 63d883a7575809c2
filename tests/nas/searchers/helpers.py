"""Shared test helpers for searchers: a counting objective, tiny spaces, the NAS-Bench-201 lookup, statistics."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from torch import nn

from nas.architecture import Architecture
from nas.search_space import SearchSpace

QUALITY_BUDGET = 100
"""Queries per run in the 'beats random search' tests."""

QUALITY_SEEDS = range(20)
"""Seeds per searcher in those tests (each test stays within a few seconds)."""


class CountingObjective:
    """A deterministic score per architecture that counts how often each one is scored."""

    def __init__(self, score: Callable[[Architecture], float] | None = None):
        self.calls: Counter = Counter()
        self.score = score

    def __call__(self, arch: Architecture) -> float:
        self.calls[arch] += 1
        if self.score is not None:
            return self.score(arch)
        text = str(arch)
        return 10.0 * text.count("nor_conv_3x3") + 3.0 * text.count("nor_conv_1x1") - text.count("none") \
            + (sum(map(ord, text)) % 97) / 100.0

    @property
    def total(self) -> int:
        return sum(self.calls.values())


class Grid(SearchSpace):
    """``len(sizes)`` decisions with ``sizes[i]`` integer options each; cost grows with the options."""

    name = "grid"

    def __init__(self, *sizes: int):
        self._decisions = {f"d{i}": tuple(range(n)) for i, n in enumerate(sizes)}

    @property
    def decisions(self):
        return self._decisions

    def build_supernet(self):  # pragma: no cover - not needed here
        raise NotImplementedError

    def build_model(self, arch):  # pragma: no cover - not needed here
        return nn.Identity()

    def params(self, arch):
        return 100 + sum(10 * (i + 1) * arch[d] for i, d in enumerate(self._decisions))

    def flops(self, arch):
        return 1000 + sum(arch[d] ** 2 for d in self._decisions)


def one_sided_mann_whitney(better: list[float], baseline: list[float]) -> float:
    """p-value of 'better tends to exceed baseline' (scipy's Mann-Whitney U, one-sided)."""
    from scipy.stats import mannwhitneyu

    return float(mannwhitneyu(better, baseline, alternative="greater").pvalue)


def hypervolume(points: list[tuple[float, float]], reference: tuple[float, float]) -> float:
    """Area dominated by (score, cost) points, score maximized and cost minimized, within ``reference``.

    At cost x the dominated height is the best score among points costing at most x.
    """
    ref_score, ref_cost = reference
    ordered = sorted((c, s) for s, c in points if s > ref_score and c < ref_cost)
    area, best = 0.0, ref_score
    for index, (cost, score) in enumerate(ordered):
        next_cost = ordered[index + 1][0] if index + 1 < len(ordered) else ref_cost
        best = max(best, score)
        area += (next_cost - cost) * (best - ref_score)
    return area
