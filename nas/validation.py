"""Config validation: the type, range and choice of every value, checked before any data is loaded.

``SCHEMA`` maps dotted config keys to rules. A key without a rule that belongs to a component (a
node with ``_target_``) is checked against the annotation of that component's parameter, so a new
component parameter is type-checked without a new rule; search spaces (built before any data is
loaded, see ``validate_against_space``) and oracles check their own ranges and choices. Each failure is one line
``<key>=<value>: <problem>; <fix>``, and all of them are raised together as one
:class:`ConfigValueError` (the CLI prints each as ``error: ...`` and exits with code 2).

Example:
    >>> from omegaconf import OmegaConf
    >>> cfg = OmegaConf.create({"seed": "abc", "trainer": {"epochs": 1.5, "batch_size": 0}})
    >>> for line in check_config(cfg):
    ...     print(line)
    seed=abc: not an integer; use an integer >= 0
    trainer.epochs=1.5: not an integer; use an integer >= 1
    trainer.batch_size=0: out of range; use an integer >= 1
"""

from __future__ import annotations

import collections.abc
import functools
import inspect
import math
import sys
import types
import typing
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from nas.errors import ConfigError
from nas.evaluator import BN_POLICIES, METRICS
from nas.few_shot import METHODS as SPLIT_METHODS
from nas.search_space import SearchSpace
from nas.searchers.constraints import Constraints
from nas.searchers.optuna_search import COST_OBJECTIVES
from nas.searchers.optuna_storage import check_workers
from nas.training.architecture_search import ArchitectureSearch
from nas.training.distributed import BACKENDS as DISTRIBUTED_BACKENDS
from supernets.mixture import ROUTER_KINDS


class ConfigValueError(ConfigError):
    """One or more config values of the wrong type, out of range, or not among the choices."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = list(problems)


# -- rules -------------------------------------------------------------------------------------------------
class Rule(ABC):
    """What one config value may be. ``problem`` says what is wrong (None: fine), ``accepted`` the fix."""

    nullable: bool = False

    def check(self, value: Any) -> str | None:
        if value is None:
            return None if self.nullable else "no value"
        return self.problem(value)

    @abstractmethod
    def problem(self, value: Any) -> str | None:
        """What is wrong with a non-null ``value``, or None."""

    @abstractmethod
    def describe(self) -> str:
        """The accepted values in words, e.g. ``an integer >= 1``."""

    def accepted(self) -> str:
        return self.describe() + (" or null" if self.nullable else "")


def _bounds(low: float | None, high: float | None, low_open: bool = False, high_open: bool = False) -> str:
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f" {'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f" {'<' if high_open else '<='} {high:g}"
    return ""


def _outside(value: float, low: float | None, high: float | None, low_open: bool = False,
             high_open: bool = False) -> bool:
    return ((low is not None and (value <= low if low_open else value < low))
            or (high is not None and (value >= high if high_open else value > high)))


@dataclass(frozen=True)
class Int(Rule):
    """An integer (not a bool, not 1.5) within ``[low, high]``."""

    low: int | None = None
    high: int | None = None
    nullable: bool = False

    def problem(self, value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return "not an integer"
        return "out of range" if _outside(value, self.low, self.high) else None

    def describe(self) -> str:
        return "an integer" + _bounds(self.low, self.high)


@dataclass(frozen=True)
class Number(Rule):
    """A finite number (an int or a float, not a bool) within its bounds."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    nullable: bool = False

    def problem(self, value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return "not a number"
        return "out of range" if _outside(value, self.low, self.high, self.low_open, self.high_open) else None

    def describe(self) -> str:
        return "a number" + _bounds(self.low, self.high, self.low_open, self.high_open)


@dataclass(frozen=True)
class Bool(Rule):
    nullable: bool = False

    def problem(self, value: Any) -> str | None:
        return None if isinstance(value, bool) else "not true or false"

    def describe(self) -> str:
        return "true or false"


@dataclass(frozen=True)
class Text(Rule):
    """Any scalar, read as text (a path, a name, a title)."""

    nullable: bool = False

    def problem(self, value: Any) -> str | None:
        return "not a single value" if isinstance(value, (list, dict)) else None

    def describe(self) -> str:
        return "a string"


@dataclass(frozen=True)
class Choice(Rule):
    options: tuple[Any, ...] = ()
    nullable: bool = False

    def problem(self, value: Any) -> str | None:
        return None if any(value == o and type(value) is type(o) for o in self.options) else "unknown choice"

    def describe(self) -> str:
        return "one of " + ", ".join(_show(o) for o in self.options)


@dataclass(frozen=True)
class ListOf(Rule):
    item: Rule = Text()
    min_len: int = 0
    nullable: bool = False

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, list):
            return "not a list"
        if len(value) < self.min_len:
            return "empty" if self.min_len == 1 else f"fewer than {self.min_len} entries"
        for i, element in enumerate(value):
            wrong = self.item.check(element)
            if wrong:
                return f"entry {i} ({_show(element)}) is {wrong}"
        return None

    def describe(self) -> str:
        size = f" of {self.min_len} or more entries" if self.min_len else ""
        return f"a list{size}, each {self.item.describe()} (e.g. [a,b])"


