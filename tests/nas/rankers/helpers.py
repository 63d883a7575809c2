"""Small rankers for tests: a decision's value as the score, and a spy that records what it was asked."""

from __future__ import annotations

from nas.architecture import Architecture
from nas.rankers import PointwiseRanker


class Key(PointwiseRanker):
    """Scores a child by ``arch[key]``; remembers every batch of architectures it was asked to score."""

    def __init__(self, key: str):
        super().__init__(key, uses=f"decision {key}")
        self.key = key
        self.asked: list[list[Architecture]] = []

    def score(self, archs):
        self.asked.append(list(archs))
        return super().score(archs)

    def score_one(self, arch):
        return float(arch[self.key])
