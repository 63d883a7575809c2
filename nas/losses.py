"""Training losses on logits: cross-entropy on the labels, and distillation from a teacher's logits
(KL, adaptive alpha-divergence). Small objects chosen by Hydra ``_target_`` (``CrossEntropy``,
``KLDistillation``, ``AdaptiveAlphaDivergence``) over pure functions.

Notation: ``p`` is the teacher's distribution, ``q`` the student's, both softmaxes of logits.
The alpha-divergence (Amari's, as AlphaNet writes it) is

    D_alpha(p || q) = 1 / (alpha (alpha - 1)) * sum_i q_i ((p_i / q_i)^alpha - 1)

with limits D_0 = KL(q || p) (alpha -> 0: reverse KL, mode-seeking: penalises a student that
is confident where the teacher is not) and D_1 = KL(p || q) (alpha -> 1: forward KL, the usual
knowledge-distillation loss, mass-covering). Teacher logits never receive gradients here.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import torch
import torch.nn.functional as F

from nas.errors import ConfigError

_LIMIT = 1e-3
"""|alpha| or |alpha - 1| below this uses the KL limit (as AlphaNet does)."""


def _full_precision(logits: torch.Tensor) -> torch.Tensor:
    """Half-precision (AMP) logits in float32; float32 and float64 as they are."""
    return logits if logits.dtype in (torch.float32, torch.float64) else logits.float()


def kl_distillation(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """KL(p || q) averaged over the batch: the in-place distillation loss of BigNAS/OFA.

    Its gradient w.r.t. the student's logits is ``(softmax(student) - p) / batch``.

    Example:
        >>> s = torch.zeros(2, 3, requires_grad=True)
        >>> loss = kl_distillation(s, torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]]))
        >>> round(float(loss.detach()), 4)
        0.2165
    """
    log_q = F.log_softmax(_full_precision(student_logits), dim=1)
    log_p = F.log_softmax(_full_precision(teacher_logits.detach()), dim=1)
    return (log_p.exp() * (log_p - log_q)).sum(dim=1).mean()


def _divergence_terms(student_logits: torch.Tensor, teacher_logits: torch.Tensor, alpha: float,
                      beta: float | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-example (divergence with differentiable q, AlphaNet's rho weights, q detached)."""
    log_q = F.log_softmax(_full_precision(student_logits), dim=1)
    log_p = F.log_softmax(_full_precision(teacher_logits.detach()), dim=1)
    q = log_q.exp()
    log_ratio = log_p - log_q  # log(p / q), differentiable through q
    clip = float("inf") if beta is None else float(beta)
    if abs(alpha) < _LIMIT:  # KL(q || p) = sum q log(q / p), with the ratio p / q clipped at beta
        log_ratio_c = log_ratio if beta is None else log_ratio.clamp(max=math.log(clip))
        value = -(q * log_ratio_c).sum(dim=1)
        rho = log_ratio_c.detach() - 1.0
    elif abs(alpha - 1.0) < _LIMIT:  # KL(p || q) = sum p log(p / q)
        value = (log_p.exp() * log_ratio).sum(dim=1)
        rho = log_ratio.detach().exp()
    else:
        weight = torch.exp(alpha * log_ratio).clamp(max=clip)  # (p / q)^alpha, clipped at beta
        value = (q * (weight - 1.0)).sum(dim=1) / (alpha * (alpha - 1.0))
        rho = weight.detach() / alpha + 1.0 / (alpha * (alpha - 1.0))
    return value, rho, q.detach()


def alpha_divergence(student_logits: torch.Tensor, teacher_logits: torch.Tensor, alpha: float,
                     beta: float | None = None, reduction: str = "mean") -> torch.Tensor:
    """``D_alpha(p || q)`` per the module docstring, differentiable w.r.t. the student.

    ``alpha`` near 0 gives KL(q || p), near 1 KL(p || q). ``beta`` clips the importance weight
    ``(p / q)^alpha`` (AlphaNet's stabiliser; None: exact divergence). ``reduction``: ``"mean"``
    over the batch or ``"none"`` (one value per example).

    Example:
        >>> p, q = torch.tensor([[0.5, 0.5]]).log(), torch.tensor([[0.8, 0.2]]).log()
        >>> round(float(alpha_divergence(q, p, alpha=0.5)), 4)   # 4 (1 - sum sqrt(p q))
        0.2053
    """
    if reduction not in ("mean", "none"):
        raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
    value, _, _ = _divergence_terms(student_logits, teacher_logits, float(alpha), beta)
    return value.mean() if reduction == "mean" else value