@dataclass(frozen=True)
class MapOf(Rule):
    value: Rule = Text()

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, dict):
            return "not a mapping"
        for key, element in value.items():
            wrong = self.value.check(element)
            if wrong:
                return f"entry {key} ({_show(element)}) is {wrong}"
        return None

    def describe(self) -> str:
        return f"a mapping of names, each to {self.value.describe()}"


@dataclass(frozen=True)
class Record(Rule):
    """A mapping with exactly the named keys, each checked by its own rule (e.g. an entry of a list of notes)."""

    fields: tuple[tuple[str, Rule], ...] = ()

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, dict):
            return "not a mapping"
        names = [name for name, _ in self.fields]
        if sorted(value) != sorted(names):
            return f"keyed {sorted(value)}, not {names}"
        for name, rule in self.fields:
            wrong = rule.check(value[name])
            if wrong:
                return f"{name} ({_show(value[name])}) is {wrong}"
        return None

    def describe(self) -> str:
        return "a mapping of " + ", ".join(f"{name}: {rule.describe()}" for name, rule in self.fields)


@dataclass(frozen=True)
class Section(Rule):
    """A group of keys (checked one by one), or null where the group is optional."""

    nullable: bool = False

    def problem(self, value: Any) -> str | None:
        return None if isinstance(value, dict) else "not a group of keys"

    def describe(self) -> str:
        return "a group of keys"


@dataclass(frozen=True)
class Target(Rule):
    """``_target_``: the dotted path of an importable class or function."""

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, str):
            return "not a dotted path"
        return None if _locate(value) is not None else "cannot be imported"

    def describe(self) -> str:
        return "the dotted path of an importable class or function"


@dataclass(frozen=True)
class Device(Rule):
    """``auto`` (CUDA when available) or anything ``torch.device`` accepts (``cpu``, ``cuda``, ``cuda:1``)."""

    def problem(self, value: Any) -> str | None:
        if value == "auto":
            return None
        try:
            torch.device(str(value))
        except (RuntimeError, TypeError, ValueError):
            return "not a device"
        return None

    def describe(self) -> str:
        return "auto, cpu, cuda or cuda:<index>"


@dataclass(frozen=True)
class Free(Rule):
    """Not checked here: ``why`` says who checks it (a library's own options, a component's constructor)."""

    why: str = ""

    def problem(self, value: Any) -> str | None:
        return None

    def describe(self) -> str:
        return "anything"


# -- the schema ------------------------------------------------------------------------------------------------
_SEED = Int(low=0)
_RAMP = {"start": Number(0, 1), "end": Number(0, 1), "begin": Number(0, 1), "finish": Number(0, 1),
         "shape": Choice(("linear", "cosine", "constant"))}
_BOUND = Number(low=0, nullable=True)

