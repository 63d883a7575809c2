"""Losses: formulas on hand-made distributions, KL limits, AlphaNet's clipped gradient, and the loss objects
(cross-entropy with label smoothing and weights, KL, adaptive alpha-divergence) on hand values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nas.errors import ConfigError
from nas.losses import (
    AdaptiveAlphaDivergence,
    CrossEntropy,
    KLDistillation,
    adaptive_alpha_divergence,
    alpha_divergence,
    kl_distillation,
)

# Two hand-made examples: teacher p and student q over 3 classes; logits are their logs.
P = np.array([[0.7, 0.2, 0.1], [0.25, 0.25, 0.5]])
Q = np.array([[0.5, 0.3, 0.2], [0.6, 0.3, 0.1]])


def logits(probs: np.ndarray, requires_grad: bool = False) -> torch.Tensor:
    return torch.tensor(np.log(probs), dtype=torch.float64, requires_grad=requires_grad)


def kl(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * np.log(a / b)).sum(axis=1)


def amari(p: np.ndarray, q: np.ndarray, alpha: float) -> np.ndarray:
    return (q * ((p / q) ** alpha - 1)).sum(axis=1) / (alpha * (alpha - 1))


def test_kl_distillation_value_is_kl_teacher_to_student():
    value = kl_distillation(logits(Q), logits(P))
    assert float(value) == pytest.approx(kl(P, Q).mean(), rel=1e-12)
    assert float(kl_distillation(logits(P), logits(P))) == pytest.approx(0.0, abs=1e-12)


def test_kl_gradient_is_softmax_minus_teacher_probs_over_batch():
    torch.manual_seed(0)
    student = torch.randn(5, 7, dtype=torch.float64, requires_grad=True)
    teacher = torch.randn(5, 7, dtype=torch.float64, requires_grad=True)
    kl_distillation(student, teacher).backward()
    expected = (student.detach().softmax(1) - teacher.detach().softmax(1)) / 5
    torch.testing.assert_close(student.grad, expected, atol=1e-12, rtol=0)
    assert teacher.grad is None  # the teacher's logits get no gradient from distillation


@pytest.mark.parametrize("alpha", [-1.0, -0.5, 0.5, 2.0, 3.0])
def test_alpha_divergence_equals_its_formula(alpha):
    per_example = alpha_divergence(logits(Q), logits(P), alpha, reduction="none")
    np.testing.assert_allclose(per_example.numpy(), amari(P, Q, alpha), rtol=1e-12)
    assert float(alpha_divergence(logits(Q), logits(P), alpha)) == pytest.approx(amari(P, Q, alpha).mean())


def test_alpha_half_is_four_times_squared_hellinger():
    hellinger = 1 - np.sqrt(P * Q).sum(axis=1)
    np.testing.assert_allclose(alpha_divergence(logits(Q), logits(P), 0.5, reduction="none").numpy(),
                               4 * hellinger, rtol=1e-12)


def test_limits_are_the_two_kls():
    """alpha -> 0: KL(q || p) (student to teacher); alpha -> 1: KL(p || q) (teacher to student)."""
    reverse, forward = kl(Q, P), kl(P, Q)
    assert not np.allclose(reverse, forward)  # the two limits are told apart
    np.testing.assert_allclose(alpha_divergence(logits(Q), logits(P), 0.0, reduction="none").numpy(), reverse)
    np.testing.assert_allclose(alpha_divergence(logits(Q), logits(P), 1.0, reduction="none").numpy(), forward)
    for eps in (1e-2, 3e-3):  # the general formula (outside the limit branch) converges to them
        near0 = alpha_divergence(logits(Q), logits(P), eps, reduction="none").numpy()
        near1 = alpha_divergence(logits(Q), logits(P), 1 - eps, reduction="none").numpy()
        np.testing.assert_allclose(near0, reverse, rtol=3 * eps)
        np.testing.assert_allclose(near1, forward, rtol=3 * eps)


def test_alpha_divergence_is_zero_iff_equal_and_teacher_gets_no_gradient():
    assert float(alpha_divergence(logits(P), logits(P), -1.0)) == pytest.approx(0.0, abs=1e-12)
    student, teacher = logits(Q, requires_grad=True), logits(P, requires_grad=True)
    alpha_divergence(student, teacher, 0.5).backward()
    assert teacher.grad is None and student.grad.abs().sum() > 0


def test_clipping_bounds_the_importance_weight():
    # p/q = 10 on the first class; with alpha=2 the weight (p/q)^2 = 100 is clipped at beta=5
    p, q = np.array([[0.9, 0.1]]), np.array([[0.09, 0.91]])
    clipped = float(alpha_divergence(logits(q), logits(p), 2.0, beta=5.0))
    weights = np.minimum((p / q) ** 2, 5.0)
    assert clipped == pytest.approx(float((q * (weights - 1)).sum() / 2.0))
    assert clipped < float(alpha_divergence(logits(q), logits(p), 2.0))


def expected_adaptive(p: np.ndarray, q: np.ndarray, alphas=(-1.0, 1.0), beta=5.0):
    """Per example: the larger clipped divergence, and AlphaNet's gradient q_j (sum_i q_i rho_i - rho_j)."""
    values, grads = [], []
    for alpha in alphas:
        t = p / q
        if abs(alpha - 1) < 1e-9:
            value, rho = kl(p, q), t
        else:
            w = np.minimum(t**alpha, beta)
            value = (q * (w - 1)).sum(axis=1) / (alpha * (alpha - 1))
            rho = w / alpha + 1 / (alpha * (alpha - 1))
        values.append(value)
        grads.append(q * ((q * rho).sum(axis=1, keepdims=True) - rho))
    pick = values[0] > values[1]
    value = np.where(pick, values[0], values[1])
    grad = np.where(pick[:, None], grads[0], grads[1]) / len(p)
    return value.mean(), grad, pick


