"""The stages of the main job, each resumable from the files the stage before wrote.

config -> data + search space -> supernet -> trainer -> checkpoint -> evaluator -> searcher ->
ranked children -> oracle (if any) -> ranking metrics -> report.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf

from nas.benchmarks.oracle import NB201Oracle, Oracle
from nas.checkpoint import load_checkpoint
from nas.data.splits import ImageDataset
from nas.errors import CheckpointError, ConfigError
from nas.evaluator import Evaluator
from nas.metrics import rank_report
from nas.report import (
    format_table,
    plot_accuracy_vs_cost,
    plot_against_truth,
    read_ranking,
    write_ranking,
    write_text_atomic,
)
from nas.search_space import SearchSpace
from nas.searchers.base import Objective, Trial
from nas.searchers.optuna_storage import JOURNAL_NAME
from nas.searchers.pareto import write_pareto_front
from nas.trainer import Trainer
from supernets.base import Supernet
from supernets.split import restore_split

# Keys that change how a run looks, not what it computes: excluded from the training fingerprint.
_COSMETIC = {"progress", "log_every", "checkpoint_every", "tensorboard", "device", "amp"}


def training_fingerprint(cfg: DictConfig) -> str:
    """Hash of everything that decides the trained weights."""
    parts = {key: OmegaConf.to_container(cfg[key], resolve=True)
             for key in ("dataset", "search_space", "path_sampler", "data_sampler", "trainer")}
    parts["trainer"] = {k: v for k, v in parts["trainer"].items() if k not in _COSMETIC}
    parts["seed"] = int(cfg.seed)
    if cfg.get("supernet") is not None and cfg.supernet.get("split") is not None:  # one-shot runs keep their hash
        parts["supernet"] = OmegaConf.to_container(cfg.supernet, resolve=True)
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass
class RunResult:
    """What a `nas run` produced, for printing and tests."""

    output_dir: Path
    trials: list[Trial] = field(default_factory=list)
    ranking: dict[str, Any] | None = None
    baselines: dict[str, dict[str, Any]] = field(default_factory=dict)
    train_seconds: float = 0.0
    search_seconds: float = 0.0
    benchmark_seconds: float = 0.0


def setup(cfg: DictConfig) -> tuple[ImageDataset, SearchSpace]:
    if cfg.get("threads"):
        torch.set_num_threads(int(cfg.threads))
    data = instantiate(cfg.dataset)
    space = instantiate(cfg.search_space)
    if not isinstance(space, SearchSpace):
        raise ConfigError(f"search_space must build a SearchSpace, got {type(space).__name__}")
    return data, space


def train_stage(cfg: DictConfig, out: Path, data: ImageDataset, space: SearchSpace) -> Trainer:
    """Train (or resume training) the supernet in ``out``."""
    torch.manual_seed(int(cfg.seed))
    supernet = space.build_supernet()
    path_sampler = instantiate(cfg.path_sampler, space=space)
    data_sampler = instantiate(cfg.data_sampler, num_examples=len(data.train))
    split = cfg.supernet.get("split") if cfg.get("supernet") is not None else None  # few-shot schedule, or none
    callbacks = [instantiate(split, space=space, supernet=supernet)] if split is not None else []
    trainer: Trainer = instantiate(
        cfg.trainer, supernet=supernet, train_data=data.train, path_sampler=path_sampler,
        data_sampler=data_sampler, output_dir=str(out), fingerprint=training_fingerprint(cfg), callbacks=callbacks,
    )
    trainer.fit()
    return trainer


def load_trained_supernet(train_dir: Path, space: SearchSpace) -> Supernet:
    """The supernet of a finished `nas train` / `nas run` folder."""
    state = load_checkpoint(train_dir / Trainer.CHECKPOINT)
    if state["train_state"]["step"] < state["total_steps"]:
        raise CheckpointError(
            f"{train_dir} holds an unfinished training run (step {state['train_state']['step']} of "
            f"{state['total_steps']}): rerun `nas train` with the same overrides to finish it"
        )
    supernet = restore_split(space.build_supernet(), state["supernet"])  # a few-shot run's sub-supernets
    try:
        supernet.load_state_dict(state["supernet"])
    except RuntimeError as exc:
        raise CheckpointError(f"{train_dir}'s supernet does not fit this search space: {str(exc)[:300]}") from None
    return supernet


def build_evaluator(cfg: DictConfig, supernet: Supernet, data: ImageDataset) -> Evaluator:
    return instantiate(cfg.evaluator, supernet=supernet, valid_data=data.valid, train_data=data.train)


def oracle_objective(cfg: DictConfig) -> tuple[Oracle, SearchSpace]:
    """``objective=oracle``: the benchmark's oracle and the space it covers; no supernet, no data.

    NAS-Bench-201's oracle brings its own space (the benchmark's CIFAR network, C=16, N=5), so costs
    and constraints are that network's; other oracles cover the configured search space and must
    hold every architecture of it.
    """
    oracle_cfg = cfg.benchmark.get("oracle")
    if oracle_cfg is None:
        raise ConfigError("objective=oracle needs a benchmark with ground truth: add benchmark=nb201 "
                          "(NAS-Bench-201, every cell), or search a trained supernet with objective=supernet")
    if issubclass(get_class(oracle_cfg._target_), NB201Oracle):
        oracle = instantiate(oracle_cfg)
    else:
        oracle = instantiate(oracle_cfg, space=instantiate(cfg.search_space))
    space = oracle.space
    if len(oracle) < space.size:
        raise ConfigError(f"the oracle {type(oracle).__name__} knows {len(oracle):,} of the {space.size:,} "
                          "architectures of its search space, so a searcher would propose unknown ones: "
                          "use objective=oracle with a complete table (benchmark=nb201)")
    return oracle, space


def search_stage(cfg: DictConfig, out: Path, space: SearchSpace, objective: Evaluator | Objective
                 ) -> tuple[list[Trial], float]:
    """Rank ``search.budget`` children with the searcher; reuse a finished ranking in ``out``.

    ``objective`` is the supernet's evaluator or any callable (an oracle). The searcher's state is
    saved after every child (``searcher_state.pt``), so a killed search resumes where it stopped;
    Optuna searchers keep their study in ``optuna_journal.log`` unless ``searcher.storage`` names one.
    """
    ranking_file = out / "ranked_children.json"
    if ranking_file.exists():
        rows = read_ranking(ranking_file)
        if len(rows) == min(int(cfg.search.budget), space.size):
            return [Trial(r["rank"] - 1, space.parse(r["arch"]), r.get("supernet_accuracy", r.get("oracle_accuracy")),
                          {"params": r["params"], "flops": r["flops"]}) for r in rows], 0.0
    if isinstance(objective, Evaluator):
        if cfg.get("objective", "supernet") != "supernet":
            raise ConfigError(f"this command searches with the supernet it trains, not objective={cfg.objective}: "
                              "search a benchmark table with `nas search objective=oracle benchmark=nb201`")
        objective.progress = False
        score = objective.score
    else:
        score = objective
    out.mkdir(parents=True, exist_ok=True)
    extra = {"storage": str(out / JOURNAL_NAME)} if "storage" in cfg.searcher and cfg.searcher.storage is None else {}
    searcher = instantiate(cfg.searcher, space=space, **extra)
    state_path = out / "searcher_state.pt"
    if state_path.exists():
        searcher.load(state_path)
    started = time.perf_counter()
    from tqdm.auto import tqdm

    bar = tqdm(total=int(cfg.search.budget), initial=len(searcher.history), desc="searching", unit="child",
               disable=not cfg.progress)
    history = searcher.search(score, int(cfg.search.budget), progress=lambda trial: bar.update(1),
                              state_path=state_path)
    bar.close()
    seconds = time.perf_counter() - started
    write_ranking(history.trials, out, score_name="supernet_accuracy" if isinstance(objective, Evaluator)
                  else "oracle_accuracy")
    if getattr(searcher, "cost_objective", None) and history.trials:
        write_pareto_front(history.trials, out, searcher.cost_objective,
                           "supernet accuracy" if isinstance(objective, Evaluator) else "accuracy")
    return history.trials, seconds


def benchmark_stage(cfg: DictConfig, out: Path, space: SearchSpace, evaluator: Evaluator
                    ) -> tuple[dict | None, dict, float]:
    """Score the oracle's cells with the supernet and compare the ranking with ground truth."""
    if cfg.benchmark.get("oracle") is None:
        return None, {}, 0.0
    oracle = instantiate(cfg.benchmark.oracle, space=space)
    cells = oracle.architectures()
    limit = cfg.benchmark.get("max_cells")
    if limit is not None and limit < len(cells):
        pick = np.random.default_rng(0).permutation(len(cells))[: int(limit)]
        cells = [cells[int(i)] for i in sorted(pick)]
    started = time.perf_counter()
    evaluator.progress = bool(cfg.progress)
    predicted = evaluator.score_many(cells, desc="scoring ground-truth cells")
    seconds = time.perf_counter() - started
    truth = [oracle(c) for c in cells]
    report = rank_report(predicted, truth)
    report["scoring_seconds"] = seconds
    baselines = {name: rank_report([float(space.cost(c)[name]) for c in cells], truth) for name in ("params", "flops")}
    rows = [{"arch": str(c), "supernet_accuracy": p, "truth": t} for c, p, t in zip(cells, predicted, truth)]
    write_text_atomic(out / "benchmark_scores.json", json.dumps(rows, indent=1) + "\n")
    write_text_atomic(out / "ranking_metrics.json",
                      json.dumps({"supernet": report, "baselines": baselines}, indent=1) + "\n")
    plot_against_truth(predicted, truth, out / "supernet_vs_truth.png",
                       f"Kendall tau {report['kendall_tau']:.3f}, Spearman {report['spearman_rho']:.3f} "
                       f"({len(cells)} cells)")
    return report, baselines, seconds