SCHEMA: dict[str, Rule] = {
    # every app
    "seed": _SEED,
    "seeds": ListOf(_SEED, min_len=1),
    "progress": Bool(),
    "threads": Int(low=0, nullable=True),  # null or 0: PyTorch's default
    "run_dir": Text(),
    # nas run / train / search
    "objective": Choice(("supernet", "oracle", "ranker")),
    "free_ranker": Text(),
    "train_dir": Text(nullable=True),
    "search.budget": Int(low=1),
    "search.top_k": Int(low=0),
    # dataset (nas.data loaders)
    "dataset.channels": Int(low=1),
    "dataset.num_classes": Int(low=2),
    "dataset.image_size": Int(low=1),
    "dataset.train_size": Int(low=1),
    "dataset.valid_size": Int(low=1),
    "dataset.test_size": Int(low=1),
    "dataset.noise": Number(low=0),
    "dataset.seed": _SEED,
    "dataset.root": Text(nullable=True),
    "dataset.download": Bool(),
    # few-shot splits (a trainer callback, nas.few_shot)
    "few_shot": Section(nullable=True),
    "few_shot.method": Choice(tuple(SPLIT_METHODS)),
    "few_shot.split_epochs": ListOf(Int(low=1), min_len=1),
    "few_shot.sub_supernets": Int(low=2, nullable=True),
    "few_shot.decision": Text(nullable=True),
    "few_shot.gm_batches": Int(low=1),
    "few_shot.gm_batch_size": Int(low=1),
    "few_shot.restart": Bool(),
    # supernet training heuristics of a search space (NAS-Bench-201: search_spaces.nb201.NB201Supernet)
    "search_space.drop_path": Number(0, 1, high_open=True),
    "search_space.bn_affine": Bool(),
    "search_space.bn_track_running_stats": Bool(),
    # Mixture-of-Supernets of an entangled space (supernet=mos: supernets.mixture.MixtureSpec)
    "search_space.mixture": Section(nullable=True),
    "search_space.mixture.experts": Int(low=1),
    "search_space.mixture.router": Choice(ROUTER_KINDS),
    "search_space.mixture.router_hidden": Int(low=1),
    # path samplers (samplers.path)
    "path_sampler.num_paths": Int(low=1),
    "path_sampler.distinct": Choice((True, False, "auto")),
    "path_sampler.max_none": Int(low=0, nullable=True),
    "path_sampler.num_buckets": Int(low=1),
    "path_sampler.cost": Choice(("flops", "params")),
    "path_sampler.bucket_probs": ListOf(Number(low=0), min_len=1, nullable=True),
    "path_sampler.update_every": Int(low=1),
    "path_sampler.floor": Number(0, 1),
    "path_sampler.shared": Bool(),
    "path_sampler.parameter_free": Choice(("mean", "zero")),
    "path_sampler.num_random": Int(low=0),
    "path_sampler.delay_fraction": Number(0, 1, high_open=True),
    **{f"path_sampler.ramp.{k}": rule for k, rule in _RAMP.items()},
    # data samplers (samplers.data)
    "data_sampler.reweight": Bool(),
    "data_sampler.floor": Number(0, 1),
    **{f"data_sampler.ramp.{k}": rule for k, rule in _RAMP.items()},
    # trainer: the loop (nas.training.Trainer)
    "trainer.epochs": Int(low=1),
    "trainer.batch_size": Int(low=1),
    "trainer.max_steps": Int(low=1, nullable=True),
    "trainer.drop_last": Bool(),
    "trainer.checkpoint_every": Int(low=0),  # 0: only at the end and when interrupted
    "trainer.log_every": Int(low=0),  # 0 counts as 1
    "trainer.device": Device(),
    "trainer.amp": Bool(),
    "trainer.tensorboard": Bool(),
    # trainer.distributed: several ranks under torchrun (nas.training.Distributed)
    "trainer.distributed": Section(nullable=True),
    "trainer.distributed.backend": Choice(tuple(DISTRIBUTED_BACKENDS)),
    "trainer.distributed.check_every": Int(low=0),  # 0: no cross-rank check
    "trainer.distributed.timeout_minutes": Number(low=0, low_open=True),
    # the training method: what one step does (trainer.method), its losses and optimization
    "trainer.method.child_loss": Choice(("sum", "mean")),
    "trainer.method.loss.label_smoothing": Number(0, 1, high_open=True),
    "trainer.method.distillation": Section(nullable=True),
    "trainer.method.distillation.alpha_min": Number(),
    "trainer.method.distillation.alpha_max": Number(),
    "trainer.method.distillation.beta": Number(low=0, low_open=True),
    "trainer.method.optimization.warmup_steps": Int(low=0),
    "trainer.method.optimization.grad_clip_norm": Number(low=0, low_open=True, nullable=True),
    "trainer.method.optimization.optimizer.lr": Number(low=0, low_open=True),
    "trainer.method.optimization.optimizer.momentum": Number(0, 1),
    "trainer.method.optimization.optimizer.weight_decay": Number(low=0),
    "trainer.method.optimization.optimizer.nesterov": Bool(),
    # evaluator
    "evaluator.valid_size": Int(low=1, nullable=True),
    "evaluator.bn_policy": Choice(tuple(BN_POLICIES)),
    "evaluator.recalibration_batches": Int(low=0),  # the evaluator needs >= 1 with bn_policy=recalibrate
    "evaluator.recalibration_batch_size": Int(low=1),
    "evaluator.batch_size": Int(low=1),
    "evaluator.metric": Choice(tuple(METRICS)),
    "evaluator.snapshots": Int(low=0),  # 0 or 1: the final weights only
    # searchers
    "searcher.population_size": Int(low=1),
    "searcher.sample_size": Int(low=1),
    "searcher.crossover_prob": Number(0, 1),
    "searcher.mutation_decisions": Int(low=1),
    "searcher.repair_attempts": Int(low=1),
    "searcher.sampler": Text(),
    "searcher.sampler_kwargs": Free("the Optuna sampler's own options, checked when it is built"),
    "searcher.cost_objective": Choice(tuple(COST_OBJECTIVES), nullable=True),
    "searcher.storage": Text(nullable=True),
    "searcher.study_name": Text(),
    "searcher.workers": Int(low=1),
    "searcher.heartbeat_seconds": Int(low=1, nullable=True),
    "searcher.grace_seconds": Int(low=1, nullable=True),
    "searcher.retries": Int(low=0, nullable=True),
    "searcher.policy": Choice(("from_run",)),
    "searcher.temperature": Number(low=0, low_open=True),
    "searcher.max_redraws": Int(low=1),
    "searcher.constraints": Section(nullable=True),
    **{f"searcher.constraints.{k}": _BOUND for k in ("max_params", "min_params", "max_flops", "min_flops",
                                                     "max_latency_ms", "min_latency_ms")},
    # benchmark (ground truth)
    "benchmark.oracle": Section(nullable=True),
    "benchmark.max_cells": Int(low=1, nullable=True),
    "benchmark.oracle.records": Text(),
    "benchmark.oracle.min_seeds": Int(low=1),
    # nas bench build
    "archs.sample": Int(low=1),
    "archs.sample_seed": _SEED,
    "archs.file": Text(nullable=True),
    "workers": Int(low=1),
    "threads_per_worker": Int(low=1),
    "backend": Choice(("local", "ray")),  # nas bench build and nas leaderboard: nas.ray_backend
    "ray.address": Text(nullable=True),
    "ray.num_cpus": Int(low=1, nullable=True),
    "output": Text(),
    "recipe.train_size": Int(low=1),
    "recipe.epochs": Int(low=1),
    "recipe.batch_size": Int(low=1),
    "recipe.lr": Number(low=0, low_open=True),
    "recipe.momentum": Number(0, 1),
    "recipe.nesterov": Bool(),
    "recipe.weight_decay": Number(low=0),
    "recipe.eval_split": Choice(("valid", "test")),
    # nas leaderboard
    "mode": Choice(("run", "collect")),
    "launcher": Choice(("basic", "joblib")),
    "jobs": Int(low=1),
    "only": ListOf(Text(), nullable=True),
    "rerun": ListOf(Text()),
    "run_overrides": ListOf(Text()),
    "rows": MapOf(ListOf(Text())),
    "budget_curve": Section(nullable=True),
    "budget_curve.row": Text(),
    "budget_curve.epochs": ListOf(Int(low=1)),  # [] or null: no budget curve
    "flops_limit": Number(low=0, low_open=True, nullable=True),
    "runs_dir": Text(),
    "output_dir": Text(),
    "assets_dir": Text(nullable=True),
    "title": Text(),
    "command": Text(),
    "notes": Text(nullable=True),
    "extra_sections": ListOf(Text()),
    "reference": Text(nullable=True),
    "bootstrap.seed": _SEED,
    "free.rankers": ListOf(Text()),
    "free.dir": Text(),
    "ensemble": ListOf(Text()),
    "combined.rows": ListOf(Text()),
    "combined.mean_rank": MapOf(ListOf(Text(), min_len=1)),
    "combined.chosen_on_truth": ListOf(Text()),
    "combined.footnotes": ListOf(Record(fields=(("combinations", ListOf(Text(), min_len=1)), ("text", Text())))),
    "combined.calibrated": Section(nullable=True),
    "combined.calibrated.members": ListOf(Text(), min_len=1),
    "combined.calibrated.chosen_on_truth": Bool(),
    "combined.calibrated.ks": ListOf(Int(low=3)),
    "combined.calibrated.splits": Int(low=1),
    "combined.calibrated.alpha": Number(low=0),
    "rescore": MapOf(Section()),  # name -> {base, overrides}: checked by nas.leaderboard.rescore.Rescore
    # nas searchboard (besides the leaderboard's keys it shares)
    "searches": MapOf(Record(fields=(("supernet", Text(nullable=True)), ("overrides", ListOf(Text()))))),  # null: free
    # ranker rows (nas.searchboard.searches)
    "truth.build": Bool(),
    "truth.seeds": ListOf(_SEED, min_len=1),
    "truth.workers": Int(low=1),
    "truth.output": Text(),
    "anytime.max_archs": Int(low=1, nullable=True),
    "anytime.every": Int(low=0),  # nas run: the any-time record's epochs between points (0: none)
    "section": Text(),
    "board_file": Text(nullable=True),
    "findings": Text(nullable=True),
    "board_notes": ListOf(Text()),
    "marker": Text(),  # the section's marker name in board_file (nas.searchboard.table.markers checks its characters)
    "anchors": Text(nullable=True),
    # nas run found_truth.build=true: the found architecture's truth, trained by the table's recipe (nas.cli.truth)
    "found_truth.build": Bool(),
    "found_truth.seeds": ListOf(_SEED, min_len=1, nullable=True),
    "found_truth.bench_overrides": ListOf(Text(), min_len=1, nullable=True),
    "found_truth.workers": Int(low=1),
    # nas run's report: the free rankers beside the supernet
    "report.free_rankers": ListOf(Text()),
    "report.combined": ListOf(Text()),
    "report.bootstrap.resamples": Int(low=1),
    "report.bootstrap.confidence": Number(0, 1, low_open=True, high_open=True),
    "report.leaderboard.csv": Text(nullable=True),
    "report.leaderboard.row": Text(),
    # nas rank
    "device": Device(),
    "bootstrap.resamples": Int(low=1),
    "bootstrap.confidence": Number(0, 1, low_open=True, high_open=True),
    "held_out.ks": ListOf(Int(low=1)),
    "held_out.splits": Int(low=1),
    "markdown": Text(nullable=True),
    # nas export / nas retrain (nas.export, nas.retrain)
    "arch": Text(nullable=True),
    "rank": Int(low=1, nullable=True),
    "ranking": Choice(("combined", "supernet")),
    "export.dir": Text(nullable=True),
    "export.bn_policy": Choice(("recalibrate", "running_stats")),
    "export.check_images": Int(low=2),
    "export.onnx_tolerance": Number(low=0),
    "export.opset": Int(low=9),
    "init": Choice(("scratch", "inherited")),
    "retrain.dir": Text(nullable=True),
    "retrain.checkpoint_every": Int(low=0),
    "retrain.tensorboard": Bool(),
    # nas latency build (nas.latency)
    "meter.batch_size": Int(low=1),
    "meter.threads": Int(low=1),
    "meter.warmup": Int(low=0),
    "meter.repeats": Int(low=1),
    "meter.device": Device(),
    "meter.statistic": Choice(("median", "min")),
    "build.patience": Int(low=1),
    "build.max_samples": Int(low=1),
    "build.calibration": Int(low=0),
}
"""Dotted key -> rule. A rule on a key applies in every app whose config has that key."""

