"""ArchitectureParameters: one vector of logits per decision, the variables a gradient-based search learns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from nas.architecture import Option
from nas.errors import ConfigError
from supernets.weight_maps import WeightMap


class ArchitectureParameters(nn.Module):
    """Logits ``alpha[decision]`` over each decision's options (DARTS' architecture parameters).

    Initialised as DARTS does, ``init_std * N(0, 1)`` (near-uniform weights). ``weights(weight_map,
    progress)`` maps every decision's logits to option weights for ``Relaxable.forward_relaxed``;
    ``regulariser`` sums the map's penalty (DrNAS' KL anchor); ``derive()`` is the argmax option per
    decision (discretisation); ``table(weight_map)`` the recorded weights. ``state_dict()`` holds the
    logits (``logits.<i>`` in decision order), so a checkpoint resumes them.

    Example:
        >>> from supernets.weight_maps import Softmax
        >>> alphas = ArchitectureParameters({"op": ("skip", "conv"), "width": (8, 16)}, init_std=0.0)
        >>> with torch.no_grad():
        ...     alphas.logit("op")[1] = 2.0
        >>> alphas.derive()
        {'op': 'conv', 'width': 8}
        >>> {k: [round(v, 3) for v in w.tolist()] for k, w in alphas.weights(Softmax(), 0.0).items()}
        {'op': [0.119, 0.881], 'width': [0.5, 0.5]}
    """

    def __init__(self, decisions: Mapping[str, Sequence[Option]], init_std: float = 1e-3):
        super().__init__()
        if not decisions:
            raise ConfigError("architecture parameters need at least one decision")
        if init_std < 0:
            raise ConfigError(f"architecture parameters' init_std must be >= 0, got {init_std}")
        self.decisions: dict[str, tuple[Option, ...]] = {name: tuple(options) for name, options in decisions.items()}
        for name, options in self.decisions.items():
            if len(options) < 1:
                raise ConfigError(f"decision {name!r} has no options")
        self._index = {name: i for i, name in enumerate(self.decisions)}
        self.logits = nn.ParameterList(
            nn.Parameter(init_std * torch.randn(len(options))) for options in self.decisions.values())

    def logit(self, decision: str) -> nn.Parameter:
        """The logits of ``decision``."""
        try:
            return self.logits[self._index[decision]]
        except KeyError:
            raise ConfigError(f"no architecture parameters for decision {decision!r}; decisions: "
                              f"{list(self.decisions)}") from None

    def weights(self, weight_map: WeightMap, progress: float) -> dict[str, torch.Tensor]:
        """Decision -> its option weights under ``weight_map`` at ``progress`` of the budget."""
        return {name: weight_map(logits, progress) for name, logits in zip(self.decisions, self.logits)}

    def regulariser(self, weight_map: WeightMap) -> torch.Tensor:
        """The sum over decisions of ``weight_map``'s penalty (0 for DARTS and GDAS)."""
        return torch.stack([weight_map.regulariser(logits) for logits in self.logits]).sum()

    def derive(self) -> dict[str, Option]:
        """The option of largest logit per decision (the discretised architecture's choices)."""
        return {name: options[int(logits.detach().argmax())]
                for (name, options), logits in zip(self.decisions.items(), self.logits)}

    def table(self, weight_map: WeightMap) -> dict[str, dict[str, dict[str, float]]]:
        """Decision -> option (as text) -> {"logit", "weight"}: what a run records."""
        out = {}
        for (name, options), logits in zip(self.decisions.items(), self.logits):
            weights = weight_map.expected(logits).tolist()
            out[name] = {str(o): {"logit": float(a), "weight": float(w)}
                         for o, a, w in zip(options, logits.detach().tolist(), weights)}
        return out

    def entropy(self, weight_map: WeightMap) -> float:
        """Mean entropy (nats) of the recorded weights over decisions: how undecided the search still is."""
        total = 0.0
        for logits in self.logits:
            p = weight_map.expected(logits).clamp_min(1e-12)
            total += float(-(p * p.log()).sum())
        return total / len(self.logits)
