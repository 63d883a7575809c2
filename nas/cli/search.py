"""`nas search train_dir=...`: rank the children of a trained supernet."""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from nas.cli.common import CONF_DIR, friendly_errors, output_dir
from nas.errors import ConfigError
from nas.pipeline import RunResult, benchmark_stage, build_evaluator, load_trained_supernet, search_stage, setup
from nas.pipeline import write_run_report
from nas.report import format_table


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="search")
@friendly_errors
def main(cfg: DictConfig) -> None:
    train_dir = Path(cfg.train_dir)
    saved = train_dir / ".hydra" / "config.yaml"
    if not saved.is_file():
        raise ConfigError(f"{train_dir} is not the folder of a `nas train` or `nas run` ({saved} is missing)")
    trained = OmegaConf.load(saved)
    # The supernet's dataset and search space are the training run's, whatever this command says.
    cfg.dataset, cfg.search_space = trained.dataset, trained.search_space
    out = output_dir()
    data, space = setup(cfg)
    supernet = load_trained_supernet(train_dir, space)
    evaluator = build_evaluator(cfg, supernet, data)
    trials, seconds = search_stage(cfg, out, space, evaluator)
    result = RunResult(out, trials, search_seconds=seconds)
    result.ranking, result.baselines, result.benchmark_seconds = benchmark_stage(cfg, out, space, evaluator)
    report = write_run_report(cfg, result, space)
    print(format_table(trials, cfg.search.top_k))
    print(f"ranked children: {out / 'ranked_children.csv'}\nreport: {report}")
