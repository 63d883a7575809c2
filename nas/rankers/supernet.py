"""SupernetRanker: the supernet's evaluator (accuracy with inherited weights) as a ranker."""

from __future__ import annotations

import time
from collections.abc import Sequence

from nas.architecture import Architecture
from nas.evaluator import Evaluator
from nas.rankers.base import Ranker


class SupernetRanker(Ranker):
    """Scores children by ``evaluator.score_many`` (the evaluator's cache and BN policy included).

    ``seconds_per_child`` is the measured scoring time per child the evaluator had not cached;
    training the supernet is a cost of its own, ``train_seconds`` (reported, not per child).

    Example:
        >>> import numpy as np
        >>> from nas.data import synthetic
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> data = synthetic()
        >>> space = NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
        >>> ranker = SupernetRanker(Evaluator(space.build_supernet(), data.valid, data.train,
        ...                                  recalibration_batch_size=64, progress=False))
        >>> cells = [space.sample(np.random.default_rng(i)) for i in range(2)]
        >>> all(0.0 <= s <= 100.0 for s in ranker.score(cells)), ranker.seconds_per_child > 0
        (True, True)
    """

    def __init__(self, evaluator: Evaluator, name: str = "supernet", train_seconds: float | None = None):
        self.evaluator = evaluator
        self.name = name
        self.train_seconds = train_seconds
        self.uses = f"trained supernet ({evaluator.bn_policy} BN, {len(evaluator.valid_y)} valid images)"
        self.seconds = 0.0
        self.children_scored = 0

    def score(self, archs: Sequence[Architecture]) -> list[float]:
        archs = list(archs)
        new = sum(1 for a in dict.fromkeys(archs) if a not in self.evaluator.cache)
        started = time.perf_counter()
        scores = self.evaluator.score_many(archs, desc=f"scoring with {self.name}")
        if new:
            self.seconds += time.perf_counter() - started
            self.children_scored += new
        return [float(s) for s in scores]

    @property
    def seconds_per_child(self) -> float:
        return self.seconds / self.children_scored if self.children_scored else float("nan")
