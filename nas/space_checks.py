"""Checks of a search space against the command's config and dataset, before anything trains.

Each problem is one line that names the space (its registered name and class), what is wrong and the fix:
a ``build_supernet()`` that returns no ``Supernet`` (``check_supernet``, when it is built), a declared space
whose options cannot run or whose decisions the network never reads (``DeclaredSearchSpace.check``), a model whose input or output does not fit
the dataset (both shapes named), cost constraints on a space without cost functions.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from nas.data.splits import ImageDataset
from nas.errors import NASError
from nas.search_space import SearchSpace
from nas.searchers.constraints import Constraints
from nas.validation import ConfigValueError
from supernets.base import Supernet
from supernets.declared import DeclaredSearchSpace


def space_label(space: SearchSpace) -> str:
    """``search space 'name' (module.Class)``: how every problem names the space."""
    return f"search space {space.name!r} ({type(space).__module__}.{type(space).__qualname__})"


def check_space(cfg: DictConfig, space: SearchSpace) -> None:
    """Refuse, before the data loads, a space that cannot work with this command (one line per problem).

    Example:
        >>> from omegaconf import OmegaConf
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> check_space(OmegaConf.create({}), NB201SearchSpace(C=4, N=1, reduction="light"))   # fine: no error
    """
    problems: list[str] = []
    if isinstance(space, DeclaredSearchSpace):
        problems += [f"{space_label(space)}: {p}" for p in space.declaration_problems()]
    problems += _cost_problems(cfg, space)
    if problems:
        raise ConfigValueError(problems)


def check_fits_data(space: SearchSpace, data: ImageDataset) -> None:
    """Refuse a space whose model does not take the dataset's examples, or gives another number of logits than
    the dataset has classes; both shapes are named."""
    shape = tuple(int(s) for s in data.train.x.shape[1:])
    problems = (_declared_fit(space, data, shape) if isinstance(space, DeclaredSearchSpace)
                else _probed_fit(space, data, shape))
    if problems:
        raise ConfigValueError(problems)


# -- the supernet ----------------------------------------------------------------------------------------------
def check_supernet(space: SearchSpace, supernet: object) -> Supernet:
    """``supernet`` (what ``space.build_supernet()`` returned) if it is a ``Supernet``, else one clear error."""
    if isinstance(supernet, Supernet):
        return supernet
    got = "None" if supernet is None else f"a {type(supernet).__name__}"
    raise ConfigValueError([
        f"{space_label(space)}: build_supernet() returned {got}, not a supernets.Supernet (forward(x, arch), "
        "subnet(arch)); derive the space from supernets.declared.DeclaredSearchSpace and mark its choices in "
        "network() (the supernet comes with it), or return a Supernet subclass"])


# -- costs -----------------------------------------------------------------------------------------------------
def _cost_problems(cfg: DictConfig, space: SearchSpace) -> list[str]:
    searcher = cfg.get("searcher")
    node = searcher.get("constraints") if isinstance(searcher, DictConfig) else None
    if node is None:
        return []
    bounds = Constraints.coerce({k: v for k, v in OmegaConf.to_container(node, resolve=True).items()
                                 if k != "_target_"}).analytic().bounds()  # latency: nas.latency checks it
    if not bounds:
        return []
    given = ", ".join(f"searcher.constraints.{k}={v}" for k, v in bounds.items())
    arch = space.smallest()
    problems = []
    for metric in sorted({name.split("_", 1)[1] for name in bounds}):
        try:
            value = getattr(space, metric)(arch)
        except NotImplementedError:
            value = NotImplemented
        if value is NotImplemented or isinstance(value, bool) or not isinstance(value, numbers.Real):
            got = "raises NotImplementedError" if value is NotImplemented else f"returned {value!r}"
            problems.append(f"{space_label(space)} has no cost function {metric}() (it {got}) and {given} bounds "
                            f"it: define {metric}(arch) on the space (DeclaredSearchSpace derives params and flops), "
                            "or drop searcher.constraints")
    return problems


# -- input and output shapes -----------------------------------------------------------------------------------
def _declared_fit(space: DeclaredSearchSpace, data: ImageDataset, shape: tuple[int, ...]) -> list[str]:
    declared = tuple(space.input_shape or ())
    if declared != shape:
        return [f"{space_label(space)} takes inputs of shape {_shape(declared)} but dataset {data.name!r} has "
                f"examples of shape {_shape(shape)}: build the network from the dataset's shape (take in_channels and "
                "input_size in __init__: search_space=plugin passes them) or set input_shape to it"]
    out = space.output_shape
    if out is not None and out != (data.num_classes,):
        return [f"{space_label(space)} gives outputs of shape {_shape(out)} but dataset {data.name!r} has "
                f"{data.num_classes} classes: give the last layer num_classes outputs (take num_classes in __init__: "
                "search_space=plugin passes it)"]
    return []


def _probed_fit(space: SearchSpace, data: ImageDataset, shape: tuple[int, ...]) -> list[str]:
    arch = space.smallest()
    try:
        out, model = _run_model(space, arch, shape)
    except NASError:
        raise
    except Exception as exc:
        model = _built(space, arch)
        hint = f"{_first_layer(model, shape)}; " if model is not None else ""
        lines = str(exc).strip().splitlines()
        return [f"{space_label(space)}: its model does not take dataset {data.name!r}'s examples of shape "
                f"{_shape(shape)} ({hint}{type(exc).__name__}: {lines[0][:200] if lines else ''}): build the "
                "model for the dataset's shape (take in_channels and input_size in __init__: "
                "search_space=plugin passes them)"]
    if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[1] != data.num_classes:
        got = _shape(tuple(out.shape[1:])) if isinstance(out, torch.Tensor) else type(out).__name__
        return [f"{space_label(space)}: its model gives outputs of shape {got} but dataset {data.name!r} has "
                f"{data.num_classes} classes: give the last layer num_classes outputs (take num_classes in __init__: "
                "search_space=plugin passes it)"]
    return []


@torch.no_grad()
def _run_model(space: SearchSpace, arch, shape: Sequence[int]):
    """One zero example through ``arch``'s freshly built model (eval mode; the global RNG is left as it was)."""
    with torch.random.fork_rng(devices=[]):
        model = space.build_model(arch)
    model.eval()
    return model(torch.zeros(1, *shape)), model


def _built(space: SearchSpace, arch) -> nn.Module | None:
    try:
        with torch.random.fork_rng(devices=[]):
            return space.build_model(arch)
    except Exception:
        return None


def _first_layer(model: nn.Module, shape: Sequence[int]) -> str:
    for module in model.modules():
        if isinstance(module, nn.Linear):
            return (f"its first layer, Linear, takes {module.in_features} features; an example has "
                    f"{_shape(shape)} = {math.prod(shape)}")
        if isinstance(module, nn.modules.conv._ConvNd):
            return (f"its first layer, {type(module).__name__}, takes {module.in_channels} channels; an example has "
                    f"{shape[0]}")
    return "no linear or convolution layer found"


def _shape(shape: Sequence[int]) -> str:
    return "x".join(str(s) for s in shape) if shape else "()"