SPECIAL_KEYS: dict[str, Rule] = {"_target_": Target(), "_partial_": Bool(), "_recursive_": Bool(),
                                 "_convert_": Choice(("none", "partial", "object", "all"))}
"""Hydra's instantiation keys, wherever they appear."""


# -- checking ----------------------------------------------------------------------------------------------------
def validate(cfg: DictConfig) -> None:
    """Check every value of a composed config; raise :class:`ConfigValueError` listing what is wrong.

    Call it first in an app, before any data is loaded or any file written.
    """
    problems = check_config(cfg)
    if problems:
        raise ConfigValueError(problems)


def check_config(cfg: DictConfig) -> list[str]:
    """One line ``<key>=<value>: <problem>; <fix>`` per wrong value (empty: all fine)."""
    problems: list[str] = []
    _walk(OmegaConf.to_container(cfg, resolve=False), "", problems, unchecked=None)
    if not problems:
        problems += [problem for check in CROSS_CHECKS if (problem := check(cfg)) is not None]
    return problems


def _recalibration_needs_batches(cfg: DictConfig) -> str | None:
    evaluator = cfg.get("evaluator")
    if isinstance(evaluator, DictConfig) and evaluator.get("bn_policy") == "recalibrate" \
            and evaluator.get("recalibration_batches", 1) < 1:
        return (f"evaluator.recalibration_batches={evaluator.recalibration_batches}: bn_policy=recalibrate needs "
                "at least one batch; use recalibration_batches >= 1, or evaluator.bn_policy=batch_stats")
    return None


