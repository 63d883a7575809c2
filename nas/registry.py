"""Search-space registry fed by the entry-point group ``nas.search_spaces``."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

from nas.errors import RegistryError
from nas.search_space import SearchSpace

ENTRY_POINT_GROUP = "nas.search_spaces"


def available_search_spaces() -> dict[str, str]:
    """Registered name -> ``module:Class`` for every installed search space (built-ins included)."""
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def search_space_class(name: str) -> type[SearchSpace]:
    """Load the class registered under ``name``."""
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not found:
        known = ", ".join(sorted(available_search_spaces())) or "none (is the package installed? pip install -e .)"
        raise RegistryError(
            f"no search space named {name!r} is registered under the entry-point group {ENTRY_POINT_GROUP!r}; "
            f"registered: {known}. A plugin registers one in its pyproject.toml under "
            f'[project.entry-points."{ENTRY_POINT_GROUP}"].'
        )
    cls = found[0].load()
    if not (isinstance(cls, type) and issubclass(cls, SearchSpace)):
        raise RegistryError(f"entry point {name!r} = {found[0].value!r} is not a SearchSpace subclass")
    return cls


def create_search_space(name: str, from_dataset: Mapping[str, Any] | None = None, **kwargs: Any) -> SearchSpace:
    """Instantiate a registered search space by name (Hydra target of ``search_space=plugin``).

    ``from_dataset`` (``search_space=plugin`` fills it from the dataset: ``in_channels``, ``input_size``,
    ``num_classes``) is passed on for the keyword arguments the class's ``__init__`` accepts and ``kwargs``
    does not set; ``None`` values are left out.

    Example:
        >>> space = create_search_space("nb201", C=8, N=1, reduction="light", in_channels=1, input_size=16)
        >>> space.size
        15625
        >>> shape = {"in_channels": 3, "input_size": 8, "other": 1}   # "other": not an argument of the class
        >>> create_search_space("nb201", from_dataset=shape).spec()["input_size"]
        8
    """
    cls = search_space_class(name)
    accepted = _accepted_keywords(cls)
    given = {k: v for k, v in (from_dataset or {}).items()
             if v is not None and k not in kwargs and (accepted is None or k in accepted)}
    return cls(**given, **kwargs)


def _accepted_keywords(cls: type) -> set[str] | None:
    """The keyword arguments ``cls(...)`` accepts, or None when it takes any (``**kwargs``)."""
    try:
        parameters = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return set()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    return {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
