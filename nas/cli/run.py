"""`nas run`: train the supernet, search its children, compare with ground truth, write a report.

Under torchrun (``torchrun --nproc_per_node=N -m nas run ...``, see `nas train`) every rank trains; rank 0
then searches, scores and reports alone (BN recalibration on the full recalibration set: one process's
statistics) while the other ranks exit.
"""

from __future__ import annotations

import time

import hydra
from hydra.utils import get_class
from omegaconf import DictConfig

from nas.benchmarks.oracle import build_oracle
from nas.cli.common import CONF_DIR, friendly_errors, output_dir
from nas.cli.truth import build_found_truth, found_truth_table, plan_found_truth
from nas.errors import ConfigError
from nas.gradient_search import add_trained_truth, print_found, record_found_architecture
from nas.pipeline import RunResult, benchmark_stage, build_distributed, build_evaluator, search_stage, setup
from nas.pipeline import check_searcher_policy, train_stage, training_fingerprint, write_run_report
from nas.report import format_table, supernet_score_name
from nas.report_rankers import ReportRankers, leaderboard_tau, ranking_lines, top_table, verdict
from nas.run_folder import RunFolder, Summary
from nas.training.anytime import peak_memory_mib
from nas.validation import validate


def write_summary(folder: RunFolder, result: RunResult, trainer, evaluator,
                  trainer_peak: dict[str, float] | None = None) -> None:
    """summary.json: what `nas leaderboard` collects from a finished run. ``trainer_peak``: the peak memory at the
    end of training (:func:`peak_memory_mib`), None: not recorded."""
    folder.write_summary(Summary(
        train_seconds=trainer.state.seconds, train_steps=trainer.state.step, search_seconds=result.search_seconds,
        benchmark_seconds=result.benchmark_seconds, child_evaluations=len(evaluator.cache), ranking=result.ranking,
        baselines=result.baselines, top=Summary.top_of(result.trials), peak_memory_mib=dict(trainer_peak or {}),
    ))


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="run")
@friendly_errors
def main(cfg: DictConfig) -> RunResult:
    started = time.perf_counter()
    validate(cfg)  # every value's type, range and choice: before anything is loaded or written
    if cfg.get("objective", "supernet") != "supernet":
        raise ConfigError(f"`nas run` trains a supernet and ranks with it (objective=supernet); for objective="
                          f"{cfg.objective} no training is needed: use `nas search objective={cfg.objective} ...`")
    check_searcher_policy(cfg, get_class(cfg.path_sampler._target_))  # searcher=controller needs path_sampler=enas
    out = output_dir()
    folder = RunFolder(out)
    distributed = build_distributed(cfg)  # one rank, or this process's place in a torchrun job
    distributed.local_batch_size(cfg.trainer.batch_size)  # the global batch must split evenly over the ranks
    # rank 0 claims the folder (refused before anything is loaded or written); the others follow or fail with it
    with distributed.main_enters(lambda: folder.claim(cfg, "run", training_fingerprint)):
        data, space = setup(cfg)
        oracle = build_oracle(cfg.benchmark, space)  # a table of another space fails now, not after training
        # found_truth.build=true: the table's recipe is checked now too (refused before training, not after)
        plan = plan_found_truth(cfg, oracle, data) if cfg.found_truth.build and distributed.is_main else None
        if distributed.is_main:
            print(data.summary())
            print(space.describe().splitlines()[0])
        trainer = train_stage(cfg, out, data, space, distributed)
        trainer_peak = peak_memory_mib(trainer.device)  # before scoring adds to it
        if not distributed.is_main:  # rank 0 searches, scores and reports alone
            return RunResult(out, train_seconds=trainer.state.seconds)
        if trainer.method.found_architecture() is not None:  # a gradient-based search found it: no searcher
            found = record_found_architecture(cfg, folder, data, space, trainer,
                                              found_truth_table(cfg, folder, oracle, space, plan))
            if plan is not None and found.truth is None:  # train it stand-alone by the table's recipe (resumes)
                build_found_truth(plan, folder, found.arch, bool(cfg.progress))
                found = add_trained_truth(cfg, folder, space, oracle, found,
                                          found_truth_table(cfg, folder, oracle, space, plan))
                if found.truth is None:
                    raise ConfigError(f"`nas bench build` left no record of {found.arch} with seeds "
                                      f"{list(plan.seeds)} in {folder.found_truth_records}: rerun to resume it")
            print_found(found, folder)
            print(f"total time:  {time.perf_counter() - started:.0f} s")
            return RunResult(out, train_seconds=trainer.state.seconds)
        evaluator = build_evaluator(cfg, trainer.supernet, data, out)
        policy = getattr(trainer.method, "path_sampler", None)  # the trained controller, for searcher=controller
        trials, search_seconds = search_stage(cfg, out, space, evaluator, policy)
        result = RunResult(out, trials, train_seconds=trainer.state.seconds, search_seconds=search_seconds)
        rankers = ReportRankers.from_config(cfg, space, data.train, str(evaluator.device))
        result.ranking, result.baselines, result.benchmark_seconds = benchmark_stage(cfg, out, space, evaluator,
                                                                                     rankers)
        result.combined, result.combined_name = rankers.order(trials), rankers.combined_name
        folder.write_combined_ranking(result.combined_name, result.combined)  # the order nas export counts in
        if result.ranking is not None:
            board = cfg.report.leaderboard
            result.verdict = verdict(result.ranking, result.baselines, leaderboard_tau(board.csv, board.row),
                                     board.row)
        report = write_run_report(cfg, result, space)
        write_summary(folder, result, trainer, evaluator, trainer_peak)

    if result.combined:
        print(f"\nTop {cfg.search.top_k} of {len(trials)} children by {result.combined_name} (no ground truth; "
              f"{supernet_score_name(cfg)} on {cfg.evaluator.valid_size} valid images):")
        print(top_table(result.combined, cfg.search.top_k, cfg.evaluator.metric))
    else:
        print(f"\nTop {cfg.search.top_k} of {len(trials)} children by {supernet_score_name(cfg)} "
              f"({cfg.evaluator.valid_size} valid images):")
        print(format_table(trials, cfg.search.top_k, cfg.evaluator.metric))
    if result.ranking is not None:
        r = result.ranking
        confidence = 100 * float(cfg.report.bootstrap.confidence)
        print(f"\nRanking of {r['n']} ground-truth cells (Kendall tau [{confidence:g}% bootstrap CI over cells]):")
        print("\n".join(ranking_lines(r, result.baselines)))
        if result.verdict:
            print(result.verdict)
    print(f"\nreport:      {report}")
    if result.combined:
        print(f"ranking:     {folder.combined_ranking} (the order above: nas export / nas retrain rank=k count in it)")
        print(f"             {folder.ranked_children_csv} (the supernet's own order: ranking=supernet)")
    else:
        print(f"ranking:     {folder.ranked_children_csv}")
    print(f"checkpoint:  {trainer.checkpoint_path}")
    if folder.balanced_mixture.is_file():  # few_shot=bmos: the learned configuration -> supernet assignment
        print(f"assignment:  {folder.balanced_mixture}")
    print(f"tensorboard: tensorboard --logdir {folder.tensorboard}")
    print(f"total time:  {time.perf_counter() - started:.0f} s")
    return result