def adaptive_alpha_divergence(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                              alpha_min: float = -1.0, alpha_max: float = 1.0, beta: float = 5.0
                              ) -> torch.Tensor:
    """AlphaNet's adaptive alpha-divergence, averaged over the batch.

    For each example the larger of the clipped divergences at ``alpha_min`` (negative: it
    punishes a student that under-estimates the teacher's uncertainty) and ``alpha_max``
    (positive: over-estimation) is the loss. Its value is that divergence; its gradient is
    AlphaNet's clipped one, ``-mean_x sum_i q_i rho_i grad log q_i`` with
    ``rho = min((p/q)^alpha, beta) / alpha + 1 / (alpha (alpha - 1))``: the importance ratio,
    clipped at ``beta``, bounds the gradient of the (otherwise unbounded) divergence.

    Example:
        >>> s = torch.tensor([[2.0, 0.0, -1.0]], requires_grad=True)
        >>> loss = adaptive_alpha_divergence(s, torch.tensor([[0.0, 1.0, 0.0]]))
        >>> loss.backward()
        >>> float(loss.detach()) > 0, s.grad.sum().abs().item() < 1e-6   # softmax gradients sum to zero
        (True, True)
    """
    if alpha_min > alpha_max:
        raise ValueError(f"alpha_min ({alpha_min}) must not exceed alpha_max ({alpha_max})")
    values, surrogates = [], []
    for alpha in (float(alpha_min), float(alpha_max)):
        value, rho, q = _divergence_terms(student_logits, teacher_logits, alpha, beta)
        log_q = F.log_softmax(_full_precision(student_logits), dim=1)
        values.append(value.detach())
        surrogates.append(-(q * rho * log_q).sum(dim=1))
    left_larger = values[0] > values[1]
    value = torch.where(left_larger, values[0], values[1])
    surrogate = torch.where(left_larger, surrogates[0], surrogates[1])
    return (value + surrogate - surrogate.detach()).mean()



# -- loss objects ---------------------------------------------------------------------------------
class LabelLoss(ABC):
    """A loss of logits against integer labels, with optional per-example weights (importance sampling)."""

    @abstractmethod
    def __call__(self, logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None = None
                 ) -> torch.Tensor:
        """The batch's loss: the mean over examples, each weighted by ``weights`` when given."""


class CrossEntropy(LabelLoss):
    """Cross-entropy on the labels, with ``label_smoothing`` in [0, 1) (0: plain cross-entropy).

    Example:
        >>> logits, labels = torch.tensor([[2.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 1])
        >>> round(float(CrossEntropy()(logits, labels)), 4)
        0.2201
        >>> round(float(CrossEntropy()(logits, labels, weights=torch.tensor([2.0, 0.0]))), 4)  # (2 * 0.1269 + 0) / 2
        0.1269
    """

    def __init__(self, label_smoothing: float = 0.0):
        if not 0.0 <= float(label_smoothing) < 1.0:
            raise ConfigError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        self.label_smoothing = float(label_smoothing)

    def __call__(self, logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None = None
                 ) -> torch.Tensor:
        if weights is None:
            return F.cross_entropy(logits, labels, label_smoothing=self.label_smoothing)
        per_example = F.cross_entropy(logits, labels, reduction="none", label_smoothing=self.label_smoothing)
        return (per_example * weights).mean()

    def __repr__(self) -> str:
        return f"CrossEntropy(label_smoothing={self.label_smoothing})"


class DistillationLoss(ABC):
    """A loss of a student's logits against a teacher's (detached) logits; the teacher gets no gradient."""

    @abstractmethod
    def __call__(self, student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
        """The batch's mean loss."""


class KLDistillation(DistillationLoss):
    """KL(teacher || student): the in-place distillation of BigNAS / once-for-all (``kl_distillation``).

    Example:
        >>> s = torch.zeros(2, 3)
        >>> round(float(KLDistillation()(s, torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]]))), 4)
        0.2165
    """

    def __call__(self, student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
        return kl_distillation(student_logits, teacher_logits)

    def __repr__(self) -> str:
        return "KLDistillation()"


class AdaptiveAlphaDivergence(DistillationLoss):
    """AlphaNet's adaptive alpha-divergence over ``[alpha_min, alpha_max]``, importance ratio clipped at
    ``beta`` (``adaptive_alpha_divergence``).

    Example:
        >>> loss = AdaptiveAlphaDivergence(alpha_min=-1.0, alpha_max=1.0, beta=5.0)
        >>> s, t = torch.tensor([[2.0, 0.0, -1.0]]), torch.tensor([[0.0, 1.0, 0.0]])
        >>> float(loss(s, t)) == float(adaptive_alpha_divergence(s, t, -1.0, 1.0, 5.0))
        True
    """

    def __init__(self, alpha_min: float = -1.0, alpha_max: float = 1.0, beta: float = 5.0):
        if not float(alpha_min) <= float(alpha_max):
            raise ConfigError(f"alpha_min ({alpha_min}) must not exceed alpha_max ({alpha_max}) of the adaptive "
                              "alpha-divergence: swap them")
        if not float(beta) > 0:
            raise ConfigError(f"beta (the clip of the importance ratio) must be positive, got {beta}")
        self.alpha_min, self.alpha_max, self.beta = float(alpha_min), float(alpha_max), float(beta)

    def __call__(self, student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
        return adaptive_alpha_divergence(student_logits, teacher_logits, self.alpha_min, self.alpha_max, self.beta)

    def __repr__(self) -> str:
        return f"AdaptiveAlphaDivergence(alpha_min={self.alpha_min}, alpha_max={self.alpha_max}, beta={self.beta})"