def few_shot_lines(out: Path) -> list[str]:
    """The report's few-shot line (sub-supernets, partition, gradient-matching cost) when the run split."""
    path = out / "few_shot.json"
    if not path.is_file():
        return []
    summary = json.loads(path.read_text())
    parts = "; ".join(", ".join(f"{d} ∈ {{{', '.join(map(str, o))}}}" for d, o in c.items()) or "all"
                      for c in summary["partition"])
    cost = (f"gradient-matching scoring {summary['gm_scoring_seconds']:.0f} s = "
            f"{100 * summary['gm_fraction_of_training']:.1f}% of supernet training"
            if summary["gm_scoring_seconds"] > 0 else "no gradient-matching scoring (the split decision was named)")
    return [f"- few-shot ({summary['method']}, split at epochs {summary['split_epochs']}): "
            f"{summary['sub_supernets']} sub-supernets [{parts}]; {cost}"]


def write_run_report(cfg: DictConfig, result: RunResult, space: SearchSpace) -> Path:
    out = result.output_dir
    plot_accuracy_vs_cost(result.trials, out / "accuracy_vs_params.png", "params")
    lines = [
        "# NAS run report", "",
        f"- search space: `{space.name}` ({space.size:,} architectures), spec `{json.dumps(space.spec())}`",
        f"- dataset: `{cfg.dataset._target_}` {dict((k, v) for k, v in cfg.dataset.items() if k != '_target_')}",
        f"- path sampler: `{cfg.path_sampler._target_}`, data sampler: `{cfg.data_sampler._target_}`",
        f"- supernet training: {cfg.trainer.epochs} epochs, batch {cfg.trainer.batch_size}, "
        f"{result.train_seconds:.0f} s",
        f"- search: `{cfg.searcher._target_}`, {len(result.trials)} children scored on {cfg.evaluator.valid_size} "
        f"valid images, BN policy `{cfg.evaluator.bn_policy}`, {result.search_seconds:.0f} s",
    ]
    lines += few_shot_lines(out)
    lines += [
        "", f"## Top {cfg.search.top_k} children", "", "```", format_table(result.trials, cfg.search.top_k), "```",
        "", "![supernet accuracy vs params](accuracy_vs_params.png)", "",
    ]
    if result.ranking is not None:
        r = result.ranking
        lines += [
            "## Ranking against ground truth", "",
            f"{r['n']} ground-truth cells scored in {result.benchmark_seconds:.0f} s.", "",
            "| ranker | Kendall tau | Spearman rho | precision@top-10% | tau in true top-10% | truth of predicted best |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for name, rep in [("supernet", r), *[(f"{k} (baseline)", v) for k, v in result.baselines.items()]]:
            lines.append(f"| {name} | {rep['kendall_tau']:.3f} | {rep['spearman_rho']:.3f} | "
                         f"{rep['precision_at_top10']:.2f} | {rep['kendall_tau_top10']:.3f} | "
                         f"{rep['best_predicted_truth']:.2f} |")
        lines += ["", "![supernet vs ground truth](supernet_vs_truth.png)", ""]
    path = out / "report.md"
    write_text_atomic(path, "\n".join(lines))
    return path
