"""`nas search`: rank the children of a trained supernet (train_dir=...), or search a benchmark's oracle or a free
ranker (objective=oracle | ranker)."""

from __future__ import annotations

import os
from pathlib import Path

import hydra
import torch
from hydra.utils import get_class
from omegaconf import DictConfig

from nas.cli.common import CONF_DIR, friendly_errors, output_dir
from nas.errors import ConfigError
from nas.pipeline import RunResult, benchmark_stage, build_evaluator, load_trained_supernet, search_stage, setup
from nas.pipeline import check_searcher_policy, load_trained_path_sampler, oracle_objective, ranker_objective
from nas.pipeline import search_fingerprint
from nas.pipeline import searcher_needs_path_sampler, write_run_report
from nas.report import format_table
from nas.run_folder import RunFolder, Summary
from nas.training.anytime import peak_memory_mib
from nas.validation import validate

OBJECTIVES = ("supernet", "oracle", "ranker")


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="search")
@friendly_errors
def main(cfg: DictConfig) -> None:
    validate(cfg)  # every value's type, range and choice: before anything is loaded or written
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ConfigError("`nas search` runs in one process: start it with `nas search ...`, not under torchrun "
                          "(`nas run` under torchrun trains on every rank and searches on rank 0)")
    objective = cfg.get("objective", "supernet")
    if objective not in OBJECTIVES:
        raise ConfigError(f"unknown objective={objective!r}; choose one of {list(OBJECTIVES)}")
    if objective == "oracle":
        check_searcher_policy(cfg, None)  # searcher=controller draws from a trained run
        return search_oracle(cfg)
    if objective == "ranker":
        check_searcher_policy(cfg, None)
        return search_free(cfg)
    if cfg.get("train_dir") is None:
        raise ConfigError("objective=supernet needs train_dir=<folder of a finished `nas train` or `nas run`>; "
                          "to search a benchmark table without a supernet: objective=oracle benchmark=nb201")
    train_dir = Path(cfg.train_dir)
    trained = RunFolder(train_dir).trained_config()
    check_searcher_policy(cfg, get_class(trained.path_sampler._target_))  # searcher=controller: an ENAS run
    out = output_dir()
    folder = RunFolder(out)
    with folder.claim(cfg, "search", search_fingerprint):  # refused before anything is loaded or written
        # The supernet's dataset and search space are the training run's, whatever this command says.
        cfg.dataset, cfg.search_space = trained.dataset, trained.search_space
        data, space = setup(cfg)
        supernet = load_trained_supernet(train_dir, space)
        evaluator = build_evaluator(cfg, supernet, data, train_dir)
        policy = load_trained_path_sampler(train_dir, trained, space) if searcher_needs_path_sampler(cfg) else None
        trials, seconds = search_stage(cfg, out, space, evaluator, policy)
        result = RunResult(out, trials, search_seconds=seconds)
        result.ranking, result.baselines, result.benchmark_seconds = benchmark_stage(cfg, out, space, evaluator)
        report = write_run_report(cfg, result, space)
        folder.write_summary(Summary(  # last: a folder with summary.json holds a finished search (nas searchboard)
            search_seconds=seconds, benchmark_seconds=result.benchmark_seconds, child_evaluations=len(evaluator.cache),
            ranking=result.ranking, baselines=result.baselines, top=Summary.top_of(trials)))
    print(format_table(trials, cfg.search.top_k, cfg.evaluator.metric))
    print(f"ranked children: {folder.ranked_children_csv}\nreport: {report}")


def search_oracle(cfg: DictConfig) -> None:
    """objective=oracle: the searcher queries the benchmark's ground truth; no supernet, no dataset."""
    if cfg.get("threads"):
        torch.set_num_threads(int(cfg.threads))
    out = output_dir()
    folder = RunFolder(out)
    with folder.claim(cfg, "search", search_fingerprint):  # refused before the table is loaded
        oracle, space = oracle_objective(cfg)
        trials, seconds = search_stage(cfg, out, space, oracle)
    print(f"{len(trials)} architectures scored by {type(oracle).__name__} "
          f"({getattr(oracle, 'dataset', '')}) in {seconds:.1f} s")
    print(format_table(trials, cfg.search.top_k))
    print(f"ranked children: {folder.ranked_children_csv}")
    if folder.pareto_front_csv.exists():
        print(f"Pareto front:    {folder.pareto_front_csv} (.json, .png)")


def search_free(cfg: DictConfig) -> None:
    """objective=ranker: the searcher queries a free ranker (``free_ranker``, e.g. params or synflow) on the
    configured search space; no supernet is trained. Its ``summary.json`` (train seconds 0, the search's seconds and
    the process's peak memory) makes the folder a finished search that `nas searchboard` collects."""
    out = output_dir()
    folder = RunFolder(out)
    with folder.claim(cfg, "search", search_fingerprint):  # refused before anything is loaded or written
        objective, space = ranker_objective(cfg)
        trials, seconds = search_stage(cfg, out, space, objective)
        folder.write_summary(Summary(search_seconds=seconds, child_evaluations=objective.children_scored,
                                     top=Summary.top_of(trials), peak_memory_mib=peak_memory_mib(torch.device("cpu"))))
    print(f"{len(trials)} architectures scored by the free ranker {objective.name} in {seconds:.1f} s "
          f"({objective.seconds_per_child * 1000:.2f} ms per child scored)")
    print(format_table(trials, cfg.search.top_k, "score"))
    print(f"ranked children: {folder.ranked_children_csv}")
