"""Searcher: proposes architectures (ask), learns their scores (tell), keeps a history."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nas.architecture import Architecture
from nas.search_space import SearchSpace

Objective = Callable[[Architecture], float]
"""Anything that scores an architecture (higher is better): an evaluator, an oracle, a lambda."""


@dataclass
class Trial:
    """One scored architecture."""

    number: int
    arch: Architecture
    score: float
    cost: dict[str, int] = field(default_factory=dict)


@dataclass
class History:
    """Every trial of a search, in the order they were told; an architecture appears once."""

    trials: list[Trial] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.trials)

    def __contains__(self, arch: Architecture) -> bool:
        return any(t.arch == arch for t in self.trials)

    @property
    def best(self) -> Trial:
        return max(self.trials, key=lambda t: t.score)

    def ranked(self) -> list[Trial]:
        """Trials from best to worst score (ties keep the order they were told)."""
        return sorted(self.trials, key=lambda t: -t.score)

    def to_json(self) -> str:
        return json.dumps([{"number": t.number, "arch": str(t.arch), "score": t.score, **t.cost}
                           for t in self.trials], indent=1)


class Searcher(ABC):
    """Base class with the ask-and-tell loop; ``search`` runs it against an objective.

    A user can own the loop: ``arch = searcher.ask(); searcher.tell(arch, score)``. ``search``
    never scores an architecture twice.
    """

    def __init__(self, space: SearchSpace, seed: int = 0):
        self.space = space
        self.seed = int(seed)
        self.rng = np.random.default_rng(seed)
        self.history = History()
        self._seen: set[Architecture] = set()

    @abstractmethod
    def ask(self) -> Architecture:
        """The next architecture to score."""

    def tell(self, arch: Architecture, score: float) -> Trial:
        trial = Trial(len(self.history), arch, float(score), self.space.cost(arch))
        self.history.trials.append(trial)
        self._seen.add(arch)
        return trial

    def search(self, objective: Objective, budget: int, progress: Callable[[Trial], None] | None = None) -> History:
        """Ask, score and tell until ``budget`` distinct architectures are in the history."""
        attempts = 0
        while len(self.history) < budget:
            arch = self.ask()
            attempts += 1
            if arch in self._seen:
                if attempts > 100 * budget + 1000:
                    break  # the space is (nearly) exhausted
                continue
            trial = self.tell(arch, objective(arch))
            if progress is not None:
                progress(trial)
        return self.history

    def state_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "rng": self.rng.bit_generator.state,
                "history": [(str(t.arch), t.score) for t in self.history.trials]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.seed = state["seed"]
        self.rng.bit_generator.state = state["rng"]
        self.history = History()
        self._seen = set()
        for text, score in state["history"]:
            self.tell(self.space.parse(text), score)

    def save(self, path: str | Path) -> None:
        from nas.checkpoint import save_atomic

        save_atomic(self.state_dict(), path)
