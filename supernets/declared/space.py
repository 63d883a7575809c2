"""DeclaredSearchSpace: a search space whose author writes only the network, with its decisions marked."""

from __future__ import annotations

import hashlib
from abc import abstractmethod
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from nas.architecture import Architecture, Option
from nas.errors import ConfigError, NASError
from nas.search_space import SearchSpace
from supernets.declared.child import active_decisions, chosen, count_params, export_module
from supernets.declared.choice import Choice
from supernets.declared.macs import count_macs, measure_macs
from supernets.declared.probe import ProbeReport, probe, probe_architectures
from supernets.declared.supernet import DeclaredSupernet


class DeclarationError(ConfigError):
    """What is wrong with a declared space, one line per problem (``problems``)."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


class DeclaredSearchSpace(SearchSpace):
    """A search space from one network: ``network()`` builds it with ``Choice`` / ``Elastic`` places marked.

    The subclass sets ``name``, ``input_shape`` (one example's shape, e.g. ``(channels, height, width)``) and
    writes ``network()``; everything else is derived from it:

    - ``decisions``: every declared decision, in module order;
    - ``build_supernet()``: a :class:`DeclaredSupernet` (``kind`` "entangled" when any decision is elastic);
    - ``build_model(arch)``: the child exported from a freshly built network (elastic layers newly initialised
      at their own size);
    - ``params(arch)``: analytic, from the declared sizes (equals the child's parameter count);
    - ``flops(arch)``: multiply-accumulates of every linear and convolution layer (and attention products)
      per example, from per-layer costs recorded once by probing (see ``check``); measured by forward hooks
      on the child (cached per architecture) where a layer's cost depends on the architecture beyond its
      declared sizes;
    - ``largest()`` / ``smallest()``: elastic decisions at their largest / smallest option, choices at the
      option whose modules hold the most / fewest parameters (ties: the last / first option);
    - ``live_decisions(arch)``: the decisions the child reads (not those of blocks it skips, or of options
      it does not take); ``canonical(arch)`` sets the others to their first option: children that differ
      only there are one function (``path_sampler=distinct`` trains each once);
    - ``check()``: probes every option once and raises :class:`DeclarationError` naming each problem.

    Example:
        >>> from supernets.declared import Choice, Elastic, Linear
        >>> class Tiny(DeclaredSearchSpace):
        ...     name = "tiny"
        ...     input_shape = (4,)
        ...     def network(self):
        ...         hidden = Elastic("hidden", (8, 16))
        ...         return nn.Sequential(Linear(4, hidden), Choice("act", {"relu": nn.ReLU(), "tanh": nn.Tanh()}),
        ...                              Linear(hidden, 3))
        >>> space = Tiny()
        >>> space.decisions
        {'hidden': (8, 16), 'act': ('relu', 'tanh')}
        >>> arch = space.make({"hidden": 8, "act": "tanh"})
        >>> space.params(arch), space.flops(arch), sum(p.numel() for p in space.build_model(arch).parameters())
        (67, 56, 67)
        >>> space.largest()["hidden"], space.build_supernet().kind
        (16, 'entangled')
    """

    input_shape: tuple[int, ...] | None = None

    @abstractmethod
    def network(self) -> nn.Module:
        """A freshly built network whose decision-dependent places are ``Choice`` / elastic layers / ``Repeat``."""

    # -- derived structure -----------------------------------------------------------------------------------
    @property
    def decisions(self) -> dict[str, tuple[Option, ...]]:
        return self._structure.decisions

    def build_supernet(self) -> DeclaredSupernet:
        return DeclaredSupernet(self._build_network(), self.validate)

    def build_model(self, arch: Architecture) -> nn.Module:
        arch = self.validate(arch)
        return export_module(self._build_network(), chosen(arch), fresh=True)

    def params(self, arch: Architecture) -> int:
        arch = self.validate(arch)
        cache = self._cache("params")
        if arch not in cache:
            cache[arch] = count_params(self._structure.network, chosen(arch))
        return cache[arch]

    def flops(self, arch: Architecture) -> int:
        arch = self.validate(arch)
        cache = self._cache("flops")
        if arch not in cache:
            calls = self.probe_report().calls
            network = self._structure.network
            if calls is not None:
                paths = self._structure.paths
                cache[arch] = count_macs(network, chosen(arch), lambda m: calls.get(paths[id(m)], ()))
            else:
                cache[arch] = self._measured_macs(arch)
        return cache[arch]

    def effective_cost(self, arch: Architecture) -> dict[str, int]:
        """``cost(arch)``: places a child does not run are not part of it, so they cost nothing already."""
        return self.cost(arch)

    def live_decisions(self, arch: Architecture) -> frozenset[str]:
        arch = self.validate(arch)
        return frozenset(active_decisions(self._structure.network, chosen(arch)))

    def canonical(self, arch: Architecture) -> Architecture:
        arch = self.validate(arch)
        live = self.live_decisions(arch)
        return self.architecture_cls({d: arch[d] if d in live else options[0] for d, options in self.decisions.items()})

    def largest(self) -> Architecture:
        return self._extreme(max, -1)

    def smallest(self) -> Architecture:
        return self._extreme(min, 0)

    def spec(self) -> dict:
        """Name, input shape, decisions and a hash of the network's structure (its printed form)."""
        text = repr(self._structure.network)
        return {"name": self.name, "input_shape": list(self.input_shape or ()),
                "decisions": {d: list(o) for d, o in self.decisions.items()},
                "network": hashlib.sha256(text.encode()).hexdigest()[:16]}

    # -- checks -------------------------------------------------------------------------------------------
    def declaration_problems(self) -> list[str]:
        """What is wrong with the declaration, one line each (empty: nothing found); see :meth:`check`."""
        if not self._has_input_shape():
            return ["declares no input_shape: set self.input_shape to one example's shape, e.g. "
                    "(channels, height, width), in __init__"]
        return list(self.probe_report().problems)

    def check(self) -> None:
        """Probe every option of every decision once on one example; raise :class:`DeclarationError` naming each
        option that cannot run or be exported, children with outputs of different shapes, and decisions the
        network never reads."""
        problems = self.declaration_problems()
        if problems:
            who = f"search space {self.name!r} ({type(self).__module__}.{type(self).__qualname__})"
            raise DeclarationError([f"{who}: {p}" for p in problems])

    @property
    def output_shape(self) -> tuple[int, ...] | None:
        """One example's output shape (``(num_classes,)`` for a classifier), as probed; None if no child ran."""
        shape = self.probe_report().output_shape
        return None if shape is None else shape[1:]

    def probe_report(self) -> ProbeReport:
        """The probe of every option (cached): problems, output shape, per-layer calls."""
        cached = self.__dict__.get("_declared_probe")
        if cached is None:
            if not self._has_input_shape():
                return ProbeReport(problems=["declares no input_shape"])
            with torch.random.fork_rng(devices=[]):  # building and exporting draw initial weights
                supernet = DeclaredSupernet(self._build_network())
                probes = probe_architectures(self.decisions, supernet.places, self.largest(), self.smallest())
                cached = self.__dict__["_declared_probe"] = probe(supernet, probes, self.input_shape)
        return cached

    # -- internals ------------------------------------------------------------------------------------------
    def _has_input_shape(self) -> bool:
        shape = self.input_shape
        return isinstance(shape, Sequence) and len(shape) > 0 and all(
            isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape)

    def _build_network(self, device: str | None = None) -> nn.Module:
        who = f"search space {self.name!r} ({type(self).__module__}.{type(self).__qualname__})"
        try:
            if device is None:
                network = self.network()
            else:
                with torch.device(device):
                    network = self.network()
        except NASError as exc:
            raise ConfigError(f"{who}: {exc}") from exc
        except Exception as exc:
            raise ConfigError(f"{who}: network() failed: {type(exc).__name__}: {str(exc).strip()[:300]}; "
                              "fix network()") from exc
        if not isinstance(network, nn.Module):
            raise ConfigError(f"{who}: network() returned a {type(network).__name__}, not an nn.Module")
        return network

    @property
    def _structure(self) -> "_Structure":
        cached = self.__dict__.get("_declared_structure")
        if cached is None:
            cached = self.__dict__["_declared_structure"] = _Structure(self._build_network("meta"), self)
        return cached

    def _cache(self, name: str) -> dict:
        return self.__dict__.setdefault(f"_declared_{name}", {})

    def _extreme(self, pick, tie: int) -> Architecture:
        structure = self._structure
        choices = {}
        for name, options in self.decisions.items():
            if name in structure.entangled:
                choices[name] = pick(options)
            else:
                sizes = [structure.option_sizes[(name, o)] for o in options]
                best = pick(sizes)
                matching = [o for o, s in zip(options, sizes) if s == best]
                choices[name] = matching[tie]
        return self.architecture_cls(choices)

    @torch.no_grad()
    def _measured_macs(self, arch: Architecture) -> int:
        """MACs of the child, by forward hooks on one zero example (a CPU copy of the network, built once)."""
        network = self.__dict__.get("_declared_measured")
        with torch.random.fork_rng(devices=[]):  # building and exporting draw initial weights
            if network is None:
                network = self.__dict__["_declared_measured"] = self._build_network()
            child = export_module(network, chosen(arch))
        return measure_macs(child, torch.zeros(1, *self.input_shape))

    def __getstate__(self) -> dict:
        """Pickled without the derived caches (worker processes rebuild them)."""
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_declared_")}


class _Structure:
    """The network built once on the meta device (no memory, no random numbers): decisions, places, the
    parameters of each choice's options, module paths."""

    def __init__(self, network: nn.Module, space: DeclaredSearchSpace):
        who = f"search space {space.name!r} ({type(space).__module__}.{type(space).__qualname__})"
        try:
            supernet = DeclaredSupernet(network)
        except NASError as exc:
            raise ConfigError(f"{who}: {exc}") from exc
        if not supernet.decisions:
            raise ConfigError(f"{who}: network() declares no decision: mark what depends on one with "
                              "supernets.declared.Choice (modules) or Elastic sizes (Linear, Conv2d, Repeat, ...)")
        self.network = network
        self.decisions = supernet.decisions
        self.entangled = supernet.entangled_decisions
        self.paths = {id(m): name for name, m in network.named_modules()}
        sizes: dict[tuple[str, Option], int] = {}
        for place in supernet.places:
            if isinstance(place.module, Choice):
                for option, module in place.module.option_modules().items():
                    key = (place.module.decision, option)
                    sizes[key] = sizes.get(key, 0) + sum(p.numel() for p in module.parameters())
        self.option_sizes: Mapping[tuple[str, Option], int] = sizes
