"""MixtureSpec: the settings of a Mixture-of-Supernets (number of experts, router kind and width)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from nas.errors import ConfigError

ROUTER_KINDS = ("layer", "neuron")
"""``layer``: one softmax over the experts per routed layer; ``neuron``: one per output neuron of it."""


@dataclass(frozen=True)
class MixtureSpec:
    """How an entangled space's supernet becomes a Mixture-of-Supernets (Jawahar et al., 2023).

    ``experts`` (m) full-size weights per routed layer (expert 0 is the supernet's own weight, so
    ``experts=1`` is exactly the plain supernet); ``router`` is ``"layer"`` (one mixing vector per
    layer) or ``"neuron"`` (one per output neuron); ``router_hidden`` the width of the router's
    hidden layer. The Hydra group ``conf/supernet/`` puts it at ``search_space.mixture``.

    Example:
        >>> MixtureSpec(experts=4, router="neuron")
        MixtureSpec(experts=4, router='neuron', router_hidden=64)
        >>> MixtureSpec(experts=0)
        Traceback (most recent call last):
        ...
        nas.errors.ConfigError: search_space.mixture.experts=0: a Mixture-of-Supernets needs at least one expert
        per routed layer; use experts >= 1 (1 is the plain supernet; the paper uses 2 or 4)
    """

    experts: int = 2
    router: Literal["layer", "neuron"] = "layer"
    router_hidden: int = 64

    def __post_init__(self) -> None:
        if not _positive_int(self.experts):
            raise ConfigError(f"search_space.mixture.experts={self.experts!r}: a Mixture-of-Supernets needs at least "
                              "one expert per routed layer; use experts >= 1 (1 is the plain supernet; the paper "
                              "uses 2 or 4)")
        if self.router not in ROUTER_KINDS:
            raise ConfigError(f"search_space.mixture.router={self.router!r}: unknown router kind; use router=layer "
                              "(one softmax over the experts per layer) or router=neuron (one per output neuron)")
        if not _positive_int(self.router_hidden):
            raise ConfigError(f"search_space.mixture.router_hidden={self.router_hidden!r}: the router's hidden "
                              "width must be positive; use an integer >= 1 (e.g. 64)")

    @classmethod
    def coerce(cls, value: MixtureSpec | Mapping[str, Any] | None) -> MixtureSpec | None:
        """``value`` as a spec: a spec as it is, a mapping of its fields (e.g. a config node without
        ``_target_``) built into one, None (no mixture: the plain supernet) as None."""
        if value is None or isinstance(value, cls):
            return value
        if isinstance(value, Mapping):
            fields = {str(k): v for k, v in value.items() if k != "_target_"}
            unknown = sorted(set(fields) - set(cls.__dataclass_fields__))
            if unknown:
                raise ConfigError(f"search_space.mixture has unknown keys {unknown}; its keys are "
                                  f"{sorted(cls.__dataclass_fields__)}")
            return cls(**fields)
        raise ConfigError(f"search_space.mixture must be a MixtureSpec, a mapping of its keys or null, got "
                          f"{type(value).__name__}: select it with supernet=mos (conf/supernet/mos.yaml)")


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1
