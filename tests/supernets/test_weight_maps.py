"""Weight maps: DARTS' softmax, GDAS' straight-through Gumbel-softmax and its temperature, DrNAS' Dirichlet and KL."""

from __future__ import annotations

import math

import pytest
import torch
from scipy.special import digamma, gammaln

from nas.errors import ConfigError
from nas.training import TrainingBudget
from supernets.weight_maps import Dirichlet, GumbelSoftmax, Softmax


def test_softmax_is_the_softmax_of_the_logits():
    logits = torch.tensor([0.5, -1.0, 2.0])
    assert torch.allclose(Softmax()(logits, 0.3), torch.softmax(logits, 0))


def test_gdas_temperature_decays_linearly_over_the_budget_in_steps():
    gdas = GumbelSoftmax(tau_max=10.0, tau_min=0.1)
    budget = TrainingBudget(total_steps=200, steps_per_epoch=50)
    values = [gdas.temperature(budget.progress(step)) for step in (0, 50, 100, 150, 200)]
    assert values == pytest.approx([10.0, 7.525, 5.05, 2.575, 0.1])
    assert gdas.scalars(0.5) == {"architecture/temperature": pytest.approx(5.05)}
    with pytest.raises(ConfigError, match="tau_min <= tau_max"):
        GumbelSoftmax(tau_max=0.1, tau_min=1.0)


def test_gdas_sample_is_one_hot_with_the_soft_samples_gradient():
    logits = torch.tensor([0.3, -0.2, 1.0, 0.1], dtype=torch.float64, requires_grad=True)
    torch.manual_seed(3)
    hard = GumbelSoftmax(5.0, 0.1)(logits, 0.25)
    assert sorted(hard.tolist()) == [0.0, 0.0, 0.0, 1.0]
    upstream = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64)
    (grad_hard,) = torch.autograd.grad((hard * upstream).sum(), logits)
    # the same noise, the soft sample by hand: y = softmax((logits + g) / tau), tau at progress 0.25
    torch.manual_seed(3)
    gumbel = -torch.empty_like(logits).exponential_().log()
    tau = 0.1 + (5.0 - 0.1) * 0.75
    soft = torch.softmax((logits + gumbel) / tau, 0)
    (grad_soft,) = torch.autograd.grad((soft * upstream).sum(), logits)
    assert torch.allclose(grad_hard, grad_soft, atol=1e-12)
    assert int(hard.argmax()) == int(soft.argmax())


def test_gdas_samples_follow_the_softmax_of_the_logits():
    logits = torch.tensor([0.0, math.log(3.0)])  # p = (0.25, 0.75) at any temperature for the argmax
    torch.manual_seed(0)
    counts = sum(GumbelSoftmax(1.0, 1.0)(logits, 0.0) for _ in range(4000))
    assert counts[1] / 4000 == pytest.approx(0.75, abs=0.03)


def test_dirichlet_sample_is_on_the_simplex_and_differentiable():
    logits = torch.tensor([0.5, -0.3, 1.2], dtype=torch.float64, requires_grad=True)
    torch.manual_seed(0)
    sample = Dirichlet()(logits, 0.0)
    assert float(sample.detach().sum()) == pytest.approx(1.0) and bool((sample > 0).all())
    (grad,) = torch.autograd.grad(sample[0], logits)
    assert grad.abs().sum() > 0
    # the concentration is elu(logits) + 1, and the recorded weights are the Dirichlet mean
    concentration = torch.where(logits > 0, logits + 1, torch.exp(logits)).detach()
    assert torch.allclose(Dirichlet().expected(logits), concentration / concentration.sum())


def test_dirichlet_kl_anchor_equals_the_closed_form():
    logits = torch.tensor([0.7, -0.4, 2.0, 0.0], dtype=torch.float64)
    kl_weight, prior = 0.5, 2.0
    a = [x + 1 if x > 0 else math.exp(x) for x in logits.tolist()]  # elu + 1
    b = [prior] * len(a)
    a0, b0 = sum(a), sum(b)
    by_hand = (gammaln(a0) - sum(gammaln(x) for x in a) - gammaln(b0) + sum(gammaln(x) for x in b)
               + sum((x - y) * (digamma(x) - digamma(a0)) for x, y in zip(a, b)))
    got = Dirichlet(kl_weight=kl_weight, prior=prior).regulariser(logits)
    assert float(got) == pytest.approx(kl_weight * by_hand, rel=1e-10)
    assert float(Dirichlet(kl_weight=0.0).regulariser(logits)) == 0.0
    with pytest.raises(ConfigError, match="prior > 0"):
        Dirichlet(prior=0.0)
