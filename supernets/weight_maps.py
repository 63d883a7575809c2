"""Weight maps: how a decision's architecture logits become the weights of its options.

A gradient-based search keeps one vector of logits per decision (``ArchitectureParameters``); a weight
map turns it into the weights that the relaxed supernet mixes the options with:

- ``Softmax`` (DARTS): ``softmax(logits)``, deterministic;
- ``GumbelSoftmax`` (GDAS): a one-hot sample of ``softmax((logits + gumbel) / tau)`` whose gradient is the
  soft sample's (straight-through), the temperature ``tau`` annealed linearly over the training budget;
- ``Dirichlet`` (DrNAS): a sample of ``Dirichlet(elu(logits) + 1)`` by its pathwise (reparameterised)
  gradient, with an optional KL anchor ``kl_weight * KL(Dir(concentration) || Dir(prior))``.

All draw their noise from the global torch generator, so a checkpoint's RNG state resumes them exactly.
Every map derives the same architecture from the logits: the argmax per decision (the Dirichlet mean and
the softmax are monotone in the logits).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
import torch.nn.functional as F

from nas.errors import ConfigError


class WeightMap(ABC):
    """Logits of one decision (last dimension: its options) -> the weights its options are mixed with."""

    stochastic: bool = False
    """Whether the weights are a sample (then a second-order, unrolled DARTS step does not apply)."""

    @abstractmethod
    def __call__(self, logits: torch.Tensor, progress: float) -> torch.Tensor:
        """The weights at ``progress`` (the fraction of the training budget done, ``TrainingBudget.progress``)."""

    def expected(self, logits: torch.Tensor) -> torch.Tensor:
        """The weights' expectation-like summary that a run records (softmax of the logits by default)."""
        return torch.softmax(logits.detach(), dim=-1)

    def regulariser(self, logits: torch.Tensor) -> torch.Tensor:
        """A penalty added to the architecture loss, for one decision (none by default)."""
        return logits.new_zeros(())

    def scalars(self, progress: float) -> dict[str, float]:
        """Values worth logging at ``progress`` (a temperature)."""
        return {}


class Softmax(WeightMap):
    """DARTS' continuous relaxation: every option weighted by the softmax of the logits.

    Example:
        >>> Softmax()(torch.tensor([0.0, 0.0]), progress=0.0)
        tensor([0.5000, 0.5000])
    """

    def __call__(self, logits: torch.Tensor, progress: float) -> torch.Tensor:
        return torch.softmax(logits, dim=-1)

    def __repr__(self) -> str:
        return "Softmax()"


class GumbelSoftmax(WeightMap):
    """GDAS' differentiable sampler: one option per decision, gradients of the soft Gumbel-softmax sample.

    ``forward``: ``y = softmax((logits + g) / tau)`` with Gumbel noise ``g``; the weights are
    ``one_hot(argmax y) - y.detach() + y``: exactly one-hot in value (so a mixed op runs only the sampled
    option) and ``y``'s gradient. ``tau`` decays linearly from ``tau_max`` at the first step to ``tau_min``
    at the end of the budget (GDAS: 10 -> 0.1 over the search).

    Example:
        >>> gdas = GumbelSoftmax(tau_max=10.0, tau_min=0.1)
        >>> gdas.temperature(0.0), gdas.temperature(0.5), gdas.temperature(1.0)
        (10.0, 5.05, 0.1)
        >>> _ = torch.manual_seed(0)
        >>> w = gdas(torch.zeros(4, requires_grad=True), progress=0.0)
        >>> sorted(w.tolist())
        [0.0, 0.0, 0.0, 1.0]
    """

    stochastic = True

    def __init__(self, tau_max: float = 10.0, tau_min: float = 0.1):
        if not 0 < tau_min <= tau_max:
            raise ConfigError(f"GumbelSoftmax needs 0 < tau_min <= tau_max, got tau_min={tau_min}, tau_max={tau_max}")
        self.tau_max, self.tau_min = float(tau_max), float(tau_min)

    def temperature(self, progress: float) -> float:
        """``tau`` at ``progress`` in [0, 1]: linear from ``tau_max`` to ``tau_min``."""
        progress = min(max(float(progress), 0.0), 1.0)
        return self.tau_min + (self.tau_max - self.tau_min) * (1.0 - progress)

    def __call__(self, logits: torch.Tensor, progress: float) -> torch.Tensor:
        gumbel = -torch.empty_like(logits).exponential_().log()
        soft = torch.softmax((logits + gumbel) / self.temperature(progress), dim=-1)
        hard = F.one_hot(soft.argmax(dim=-1), logits.shape[-1]).to(soft.dtype)
        return hard - soft.detach() + soft

    def scalars(self, progress: float) -> dict[str, float]:
        return {"architecture/temperature": self.temperature(progress)}

    def __repr__(self) -> str:
        return f"GumbelSoftmax(tau_max={self.tau_max}, tau_min={self.tau_min})"


class Dirichlet(WeightMap):
    """DrNAS: the option weights are a Dirichlet sample with concentration ``elu(logits) + 1``.

    The sample's gradient is the pathwise derivative (``torch.distributions.Dirichlet.rsample``). With
    ``kl_weight`` > 0 the architecture loss adds ``kl_weight * KL(Dir(concentration) || Dir(prior, ...,
    prior))`` per decision, the anchor that keeps the distribution from collapsing (DrNAS' regulariser).

    Example:
        >>> drnas = Dirichlet(kl_weight=1.0, prior=1.0)
        >>> float(drnas.regulariser(torch.zeros(3)))   # concentration 1 = the prior: no divergence
        0.0
        >>> drnas.expected(torch.zeros(2))
        tensor([0.5000, 0.5000])
    """

    stochastic = True

    def __init__(self, kl_weight: float = 0.0, prior: float = 1.0):
        if kl_weight < 0 or prior <= 0:
            raise ConfigError(f"Dirichlet needs kl_weight >= 0 and prior > 0, got kl_weight={kl_weight}, prior={prior}")
        self.kl_weight, self.prior = float(kl_weight), float(prior)

    @staticmethod
    def concentration(logits: torch.Tensor) -> torch.Tensor:
        """``elu(logits) + 1``: positive, and 1 (the flat Dirichlet) at logits 0."""
        return F.elu(logits) + 1.0

    def __call__(self, logits: torch.Tensor, progress: float) -> torch.Tensor:
        return torch.distributions.Dirichlet(self.concentration(logits)).rsample()

    def expected(self, logits: torch.Tensor) -> torch.Tensor:
        """The Dirichlet mean, ``concentration / concentration.sum()``."""
        concentration = self.concentration(logits.detach())
        return concentration / concentration.sum(dim=-1, keepdim=True)

    def regulariser(self, logits: torch.Tensor) -> torch.Tensor:
        if self.kl_weight == 0:
            return logits.new_zeros(())
        q = torch.distributions.Dirichlet(self.concentration(logits))
        p = torch.distributions.Dirichlet(torch.full_like(logits, self.prior))
        return self.kl_weight * torch.distributions.kl_divergence(q, p).sum()

    def __repr__(self) -> str:
        return f"Dirichlet(kl_weight={self.kl_weight}, prior={self.prior})"
