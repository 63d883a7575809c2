"""PA&DA path importance sampling: options drawn in proportion to their gradient norms."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from nas.architecture import Architecture, Option
from nas.errors import ConfigError
from nas.search_space import SearchSpace
from nas.training.feedback import StepFeedback
from samplers.path.base import PathSampler
from samplers.ramp import Ramp

if TYPE_CHECKING:
    from supernets.base import Supernet


class PADAPathSampler(PathSampler):
    """Importance sampling of paths (PA&DA, Lu et al. CVPR 2023), per decision.

    The trainer reports, every step, the gradient norm of the parameters of each sampled
    (decision, option) (before clipping). Every ``update_every`` steps the sampler turns the
    mean norm observed in that window into an importance per option and samples each decision
    from ``p = (1 - w) * uniform + w * importance / sum(importance)``, floored at
    ``floor / K`` for K options and renormalised; ``w`` follows ``ramp`` over training progress
    (from 0: uniform, to 1 by default), measured in steps of the trainer's budget. ``shared=True``
    pools the importance of options with the same name across decisions (one distribution for every
    edge of a cell).

    Parameter-free options (skip, pooling, none) have no gradient. They are the options that own no
    parameter in the supernet's ``option_parameters()`` (the one-shot method tells the sampler its
    supernet through ``set_supernet``), or, when given, the option names ``parameter_free_options``.
    ``parameter_free`` says what they get: ``"mean"`` (default) the mean importance of the decision's
    parameterised options, so they keep their uniform share of the importance part; ``"zero"`` no importance, so with
    ``w = 1`` they live on the ``floor`` alone (with ``floor = 0`` they would never be drawn:
    that is refused as an error, not silently starved).

    Example:
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> sampler = PADAPathSampler(NB201SearchSpace(), seed=0)
        >>> sampler.probabilities()["1<-0"].round(2).tolist()      # uniform before any feedback
        [0.2, 0.2, 0.2, 0.2, 0.2]
    """

    needs: ClassVar[frozenset[str]] = frozenset({"option_grad_norms"})

    def __init__(
        self,
        space: SearchSpace,
        seed: int = 0,
        update_every: int = 200,
        ramp: Ramp | dict | None = None,
        floor: float = 0.1,
        shared: bool = False,
        parameter_free: str = "mean",
        parameter_free_options: Sequence[Option] | None = None,
    ):
        super().__init__(space, seed)
        if update_every < 1:
            raise ConfigError(f"update_every must be at least 1, got {update_every}")
        if not 0.0 <= floor <= 1.0:
            raise ConfigError(f"floor must be in [0, 1] (a fraction of the uniform probability), got {floor}")
        if parameter_free not in ("mean", "zero"):
            raise ConfigError(f"parameter_free must be 'mean' or 'zero', got {parameter_free!r}")
        self.update_every = int(update_every)
        self.ramp = ramp if isinstance(ramp, Ramp) else Ramp(**(ramp or {}))
        self.floor = float(floor)
        self.shared = bool(shared)
        self.parameter_free = parameter_free
        self.parameter_free_options = None if parameter_free_options is None else set(parameter_free_options)
        self.decisions = {name: list(options) for name, options in space.decisions.items()}
        self.importance = {name: np.ones(len(options)) for name, options in self.decisions.items()}
        self._sums = {name: np.zeros(len(options)) for name, options in self.decisions.items()}
        self._counts = {name: np.zeros(len(options)) for name, options in self.decisions.items()}
        self._probs = {name: np.full(len(o), 1.0 / len(o)) for name, o in self.decisions.items()}
        self._free = {name: np.array([o in (self.parameter_free_options or ()) for o in options], dtype=bool)
                      for name, options in self.decisions.items()}
        self._free_known = parameter_free_options is not None

    def set_supernet(self, supernet: Supernet) -> None:
        """Without ``parameter_free_options``: the options that own no parameter in ``supernet``."""
        if self.parameter_free_options is not None:
            return
        try:
            owned = supernet.option_parameters()
        except NotImplementedError as exc:
            raise ConfigError(
                f"PA&DA path sampling needs the supernet to say which parameters belong to which option, and "
                f"{type(supernet).__name__} cannot ({exc}); use path_sampler=uniform or sandwich with it") from None
        self._free = {name: np.array([(name, o) in owned and not owned[(name, o)] for o in options], dtype=bool)
                      for name, options in self.decisions.items()}
        self._free_known = True

    # -- distributions ------------------------------------------------------------------------------
    def probabilities(self) -> dict[str, np.ndarray]:
        """The per-decision option probabilities used now."""
        return {name: p.copy() for name, p in self._probs.items()}

    def _compute(self, step: int) -> dict[str, np.ndarray]:
        weight = self._weight(step)
        importance = self._pooled() if self.shared else self.importance
        result = {}
        for name, options in self.decisions.items():
            k = len(options)
            imp = importance[name]
            total = imp.sum()
            if weight > 0 and (not np.isfinite(total) or total <= 0):
                raise ConfigError(
                    f"PA&DA importance of decision {name!r} sums to {total}: no option had a usable gradient norm. "
                    "Use parameter_free='mean', a floor > 0, or a ramp that keeps some uniform weight")
            p = (1 - weight) / k + (weight * imp / total if weight > 0 else 0.0)
            p = np.maximum(p, self.floor / k)
            p = p / p.sum()
            if (p <= 0).any() or not np.isfinite(p).all():
                zero = [options[i] for i in np.flatnonzero(~(p > 0))]
                raise ConfigError(
                    f"PA&DA probabilities of {zero} in decision {name!r} underflow to zero: they would never be "
                    "trained. Set floor > 0 (a fraction of the uniform probability) or parameter_free='mean'")
            result[name] = p
        return result

    def _weight(self, step: int) -> float:
        if self.ramp.shape == "constant":
            return self.ramp.end
        if self.budget is None:
            raise ConfigError("the PA&DA path sampler's ramp needs the training budget: call set_budget(budget) "
                              "before training (the Trainer does), or use a constant ramp")
        return self.ramp.weight(self.budget.progress(step))

    def _pooled(self) -> dict[str, np.ndarray]:
        by_option: dict[Option, list[float]] = {}
        for name, options in self.decisions.items():
            for option, value in zip(options, self.importance[name]):
                by_option.setdefault(option, []).append(float(value))
        mean = {option: float(np.mean(values)) for option, values in by_option.items()}
        return {name: np.array([mean[o] for o in options]) for name, options in self.decisions.items()}

    # -- sampling and feedback --------------------------------------------------------------------
    def sample(self, step: int) -> list[Architecture]:
        rng = self.rng(step)
        choices = {}
        for name, options in self.decisions.items():
            choices[name] = options[int(rng.choice(len(options), p=self._probs[name]))]
        return [self.space.architecture_cls(choices)]

    def observe(self, feedback: StepFeedback) -> None:
        for (name, option), norm in feedback.option_grad_norms.items():
            if name in self.decisions:
                index = self.decisions[name].index(option)
                self._sums[name][index] += norm
                self._counts[name][index] += 1
        if (feedback.step + 1) % self.update_every == 0:
            self._update_importance()
            self._probs = self._compute(feedback.step + 1)

    def _update_importance(self) -> None:
        if not self._free_known:
            raise ConfigError("the PA&DA path sampler does not know which options are parameter-free: call "
                              "set_supernet(supernet) before training (the one-shot method does), or set "
                              "parameter_free_options")
        for name, options in self.decisions.items():
            seen = self._counts[name] > 0
            imp = self.importance[name]
            imp[seen] = self._sums[name][seen] / self._counts[name][seen]
            free = self._free[name]
            if free.any():
                learned = imp[~free]
                imp[free] = learned.mean() if self.parameter_free == "mean" and learned.size else 0.0
            self._sums[name][:] = 0.0
            self._counts[name][:] = 0.0

    # -- state -------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "importance": {k: v.tolist() for k, v in self.importance.items()},
                "sums": {k: v.tolist() for k, v in self._sums.items()},
                "counts": {k: v.tolist() for k, v in self._counts.items()},
                "probs": {k: v.tolist() for k, v in self._probs.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.seed = int(state["seed"])
        for key, target in (("importance", self.importance), ("sums", self._sums), ("counts", self._counts),
                            ("probs", self._probs)):
            for name, values in state[key].items():
                target[name] = np.asarray(values, dtype=float)
