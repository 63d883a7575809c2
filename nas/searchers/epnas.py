"""EPNAS: progressive search over partial architectures, sampled in proportion to a surrogate's predictions."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from nas.architecture import Architecture, Option
from nas.errors import ConfigError
from nas.search_space import SearchSpace
from nas.searchers.base import Searcher
from nas.searchers.constraints import Constraints
from nas.searchers.surrogate import MLPSurrogate, Surrogate

Prefix = tuple[Option, ...]
"""A partial architecture: the options of the space's first ``len(prefix)`` decisions."""


def sampling_probabilities(predicted: np.ndarray, temperature: float) -> np.ndarray:
    """``p ∝ exp(z / temperature)`` with ``z`` the predictions standardised (mean 0, std 1; all equal: uniform),
    so a temperature means the same whatever the scores' scale: high is near uniform, low is near argmax.

    Example:
        >>> np.round(sampling_probabilities(np.array([0.1, 0.2, 0.3]), 1e3), 3).tolist()
        [0.333, 0.333, 0.334]
        >>> np.round(sampling_probabilities(np.array([0.1, 0.2, 0.3]), 0.01), 3).tolist()
        [0.0, 0.0, 1.0]
    """
    logits = _logits(predicted, temperature)
    weights = np.exp(logits - logits.max())
    return weights / weights.sum()


def sample_unique(predicted: np.ndarray, temperature: float, k: int, rng: np.random.Generator) -> list[int]:
    """``k`` distinct indices drawn one after another, each with probability ``sampling_probabilities`` renormalised
    over the ones not drawn yet (Gumbel top-k: the ``k`` largest ``logit + Gumbel noise``). At a low temperature
    this is the greedy top-``k`` of the predictions; the first index drawn has exactly ``sampling_probabilities``.

    Example:
        >>> sample_unique(np.array([0.1, 0.5, 0.3, 0.9]), 1e-6, 2, np.random.default_rng(0))
        [3, 1]
    """
    keys = _logits(predicted, temperature) + rng.gumbel(size=len(predicted))
    return [int(i) for i in np.argsort(-keys, kind="stable")[:k]]


def _logits(predicted: np.ndarray, temperature: float) -> np.ndarray:
    predicted = np.asarray(predicted, float)
    std = predicted.std()
    z = (predicted - predicted.mean()) / std if std > 0 else np.zeros_like(predicted)
    return z / float(temperature)


