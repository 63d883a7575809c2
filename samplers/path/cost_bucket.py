"""Cost-aware sampling: a cost bucket first, then a child inside it (SPOS's constrained sampling, ShiftNAS)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nas.architecture import Architecture
from nas.errors import ConfigError
from nas.search_space import SearchSpace
from samplers.path.base import PathSampler

ENUMERATE_LIMIT = 200_000


class CostBucketPathSampler(PathSampler):
    """Sort the space by ``cost`` (``"flops"`` or ``"params"``), cut it into ``num_buckets`` buckets of
    equal size, draw a bucket (uniformly, or by ``bucket_probs``), then a child uniformly inside it.

    Uniform sampling over-trains mid-size children, because most children are mid-size; equal
    buckets give small and large children as many steps as the middle. Spaces of up to 200,000
    children are bucketed exactly by enumeration; larger ones by rejection sampling with bucket
    edges estimated from ``pool_size`` uniform draws.

    Example:
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> sampler = CostBucketPathSampler(NB201SearchSpace(), num_buckets=4)
        >>> len(sampler.buckets), min(len(b) for b in sampler.buckets) > 3000
        (4, True)
    """

    def __init__(
        self,
        space: SearchSpace,
        seed: int = 0,
        num_buckets: int = 5,
        cost: str = "flops",
        bucket_probs: Sequence[float] | None = None,
        pool_size: int = 20_000,
        max_tries: int = 10_000,
    ):
        super().__init__(space, seed)
        if cost not in ("flops", "params"):
            raise ConfigError(f"cost must be 'flops' or 'params', got {cost!r}")
        if num_buckets < 1:
            raise ConfigError(f"num_buckets must be at least 1, got {num_buckets}")
        probs = np.full(num_buckets, 1.0 / num_buckets) if bucket_probs is None else np.asarray(bucket_probs, float)
        if probs.shape != (num_buckets,) or (probs < 0).any() or not np.isclose(probs.sum(), 1.0):
            raise ConfigError(f"bucket_probs must be {num_buckets} non-negative numbers summing to 1, got {bucket_probs}")
        self.cost, self.num_buckets, self.bucket_probs, self.max_tries = cost, num_buckets, probs, max_tries
        measure = space.flops if cost == "flops" else space.params
        if space.size <= ENUMERATE_LIMIT:
            archs = list(space.enumerate())
            order = np.argsort([measure(a) for a in archs], kind="stable")
            self.buckets: list[list[Architecture]] = [[archs[int(i)] for i in part]
                                                      for part in np.array_split(order, num_buckets)]
            self.edges = None
            self._bucket_index = {arch: i for i, bucket in enumerate(self.buckets) for arch in bucket}
        else:
            rng = np.random.default_rng([seed, 2**31 - 1])
            costs = np.sort([measure(space.sample(rng)) for _ in range(pool_size)])
            self.edges = np.quantile(costs, np.linspace(0, 1, num_buckets + 1)[1:-1])
            self.buckets = []
        self._measure = measure

    def bucket_of(self, arch: Architecture) -> int:
        if self.edges is not None:
            return int(np.searchsorted(self.edges, self._measure(arch), side="right"))
        return self._bucket_index[self.space.validate(arch)]

    def sample(self, step: int) -> list[Architecture]:
        rng = self.rng(step)
        bucket = int(rng.choice(self.num_buckets, p=self.bucket_probs))
        if self.edges is None:
            members = self.buckets[bucket]
            return [members[int(rng.integers(len(members)))]]
        for _ in range(self.max_tries):
            arch = self.space.sample(rng)
            if self.bucket_of(arch) == bucket:
                return [arch]
        raise ConfigError(f"no child of cost bucket {bucket} found in {self.max_tries} draws: use fewer buckets")
