"""PA&DA data importance sampling: examples drawn in proportion to a gradient-norm proxy."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from nas.errors import ConfigError
from nas.training.feedback import StepFeedback
from samplers.data.base import DataSampler
from samplers.ramp import Ramp


def pada_scores(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """PA&DA's per-example score ``|softmax(logits) - onehot(labels)|``: the norm of the cross-entropy's
    gradient with respect to the logits, from a forward pass already made (no extra backward).

    Example:
        >>> scores = pada_scores(torch.tensor([[0.0, 0.0], [2.0, 0.0]]), torch.tensor([0, 1]))
        >>> [round(float(s), 4) for s in scores]   # |(-0.5, 0.5)| and |(0.8808, -0.8808)|
        [0.7071, 1.2456]
    """
    with torch.no_grad():
        probs = logits.float().softmax(1)
        probs[torch.arange(len(labels)), labels] -= 1.0
        return probs.norm(dim=1)


class PADADataSampler(DataSampler):
    """Importance sampling of training examples (PA&DA, Lu et al. CVPR 2023).

    The sampler needs the step's ``logits`` and scores each example of the batch with
    ``pada_scores`` of the step's last child. At each epoch it draws ``num_examples`` indices with
    replacement from ``p = (1 - w) / N + w * score / sum(score)`` (floored at ``floor / N``), ``w``
    following ``ramp`` over training progress when the epoch starts (the trainer's budget, in steps:
    ``trainer.max_steps`` counts); while ``w`` is 0 an epoch is a plain permutation, so every example is
    scored before importance starts. Examples never scored keep score 1. With ``reweight=True``,
    ``loss_weights(indices)`` returns ``1 / (N p)`` so that the expected gradient equals the full-batch
    gradient; PA&DA itself does not reweight (the default).

    The epoch's probabilities are fixed when the epoch starts and kept in ``state_dict()``, so
    a run resumed mid-epoch draws the same order. Under torchrun the trainer hands every rank the feedback
    of the whole global batch (``Distributed.gather_feedback``), so every rank scores every example and
    the ranks' distributions stay equal.

    Example:
        >>> sampler = PADADataSampler(4, ramp={"shape": "constant", "end": 1.0})
        >>> sampler.record_scores(torch.tensor([0, 1, 2, 3]), torch.tensor([1.0, 1.0, 2.0, 0.0]))
        >>> sampler.set_epoch(1)
        >>> sampler.probabilities.tolist()
        [0.25, 0.25, 0.5, 0.0]
    """

    needs: ClassVar[frozenset[str]] = frozenset({"logits"})

    def __init__(
        self,
        num_examples: int,
        seed: int = 0,
        ramp: Ramp | dict | None = None,
        reweight: bool = False,
        floor: float = 0.0,
        rank: int = 0,
        world_size: int = 1,
    ):
        super().__init__(num_examples, seed, rank, world_size)
        if not 0.0 <= floor <= 1.0:
            raise ConfigError(f"floor must be in [0, 1], got {floor}")
        self.ramp = ramp if isinstance(ramp, Ramp) else Ramp(**(ramp or {}))
        self.reweight = bool(reweight)
        self.floor = float(floor)
        self.scores = torch.ones(num_examples, dtype=torch.float64)
        self.probabilities = torch.full((num_examples,), 1.0 / num_examples, dtype=torch.float64)
        self._probs_epoch = -1

    def _weight(self, epoch: int) -> float:
        """The importance weight ``w`` of ``epoch``: the ramp at the budget's progress when the epoch starts."""
        if self.ramp.shape == "constant":
            return self.ramp.end
        if self.budget is None:
            raise ConfigError("the PA&DA data sampler's ramp needs the training budget: call set_budget(budget) "
                              "before the first epoch (the Trainer does), or use a constant ramp")
        return self.ramp.weight(self.budget.epoch_progress(epoch))

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        if epoch != self._probs_epoch:
            self.probabilities = self._compute(epoch)
            self._probs_epoch = epoch

    def _compute(self, epoch: int) -> torch.Tensor:
        n = self.num_examples
        weight = self._weight(epoch)
        total = float(self.scores.sum())
        if weight > 0 and (not torch.isfinite(self.scores).all() or total <= 0):
            raise ConfigError("PA&DA data scores sum to zero or are not finite: no usable gradient proxy. "
                              "Check the model's logits, or keep some uniform weight in the ramp")
        p = torch.full((n,), (1 - weight) / n, dtype=torch.float64)
        if weight > 0:
            p = p + weight * self.scores / total
        p = torch.clamp(p, min=self.floor / n)
        p = p / p.sum()
        if self.reweight and (p <= 0).any():
            raise ConfigError(
                f"{int((p <= 0).sum())} examples have probability zero, so importance weights 1/(N p) are infinite: "
                "set floor > 0 or keep some uniform weight in the ramp (ramp.end < 1)")
        return p

    def global_order(self) -> torch.Tensor:
        """While the importance weight is 0 (the ramp's start), a plain permutation: every example is seen
        (and scored) once; afterwards ``num_examples`` draws with replacement from the probabilities."""
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        if self._weight(self.epoch) == 0:
            return torch.randperm(self.num_examples, generator=generator)
        return torch.multinomial(self.probabilities, self.num_examples, replacement=True, generator=generator)

    def observe(self, feedback: StepFeedback) -> None:
        """Score the batch's examples from the logits of the step's last child (no extra forward or backward)."""
        self.record_scores(feedback.indices, pada_scores(feedback.logits[-1], feedback.labels))

    def record_scores(self, indices: torch.Tensor, scores: torch.Tensor) -> None:
        """Set the scores of ``indices`` (what ``observe`` does with the scores it computes)."""
        self.scores[indices.cpu()] = scores.detach().to(torch.float64).cpu()

    def loss_weights(self, indices: torch.Tensor) -> torch.Tensor | None:
        """Per-example loss weights ``1 / (N p)`` when ``reweight`` is on, else None."""
        if not self.reweight:
            return None
        return (1.0 / (self.num_examples * self.probabilities[indices.cpu()])).float()

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "scores": self.scores.clone(), "probabilities": self.probabilities.clone(),
                "probs_epoch": self._probs_epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.scores = state["scores"].clone()
        self.probabilities = state["probabilities"].clone()
        self._probs_epoch = int(state["probs_epoch"])
