"""`nas rank`: score every cell of a ground-truth table with rankers that need no supernet, and compare.

Prints and writes (JSON + markdown) one row per ranker: Kendall tau with a bootstrap interval,
Spearman, the truth of the predicted best cell and the measured seconds per child.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import hydra
import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from nas.architecture import Architecture
from nas.atomic import write_text_atomic
from nas.benchmarks.oracle import Oracle, build_oracle
from nas.cli.common import CONF_DIR, friendly_errors
from nas.data.splits import TensorSplit
from nas.errors import ConfigError
from nas.rankers import Ranker, RankerRow, evaluate, evaluate_held_out, markdown_table, text_table
from nas.rankers.config import build_rankers
from nas.search_space import SearchSpace
from nas.validation import validate


def load_table(cfg: DictConfig) -> tuple[Oracle, SearchSpace, list[Architecture]]:
    """The benchmark's oracle over the configured space and its cells (``benchmark.max_cells`` of them).

    Built as ``nas run`` builds it for its ranking stage: the configured search space prices and
    parses the cells; a ``max_cells`` limit keeps a seeded uniform sample in table order.
    """
    oracle = build_oracle(cfg.benchmark, instantiate(cfg.search_space))
    if oracle is None:
        raise ConfigError("`nas rank` compares rankers with ground truth: choose a benchmark with a table, "
                          "e.g. benchmark=fmnist201 (the default) or benchmark=nb201")
    cells = oracle.architectures()
    limit = cfg.benchmark.get("max_cells")
    if limit is not None and limit < len(cells):
        pick = np.random.default_rng(0).permutation(len(cells))[: int(limit)]
        cells = [cells[int(i)] for i in sorted(pick)]
    return oracle, oracle.space, cells


def measure(cfg: DictConfig, rankers: dict[str, Ranker], cells: list[Architecture], truth: list[float]
            ) -> list[RankerRow]:
    """One row per ranker; calibrated rankers one row per ``held_out.ks`` entry that fits the table."""
    rows = []
    boot = cfg.bootstrap
    for ranker in rankers.values():
        if ranker.needs_ground_truth:
            for k in cfg.held_out.ks:
                if int(k) <= len(cells) - 2:
                    rows.append(evaluate_held_out(ranker, cells, truth, int(k), int(cfg.held_out.splits),
                                                  int(cfg.seed))[0])
        else:
            rows.append(evaluate(ranker, cells, truth, int(boot.resamples), float(boot.confidence), int(cfg.seed)))
    return rows


def write_scores(folder: Path, rankers: dict[str, Ranker], cells: list[Architecture]) -> None:
    """``<folder>/<name>.json`` per ranker without ground truth: its score of every cell and its cost, in the
    format :class:`nas.rankers.RecordedRanker` reads back (``ranker=[recorded] ranker.recorded.path=...``)."""
    for key, ranker in rankers.items():
        if ranker.needs_ground_truth:
            continue
        record = {"ranker": ranker.name, "uses": ranker.uses,
                  "scores": {str(c): s for c, s in zip(cells, ranker.score(cells))},
                  "scoring_seconds": ranker.seconds_per_child * len(cells), "child_evaluations": len(cells)}
        write_text_atomic(folder / f"{key}.json", json.dumps(record, indent=0) + "\n")


def command_line() -> str:
    overrides = [o for o in HydraConfig.get().overrides.task if not o.startswith(("progress=", "output_dir="))]
    return " ".join(["nas rank", *overrides])


def markdown_report(cfg: DictConfig, rows: list[RankerRow], table: str, cells: int, seconds: float) -> str:
    held = any(r.k is not None for r in rows)
    lines = [
        f"# Rankers on {cells} cells ({table})", "",
        f"Made by `{command_line()}` ({seconds:.0f} s, {cfg.threads or torch.get_num_threads()} CPU thread(s)).", "",
        markdown_table(rows), "",
        f"Kendall tau-b and Spearman against the table's ground truth; [95% CI]: percentile bootstrap over cells "
        f"({cfg.bootstrap.resamples:,} resamples, seed {cfg.seed}). \"s / child\": measured wall-clock seconds per "
        "child (for a zero-cost proxy: building the fresh model and measuring it).",
    ]
    if any(r.uses.startswith("fresh init") for r in rows):
        lines[-1] += (f" Zero-cost proxies see a model built under seed {cfg.seed}, in training mode, and the same "
                      "training images drawn by that seed.")
    if held:
        lines.append(f"\nCalibrated rows use ground truth: fit on k random cells, measured on all the other cells, "
                     f"mean ± std over {cfg.held_out.splits} random splits (seed {cfg.seed}); their \"truth of "
                     "predicted best\" is the best of the held-out cells by their score.")
    return "\n".join(lines) + "\n"


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="rank")
@friendly_errors
def main(cfg: DictConfig) -> list[RankerRow]:
    started = time.perf_counter()
    validate(cfg)  # every value's type, range and choice: before any table or model is loaded
    if cfg.get("threads"):
        torch.set_num_threads(int(cfg.threads))
    if not cfg.get("ranker"):
        raise ConfigError("no ranker chosen: pick some of conf/ranker/, e.g. ranker=[params,synflow]")
    oracle, space, cells = load_table(cfg)
    truth = [float(oracle(c)) for c in cells]
    table = f"benchmark={HydraConfig.get().runtime.choices.get('benchmark', '?')}, {type(oracle).__name__}"
    train: list[TensorSplit] = []

    def train_split() -> TensorSplit:
        if not train:
            train.append(instantiate(cfg.dataset).train)
        return train[0]

    rankers = build_rankers(cfg.ranker, space, train_split, bool(cfg.progress))
    print(f"{len(rankers)} rankers on {len(cells)} cells of {table}")
    rows = measure(cfg, rankers, cells, truth)
    seconds = time.perf_counter() - started
    print(text_table(rows))

    out = Path(cfg.output_dir)
    result = {"command": command_line(), "table": table, "cells": len(cells), "seed": int(cfg.seed),
              "threads": cfg.threads, "bootstrap": OmegaConf.to_container(cfg.bootstrap),
              "held_out": OmegaConf.to_container(cfg.held_out), "seconds": seconds,
              "rows": [r.to_dict() for r in rows]}
    write_text_atomic(out / "rankers.json", json.dumps(result, indent=1, default=float) + "\n")
    write_scores(out / "scores", rankers, cells)
    report = markdown_report(cfg, rows, table, len(cells), seconds)
    write_text_atomic(out / "rankers.md", report)
    if cfg.get("markdown"):
        write_text_atomic(cfg.markdown, report)
    written = [out / "rankers.json", out / "rankers.md", out / "scores"]
    written += [cfg.markdown] if cfg.get("markdown") else []
    print("\nwritten: " + ", ".join(map(str, written)))
    return rows


if __name__ == "__main__":
    main()
