"""Uniform single-path sampling (SPOS)."""

from __future__ import annotations

from nas.architecture import Architecture
from nas.errors import ConfigError
from nas.search_space import SearchSpace
from samplers.path.base import PathSampler


class UniformPathSampler(PathSampler):
    """Each step trains ``num_paths`` children, each decision drawn uniformly and independently.

    Example:
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> sampler = UniformPathSampler(NB201SearchSpace(), seed=0)
        >>> sampler.sample(7) == sampler.sample(7)       # a pure function of (seed, step)
        True
    """

    def __init__(self, space: SearchSpace, seed: int = 0, num_paths: int = 1):
        super().__init__(space, seed)
        if num_paths < 1:
            raise ConfigError(f"num_paths must be at least 1, got {num_paths}")
        self.num_paths = int(num_paths)

    def sample(self, step: int) -> list[Architecture]:
        rng = self.rng(step)
        return [self.space.sample(rng) for _ in range(self.num_paths)]
