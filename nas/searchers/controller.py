"""ControllerSearch: ENAS' derivation of the final architecture, children drawn from the trained controller."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from nas.architecture import Architecture
from nas.errors import CheckpointError, ConfigError
from nas.search_space import SearchSpace
from nas.searchers.base import Searcher
from nas.searchers.constraints import Constraints

FROM_RUN = "from_run"
"""``policy: from_run`` (conf/searcher/controller.yaml): the pipeline passes the run's trained path sampler."""


@runtime_checkable
class Policy(Protocol):
    """What ControllerSearch draws from: a learned path sampler with ``propose`` (``samplers.ENASPathSampler``)."""

    space: SearchSpace

    def propose(self, key: int, n: int, temperature: float = 1.0) -> list[Architecture]:
        """``n`` children drawn from the policy, a pure function of (its seed, ``key``, its weights)."""


class ControllerSearch(Searcher):
    """ENAS (Pham et al. 2018) derives its cell by sampling children from the trained controller and keeping the
    one the shared weights score best: ``ask`` draws a child from ``policy`` (the run's trained
    ``samplers.ENASPathSampler``), its logits divided by ``temperature`` (1: the policy as trained).

    Draw ``a`` of ask number ``i`` is ``policy.propose(key, 1, temperature)`` with ``key`` a function of
    (``seed``, ``i``, ``a``): a pure function of the seeds, the counts and the controller's weights, so a search
    resumed from its state continues exactly. An architecture already scored or outside ``constraints`` is
    drawn again; after ``max_redraws`` draws without a new one the child is a uniform draw among the new feasible
    ones (``sample_new``), counted in ``fallbacks`` (saved with the state): a collapsed controller shows there.

    ``needs_path_sampler``: ``nas run`` and ``nas search train_dir=...`` pass the run's trained path sampler as
    ``policy`` when the config says ``policy: from_run``, and refuse this searcher, before anything is loaded,
    for a run whose path sampler has no ``propose`` or for ``objective=oracle``.

    Example:
        >>> from samplers import ENASPathSampler
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> space = NB201SearchSpace()
        >>> searcher = ControllerSearch(space, policy=ENASPathSampler(space, seed=0), seed=0)
        >>> history = searcher.search(lambda arch: float(str(arch).count("nor_conv_3x3")), budget=20)
        >>> len(history), len({t.arch for t in history.trials}), searcher.fallbacks
        (20, 20, 0)
    """

    needs_path_sampler: ClassVar[bool] = True
    """The pipeline passes the run's trained path sampler as ``policy`` (``policy: from_run``)."""

    def __init__(self, space: SearchSpace, policy: Any = FROM_RUN, temperature: float = 1.0, seed: int = 0,
                 max_redraws: int = 100, constraints: Constraints | Mapping[str, Any] | None = None):
        if isinstance(policy, str):
            raise ConfigError(f"ControllerSearch got policy={policy!r}: `{FROM_RUN}` is filled in by `nas run` / "
                              "`nas search train_dir=...` with the run's trained path sampler; in Python pass the "
                              "trained sampler itself (policy=ENASPathSampler(...))")
        if not isinstance(policy, Policy):
            raise ConfigError(f"ControllerSearch draws from a learned path sampler with propose(key, n, temperature), "
                              f"and {type(policy).__name__} has none: train with path_sampler=enas")
        if _options(policy.space) != _options(space):
            raise ConfigError(f"the controller was trained on search space {policy.space.name!r} with other decisions "
                              f"than the searched {space.name!r}: search the space the controller was trained on")
        if not float(temperature) > 0 or int(max_redraws) < 1:
            raise ConfigError(f"ControllerSearch needs temperature > 0 and max_redraws >= 1, got {temperature} and "
                              f"{max_redraws}")
        super().__init__(space, seed, constraints)
        self.policy = policy
        self.temperature = float(temperature)
        self.max_redraws = int(max_redraws)
        self.asks = 0       # ask() calls so far: the draws' keys count them
        self.fallbacks = 0  # asks answered by a uniform draw (the controller proposed nothing new)

    def key(self, ask: int, attempt: int) -> int:
        """The ``propose`` key of draw ``attempt`` of ask number ``ask`` (far from the training phases' keys)."""
        return int(np.random.default_rng([self.seed, ask, attempt, 7]).integers(2**62))

    def ask(self) -> Architecture:
        ask, self.asks = self.asks, self.asks + 1
        for attempt in range(self.max_redraws):
            arch = self.policy.propose(self.key(ask, attempt), 1, self.temperature)[0]
            if self.accepts(arch):
                return arch
        arch = self.sample_new()  # raises SearchExhausted when nothing new is left
        self.fallbacks += 1
        return arch

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "temperature": self.temperature, "asks": self.asks,
                "fallbacks": self.fallbacks}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if float(state.get("temperature", self.temperature)) != self.temperature:
            raise CheckpointError(f"the saved search drew at temperature {state['temperature']}, this searcher at "
                                  f"{self.temperature}: use the same temperature or another run folder")
        super().load_state_dict(state)
        self.asks, self.fallbacks = int(state["asks"]), int(state["fallbacks"])


def _options(space: SearchSpace) -> dict[str, tuple]:
    return {name: tuple(options) for name, options in space.decisions.items()}