def _untracked_batch_norm_needs_batch_stats(cfg: DictConfig) -> str | None:
    space, evaluator = cfg.get("search_space"), cfg.get("evaluator")
    if isinstance(space, DictConfig) and space.get("bn_track_running_stats") is False \
            and isinstance(evaluator, DictConfig) and evaluator.get("bn_policy", "batch_stats") != "batch_stats":
        return (f"evaluator.bn_policy={evaluator.bn_policy}: with search_space.bn_track_running_stats=false the "
                "supernet's op BatchNorms keep no running statistics and always use batch statistics; use "
                "evaluator.bn_policy=batch_stats")
    return None


def _sqlite_serves_one_worker(cfg: DictConfig) -> str | None:
    searcher = cfg.get("searcher")
    if not isinstance(searcher, DictConfig) or "workers" not in searcher:
        return None
    try:
        check_workers(searcher.get("storage"), int(searcher.workers))
    except ConfigError as exc:
        return str(exc)
    return None


def _mixture_needs_an_entangled_space(cfg: DictConfig) -> str | None:
    space = cfg.get("search_space")
    if not isinstance(space, DictConfig) or space.get("mixture") is None or not isinstance(space.get("_target_"), str):
        return None
    try:
        parameters = inspect.signature(_locate(space._target_)).parameters.values()
    except (TypeError, ValueError):
        return None
    if not any(p.name == "mixture" or p.kind is p.VAR_KEYWORD for p in parameters):
        return (f"search_space.mixture: {space._target_} builds no Mixture-of-Supernets (a shared-weight or relaxed "
                "supernet has no entangled layers to route); Mixture-of-Supernets routes the weight-entangled elastic "
                "spaces: drop supernet=mos, or use search_space=elastic_conv | elastic_vit")
    method = cfg.get("trainer", {}).get("method") if cfg.get("trainer") is not None else None
    target = _locate(method.get("_target_")) if isinstance(method, DictConfig) and method.get("_target_") else None
    if inspect.isclass(target) and issubclass(target, ArchitectureSearch):
        return (f"search_space.mixture: trainer.method={method._target_} trains the continuous relaxation, which runs "
                "every architecture at once, and a Mixture-of-Supernets routes the weights of one: drop supernet=mos, "
                "or train it with method=one_shot")
    return None


