"""CalibratedRanker: ridge regression of ground truth on several rankers' ranks, fitted on a few labelled cells."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from nas.architecture import Architecture
from nas.errors import ConfigError
from nas.rankers.base import Ranker
from nas.rankers.ranks import normalized_ranks


class CalibratedRanker(Ranker):
    """Learns how much to trust each member from ``k`` ground-truth cells, then scores any others.

    Features of a child are its members' normalized ranks (0 lowest .. 1 highest) among the
    children scored together, so the model sees no scale of any proxy and scoring a set of
    cells never looks at cells outside it. :meth:`fit` standardizes the truth of the fit cells
    and solves ridge regression (intercept unpenalized, ``alpha`` on the weights: with few cells
    it shrinks towards weights proportional to each member's correlation with the truth).
    :meth:`score` predicts truth in its own units. ``fitted_on`` holds the fit cells.

    Example:
        >>> from nas.architecture import Architecture
        >>> from nas.rankers.base import PointwiseRanker
        >>> class Key(PointwiseRanker):
        ...     def __init__(self, key): super().__init__(key); self.key = key
        ...     def score_one(self, arch): return float(arch[self.key])
        >>> cells = [Architecture({"good": i, "noise": (7 * i) % 5}) for i in range(10)]
        >>> ranker = CalibratedRanker([Key("good"), Key("noise")], alpha=0.01).fit(cells[:6], [60, 62, 64, 66, 68, 70])
        >>> scores = ranker.score(cells[6:])
        >>> scores == sorted(scores) and bool(ranker.weights[0] > abs(ranker.weights[1]))
        True
    """

    needs_ground_truth = True

    def __init__(self, members: Sequence[Ranker], alpha: float = 1.0, name: str | None = None):
        if not members:
            raise ConfigError("a calibrated ranker needs at least one member ranker")
        if not (alpha >= 0):
            raise ConfigError(f"ridge alpha must be >= 0, got {alpha!r}")
        self.members = list(members)
        self.alpha = float(alpha)
        self.name = name or "calibrated(" + ", ".join(m.name for m in self.members) + ")"
        self.uses = "ranks of " + ", ".join(m.name for m in self.members) + " + k ground-truth cells"
        self.weights: NDArray[np.float64] | None = None
        self.feature_mean: NDArray[np.float64] | None = None
        self.truth_mean = 0.0
        self.truth_std = 1.0
        self.fitted_on: frozenset[Architecture] = frozenset()

    def features(self, archs: Sequence[Architecture]) -> NDArray[np.float64]:
        """(children, members): each member's normalized ranks among ``archs``."""
        return np.stack([normalized_ranks(m.score(archs)) for m in self.members], axis=1)

    def fit(self, archs: Sequence[Architecture], truth: Sequence[float]) -> "CalibratedRanker":
        """Fit on ``archs`` and their ground truth only (at least 3 cells)."""
        archs = list(archs)
        y = np.asarray(truth, dtype=np.float64)
        if y.shape != (len(archs),) or len(archs) < 3 or not np.all(np.isfinite(y)):
            raise ConfigError(f"a calibrated ranker fits on >= 3 cells with one finite truth each; got {len(archs)} "
                              f"cells and truth of shape {y.shape}")
        x = self.features(archs)
        self.feature_mean = x.mean(axis=0)
        self.truth_mean = float(y.mean())
        self.truth_std = float(y.std()) or 1.0
        xc, yc = x - self.feature_mean, (y - self.truth_mean) / self.truth_std
        gram = xc.T @ xc + self.alpha * np.eye(x.shape[1])
        self.weights = np.linalg.lstsq(gram, xc.T @ yc, rcond=None)[0]
        self.fitted_on = frozenset(archs)
        return self

    def score(self, archs: Sequence[Architecture]) -> list[float]:
        if self.weights is None:
            raise ConfigError(f"{self.name} must be fit on ground-truth cells before it scores: call fit(archs, truth)")
        centered = self.features(list(archs)) - self.feature_mean
        return (self.truth_mean + self.truth_std * centered @ self.weights).tolist()

    @property
    def seconds_per_child(self) -> float:
        costs = [m.seconds_per_child for m in self.members]
        return float(sum(costs)) if not any(math.isnan(c) for c in costs) else float("nan")

    def state_dict(self) -> dict:
        return {"alpha": self.alpha, "weights": None if self.weights is None else self.weights.tolist(),
                "feature_mean": None if self.feature_mean is None else self.feature_mean.tolist(),
                "truth_mean": self.truth_mean, "truth_std": self.truth_std,
                "fitted_on": sorted(a.to_json() for a in self.fitted_on)}

    def load_state_dict(self, state: dict, arch_type: type[Architecture] = Architecture) -> None:
        self.alpha = float(state["alpha"])
        self.weights = None if state["weights"] is None else np.asarray(state["weights"], dtype=np.float64)
        self.feature_mean = None if state["feature_mean"] is None else np.asarray(state["feature_mean"])
        self.truth_mean, self.truth_std = float(state["truth_mean"]), float(state["truth_std"])
        self.fitted_on = frozenset(arch_type.from_json(text) for text in state["fitted_on"])
