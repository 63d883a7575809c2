"""Ranker: anything that maps architectures to scores (higher = predicted better), with its measured cost."""

from __future__ import annotations

import math
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

from tqdm.auto import tqdm

from nas.architecture import Architecture


class Ranker(ABC):
    """Scores a list of architectures; a higher score predicts a better architecture.

    ``name`` labels the ranker in tables, ``uses`` says in a few words what it needs (analytic
    costs, a fresh model and some training images, a trained supernet, ground-truth cells), and
    ``seconds_per_child`` is the wall-clock cost it measured per child it scored. A ranker with
    ``needs_ground_truth`` must be ``fit`` on labelled cells before it scores (see
    :class:`nas.rankers.CalibratedRanker`).

    Example (a complete, if useless, ranker):
        >>> class Length(Ranker):
        ...     name, uses = "length", "the architecture's string"
        ...     def score(self, archs): return [float(len(str(a))) for a in archs]
        ...     @property
        ...     def seconds_per_child(self): return 0.0
        >>> from nas.architecture import Architecture
        >>> Length().score([Architecture({"a": 1}), Architecture({"a": 10})])
        [3.0, 4.0]
    """

    name: str = "ranker"
    uses: str = ""
    needs_ground_truth: ClassVar[bool] = False

    @abstractmethod
    def score(self, archs: Sequence[Architecture]) -> list[float]:
        """One score per architecture, in order. ``-inf`` means "ranked last" (a proxy undefined for it)."""

    @property
    @abstractmethod
    def seconds_per_child(self) -> float:
        """Measured wall-clock seconds per child scored (``nan`` before anything was scored)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class PointwiseRanker(Ranker):
    """A ranker whose score of a child depends on that child alone: scored once, cached, timed.

    Subclasses implement :meth:`score_one`. A ``nan`` score becomes ``-inf`` (ranked last).
    ``progress=True`` shows a tqdm bar over the children not yet cached.

    Example:
        >>> class Width(PointwiseRanker):
        ...     def score_one(self, arch): return float(arch["width"])
        >>> from nas.architecture import Architecture
        >>> ranker = Width("width")
        >>> ranker.score([Architecture({"width": 4}), Architecture({"width": 8}), Architecture({"width": 4})])
        [4.0, 8.0, 4.0]
        >>> ranker.children_scored   # the repeated child came from the cache
        2
    """

    def __init__(self, name: str, uses: str = "", progress: bool = False):
        self.name = name
        self.uses = uses
        self.progress = progress
        self.cache: dict[Architecture, float] = {}
        self.seconds = 0.0
        self.children_scored = 0

    @abstractmethod
    def score_one(self, arch: Architecture) -> float:
        """The score of one child."""

    def score(self, archs: Sequence[Architecture]) -> list[float]:
        archs = list(archs)
        todo = [a for a in dict.fromkeys(archs) if a not in self.cache]
        bar = tqdm(todo, desc=self.name, unit="child", disable=not (self.progress and todo), file=sys.stderr,
                   dynamic_ncols=True)
        for arch in bar:
            started = time.perf_counter()
            value = float(self.score_one(arch))
            self.seconds += time.perf_counter() - started
            self.children_scored += 1
            self.cache[arch] = -math.inf if math.isnan(value) else value
        return [self.cache[a] for a in archs]

    @property
    def seconds_per_child(self) -> float:
        return self.seconds / self.children_scored if self.children_scored else float("nan")

    def state_dict(self) -> dict:
        return {"cache": {arch.to_json(): value for arch, value in self.cache.items()},
                "seconds": self.seconds, "children_scored": self.children_scored}

    def load_state_dict(self, state: dict, arch_type: type[Architecture] = Architecture) -> None:
        self.cache = {arch_type.from_json(text): float(value) for text, value in state["cache"].items()}
        self.seconds = float(state["seconds"])
        self.children_scored = int(state["children_scored"])
