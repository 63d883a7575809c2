import numpy as np
import pytest
from scipy.stats import chisquare

from nas.errors import ConfigError
from nas.training import StepFeedback, TrainingBudget
from samplers import PADAPathSampler
from search_spaces.nb201 import NB201SearchSpace

SPACE = NB201SearchSpace()
OPS = list(SPACE.decisions["1<-0"])  # none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3
SUPERNET = NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light").build_supernet()


def pada(**kwargs) -> PADAPathSampler:
    """A sampler told its supernet, as the one-shot method does: parameter-free = options without parameters."""
    sampler = PADAPathSampler(SPACE, **kwargs)
    sampler.set_supernet(SUPERNET)
    return sampler


def feed(sampler, norms_by_op, steps, decision="1<-0"):
    for step in range(steps):
        sampler.observe(StepFeedback(step, [], option_grad_norms={(decision, op): v for op, v in norms_by_op.items()}))


def test_probabilities_mix_importance_and_uniform_as_documented():
    sampler = pada(update_every=10, ramp={"shape": "constant", "end": 0.5}, floor=0.0)
    sampler.set_budget(TrainingBudget(100, 10))
    feed(sampler, {"nor_conv_1x1": 1.0, "nor_conv_3x3": 3.0}, steps=10)
    p = sampler.probabilities()["1<-0"]
    importance = np.array([2.0, 2.0, 1.0, 3.0, 2.0])  # parameter-free ops get the mean of 1 and 3
    expected = 0.5 / 5 + 0.5 * importance / importance.sum()
    assert p == pytest.approx(expected)
    assert sampler.probabilities()["2<-0"] == pytest.approx(np.full(5, 0.2))  # not observed: uniform importance


def test_empirical_distribution_matches_the_probabilities():
    sampler = pada(seed=2, update_every=5, ramp={"shape": "constant", "end": 1.0}, floor=0.0)
    feed(sampler, {"nor_conv_1x1": 1.0, "nor_conv_3x3": 4.0}, steps=5)
    p = sampler.probabilities()["1<-0"]
    n = 10_000
    counts = np.bincount([OPS.index(sampler.sample(s)[0]["1<-0"]) for s in range(100, 100 + n)], minlength=5)
    assert chisquare(counts, p * n).pvalue > 1e-4


def test_parameter_free_options_starve_only_to_the_floor():
    sampler = pada(update_every=1, ramp={"shape": "constant", "end": 1.0}, floor=0.5,
                              parameter_free="zero")
    feed(sampler, {"nor_conv_1x1": 1.0, "nor_conv_3x3": 1.0}, steps=1)
    p = sampler.probabilities()["1<-0"]
    raw = np.array([0.1, 0.1, 0.5, 0.5, 0.1])  # floor 0.5/5 = 0.1 for the three parameter-free ops
    assert p == pytest.approx(raw / raw.sum())
    with pytest.raises(ConfigError, match="underflow to zero"):
        zero = pada(update_every=1, ramp={"shape": "constant", "end": 1.0}, floor=0.0,
                               parameter_free="zero")
        feed(zero, {"nor_conv_1x1": 1.0, "nor_conv_3x3": 1.0}, steps=1)


def test_ramp_starts_uniform_and_shared_pools_decisions():
    sampler = pada(update_every=1, floor=0.0, shared=True)  # linear ramp 0 -> 1
    sampler.set_budget(TrainingBudget(4, 1))
    sampler.observe(StepFeedback(0, [], option_grad_norms={("1<-0", "nor_conv_3x3"): 2.0, ("2<-0", "nor_conv_3x3"): 4.0,
                                             ("1<-0", "nor_conv_1x1"): 1.0}))
    p = sampler.probabilities()
    # progress 1/4 -> weight 0.25; pooled importance of conv3x3 = mean(2, 4, 1, 1, 1, 1) over the 6 edges
    assert p["1<-0"] == pytest.approx(p["3<-2"])
    assert not np.allclose(p["1<-0"], 0.2)


