"""Giving a search space its latency model from the config (``latency=table`` / ``latency=measured``)."""

from __future__ import annotations

from omegaconf import DictConfig

from nas.errors import ConfigError
from nas.search_space import SearchSpace

LATENCY_BOUNDS = ("max_latency_ms", "min_latency_ms")


def needs_latency(cfg: DictConfig) -> bool:
    """Whether the searcher's constraints bound latency or its cost objective is latency."""
    searcher = cfg.get("searcher")
    if searcher is None:
        return False
    constraints = searcher.get("constraints") or {}
    return (any(constraints.get(k) is not None for k in LATENCY_BOUNDS)
            or searcher.get("cost_objective") in ("latency", "latency_ms"))


def attach_latency(cfg: DictConfig, space: SearchSpace) -> SearchSpace:
    """Set ``space.latency`` from ``cfg.latency`` (a ``_target_`` built with ``space=``); refuse a config that
    constrains or trades off latency without saying how to get it. Returns ``space``."""
    from hydra.utils import instantiate

    node = cfg.get("latency")
    if node is None:
        if needs_latency(cfg):
            raise ConfigError("latency constraints / cost_objective=latency need a latency model: add latency=table "
                              "latency.path=<file of `nas latency build`> (predicted), or latency=measured (timed "
                              "per child)")
        return space
    space.latency = instantiate(node, space=space)
    return space