def _found_truth_needs_a_table_and_a_search(cfg: DictConfig) -> str | None:
    found_truth = cfg.get("found_truth")
    if not isinstance(found_truth, DictConfig) or found_truth.get("build") is not True:
        return None
    benchmark = cfg.get("benchmark")
    if not isinstance(benchmark, DictConfig) or benchmark.get("oracle") is None:
        return ("found_truth.build=true: the run has no ground-truth table (benchmark=none) whose recipe could train "
                "the found architecture; use benchmark=fmnist201 (or another table of `nas bench build`), or drop "
                "found_truth.build=true")
    method = cfg.get("trainer", {}).get("method") if cfg.get("trainer") is not None else None
    target = _locate(method.get("_target_")) if isinstance(method, DictConfig) and method.get("_target_") else None
    if inspect.isclass(target) and not issubclass(target, ArchitectureSearch):
        return (f"found_truth.build=true: trainer.method={method._target_} finds no architecture itself (its searcher "
                "ranks the table's cells, which have their truth); it is for method=darts | gdas | drnas | rarts | "
                "tanglenas: drop found_truth.build=true")
    return None


CROSS_CHECKS: list[Callable[[DictConfig], str | None]] = [_recalibration_needs_batches,
                                                          _untracked_batch_norm_needs_batch_stats,
                                                          _sqlite_serves_one_worker,
                                                          _mixture_needs_an_entangled_space,
                                                          _found_truth_needs_a_table_and_a_search]
