"""Regularized (aging) evolution: tournament selection, mutation, and the oldest member dies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nas.architecture import Architecture
from nas.errors import ConfigError
from nas.search_space import SearchSpace
from nas.searchers.base import Searcher, Trial
from nas.searchers.constraints import Constraints


class RegularizedEvolution(Searcher):
    """Regularized evolution (Real et al., AAAI 2019), as an ask-and-tell searcher.

    The first ``population_size`` proposals are uniform draws. After that, each proposal is a
    child of a tournament winner: ``sample_size`` members drawn at random (with replacement, as in
    the paper's Algorithm 1) from the population, the best of them is the parent, and the child is
    ``space.mutate(parent)``; with probability ``crossover_prob`` the child is
    ``space.mutate(space.crossover(winner, second_winner))`` instead. Every told trial joins the
    population and, beyond ``population_size``, the OLDEST member leaves (not the worst): the
    population is exactly the last ``population_size`` trials of the history, so the history and
    the RNG are the whole state and a resumed search continues exactly.

    A child that is infeasible under ``constraints`` or already scored is never proposed: it is
    re-mutated from the same parent(s) up to ``repair_attempts`` times, then replaced by a uniform
    draw among the feasible architectures not scored yet.

    Example:
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> searcher = RegularizedEvolution(NB201SearchSpace(), seed=0, population_size=10, sample_size=3)
        >>> history = searcher.search(lambda arch: float(str(arch).count("nor_conv_3x3")), budget=60)
        >>> len(history), len(searcher.population), history.best.score
        (60, 10, 5.0)
    """

    def __init__(self, space: SearchSpace, seed: int = 0,
                 constraints: Constraints | Mapping[str, Any] | None = None,
                 population_size: int = 10, sample_size: int = 3, crossover_prob: float = 0.0,
                 mutation_decisions: int = 1, repair_attempts: int = 20):
        if int(population_size) < 1 or int(sample_size) < 1:
            raise ConfigError(f"population_size ({population_size}) and sample_size ({sample_size}) must be >= 1")
        if not 0.0 <= float(crossover_prob) <= 1.0:
            raise ConfigError(f"crossover_prob must be in [0, 1], got {crossover_prob}")
        if int(mutation_decisions) < 1 or int(repair_attempts) < 1:
            raise ConfigError(f"mutation_decisions ({mutation_decisions}) and repair_attempts ({repair_attempts}) "
                              "must be >= 1")
        super().__init__(space, seed, constraints)
        self.population_size = int(population_size)
        self.sample_size = int(sample_size)
        self.crossover_prob = float(crossover_prob)
        self.mutation_decisions = int(mutation_decisions)
        self.repair_attempts = int(repair_attempts)

    @property
    def population(self) -> list[Trial]:
        """The living members, oldest first: the last ``population_size`` trials."""
        return self.history.trials[-self.population_size:]

    def ask(self) -> Architecture:
        population = self.population
        if len(population) < self.population_size:
            return self.sample_new()
        parents = [self._tournament(population)]
        if self.crossover_prob > 0.0 and self.rng.random() < self.crossover_prob:
            parents.append(self._tournament(population))
        for _ in range(self.repair_attempts):
            child = self._offspring(parents)
            if self.accepts(child):
                return child
        return self.sample_new()

    def _tournament(self, population: list[Trial]) -> Architecture:
        """The best of ``sample_size`` members drawn with replacement (ties: the first drawn)."""
        drawn = self.rng.integers(len(population), size=self.sample_size)
        return max((population[int(i)] for i in drawn), key=lambda t: t.score).arch

    def _offspring(self, parents: list[Architecture]) -> Architecture:
        base = parents[0] if len(parents) == 1 else self.space.crossover(parents[0], parents[1], self.rng)
        return self.space.mutate(base, self.rng, self.mutation_decisions)
