"""Where a declared network depends on decisions: every place, its path, and when it runs."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from nas.architecture import Option
from nas.errors import ConfigError
from supernets.declared.choice import Choice
from supernets.declared.module import Condition, DeclaredModule


@dataclass(frozen=True)
class Place:
    """One declared module at ``path`` of the network; it runs when every one of ``conditions`` holds."""

    module: DeclaredModule
    path: str
    conditions: tuple[Condition, ...]


def find_places(network: nn.Module) -> list[Place]:
    """Every declared place of ``network``, in module order (the order decisions are listed in)."""
    places: list[Place] = []

    def walk(module: nn.Module, path: str, conditions: tuple[Condition, ...]) -> None:
        if isinstance(module, DeclaredModule):
            places.append(Place(module, path or "<network>", conditions))
            for name, child, condition in module.guarded_children():
                more = conditions + ((condition,) if condition is not None else ())
                walk(child, f"{path}.{name}" if path else name, more)
            return
        for name, child in module.named_children():
            walk(child, f"{path}.{name}" if path else name, conditions)

    walk(network, "", ())
    return places


def collect_decisions(places: list[Place]) -> tuple[dict[str, tuple[Option, ...]], frozenset[str]]:
    """(decision -> options in first-declared order, the entangled decisions), or a ConfigError naming a
    decision declared twice with different options, or as both a module choice and an elastic size."""
    decisions: dict[str, tuple[Option, ...]] = {}
    where: dict[str, str] = {}
    kinds: dict[str, str] = {}
    for place in places:
        kind = "choice" if isinstance(place.module, Choice) else "elastic"
        for name, options in place.module.decision_options().items():
            if name not in decisions:
                decisions[name], where[name], kinds[name] = tuple(options), place.path, kind
                continue
            if kinds[name] != kind:
                choice, elastic = (where[name], place.path) if kinds[name] == "choice" else (place.path, where[name])
                raise ConfigError(f"decision {name!r} is a module Choice at {choice} and an Elastic size at "
                                  f"{elastic}; give the two decisions different names")
            if set(options) != set(decisions[name]):
                raise ConfigError(f"decision {name!r} has options {list(decisions[name])} at {where[name]} but "
                                  f"{list(options)} at {place.path}; declare it once and pass the same object")
    entangled = frozenset(name for name, kind in kinds.items() if kind == "elastic")
    return decisions, entangled
