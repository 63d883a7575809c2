"""Ground truth that a table lacks, trained stand-alone by the table's recipe with `nas bench build`.

Two commands use it: `nas searchboard` (the found and any-time architectures of a board, into ``truth.output``, by
the board's dataset, search space and recipe) and `nas run found_truth.build=true` (the architecture a gradient-based
search found, into the run folder, by the table's own `nas bench build` command). Shared here:

- :func:`group_overrides`: the `nas bench build` overrides that select a dataset, a search space and a recipe;
- :func:`table_recipe` and :func:`check_recipe`: the table must have been built by `nas bench build` (its records
  carry a recipe hash), and the cells trained for it by the same dataset, space and recipe (else their accuracies
  would not compare with the table's);
- :func:`trained_truth`: the cells trained so far, as a table (every seed asked for);
- :func:`train_missing`: the build itself, a `nas bench build archs.file=...` subprocess (resumable; its command
  printed, so that it can be rerun by hand).

`nas run`'s part (:func:`plan_found_truth`, :func:`found_truth_table`, :func:`build_found_truth`) takes the table's
dataset, search space and recipe from the table's build record (``<table>.hydra/.hydra/hydra.yaml``, which `nas bench
build` writes beside its output), with the run's data location, and verifies that they hash to the table's recipe.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from nas.architecture import Architecture
from nas.atomic import write_text_atomic
from nas.benchmarks import TableOracle
from nas.benchmarks.oracle import Oracle
from nas.benchmarks.records import load_records
from nas.errors import ConfigError
from nas.run_folder import RunFolder
from nas.search_space import SearchSpace

GROUPS = ("dataset", "search_space", "recipe")
"""The config groups of `nas bench build` that decide a record's numbers (its recipe hash)."""

DATA_LOCATION = ("root", "download")
"""Dataset keys that say where the data is, not what it is (no part of the recipe hash): the run's own."""


# -- shared by `nas searchboard` and `nas run` -----------------------------------------------------------------------
def group_overrides(choices: Mapping[str, Any], task: Iterable[str]) -> list[str]:
    """``group=<choice>`` for each of :data:`GROUPS`, then the overrides of their keys among ``task`` (a command's
    overrides, e.g. ``recipe.epochs=20``): what selects the same dataset, search space and recipe in `nas bench build`.

    Example:
        >>> group_overrides({"dataset": "synthetic", "search_space": "fmnist201", "recipe": "tiny", "x": "y"},
        ...                 ["seeds=[0]", "recipe.epochs=2", "dataset=synthetic", "+dataset.noise=0.5"])
        ['dataset=synthetic', 'search_space=fmnist201', 'recipe=tiny', 'recipe.epochs=2', '+dataset.noise=0.5']
    """
    forwarded = [str(o) for o in task
                 if "." in (key := str(o).split("=", 1)[0].lstrip("+~")) and key.split(".")[0] in GROUPS]
    return [*(f"{g}={choices[g]}" for g in GROUPS), *forwarded]


def table_recipe(oracle: Oracle, table: str, fix: str) -> str:
    """The recipe hash of ``oracle``'s table (``table`` names it in the refusal); a ConfigError ending with ``fix``
    when `nas bench build` did not write it (no recipe: its cells cannot be trained by its recipe)."""
    recipe = getattr(oracle, "recipe", None)
    if recipe is None:
        raise ConfigError(f"{table} ({type(oracle).__name__}) was not built by `nas bench build`, so the cells it "
                          f"lacks cannot be trained by its recipe: {fix}")
    return recipe


def check_recipe(ours: str, oracle: Oracle, whose: str, fix: str) -> None:
    """Refuse (a ConfigError ending with ``fix``) unless ``ours``, the hash of ``whose`` dataset, search space and
    recipe, is the recipe that built ``oracle``'s table."""
    if ours != oracle.recipe:
        raise ConfigError(f"{whose} hash to {ours}, the table {getattr(oracle, 'path', '')} was built with "
                          f"{oracle.recipe}: {fix}")


def trained_truth(path: str | Path, space: SearchSpace, seeds: int, recipe: str | None = None) -> TableOracle | None:
    """The cells trained into ``path`` with all ``seeds`` (a count) of their seeds, as a table over ``space``; None
    while there are none. ``recipe``: refuse a file of another recipe (records.RecordsError)."""
    by_arch: dict[str, set[int]] = {}
    for record in load_records(path, recipe=recipe, allow_empty=True):
        by_arch.setdefault(record["arch"], set()).add(int(record["seed"]))
    if not any(len(s) >= seeds for s in by_arch.values()):
        return None
    return TableOracle(path, space, min_seeds=seeds)