def test_adaptive_value_and_clipped_gradient_by_hand():
    p = np.array([[0.7, 0.2, 0.1], [0.25, 0.25, 0.5], [0.01, 0.01, 0.98], [0.98, 0.01, 0.01]])
    q = np.array([[0.5, 0.3, 0.2], [0.6, 0.3, 0.1], [0.9, 0.05, 0.05], [0.2, 0.4, 0.4]])
    student, teacher = logits(q, requires_grad=True), logits(p, requires_grad=True)
    loss = adaptive_alpha_divergence(student, teacher, -1.0, 1.0, beta=5.0)
    loss.backward()
    value, grad, pick = expected_adaptive(p, q)
    assert 0 < pick.sum() < len(p)  # both alphas win somewhere
    assert (q / p).max() > 5  # the clip is active for alpha = -1
    assert float(loss.detach()) == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose(student.grad.numpy(), grad, rtol=1e-10, atol=1e-14)
    assert teacher.grad is None


def test_adaptive_without_clipping_has_the_exact_gradient_of_the_divergence():
    torch.manual_seed(1)
    s1 = torch.randn(6, 5, dtype=torch.float64, requires_grad=True)
    s2 = s1.detach().clone().requires_grad_()
    t = torch.randn(6, 5, dtype=torch.float64)
    adaptive_alpha_divergence(s1, t, 0.5, 0.5, beta=math.inf).backward()
    alpha_divergence(s2, t, 0.5).backward()
    torch.testing.assert_close(s1.grad, s2.grad, atol=1e-12, rtol=1e-10)


def test_adaptive_is_zero_with_zero_gradient_when_student_matches_teacher():
    student = logits(P, requires_grad=True)
    loss = adaptive_alpha_divergence(student, logits(P))
    loss.backward()
    assert float(loss.detach()) == pytest.approx(0.0, abs=1e-12)
    torch.testing.assert_close(student.grad, torch.zeros_like(student.grad), atol=1e-12, rtol=0)


def test_float32_logits_and_bad_arguments():
    s, t = torch.randn(3, 4), torch.randn(3, 4)
    assert kl_distillation(s, t).dtype == torch.float32
    assert torch.isfinite(adaptive_alpha_divergence(s * 20, t * 20))
    with pytest.raises(ValueError, match="alpha_min"):
        adaptive_alpha_divergence(s, t, 1.0, -1.0)
    with pytest.raises(ValueError, match="reduction"):
        alpha_divergence(s, t, 0.5, reduction="sum")
    assert F.cross_entropy(s, t.softmax(1)) > 0  # (unrelated sanity: soft targets are valid inputs)



# -- loss objects -----------------------------------------------------------------------------------
def test_cross_entropy_equals_minus_log_probability_of_the_label():
    labels = torch.tensor([0, 2])
    value = CrossEntropy()(logits(P), labels)
    assert float(value) == pytest.approx(-(math.log(0.7) + math.log(0.5)) / 2, rel=1e-12)
    weighted = CrossEntropy()(logits(P), labels, weights=torch.tensor([3.0, 1.0], dtype=torch.float64))
    assert float(weighted) == pytest.approx(-(3 * math.log(0.7) + math.log(0.5)) / 2, rel=1e-12)


def test_label_smoothing_mixes_the_uniform_distribution_into_the_target():
    eps, labels = 0.3, torch.tensor([0, 2])
    target = np.full((2, 3), eps / 3) + (1 - eps) * np.eye(3)[[0, 2]]
    expected = -(target * np.log(P)).sum(axis=1).mean()
    assert float(CrossEntropy(label_smoothing=eps)(logits(P), labels)) == pytest.approx(expected, rel=1e-12)
    assert float(CrossEntropy(label_smoothing=0.0)(logits(P), labels)) == float(F.cross_entropy(logits(P), labels))
    with pytest.raises(ConfigError, match=r"label_smoothing must be in \[0, 1\), got 1.0"):
        CrossEntropy(label_smoothing=1.0)


def test_distillation_objects_equal_their_functions_on_hand_values():
    assert float(KLDistillation()(logits(Q), logits(P))) == pytest.approx(kl(P, Q).mean(), rel=1e-12)
    p = np.array([[0.7, 0.2, 0.1], [0.25, 0.25, 0.5], [0.01, 0.01, 0.98], [0.98, 0.01, 0.01]])
    q = np.array([[0.5, 0.3, 0.2], [0.6, 0.3, 0.1], [0.9, 0.05, 0.05], [0.2, 0.4, 0.4]])
    student = logits(q, requires_grad=True)
    loss = AdaptiveAlphaDivergence(alpha_min=-1.0, alpha_max=1.0, beta=5.0)(student, logits(p))
    loss.backward()
    value, grad, _ = expected_adaptive(p, q)
    assert float(loss.detach()) == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose(student.grad.numpy(), grad, rtol=1e-10, atol=1e-14)


def test_adaptive_alpha_divergence_options_are_checked():
    with pytest.raises(ConfigError, match=r"alpha_min \(1.0\) must not exceed alpha_max \(-1.0\)"):
        AdaptiveAlphaDivergence(alpha_min=1.0, alpha_max=-1.0)
    with pytest.raises(ConfigError, match="beta"):
        AdaptiveAlphaDivergence(beta=0.0)
    expected = "AdaptiveAlphaDivergence(alpha_min=-0.5, alpha_max=0.8, beta=3.0)"
    assert repr(AdaptiveAlphaDivergence(-0.5, 0.8, 3.0)) == expected