"""Checks of values that are fine alone but not together (run once every value alone is fine)."""


def unchecked_keys(cfg: DictConfig) -> list[str]:
    """Keys that neither a rule nor a component's annotation covers (a test keeps this empty)."""
    unchecked: list[str] = []
    _walk(OmegaConf.to_container(cfg, resolve=False), "", [], unchecked=unchecked)
    return unchecked


def _walk(node: dict, path: str, problems: list[str], unchecked: list[str] | None) -> None:
    hints = _parameter_types(node["_target_"]) if isinstance(node.get("_target_"), str) else {}
    for key, value in node.items():
        full = f"{path}.{key}" if path else str(key)
        if _is_interpolation(value):
            continue  # the key it points at is checked there
        if value == "???":
            problems.append(f"{full}=???: no value; set it on the command line ({full}=...)")
            continue
        rule = SCHEMA.get(full) or SPECIAL_KEYS.get(str(key))
        if rule is None and key in hints:
            hint = hints[key]
            if _matches(value, hint) is False:
                problems.append(f"{full}={_show(value)}: not {_describe_hint(hint)}; use {_describe_hint(hint)} "
                                f"(parameter {key!r} of {node['_target_']})")
                continue
            if not isinstance(value, dict):
                continue
        if rule is not None:
            wrong = rule.check(value)
            if wrong:
                problems.append(f"{full}={_show(value)}: {wrong}; use {rule.accepted()}")
                continue
            if not isinstance(rule, Section):
                continue
        if isinstance(value, dict):
            _walk(value, full, problems, unchecked)
        elif unchecked is not None and rule is None and key not in hints:
            unchecked.append(full)