def test_state_round_trip_continues_identically():
    a = pada(seed=5, update_every=3)
    a.set_budget(TrainingBudget(30, 10))
    feed(a, {"nor_conv_3x3": 2.0, "nor_conv_1x1": 0.5}, steps=7)
    b = pada(seed=5, update_every=3)
    b.set_budget(TrainingBudget(30, 10))
    b.load_state_dict(a.state_dict())
    for step in range(7, 20):
        assert a.sample(step) == b.sample(step)
        fb = StepFeedback(step, [], option_grad_norms={("1<-0", "nor_conv_3x3"): 1.0 + step})
        a.observe(fb)
        b.observe(fb)
    assert all(np.array_equal(a.probabilities()[k], b.probabilities()[k]) for k in a.probabilities())


def test_parameter_free_options_are_those_the_supernet_gives_no_parameter():
    sampler = pada()
    free = {name: [o for o, f in zip(OPS, sampler._free[name]) if f] for name in SPACE.decisions}
    assert all(ops == ["none", "skip_connect", "avg_pool_3x3"] for ops in free.values())

    class OnlyConv3x3(SUPERNET.__class__):
        """A supernet in which 1<-0's conv1x1 owns no parameter (as if it were a parameter-free op)."""

        def option_parameters(self):
            owned = super().option_parameters()
            owned[("1<-0", "nor_conv_1x1")] = []
            return owned

    odd = PADAPathSampler(SPACE, update_every=1, ramp={"shape": "constant", "end": 1.0}, floor=0.0)
    odd.set_supernet(OnlyConv3x3(SUPERNET.config))
    feed(odd, {"nor_conv_3x3": 3.0}, steps=1)
    assert odd.importance["1<-0"].tolist() == [3.0, 3.0, 3.0, 3.0, 3.0]  # conv1x1 now gets the mean, like skip
    named = PADAPathSampler(SPACE, update_every=1, ramp={"shape": "constant", "end": 1.0}, floor=0.0,
                            parameter_free_options=["none"])  # names given: the supernet is not asked
    named.set_supernet(OnlyConv3x3(SUPERNET.config))
    feed(named, {"nor_conv_3x3": 3.0, "nor_conv_1x1": 1.0}, steps=1)
    assert named.importance["1<-0"].tolist() == [1.5, 1.0, 1.0, 3.0, 1.0]  # none: mean(1, 1, 3, 1) of the others


def test_without_a_supernet_or_names_the_sampler_refuses_to_guess():
    sampler = PADAPathSampler(SPACE, update_every=1, ramp={"shape": "constant", "end": 1.0})
    with pytest.raises(ConfigError, match="does not know which options are parameter-free: call set_supernet"):
        feed(sampler, {"nor_conv_3x3": 1.0}, steps=1)


def test_an_entangled_supernet_is_refused():
    from search_spaces.elastic_conv import ElasticConvSearchSpace

    space = ElasticConvSearchSpace(in_channels=1, num_classes=4, input_size=8)
    with pytest.raises(ConfigError, match="which parameters belong to which option"):
        PADAPathSampler(space).set_supernet(space.build_supernet())


def test_the_ramp_follows_the_budget_in_steps():
    """The same step is further along a budget cut by max_steps: progress = step / total_steps."""
    long, cut = pada(update_every=5, floor=0.0), pada(update_every=5, floor=0.0)
    long.set_budget(TrainingBudget.of(epochs=4, steps_per_epoch=5))                # 20 steps
    cut.set_budget(TrainingBudget.of(epochs=4, steps_per_epoch=5, max_steps=10))   # 10 steps
    for sampler in (long, cut):
        feed(sampler, {"nor_conv_1x1": 1.0, "nor_conv_3x3": 3.0}, steps=5)
    importance = np.array([2.0, 2.0, 1.0, 3.0, 2.0]) / 10
    assert long.probabilities()["1<-0"] == pytest.approx(0.75 / 5 + 0.25 * importance)  # w = 5 / 20
    assert cut.probabilities()["1<-0"] == pytest.approx(0.5 / 5 + 0.5 * importance)     # w = 5 / 10
    with pytest.raises(ConfigError, match="needs the training budget: call set_budget"):
        feed(pada(update_every=1), {"nor_conv_3x3": 1.0}, steps=1)
