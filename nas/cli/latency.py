"""`nas latency build`: a per-layer latency lookup table of a search space, measured on this machine."""

from __future__ import annotations

import hydra
import numpy as np
from hydra.utils import instantiate
from omegaconf import DictConfig

from nas.cli.common import CONF_DIR, friendly_errors, run_subcommand
from nas.latency import LatencyMeter, LatencyTable
from nas.validation import validate


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="latency_build")
@friendly_errors
def build(cfg: DictConfig) -> None:
    validate(cfg)  # every value's type, range and choice: before anything is measured or written
    space = instantiate(cfg.search_space)
    meter = LatencyMeter(**cfg.meter)
    table = LatencyTable.build(space, meter, patience=int(cfg.build.patience), max_samples=int(cfg.build.max_samples),
                               calibration=int(cfg.build.calibration), seed=int(cfg.seed), progress=bool(cfg.progress))
    path = table.save(cfg.output)
    meta = table.meta
    layers = [ms for key, ms in table.entries.items() if key != "network overhead"]
    print(f"latency table of {space.name!r} ({space.size:,} architectures) on {meta['device_name']}: "
          f"{meta['layers']} distinct layers from {meta['children_drawn']} children, "
          f"{meter.batch_size} image(s) per batch, {meter.threads} thread(s), median of {meter.repeats} runs")
    print(f"  layers {min(layers):.4f}..{max(layers):.4f} ms; network overhead "
          f"{table.entries['network overhead']:+.4f} ms (median over {meta['calibration_children']} children); "
          f"built in {meta['build_seconds']:.0f} s")
    rng = np.random.default_rng(int(cfg.seed) + 1)
    smallest, largest = space.smallest(), space.largest()
    sample = [space.sample(rng) for _ in range(3)]
    print(f"  predicted: smallest child {table.predict(smallest):.3f} ms, largest {table.predict(largest):.3f} ms, "
          f"3 random {', '.join(f'{table.predict(a):.3f}' for a in sample)} ms")
    print(f"table: {path}")
    print(f"use:   nas search ... latency=table latency.path={path} searcher.constraints.max_latency_ms=<ms>")


COMMANDS = {"build": build}


def main() -> None:
    run_subcommand("latency", COMMANDS, "nas latency build [overrides]   (a per-layer latency lookup table for this machine)")
