"""`nas bench build`: build a ground-truth table by stand-alone training (resumable, parallel)."""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import hydra
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from nas.benchmarks.builder import build_ground_truth, sample_distinct
from nas.benchmarks.card import summarize, write_card
from nas.cli.common import CONF_DIR, friendly_errors, run_subcommand
from nas.errors import ConfigError
from nas.space_checks import check_fits_data, check_space
from nas.validation import validate


def load_dataset(dataset_cfg: dict):
    """Module-level, so that worker processes can build the dataset themselves."""
    return instantiate(OmegaConf.create(dataset_cfg))


def architectures(cfg: DictConfig, space) -> list:
    if cfg.archs.file:
        path = Path(cfg.archs.file)
        if not path.is_file():
            raise ConfigError(f"archs.file {path} does not exist")
        lines = [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
        return list(dict.fromkeys(space.parse(line) for line in lines))
    return sample_distinct(space, int(cfg.archs.sample), int(cfg.archs.sample_seed))


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="bench_build")
@friendly_errors
def build(cfg: DictConfig) -> None:
    validate(cfg)  # every value's type, range and choice: before anything is loaded or trained
    space = instantiate(cfg.search_space)
    check_space(cfg, space)  # a plugin's declared choices: one line per problem
    recipe = instantiate(cfg.recipe)
    archs = architectures(cfg, space)  # too many to sample, or an unknown one: refused before the data loads
    dataset_cfg = OmegaConf.to_container(cfg.dataset, resolve=True)
    data = load_dataset(dataset_cfg)  # fail fast (missing files) before any worker starts
    check_fits_data(space, data)  # the model takes the dataset's examples and gives one logit per class
    output = Path(cfg.output)
    where = "" if cfg.backend == "local" else f" on Ray at {cfg.ray.address}" if cfg.ray.address else \
        " on a local Ray cluster"
    print(f"{len(archs)} architectures x seeds {list(cfg.seeds)} -> {output} (recipe "
          f"{recipe.fingerprint(space, data.name)}, {cfg.workers} workers{where})")
    records = build_ground_truth(
        space, functools.partial(load_dataset, dataset_cfg), data.name, archs, list(cfg.seeds), output,
        recipe=recipe, workers=int(cfg.workers), threads_per_worker=int(cfg.threads_per_worker),
        progress=bool(cfg.progress), backend=cfg.backend, ray_address=cfg.ray.address, ray_cpus=cfg.ray.num_cpus,
    )
    recipe_text = ", ".join(f"{k}={v}" for k, v in dataclasses.asdict(recipe).items())
    card = write_card(records, output.with_suffix(".md"), f"Ground truth: {output.name}",
                      f"{recipe_text}; dataset {data.name}; space {space.spec()}")
    s = summarize(records)
    print(f"{s['records']} records, {s['complete_architectures']} complete architectures; card: {card}")
    if "seed_tau" in s:
        print(f"seed-to-seed Kendall tau {s['seed_tau']:.3f}; params-only tau {s['params_tau']:.3f}")


COMMANDS = {"build": build}


def main() -> None:
    run_subcommand("bench", COMMANDS, "nas bench build [overrides]   (build a ground-truth table by stand-alone training)")
