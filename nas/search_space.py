"""SearchSpace: the protocol every search-space plugin implements."""

from __future__ import annotations

import itertools
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from torch import nn

from nas.architecture import Architecture, Option
from nas.errors import InvalidArchitectureError

if TYPE_CHECKING:  # pragma: no cover
    from supernets.base import Supernet


class SearchSpace(ABC):
    """Decisions with ordered options, and everything that can be done with them.

    A subclass declares ``decisions`` (name -> ordered options) and builds models; sampling,
    enumeration, mutation, crossover, parsing and validation come from here. Register a
    subclass under the entry-point group ``nas.search_spaces`` to make it visible to
    ``nas list`` and ``search_space=plugin search_space.name=...``.

    Example (a complete, if tiny, space):
        >>> import numpy as np
        >>> from torch import nn
        >>> class Toy(SearchSpace):
        ...     name = "toy"
        ...     @property
        ...     def decisions(self):
        ...         return {"width": (4, 8), "act": ("relu", "tanh")}
        ...     def build_supernet(self): raise NotImplementedError
        ...     def build_model(self, arch): return nn.Linear(2, arch["width"])
        ...     def params(self, arch): return 3 * arch["width"]
        ...     def flops(self, arch): return 2 * arch["width"]
        >>> space = Toy()
        >>> space.size, len(list(space.enumerate()))
        (4, 4)
        >>> arch = space.sample(np.random.default_rng(0))
        >>> space.parse(str(arch)) == arch
        True
    """

    name: ClassVar[str] = ""
    architecture_cls: ClassVar[type[Architecture]] = Architecture
    latency: Callable[[Architecture], float] | None = None
    """A latency model (``nas.latency.MeasuredLatency`` / ``LatencyTable``): ``cost()`` then adds ``latency_ms``."""

    # -- what a subclass provides ----------------------------------------------------------------
    @property
    @abstractmethod
    def decisions(self) -> Mapping[str, Sequence[Option]]:
        """Decision name -> its ordered options (order is stable: it defines indices)."""

    @abstractmethod
    def build_supernet(self) -> "Supernet":
        """The weight-sharing supernet whose ``forward(x, arch)`` runs any child."""

    @abstractmethod
    def build_model(self, arch: Architecture) -> nn.Module:
        """A freshly initialised standalone model of ``arch`` (ground truth, export)."""

    @abstractmethod
    def params(self, arch: Architecture) -> int:
        """Trainable parameter count of ``arch``'s standalone model, computed analytically."""

    @abstractmethod
    def flops(self, arch: Architecture) -> int:
        """Multiply-accumulates of one forward pass of one input, computed analytically."""

    def spec(self) -> dict:
        """What identifies this space's models (name and size settings); recipes hash it."""
        return {"name": self.name}

    # -- derived behaviour ---------------------------------------------------------------------------
    def cost(self, arch: Architecture) -> dict[str, float]:
        """``params`` and ``flops``; with a latency model in ``latency``, also ``latency_ms`` (measured or
        predicted on this machine: ``nas.latency``)."""
        cost: dict[str, float] = {"params": self.params(arch), "flops": self.flops(arch)}
        if self.latency is not None:
            cost["latency_ms"] = float(self.latency(arch))
        return cost

    def live_decisions(self, arch: Architecture) -> frozenset[str]:
        """The decisions whose chosen op lies on a live input-to-output path of ``arch``'s model.

        An op is dead when nothing of the input reaches it or nothing it computes reaches the
        output (a NAS-Bench-201 edge cut off by ``none`` edges). Default: every decision is live.
        A space whose architectures can hold dead ops overrides this and :meth:`effective_cost`.
        """
        return frozenset(self.validate(arch))

    def canonical(self, arch: Architecture) -> Hashable:
        """What ``arch`` computes, as a hashable key: two architectures with equal keys are the same function.

        Path samplers use it to train functionally distinct children (``UniformPathSampler(distinct=True)``).
        Default: the architecture itself (every architecture its own class). A space where different
        choices can compute the same thing (NAS-Bench-201: dead edges, skip chains) overrides it.
        """
        return self.validate(arch)

    def effective_cost(self, arch: Architecture) -> dict[str, int]:
        """``cost(arch)`` counting only live ops: dead ops' parameters and FLOPs are left out.

        Default: ``cost(arch)``, which is right only while every decision is live; a space that
        reports dead ops without pricing them fails here rather than returning a wrong count.
        """
        if self.live_decisions(arch) != frozenset(self.decisions):
            raise NotImplementedError(
                f"search space {self.name!r} reports dead ops for {arch} but does not override effective_cost"
            )
        return self.cost(arch)

    @property
    def size(self) -> int:
        return math.prod(len(options) for options in self.decisions.values())

    def make(self, choices: Mapping[str, Option]) -> Architecture:
        """Build and validate an architecture of this space from a decision -> option mapping."""
        return self.validate(self.architecture_cls(choices))

    def validate(self, arch: Architecture) -> Architecture:
        """Return ``arch`` (as this space's architecture type) or raise naming what is wrong."""
        decisions = self.decisions
        if not isinstance(arch, Mapping):
            raise InvalidArchitectureError(f"expected an Architecture of space {self.name!r}, got {type(arch).__name__}")
        missing = [d for d in decisions if d not in arch]
        extra = [d for d in arch if d not in decisions]
        if missing or extra:
            raise InvalidArchitectureError(
                f"architecture does not match search space {self.name!r}: "
                f"missing decisions {missing}, unknown decisions {extra}; expected {list(decisions)}"
            )
        for name, options in decisions.items():
            chosen = arch[name]
            if not any(chosen == o and type(chosen) is type(o) for o in options):
                raise InvalidArchitectureError(
                    f"decision {name!r} of search space {self.name!r} has no option {chosen!r} "
                    f"({type(chosen).__name__}); "
                    f"options are {list(options)}"
                )
        if type(arch) is not self.architecture_cls:
            arch = self.architecture_cls({d: arch[d] for d in decisions})
        return arch

    def largest(self) -> Architecture:
        """The last option of every decision.

        Spaces whose options are ordered ascending in cost (the elastic spaces) make this the
        largest child, which the sandwich rule trains at every step; spaces whose options have no
        such order override it (NAS-Bench-201: every edge ``nor_conv_3x3``).
        """
        return self.architecture_cls({name: options[-1] for name, options in self.decisions.items()})

    def smallest(self) -> Architecture:
        """The first option of every decision: the smallest child when options ascend in cost."""
        return self.architecture_cls({name: options[0] for name, options in self.decisions.items()})

    def parse(self, text: str) -> Architecture:
        """Parse an architecture string of this space and validate it."""
        return self.validate(self.architecture_cls.from_string(text))

    def sample(self, rng: np.random.Generator) -> Architecture:
        """A child drawn uniformly: each decision independently and uniformly."""
        return self.architecture_cls(
            {name: options[int(rng.integers(len(options)))] for name, options in self.decisions.items()}
        )

    def enumerate(self) -> Iterator[Architecture]:
        """Every architecture of the space, in a fixed order (the last decision varies fastest)."""
        names = list(self.decisions)
        for combo in itertools.product(*self.decisions.values()):
            yield self.architecture_cls(dict(zip(names, combo)))

    def mutate(self, arch: Architecture, rng: np.random.Generator, num_decisions: int = 1) -> Architecture:
        """Change ``num_decisions`` distinct decisions (with more than one option) to another option."""
        mutable = [name for name, options in self.decisions.items() if len(options) > 1]
        if not mutable:
            raise InvalidArchitectureError(f"search space {self.name!r} has no decision with two options to mutate")
        chosen = rng.choice(len(mutable), size=min(num_decisions, len(mutable)), replace=False)
        changes = {}
        for index in np.atleast_1d(chosen):
            name = mutable[int(index)]
            others = [o for o in self.decisions[name] if o != arch[name]]
            changes[name] = others[int(rng.integers(len(others)))]
        return self.architecture_cls({**arch.to_dict(), **changes})

    def crossover(self, first: Architecture, second: Architecture, rng: np.random.Generator) -> Architecture:
        """Uniform crossover: each decision from either parent with probability 1/2."""
        take_first = rng.random(len(self.decisions)) < 0.5
        return self.architecture_cls(
            {name: (first if keep else second)[name] for name, keep in zip(self.decisions, take_first)}
        )

    def describe(self) -> str:
        lines = [f"{self.name}: {len(self.decisions)} decisions, {self.size:,} architectures"]
        lines += [f"  {name}: {list(options)}" for name, options in self.decisions.items()]
        return "\n".join(lines)