def train_missing(missing: Sequence[Architecture | str], archs_file: Path, overrides: Sequence[str],
                  progress: bool) -> None:
    """Write ``missing`` to ``archs_file`` (atomically) and train them with `nas bench build <overrides>` (which
    name ``archs_file``, the seeds and the output), printing the command; a ConfigError when it fails."""
    write_text_atomic(archs_file, "".join(f"{a}\n" for a in missing))
    print(f"[ground truth] {len(missing)} architecture(s) not in the table: nas bench build {shlex.join(overrides)}",
          flush=True)
    done = subprocess.run([sys.executable, "-m", "nas", "bench", "build", *overrides,
                           f"progress={str(bool(progress)).lower()}"])
    if done.returncode != 0:
        raise ConfigError(f"training the missing ground truth failed (exit {done.returncode}): run `nas bench build "
                          f"{shlex.join(overrides)}` to see why; it resumes")


# -- `nas run found_truth.build=true` ----------------------------------------------------------------------------------
NEEDS_A_BUILT_TABLE = ("found_truth.build=true trains the found architecture by the recipe of a table that `nas bench "
                       "build` wrote (benchmark=fmnist201, elastic_conv_fmnist, downsample_fmnist, or benchmark=table "
                       "benchmark.oracle.records=<its .jsonl>); drop found_truth.build=true")


@dataclass(frozen=True)
class FoundTruthPlan:
    """How `nas run found_truth.build=true` trains the found architecture: `nas bench build <overrides>` (the table's
    dataset, search space and recipe, verified to hash to ``recipe``) with ``seeds``, into the run folder."""

    table: Path
    recipe: str
    seeds: tuple[int, ...]
    overrides: tuple[str, ...]
    workers: int


def build_record(table: Path) -> Path:
    """Where `nas bench build` recorded the command that built ``table``: the ``hydra.yaml`` of its Hydra run folder,
    ``<output>.hydra`` (conf/bench_build.yaml), laid out as a run folder's."""
    return RunFolder.of_table(table).hydra_config


def recorded_overrides(table: Path) -> list[str] | None:
    """The :func:`group_overrides` of the `nas bench build` that built ``table`` (from :func:`build_record`); None
    when it left no record (a table copied without its ``.hydra`` folder)."""
    record = build_record(table)
    if not record.is_file():
        return None
    try:
        hydra = OmegaConf.load(record).hydra
        return group_overrides(hydra.runtime.choices, hydra.overrides.task)
    except Exception as exc:  # a damaged or foreign YAML file
        raise ConfigError(f"{record} is unreadable ({type(exc).__name__}: {str(exc)[:200]}): set "
                          "found_truth.bench_overrides=['dataset=...','search_space=...','recipe=...'] to what built "
                          f"{table.name}") from None


def table_seeds(table: Path) -> tuple[int, ...]:
    """The seeds of ``table``'s records (0 and 1 for the shipped tables)."""
    return tuple(sorted({int(r["seed"]) for r in load_records(table)}))


def _compose_bench(overrides: Sequence[str]) -> DictConfig:
    """`nas bench build`'s config with ``overrides`` (inside the running Hydra app: same config folder)."""
    from hydra import compose

    try:
        return compose(config_name="bench_build", overrides=list(overrides))
    except Exception as exc:  # Hydra's composition errors: an unknown choice, a bad override
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"`nas bench build {shlex.join(overrides)}` does not compose ({first}): set "
                          "found_truth.bench_overrides=['dataset=...','search_space=...','recipe=...'] to what built "
                          "the table") from None


