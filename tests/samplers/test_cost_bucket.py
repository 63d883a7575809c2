import numpy as np
import pytest
from scipy.stats import chisquare

from nas.errors import ConfigError
from samplers import CostBucketPathSampler
from search_spaces.nb201 import NB201SearchSpace

SPACE = NB201SearchSpace(C=8, N=1, in_channels=1, input_size=16, reduction="light")


def test_buckets_partition_the_space_by_cost():
    sampler = CostBucketPathSampler(SPACE, num_buckets=5)
    assert sum(len(b) for b in sampler.buckets) == SPACE.size
    assert max(len(b) for b in sampler.buckets) - min(len(b) for b in sampler.buckets) <= 1
    tops = [max(SPACE.flops(a) for a in b) for b in sampler.buckets]
    bottoms = [min(SPACE.flops(a) for a in b) for b in sampler.buckets]
    assert all(tops[i] <= bottoms[i + 1] for i in range(4))


def test_bucket_frequencies_follow_bucket_probs_and_children_are_uniform_inside():
    probs = [0.1, 0.2, 0.3, 0.4]
    sampler = CostBucketPathSampler(SPACE, seed=3, num_buckets=4, bucket_probs=probs)
    n = 12_000
    draws = [sampler.sample(step)[0] for step in range(n)]
    counts = np.bincount([sampler.bucket_of(a) for a in draws], minlength=4)
    assert chisquare(counts, np.array(probs) * n).pvalue > 1e-4
    # inside the top bucket every child is equally likely: each decision's options match the bucket's own mix
    top = [a for a in draws if sampler.bucket_of(a) == 3]
    members = sampler.buckets[3]
    ops = list(SPACE.decisions["3<-2"])
    observed = np.bincount([ops.index(a["3<-2"]) for a in top], minlength=5)
    expected = np.bincount([ops.index(a["3<-2"]) for a in members], minlength=5) / len(members) * len(top)
    keep = expected > 0
    assert chisquare(observed[keep], expected[keep]).pvalue > 1e-4


def test_large_spaces_use_estimated_edges(monkeypatch):
    import samplers.path.cost_bucket as module

    monkeypatch.setattr(module, "ENUMERATE_LIMIT", 10)
    sampler = CostBucketPathSampler(SPACE, seed=0, num_buckets=3, pool_size=3000)
    assert sampler.edges is not None and len(sampler.edges) == 2
    buckets = np.bincount([sampler.bucket_of(sampler.sample(s)[0]) for s in range(3000)], minlength=3)
    assert chisquare(buckets).pvalue > 1e-4


def test_bad_options():
    with pytest.raises(ConfigError, match="bucket_probs"):
        CostBucketPathSampler(SPACE, num_buckets=2, bucket_probs=[0.5, 0.6])
    with pytest.raises(ConfigError, match="cost must be"):
        CostBucketPathSampler(SPACE, cost="latency")
