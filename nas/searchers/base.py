"""Searcher: proposes architectures (ask), learns their scores (tell), keeps a history."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from nas.architecture import Architecture
from nas.errors import CheckpointError, InvalidArchitectureError, NASError
from nas.search_space import SearchSpace
from nas.searchers.constraints import EXACT_LIMIT, Constraints

Objective = Callable[[Architecture], float]
"""Anything that scores an architecture (higher is better): an evaluator, an oracle, a lambda."""


class SearchExhausted(NASError, RuntimeError):
    """Every feasible architecture has been scored: there is nothing new to propose."""


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
        """Trials from best to worst score (ties keep the order they were told): how rankings list them."""
        return sorted(self.trials, key=lambda t: -t.score)


class Searcher(ABC):
    """Base class with the ask-and-tell loop; ``search`` runs it against an objective.

    A user can own the loop: ``arch = searcher.ask(); searcher.tell(arch, score)``. ``search``
    never scores an architecture twice. With ``constraints`` (``Constraints`` or a mapping of
    bounds such as ``{"max_params": 500_000}``), ``ask`` proposes only architectures that meet
    them and ``tell`` refuses the others; bounds no architecture can meet are a ConfigError here.
    ``state_dict()`` holds the history and the RNG state: a searcher loaded from it continues
    exactly where the saved one stopped.
    """

    needs_path_sampler: ClassVar[bool] = False
    """True for a searcher that draws from the run's trained path sampler (``ControllerSearch``): the pipeline
    passes it as ``policy`` and refuses the searcher where there is none (``nas.pipeline.check_searcher_policy``)."""

    max_sampling_attempts: ClassVar[int] = 1000
    """Uniform draws ``sample_new`` tries before it picks among the enumerated remaining architectures."""

    save_fraction: ClassVar[float] = 0.125
    """``search(state_path=...)`` saves once the children told since the last save reach this share of the
    saved ones (saving, which writes the whole history, then costs O(1) per child amortised) ..."""

    save_seconds: ClassVar[float] = 30.0
    """... or once this many seconds have passed since the last save; and always when the search ends."""

    def __init__(self, space: SearchSpace, seed: int = 0,
                 constraints: Constraints | Mapping[str, Any] | None = None):
        self.space = space
        self.seed = int(seed)
        self.rng = np.random.default_rng(seed)
        self.constraints = Constraints.coerce(constraints)
        feasible = self.constraints.feasible_architectures(space) if self.constraints else None
        self._feasible: set[Architecture] | None = set(feasible) if feasible is not None else None
        self._feasible_list = feasible
        self.history = History()
        self._seen: dict[Architecture, Trial] = {}

    # -- what a strategy provides ------------------------------------------------------------------
    @abstractmethod
    def ask(self) -> Architecture:
        """The next architecture to score (always feasible under the constraints)."""

    # -- ask helpers for strategies ------------------------------------------------------------------
    def is_feasible(self, arch: Architecture) -> bool:
        if not self.constraints:
            return True
        if self._feasible is not None:
            return arch in self._feasible
        return self.constraints.satisfied(self.space.cost(arch))

    def accepts(self, arch: Architecture) -> bool:
        """Whether ``arch`` is worth proposing: not scored yet, and feasible."""
        return arch not in self._seen and self.is_feasible(arch)

    def sample_new(self) -> Architecture:
        """A uniform draw among the feasible architectures not scored yet.

        Rejection sampling first; then, for spaces small enough to enumerate, a uniform pick among
        the remaining ones. Raises SearchExhausted when none is left.
        """
        for _ in range(self.max_sampling_attempts):
            arch = self.space.sample(self.rng)
            if self.accepts(arch):
                return arch
        if self._feasible_list is not None:
            candidates = self._feasible_list
        elif self.space.size <= EXACT_LIMIT:
            candidates = list(self.space.enumerate())
        else:
            raise SearchExhausted(f"no new feasible architecture in {self.max_sampling_attempts} uniform samples "
                                  f"of search space {self.space.name!r}")
        left = [a for a in candidates if a not in self._seen]
        if not left:
            raise SearchExhausted(f"all {len(candidates):,} feasible architectures of search space "
                                  f"{self.space.name!r} have been scored")
        return left[int(self.rng.integers(len(left)))]

    # -- tell ----------------------------------------------------------------------------------------
    def tell(self, arch: Architecture, score: float) -> Trial:
        """Record ``score`` for ``arch``; an architecture told again keeps its first trial."""
        arch = self.space.validate(arch)
        known = self._seen.get(arch)
        if known is not None:
            return known
        cost = self.space.cost(arch)
        broken = self.constraints.violations(cost) if self.constraints else []
        if broken:
            raise InvalidArchitectureError(
                f"{arch} violates the searcher's constraints ({'; '.join(broken)}): "
                "score only architectures that ask() proposes, or loosen the constraints")
        trial = Trial(len(self.history), arch, float(score), cost)
        self.history.trials.append(trial)
        self._seen[arch] = trial
        return trial

    def cached_score(self, arch: Architecture) -> float | None:
        """The score already known for ``arch`` (so it is not scored again), or None."""
        known = self._seen.get(arch)
        return None if known is None else known.score

    def _reuse_score(self, arch: Architecture, score: float) -> None:
        """Tell the strategy a proposal's known score without a new trial (strategies that can repeat one)."""

    # -- the loop -----------------------------------------------------------------------------------
    def search(self, objective: Objective, budget: int, progress: Callable[[Trial], None] | None = None,
               state_path: str | Path | None = None) -> History:
        """Ask, score and tell until ``budget`` distinct architectures are in the history.

        A proposal whose score is already known is not scored again. With ``state_path`` the
        searcher's state is saved atomically as the search goes (see ``save_fraction``) and when it
        ends; load it with ``load`` to resume. A search killed between two saves resumes from the
        last one and scores its later children again: it ends with the same history as an
        uninterrupted one. Stops early when the feasible space is exhausted.
        """
        repeats = 0
        saved, saved_at = len(self.history), time.monotonic()
        while len(self.history) < budget:
            try:
                arch = self.ask()
            except SearchExhausted:
                break
            known = self.cached_score(arch)
            if known is not None:
                self._reuse_score(arch, known)
                repeats += 1
                if repeats > 100 * budget + 1000:
                    break  # the strategy keeps proposing what it has seen: the space is (nearly) exhausted
                continue
            trial = self.tell(arch, objective(arch))
            if state_path is not None and self._save_due(len(self.history) - saved, saved,
                                                         time.monotonic() - saved_at):
                self.save(state_path)
                saved, saved_at = len(self.history), time.monotonic()
            if progress is not None:
                progress(trial)
        # An exception (a kill) skips this: the last save is the consistent state to resume from.
        if state_path is not None and len(self.history) != saved:
            self.save(state_path)
        return self.history

    def _save_due(self, unsaved: int, saved: int, seconds: float) -> bool:
        """Whether ``search`` saves now: ``unsaved`` children were told since the last save (of ``saved``
        children), ``seconds`` ago."""
        return unsaved >= max(1, int(self.save_fraction * saved)) or seconds >= self.save_seconds

    # -- state ----------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"searcher": type(self).__name__, "seed": self.seed, "rng": self.rng.bit_generator.state,
                "constraints": self.constraints.bounds(),
                "history": [(str(t.arch), t.score) for t in self.history.trials]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        saved = state.get("searcher", type(self).__name__)
        if saved != type(self).__name__:
            raise CheckpointError(f"the saved searcher state is a {saved}'s, not a {type(self).__name__}'s: "
                                  "resume with the same searcher, or use another run folder")
        bounds = state.get("constraints", self.constraints.bounds())
        if bounds != self.constraints.bounds():
            raise CheckpointError(f"the saved searcher state was searched under constraints {bounds}, this searcher "
                                  f"has {self.constraints.bounds()}: use the same constraints or another run folder")
        self.seed = state["seed"]
        self.history = History()
        self._seen = {}
        for text, score in state["history"]:
            self._restore(self.space.parse(text), score)
        self.rng.bit_generator.state = state["rng"]

    def _restore(self, arch: Architecture, score: float) -> None:
        """Replay one saved trial (strategies with outside state, such as an Optuna study, extend this)."""
        self.tell(arch, score)

    def save(self, path: str | Path) -> None:
        """Write ``state_dict()`` atomically (never a half-written file)."""
        from nas.checkpoint import save_atomic

        save_atomic(self.state_dict(), path)

    def load(self, path: str | Path) -> None:
        """Continue from a state written by ``save`` (a damaged file is a CheckpointError)."""
        from nas.checkpoint import load_checkpoint

        self.load_state_dict(load_checkpoint(path))