def _value(value: Any) -> str:
    """A plain config value as a Hydra override value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    text = str(value)
    return text if all(c.isalnum() or c in "/._-~+:" for c in text) else "'" + text.replace("'", "\\'") + "'"


def data_location(run_dataset: DictConfig, bench_dataset: DictConfig, overrides: Sequence[str]) -> list[str]:
    """``dataset.root=...`` / ``dataset.download=...`` where the run's data lives elsewhere than the table's
    record says (same loader; keys that ``overrides`` set stay as set): the same data, found where the run found it."""
    if run_dataset.get("_target_") != bench_dataset.get("_target_"):
        return []
    given = {o.split("=", 1)[0].lstrip("+~") for o in overrides}
    return [f"dataset.{key}={_value(run_dataset[key])}" for key in DATA_LOCATION
            if key in run_dataset and key in bench_dataset and f"dataset.{key}" not in given
            and run_dataset[key] != bench_dataset[key]]


def plan_found_truth(cfg: DictConfig, oracle: Oracle | None, data) -> FoundTruthPlan:
    """Check, before any training, that the run's table can train the found architecture by its own recipe: a table
    of `nas bench build`, whose build record (or ``found_truth.bench_overrides``) composes and hashes to its recipe.
    ``data`` is the run's dataset (its name saves loading the table's when they are the same config)."""
    node = cfg.found_truth
    choice = _choice("benchmark")
    if oracle is None:  # benchmark=none: nas.validation refuses it first
        raise ConfigError(NEEDS_A_BUILT_TABLE)
    recipe = table_recipe(oracle, f"benchmark={choice}" if choice else "the run's table", NEEDS_A_BUILT_TABLE)
    table = Path(oracle.path)
    fix = ("set found_truth.bench_overrides=['dataset=...','search_space=...','recipe=...'] to the `nas bench build` "
           f"overrides that built {table.name}, or drop found_truth.build=true")
    if node.bench_overrides is not None:
        overrides, source = [str(o) for o in node.bench_overrides], "found_truth.bench_overrides"
        foreign = [o for o in overrides if o.split("=", 1)[0].lstrip("+~").split(".")[0] not in GROUPS]
        if foreign:
            raise ConfigError(f"found_truth.bench_overrides: {foreign[0]} selects no dataset, search space or "
                              "recipe; list only dataset=..., search_space=..., recipe=... and their keys' overrides")
    else:
        overrides, source = recorded_overrides(table), f"the table's build record {build_record(table)}"
        if overrides is None:
            raise ConfigError(f"the table {table} has no record of the `nas bench build` that built it "
                              f"({build_record(table)} is missing): {fix}")
    composed = _compose_bench(overrides)
    location = data_location(cfg.dataset, composed.dataset, overrides)
    if location:
        overrides += location
        composed = _compose_bench(overrides)
    plain = {"dataset": OmegaConf.to_container(composed.dataset, resolve=True)}
    name = data.name if plain["dataset"] == OmegaConf.to_container(cfg.dataset, resolve=True) \
        else instantiate(composed.dataset).name  # another dataset config: its name (what the recipe hash reads)
    ours = instantiate(composed.recipe).fingerprint(instantiate(composed.search_space), name)
    check_recipe(ours, oracle, f"the dataset, search space and recipe that {source} names (nas bench build "
                 f"{shlex.join(overrides)})", fix)
    seeds = tuple(int(s) for s in node.seeds) if node.seeds is not None else table_seeds(table)
    return FoundTruthPlan(table, recipe, seeds, tuple(overrides), int(node.workers))


def _choice(group: str) -> str | None:
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.get().runtime.choices.get(group) if HydraConfig.initialized() else None


def found_truth_table(cfg: DictConfig, folder: RunFolder, oracle: Oracle | None, space: SearchSpace,
                      plan: FoundTruthPlan | None = None) -> TableOracle | None:
    """The truth the run folder trained (an earlier `nas run found_truth.build=true` on it), over every seed asked
    for; None when it has none (or the run's table is not one of `nas bench build`)."""
    path = folder.found_truth_records
    recipe = getattr(oracle, "recipe", None)
    if not path.is_file() or recipe is None:
        return None
    if plan is not None:
        seeds = len(plan.seeds)
    elif cfg.found_truth.seeds is not None:
        seeds = len(cfg.found_truth.seeds)
    else:
        seeds = len(table_seeds(Path(oracle.path)))
    return trained_truth(path, space, seeds, recipe=recipe)


def build_found_truth(plan: FoundTruthPlan, folder: RunFolder, arch: str, progress: bool) -> None:
    """Train ``arch`` stand-alone by ``plan`` (`nas bench build`, resumable) into the run folder's records."""
    seeds = ",".join(str(s) for s in plan.seeds)
    overrides = [*plan.overrides, f"archs.file={folder.found_truth_archs}", f"seeds=[{seeds}]",
                 f"output={folder.found_truth_records}", f"workers={plan.workers}"]
    train_missing([arch], folder.found_truth_archs, overrides, progress)