def _is_interpolation(value: Any) -> bool:
    return isinstance(value, str) and "${" in value


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ",".join(_show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{_show(v)}" for k, v in value.items()) + "}"
    return str(value)


# -- component annotations ---------------------------------------------------------------------------------------
def _locate(path: str) -> Any:
    from hydra.utils import get_object

    try:
        return get_object(path)
    except Exception:
        return None


@functools.lru_cache(maxsize=None)
def _parameter_types(target: str) -> dict[str, Any]:
    """Parameter name -> evaluated annotation of the class or function ``target`` (what can be evaluated)."""
    obj = _locate(target)
    if obj is None:
        return {}
    try:
        parameters = inspect.signature(obj).parameters
    except (TypeError, ValueError):
        return {}
    function = obj.__init__ if inspect.isclass(obj) else obj
    namespace = dict(vars(sys.modules.get(getattr(obj, "__module__", ""), types.ModuleType("_"))))
    namespace.update(getattr(function, "__globals__", {}))
    hints = {}
    for name, parameter in parameters.items():
        annotation = parameter.annotation
        if annotation is inspect.Parameter.empty or parameter.kind in (parameter.VAR_POSITIONAL,
                                                                        parameter.VAR_KEYWORD):
            continue
        if isinstance(annotation, str):
            try:
                annotation = eval(annotation, namespace)  # noqa: S307 - the component's own annotation
            except Exception:
                continue  # a name imported for type checkers only: no check for this parameter
        hints[name] = annotation
    return hints


def _matches(value: Any, hint: Any) -> bool | None:
    """Whether ``value`` fits the annotation ``hint``; None where the annotation says nothing checkable."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return None
    if origin in (typing.Union, types.UnionType):
        results = [_matches(value, arg) for arg in typing.get_args(hint)]
        return True if True in results else (None if None in results else False)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if origin in (list, tuple, collections.abc.Sequence):
        if not isinstance(value, list):
            return False
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        results = [_matches(v, args[0]) for v in value] if args else []
        return False if False in results else True
    if origin in (dict, collections.abc.Mapping) or hint in (dict, Mapping):
        return isinstance(value, dict) or None
    return None


def _describe_hint(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe_hint(a) for a in typing.get_args(hint))
    names = {type(None): "null", bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    if hint in names:
        return names[hint]
    if origin is typing.Literal:
        return "one of " + ", ".join(map(_show, typing.get_args(hint)))
    if origin in (list, tuple, collections.abc.Sequence):
        return "a list"
    return getattr(hint, "__name__", str(hint))


# -- checks that need the search space ------------------------------------------------------------------------------
def validate_against_space(cfg: DictConfig, space: SearchSpace) -> None:
    """Refuse, before any data is loaded, what only the search space can judge: cost bounds no child meets.

    Spaces of at most ``constraints.EXACT_LIMIT`` architectures are checked exactly; larger ones on
    uniform samples plus their smallest and largest architectures (``Constraints.feasible_architectures``).
    """
    node = cfg.get("searcher", {}).get("constraints") if cfg.get("searcher") is not None else None
    if node is None:
        return
    bounds = {k: v for k, v in OmegaConf.to_container(node, resolve=True).items() if k != "_target_"}
    constraints = Constraints.coerce(bounds)
    if not constraints:
        return
    try:
        constraints.feasible_architectures(space)  # cached per space object: the searcher reuses it
    except ConfigError as exc:
        keys = ", ".join(f"searcher.constraints.{k}={_show(v)}" for k, v in constraints.bounds().items())
        raise ConfigValueError([f"{keys}: {exc}"]) from None


def search_budget(cfg: DictConfig, space: SearchSpace) -> int:
    """``search.budget``, capped at the number of distinct architectures of ``space`` (saying so once)."""
    budget = int(cfg.search.budget)
    if budget > space.size:
        print(f"search.budget={budget:,} is more than the {space.size:,} architectures of search space "
              f"{space.name!r}: capped to {space.size:,}", flush=True)
        return int(space.size)
    return budget
