import numpy as np
import pytest
import torch
from scipy.stats import chisquare

from nas.errors import ConfigError
from nas.training import StepFeedback, TrainingBudget
from samplers import PADADataSampler
from samplers.data.pada import pada_scores

FULL = {"shape": "constant", "end": 1.0}


def test_probabilities_follow_a_known_score_vector():
    scores = torch.tensor([1.0, 2.0, 3.0, 4.0, 0.5, 0.5])
    sampler = PADADataSampler(6, seed=0, ramp=FULL)
    sampler.record_scores(torch.arange(6), scores)
    sampler.set_epoch(1)
    assert sampler.probabilities.numpy() == pytest.approx((scores / scores.sum()).numpy())
    counts = np.zeros(6)
    for epoch in range(1, 2001):
        sampler.set_epoch(epoch)
        counts += np.bincount(sampler.epoch_indices().numpy(), minlength=6)
    expected = scores.double().numpy() / scores.double().sum().item() * counts.sum()
    assert chisquare(counts, expected).pvalue > 1e-4


def test_half_mixing_and_a_uniform_first_epoch():
    sampler = PADADataSampler(4, ramp={"start": 0.0, "end": 1.0})  # linear over the budget
    sampler.set_budget(TrainingBudget.of(epochs=4, steps_per_epoch=3))
    sampler.set_epoch(0)
    assert sorted(sampler.epoch_indices().tolist()) == [0, 1, 2, 3]  # weight 0: a permutation
    sampler.record_scores(torch.arange(4), torch.tensor([1.0, 1.0, 1.0, 5.0]))
    sampler.set_epoch(2)  # weight 0.5
    assert sampler.probabilities.numpy() == pytest.approx(0.5 / 4 + 0.5 * np.array([1, 1, 1, 5]) / 8)


def test_reweighted_data_gradient_is_unbiased_on_a_linear_model():
    torch.manual_seed(0)
    n, d = 40, 3
    x, y = torch.randn(n, d), torch.randn(n)
    w = torch.randn(d, requires_grad=True)
    full = torch.autograd.grad(((x @ w - y) ** 2).mean(), w)[0]
    sampler = PADADataSampler(n, seed=1, ramp={"shape": "constant", "end": 0.7}, reweight=True)
    sampler.record_scores(torch.arange(n), torch.rand(n) * 3 + 0.1)
    total, draws = torch.zeros(d), 0
    for epoch in range(1, 601):
        sampler.set_epoch(epoch)
        for batch in sampler.epoch_indices().split(8):
            weights = sampler.loss_weights(batch)
            loss = (weights * (x[batch] @ w - y[batch]) ** 2).mean()
            total += torch.autograd.grad(loss, w)[0]
            draws += 1
    estimate = total / draws
    assert torch.allclose(estimate, full, atol=0.03 * full.abs().max().item() + 0.01), (estimate, full)
    unweighted = PADADataSampler(n, seed=1, ramp={"shape": "constant", "end": 0.7})
    assert unweighted.loss_weights(torch.arange(3)) is None  # PA&DA's default: no reweighting


def test_resume_mid_epoch_draws_the_same_order():
    budget = TrainingBudget.of(epochs=5, steps_per_epoch=5)
    a = PADADataSampler(50, seed=3)
    a.set_budget(budget)
    a.set_epoch(2)
    order = a.epoch_indices()
    a.record_scores(order[:10], torch.rand(10))  # scores change during the epoch
    b = PADADataSampler(50, seed=3)
    b.set_budget(budget)
    b.load_state_dict(a.state_dict())
    b.set_epoch(2)
    assert torch.equal(b.epoch_indices(), order)


def test_zero_probability_with_reweighting_is_an_error():
    sampler = PADADataSampler(3, ramp=FULL, reweight=True)
    sampler.record_scores(torch.arange(3), torch.tensor([1.0, 0.0, 1.0]))
    with pytest.raises(ConfigError, match="probability zero"):
        sampler.set_epoch(1)



def test_scores_come_from_the_last_child_s_logits_by_the_documented_formula():
    """|softmax(logits) - onehot(y)| by hand: probabilities (0.5, 0.5) with label 0 give |(-0.5, 0.5)| = 0.7071;
    logits (ln 4, 0) are probabilities (0.8, 0.2), with label 1 |(0.8, -0.8)| = 1.1314."""
    logits = torch.tensor([[0.0, 0.0], [np.log(4.0), 0.0]])
    labels = torch.tensor([0, 1])
    expected = [np.sqrt(0.5), 0.8 * np.sqrt(2.0)]
    assert pada_scores(logits, labels).tolist() == pytest.approx(expected, rel=1e-6)
    sampler = PADADataSampler(10)
    first_child = torch.tensor([[5.0, -5.0], [5.0, -5.0]])  # ignored: PA&DA scores the step's last child
    sampler.observe(StepFeedback(0, [], indices=torch.tensor([7, 2]), labels=labels, logits=[first_child, logits]))
    assert sampler.scores[[7, 2]].tolist() == pytest.approx(expected, rel=1e-6)
    assert sampler.scores.dtype == torch.float64 and sampler.scores.sum() == pytest.approx(8 + sum(expected))
    assert sampler.needs == frozenset({"logits"})


def test_the_ramp_follows_max_steps():
    """Epoch 3 of 8 epochs of 10 steps starts at 3/8 of the budget; with max_steps=40 it starts at 3/4."""
    scores = torch.tensor([1.0, 3.0])
    weights = {}
    for name, budget in [("epochs", TrainingBudget.of(8, 10)), ("max_steps", TrainingBudget.of(8, 10, max_steps=40))]:
        sampler = PADADataSampler(2)
        sampler.set_budget(budget)
        sampler.record_scores(torch.arange(2), scores)
        sampler.set_epoch(3)
        weights[name] = (sampler.probabilities[1].item() - 0.5) / (0.75 - 0.5)  # p = (1 - w) / 2 + w * 3 / 4
    assert weights["epochs"] == pytest.approx(3 / 8) and weights["max_steps"] == pytest.approx(3 / 4)
    with pytest.raises(ConfigError, match="needs the training budget: call set_budget"):
        PADADataSampler(2).set_epoch(1)
