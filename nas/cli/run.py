"""`nas run`: train the supernet, search its children, compare with ground truth, write a report."""

from __future__ import annotations

import json
import time

import hydra
from hydra.utils import instantiate
from omegaconf import DictConfig

from nas.cli.common import CONF_DIR, friendly_errors, output_dir
from nas.errors import ConfigError
from nas.pipeline import RunResult, benchmark_stage, build_evaluator, search_stage, setup, train_stage
from nas.pipeline import write_run_report
from nas.report import format_table, write_text_atomic


def write_summary(out, result: RunResult, trainer, evaluator) -> None:
    """summary.json: what `nas leaderboard` collects from a finished run."""
    summary = {
        "train_seconds": trainer.state.seconds,
        "train_steps": trainer.state.step,
        "search_seconds": result.search_seconds,
        "benchmark_seconds": result.benchmark_seconds,
        "child_evaluations": len(evaluator.cache),
        "ranking": result.ranking,
        "baselines": result.baselines,
        "top": [{"arch": str(t.arch), "score": t.score, **t.cost}
                for t in sorted(result.trials, key=lambda t: -t.score)[:10]],
    }
    write_text_atomic(out / "summary.json", json.dumps(summary, indent=1) + "\n")


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="run")
@friendly_errors
def main(cfg: DictConfig) -> RunResult:
    started = time.perf_counter()
    if cfg.get("objective", "supernet") != "supernet":
        raise ConfigError(f"`nas run` trains a supernet and ranks with it (objective=supernet); for objective="
                          f"{cfg.objective} no training is needed: use `nas search objective={cfg.objective} ...`")
    out = output_dir()
    data, space = setup(cfg)
    if cfg.benchmark.get("oracle") is not None:
        instantiate(cfg.benchmark.oracle, space=space)  # a table of another space fails now, not after training
    print(data.summary())
    print(space.describe().splitlines()[0])
    trainer = train_stage(cfg, out, data, space)
    evaluator = build_evaluator(cfg, trainer.supernet, data)
    trials, search_seconds = search_stage(cfg, out, space, evaluator)
    result = RunResult(out, trials, train_seconds=trainer.state.seconds, search_seconds=search_seconds)
    result.ranking, result.baselines, result.benchmark_seconds = benchmark_stage(cfg, out, space, evaluator)
    report = write_run_report(cfg, result, space)
    write_summary(out, result, trainer, evaluator)

    print(f"\nTop {cfg.search.top_k} of {len(trials)} children by supernet accuracy "
          f"({cfg.evaluator.valid_size} valid images):")
    print(format_table(trials, cfg.search.top_k))
    if result.ranking is not None:
        r = result.ranking
        print(f"\nRanking of {r['n']} ground-truth cells: Kendall tau {r['kendall_tau']:.3f}, "
              f"Spearman {r['spearman_rho']:.3f}, precision@top-10% {r['precision_at_top10']:.2f} "
              f"(params alone: tau {result.baselines['params']['kendall_tau']:.3f})")
    print(f"\nreport:      {report}")
    print(f"ranking:     {out / 'ranked_children.csv'}")
    print(f"checkpoint:  {trainer.checkpoint_path}")
    print(f"tensorboard: tensorboard --logdir {out / 'tensorboard'}")
    print(f"total time:  {time.perf_counter() - started:.0f} s")
    return result
