import numpy as np
import pytest
from scipy.stats import chisquare

from nas.errors import ConfigError
from samplers.path.base import PathFeedback
from samplers.path.pada import PADAPathSampler
from search_spaces.nb201 import NB201SearchSpace

SPACE = NB201SearchSpace()
OPS = list(SPACE.decisions["1<-0"])  # none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3


def feed(sampler, norms_by_op, steps, decision="1<-0"):
    for step in range(steps):
        sampler.observe(PathFeedback(step, [], [], {(decision, op): v for op, v in norms_by_op.items()}))


def test_probabilities_mix_importance_and_uniform_as_documented():
    sampler = PADAPathSampler(SPACE, update_every=10, ramp={"shape": "constant", "end": 0.5}, floor=0.0)
    sampler.set_total_steps(100)
    feed(sampler, {"nor_conv_1x1": 1.0, "nor_conv_3x3": 3.0}, steps=10)
    p = sampler.probabilities()["1<-0"]
    importance = np.array([2.0, 2.0, 1.0, 3.0, 2.0])  # parameter-free ops get the mean of 1 and 3
    expected = 0.5 / 5 + 0.5 * importance / importance.sum()
    assert p == pytest.approx(expected)
    assert sampler.probabilities()["2<-0"] == pytest.approx(np.full(5, 0.2))  # not observed: uniform importance


def test_empirical_distribution_matches_the_probabilities():
    sampler = PADAPathSampler(SPACE, seed=2, update_every=5, ramp={"shape": "constant", "end": 1.0}, floor=0.0)
    feed(sampler, {"nor_conv_1x1": 1.0, "nor_conv_3x3": 4.0}, steps=5)
    p = sampler.probabilities()["1<-0"]
    n = 10_000
    counts = np.bincount([OPS.index(sampler.sample(s)[0]["1<-0"]) for s in range(100, 100 + n)], minlength=5)
    assert chisquare(counts, p * n).pvalue > 1e-4


def test_parameter_free_options_starve_only_to_the_floor():
    sampler = PADAPathSampler(SPACE, update_every=1, ramp={"shape": "constant", "end": 1.0}, floor=0.5,
                              parameter_free="zero")
    feed(sampler, {"nor_conv_1x1": 1.0, "nor_conv_3x3": 1.0}, steps=1)
    p = sampler.probabilities()["1<-0"]
    raw = np.array([0.1, 0.1, 0.5, 0.5, 0.1])  # floor 0.5/5 = 0.1 for the three parameter-free ops
    assert p == pytest.approx(raw / raw.sum())
    with pytest.raises(ConfigError, match="underflow to zero"):
        zero = PADAPathSampler(SPACE, update_every=1, ramp={"shape": "constant", "end": 1.0}, floor=0.0,
                               parameter_free="zero")
        feed(zero, {"nor_conv_1x1": 1.0, "nor_conv_3x3": 1.0}, steps=1)


def test_ramp_starts_uniform_and_shared_pools_decisions():
    sampler = PADAPathSampler(SPACE, update_every=1, floor=0.0, shared=True)  # linear ramp 0 -> 1
    sampler.set_total_steps(4)
    sampler.observe(PathFeedback(0, [], [], {("1<-0", "nor_conv_3x3"): 2.0, ("2<-0", "nor_conv_3x3"): 4.0,
                                             ("1<-0", "nor_conv_1x1"): 1.0}))
    p = sampler.probabilities()
    # progress 1/4 -> weight 0.25; pooled importance of conv3x3 = mean(2, 4, 1, 1, 1, 1) over the 6 edges
    assert p["1<-0"] == pytest.approx(p["3<-2"])
    assert not np.allclose(p["1<-0"], 0.2)


def test_state_round_trip_continues_identically():
    a = PADAPathSampler(SPACE, seed=5, update_every=3)
    a.set_total_steps(30)
    feed(a, {"nor_conv_3x3": 2.0, "nor_conv_1x1": 0.5}, steps=7)
    b = PADAPathSampler(SPACE, seed=5, update_every=3)
    b.set_total_steps(30)
    b.load_state_dict(a.state_dict())
    for step in range(7, 20):
        assert a.sample(step) == b.sample(step)
        fb = PathFeedback(step, [], [], {("1<-0", "nor_conv_3x3"): 1.0 + step})
        a.observe(fb)
        b.observe(fb)
    assert all(np.array_equal(a.probabilities()[k], b.probabilities()[k]) for k in a.probabilities())