class EPNAS(Searcher):
    """Efficient Progressive NAS (Perez-Rua et al. 2018) as an ask-and-tell searcher over a weight-sharing
    objective: PNAS's progressive levels with a surrogate that sets *sampling probabilities* instead of a greedy
    top-K.

    The space's decisions, in their declared order, are grown ``decisions_per_level`` at a time: level ``l``
    holds partial architectures fixing the first ``l * decisions_per_level`` decisions. At each level the
    expansions of the previous level's picks (all options of the next decisions; level 1: all partials) are
    scored by the ``surrogate`` (default ``MLPSurrogate``; any ``Surrogate``), fitted on every score told so far,
    and ``samples_per_level`` unique partials are drawn without replacement with probability
    ``sampling_probabilities(prediction, T_l)`` (renormalised after each draw: ``sample_unique``); the temperature falls geometrically from ``temperature_start``
    at level 1 to ``temperature_end`` at the last level. Each pick is scored through one full child: the partial
    completed with uniform random options for the decisions it leaves open (the supernet scores full children
    only), a completion never scored before and feasible under ``constraints``; the last level's picks are full
    children. Partials are encoded one-hot per fixed decision and uniform (1/options) per open one, the mean of
    the completions' encodings. After the last level a new pass starts at level 1 with the refitted surrogate,
    until the budget is spent. The history, the RNG and the pass position are the whole state: a resumed search
    continues exactly.

    Example:
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> searcher = EPNAS(NB201SearchSpace(), seed=0, samples_per_level=8)
        >>> history = searcher.search(lambda arch: float(str(arch).count("nor_conv_3x3")), budget=60)
        >>> len(history), len({t.arch for t in history.trials}), history.best.score >= 4.0
        (60, 60, True)
    """

    def __init__(self, space: SearchSpace, seed: int = 0, constraints: Constraints | Mapping[str, Any] | None = None,
                 samples_per_level: int = 10, decisions_per_level: int = 1, temperature_start: float = 1.0,
                 temperature_end: float = 0.1, surrogate: Surrogate | None = None, completion_tries: int = 50):
        if int(samples_per_level) < 1 or int(decisions_per_level) < 1 or int(completion_tries) < 1:
            raise ConfigError(f"samples_per_level, decisions_per_level and completion_tries must be >= 1, got "
                              f"{samples_per_level}, {decisions_per_level}, {completion_tries}")
        if not (float(temperature_start) > 0 and float(temperature_end) > 0):
            raise ConfigError(f"temperatures must be > 0, got temperature_start={temperature_start}, "
                              f"temperature_end={temperature_end}")
        super().__init__(space, seed, constraints)
        self.samples_per_level = int(samples_per_level)
        self.decisions_per_level = int(decisions_per_level)
        self.temperature_start, self.temperature_end = float(temperature_start), float(temperature_end)
        self.surrogate = surrogate if surrogate is not None else MLPSurrogate(seed=seed)
        self.completion_tries = int(completion_tries)
        self.names = list(space.decisions)
        self.options = [list(space.decisions[name]) for name in self.names]
        self.levels = math.ceil(len(self.names) / self.decisions_per_level)
        self._offsets = np.cumsum([0] + [len(o) for o in self.options])
        self.level = self.levels  # the next level to expand; == levels: a new pass starts
        self.passes = 0
        self.frontier: list[Prefix] = []
        self.queue: list[Architecture] = []

    # -- encodings and the schedule ----------------------------------------------------------------------------
    def encode(self, prefixes: list[Prefix]) -> np.ndarray:
        """One-hot per fixed decision, uniform over the options of every open one."""
        out = np.zeros((len(prefixes), int(self._offsets[-1])))
        for row, prefix in enumerate(prefixes):
            for d, options in enumerate(self.options):
                start = self._offsets[d]
                if d < len(prefix):
                    out[row, start + options.index(prefix[d])] = 1.0
                else:
                    out[row, start:start + len(options)] = 1.0 / len(options)
        return out

    def temperature(self, level: int) -> float:
        """Level ``level``'s (0-based) temperature: geometric from ``temperature_start`` to ``temperature_end``."""
        if self.levels == 1:
            return self.temperature_end
        ratio = self.temperature_end / self.temperature_start
        return self.temperature_start * ratio ** (level / (self.levels - 1))

    def fixed(self, level: int) -> int:
        """How many decisions level ``level`` (0-based) fixes."""
        return min((level + 1) * self.decisions_per_level, len(self.names))

    def predict(self, prefixes: list[Prefix]) -> np.ndarray:
        """The surrogate's scores of ``prefixes``, fitted on every trial told; zeros (uniform) before two trials."""
        if len(self.history) < 2:
            return np.zeros(len(prefixes))
        trials = self.history.trials
        self.surrogate.fit(self.encode([tuple(t.arch[n] for n in self.names) for t in trials]),
                           np.array([t.score for t in trials]))
        return self.surrogate.predict(self.encode(prefixes))

    # -- ask -----------------------------------------------------------------------------------------------
    def ask(self) -> Architecture:
        for _ in range(2 * self.levels + 2):  # a pass that yields nothing new falls back to uniform draws
            while self.queue:
                arch = self.queue.pop(0)
                if self.accepts(arch):
                    return arch
            self._expand()
        return self.sample_new()

    def _expand(self) -> None:
        """Draw the next level's picks and queue one child per pick."""
        if self.level >= self.levels:
            self.level, self.passes, self.frontier = 0, self.passes + 1, [()]
        start, stop = len(self.frontier[0]), self.fixed(self.level)
        candidates = list(dict.fromkeys(prefix + tail for prefix in self.frontier
                                        for tail in _combinations(self.options[start:stop])))
        last = stop == len(self.names)
        if last:  # full children: only those still worth proposing
            candidates = [c for c in candidates if self.accepts(self._arch(c))]
        if not candidates:
            self.level, self.queue = self.levels, []
            return
        k = min(self.samples_per_level, len(candidates))
        picks = [candidates[i] for i in sample_unique(self.predict(candidates), self.temperature(self.level), k,
                                                      self.rng)]
        self.frontier, self.level = picks, self.level + 1
        self.queue = [arch for arch in (self._complete(p) for p in picks) if arch is not None]

    def _complete(self, prefix: Prefix) -> Architecture | None:
        """``prefix`` with uniform random options for its open decisions: one never scored and feasible."""
        for _ in range(self.completion_tries if len(prefix) < len(self.names) else 1):
            tail = tuple(o[int(self.rng.integers(len(o)))] for o in self.options[len(prefix):])
            arch = self._arch(prefix + tail)
            if self.accepts(arch) and arch not in self.queue:
                return arch
        return None

    def _arch(self, options: Prefix) -> Architecture:
        return self.space.make(dict(zip(self.names, options)))

    # -- state ---------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "epnas": {
            "level": self.level, "passes": self.passes, "frontier": [list(p) for p in self.frontier],
            "queue": [str(a) for a in self.queue]}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        saved = state["epnas"]
        self.level, self.passes = int(saved["level"]), int(saved["passes"])
        self.frontier = [tuple(p) for p in saved["frontier"]]
        self.queue = [self.space.parse(text) for text in saved["queue"]]


def _combinations(options: list[list[Option]]) -> list[Prefix]:
    """Every tuple of one option per list (the last varies fastest)."""
    out: list[Prefix] = [()]
    for choices in options:
        out = [prefix + (o,) for prefix in out for o in choices]
    return out



