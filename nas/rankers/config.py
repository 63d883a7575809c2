"""Rankers from their configs: ``conf/ranker/<name>.yaml`` by name, instantiated with what each constructor asks for."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from importlib.resources import files
from pathlib import Path

from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf

from nas.data.splits import TensorSplit
from nas.errors import ConfigError
from nas.rankers.base import Ranker
from nas.search_space import SearchSpace


def ranker_config_dir() -> Path:
    """The ``ranker`` config group (``conf/ranker/``): one file per ranker name."""
    return Path(str(files("conf"))) / "ranker"


def ranker_specs(names: Sequence[str], seed: int = 0, device: str = "cpu") -> DictConfig:
    """The configs of the rankers ``names`` (files of ``conf/ranker/``), as ``nas rank ranker=[...]`` composes
    them: name -> ``_target_`` config, their ``${seed}`` and ``${device}`` resolved to ``seed`` and ``device``.

    Example:
        >>> specs = ranker_specs(["params", "synflow"], seed=3)
        >>> specs.params._target_, specs.synflow.seed
        ('nas.rankers.CostRanker', 3)
    """
    folder = ranker_config_dir()
    known = sorted(p.stem for p in folder.glob("*.yaml"))
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(f"unknown ranker(s) {unknown}: choose names of conf/ranker/ ({', '.join(known)})")
    specs = {name: OmegaConf.load(folder / f"{name}.yaml")[name] for name in dict.fromkeys(names)}
    root = OmegaConf.create({"seed": int(seed), "device": str(device), "ranker": specs})
    return root.ranker


def build_rankers(specs: DictConfig, space: SearchSpace, train_split: Callable[[], TensorSplit],
                  progress: bool) -> dict[str, Ranker]:
    """Instantiate ``specs`` (name -> ``_target_`` config), in their order.

    Each target gets what its constructor asks for: ``space``, ``data`` (the training split,
    loaded once, only if some ranker needs it), ``progress``, ``name`` (the config's key, unless
    the config names it) and ``members`` (other rankers of ``specs``, given by name).
    """
    built: dict[str, Ranker] = {}
    pending = dict(specs.items())
    while pending:
        ready = [n for n, s in pending.items() if all(m in built for m in (s.get("members") or []))]
        if not ready:
            name, spec = next(iter(pending.items()))
            missing = [m for m in spec.members if m not in specs]
            raise ConfigError(f"ranker {name!r} combines {missing or list(spec.members)}, which "
                              f"{'are not chosen' if missing else 'form a cycle'}: add them, e.g. "
                              f"ranker=[{', '.join([*spec.members, name])}]")
        for name in ready:
            spec = pending.pop(name)
            wanted = inspect.signature(get_class(spec._target_)).parameters
            kwargs: dict = {}
            if "space" in wanted:
                kwargs["space"] = space
            if "data" in wanted:
                kwargs["data"] = train_split()
            if "progress" in wanted:
                kwargs["progress"] = progress
            if spec.get("members") is not None:
                kwargs["members"] = [built[m] for m in spec.members]
            elif "name" in wanted and spec.get("name") is None:
                kwargs["name"] = name
            built[name] = instantiate(spec, **kwargs, _convert_="all")
    return {name: built[name] for name in specs}


def needs_data(spec: DictConfig) -> bool:
    """Whether the ranker of ``spec`` reads training images (a zero-cost proxy does; an analytic count does not)."""
    return "data" in inspect.signature(get_class(spec._target_)).parameters
