"""Optuna samplers by name: any class of ``optuna.samplers``, seeded and fitted to a search space."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import optuna

from nas.errors import ConfigError
from nas.search_space import SearchSpace


_NUMERIC_ONLY = ("CmaEsSampler",)
"""Samplers that model numeric parameters only: categorical decisions go to their independent sampler."""


def sampler_names() -> list[str]:
    """The concrete sampler classes of ``optuna.samplers`` (what ``searcher.sampler`` accepts)."""
    return sorted(name for name, obj in vars(optuna.samplers).items()
                  if isinstance(obj, type) and issubclass(obj, optuna.samplers.BaseSampler)
                  and not inspect.isabstract(obj) and not name.startswith("_"))


def make_sampler(sampler: str | optuna.samplers.BaseSampler, space: SearchSpace, seed: int,
                 options: Mapping[str, Any] | None = None) -> optuna.samplers.BaseSampler:
    """``sampler`` itself, or the ``optuna.samplers`` class of that name built with ``options``.

    ``seed`` is passed when the class takes one; ``GridSampler`` gets the space's decisions as its grid.
    Names match exactly or case-insensitively, with or without the ``Sampler`` suffix (``tpe``).

    Example:
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> type(make_sampler("tpe", NB201SearchSpace(), seed=0)).__name__
        'TPESampler'
    """
    if isinstance(sampler, optuna.samplers.BaseSampler):
        return sampler
    names = sampler_names()
    wanted = str(sampler).lower().removesuffix("sampler")
    matches = [n for n in names if n == sampler or n.lower().removesuffix("sampler") == wanted]
    if not matches:
        raise ConfigError(f"unknown Optuna sampler {sampler!r}; choose one of {names} "
                          "(class names in optuna.samplers), e.g. searcher.sampler=TPESampler")
    cls = getattr(optuna.samplers, matches[0])
    accepted = inspect.signature(cls).parameters
    kwargs = dict(options or {})
    if "seed" in accepted:
        kwargs.setdefault("seed", int(seed))
    if "search_space" in accepted:
        kwargs.setdefault("search_space", {name: list(opts) for name, opts in space.decisions.items()})
    if cls.__name__ in _NUMERIC_ONLY:
        kwargs.setdefault("warn_independent_sampling", False)  # it would log one line per trial
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"Optuna sampler {cls.__name__} cannot be built with options {kwargs} ({exc}); "
                          "fix searcher.sampler_kwargs") from None
