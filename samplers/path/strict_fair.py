"""Strict fairness (FairNAS): every option of every decision trains exactly once per step."""

from __future__ import annotations

from nas.architecture import Architecture
from nas.errors import ConfigError
from nas.search_space import SearchSpace
from samplers.path.base import PathSampler


class StrictFairPathSampler(PathSampler):
    """Each step draws a random permutation of the options of every decision and returns the m
    children built from them (child j takes the j-th option of every permutation); the trainer
    accumulates their gradients on the same batch and makes one optimizer step. Needs every
    decision to have the same number m of options.

    Example:
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> children = StrictFairPathSampler(NB201SearchSpace(), seed=0).sample(3)
        >>> len(children), sorted(c["1<-0"] for c in children) == sorted(NB201SearchSpace().decisions["1<-0"])
        (5, True)
    """

    def __init__(self, space: SearchSpace, seed: int = 0):
        super().__init__(space, seed)
        counts = {name: len(options) for name, options in space.decisions.items()}
        if len(set(counts.values())) != 1:
            raise ConfigError(
                f"strict fairness needs the same number of options in every decision; {space.name!r} has {counts}. "
                "Use path_sampler=uniform or sandwich for this space."
            )
        self.num_children = next(iter(counts.values()))

    def sample(self, step: int) -> list[Architecture]:
        rng = self.rng(step)
        decisions = self.space.decisions
        orders = {name: rng.permutation(self.num_children) for name in decisions}
        return [
            self.space.architecture_cls({name: options[int(orders[name][j])] for name, options in decisions.items()})
            for j in range(self.num_children)
        ]
