"""Decisions of the elastic ViT space, and the concrete layer plan of one child."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from nas.architecture import Architecture, Option
from nas.errors import InvalidArchitectureError
from search_spaces.elastic_vit.config import ElasticViTConfig, hidden_features

DEPTH = "depth"
EMBED = "embed_dim"


def heads_name(layer: int) -> str:
    """``"layer0.heads"``: layers count from 0."""
    return f"layer{layer}.heads"


def mlp_ratio_name(layer: int) -> str:
    return f"layer{layer}.mlp_ratio"


_LAYER = re.compile(r"^h(\d+)m([0-9.]+)$")


class ElasticViTArchitecture(Architecture):
    """A child of the elastic ViT space; ``str()`` is compact: depth, embedding dim, then every
    layer's heads and MLP ratio (inactive layers included, so that it round-trips). The generic
    ``name=option;...`` form parses too.

    Example:
        >>> arch = ElasticViTArchitecture.from_string("d2|e48|h4m2,h2m4,h3m3")
        >>> arch["depth"], arch["embed_dim"], arch["layer1.heads"], arch["layer2.mlp_ratio"]
        (2, 48, 2, 3)
        >>> str(arch)
        'd2|e48|h4m2,h2m4,h3m3'
    """

    __slots__ = ()

    def __str__(self) -> str:
        layers = sum(1 for name in self if name.endswith(".heads"))
        expected = {DEPTH, EMBED} | {f(i) for i in range(layers) for f in (heads_name, mlp_ratio_name)}
        if layers == 0 or set(self) != expected:
            return super().__str__()
        body = ",".join(f"h{self[heads_name(i)]}m{json.dumps(self[mlp_ratio_name(i)])}" for i in range(layers))
        return f"d{self[DEPTH]}|e{self[EMBED]}|{body}"

    @classmethod
    def from_string(cls, text: str) -> "ElasticViTArchitecture":
        if not isinstance(text, str) or not text.startswith("d") or "=" in text:
            return cls(Architecture.from_string(text))
        hint = "expected e.g. 'd2|e48|h4m2,h2m4,h3m3' (depth, embed dim, then heads and MLP ratio per layer)"
        parts = text.strip().split("|")
        try:
            if len(parts) != 3 or not parts[1].startswith("e"):
                raise ValueError(text)
            choices: dict[str, Option] = {DEPTH: int(parts[0][1:]), EMBED: int(parts[1][1:])}
            for i, layer in enumerate(parts[2].split(",")):
                match = _LAYER.match(layer)
                if match is None:
                    raise ValueError(layer)
                choices[heads_name(i)] = int(match.group(1))
                choices[mlp_ratio_name(i)] = json.loads(match.group(2))
        except ValueError as exc:
            raise InvalidArchitectureError(f"malformed elastic ViT architecture {text!r} at {exc}; {hint}") from None
        return cls(choices)


def decisions(config: ElasticViTConfig) -> dict[str, tuple[Option, ...]]:
    """``depth``, ``embed_dim``, then per layer ``heads`` and ``mlp_ratio`` (ascending options).
    Layers at or beyond the depth are inactive: their decisions do not change the network."""
    out: dict[str, tuple[Option, ...]] = {DEPTH: config.depths, EMBED: config.embed_dims}
    for layer in range(config.max_depth):
        out[heads_name(layer)] = config.num_heads
        out[mlp_ratio_name(layer)] = config.mlp_ratios
    return out


@dataclass(frozen=True)
class LayerPlan:
    """One active transformer layer."""

    index: int
    num_heads: int
    hidden: int


@dataclass(frozen=True)
class ViTPlan:
    embed_dim: int
    layers: tuple[LayerPlan, ...]


def plan(config: ElasticViTConfig, arch: Architecture) -> ViTPlan:
    """The concrete layers of (a validated) ``arch``."""
    embed = int(arch[EMBED])
    return ViTPlan(embed, tuple(LayerPlan(i, int(arch[heads_name(i)]), hidden_features(embed, arch[mlp_ratio_name(i)]))
                                for i in range(int(arch[DEPTH]))))
