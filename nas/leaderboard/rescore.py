"""Scoring a row's trained supernets again, without training: ground-truth cells the table gained since a run, and
scoring-only rows, which rescore another row's checkpoints with other evaluator settings.

A scoring-only row (board config ``rescore: {<name>: {base: <row>, overrides: [evaluator.<key>=<value>, ...]}}``)
gets its own run folder per seed, ``<runs_dir>/<name>/seed<k>/``: the base run's saved config with the overrides
applied, its benchmark scores and a summary whose training cost is the base run's (the folder holds no
checkpoint: its weights are the base run's). It costs minutes of scoring, not a training run.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from nas.benchmarks.oracle import build_oracle
from nas.errors import ConfigError
from nas.metrics import rank_report
from nas.run_folder import BenchmarkScore, RunFolder, Summary

EVALUATOR = "evaluator."


@dataclass(frozen=True)
class Rescore:
    """A scoring-only row: the row whose supernets it rescores, and the evaluator overrides it scores them with."""

    base: str
    overrides: tuple[str, ...]

    @classmethod
    def of(cls, name: str, spec: DictConfig | dict, rows: Sequence[str]) -> Rescore:
        """Check one entry of the board's ``rescore`` map against the board's trained ``rows``."""
        base, overrides = spec.get("base"), list(spec.get("overrides") or [])
        if base not in rows:
            raise ConfigError(f"rescore.{name}.base={base}: rescores the supernets of a trained row; use one of "
                              f"{list(rows)}")
        bad = [o for o in overrides if not o.lstrip("+").startswith(EVALUATOR) or "=" not in o]
        if bad or not overrides:
            raise ConfigError(f"rescore.{name}.overrides={bad or overrides}: a scoring-only row changes only the "
                              "evaluator (e.g. [evaluator.bn_policy=batch_stats]); anything else needs training: "
                              "make it a row of `rows`")
        return cls(str(base), tuple(overrides))


def _score_missing(folder: Path, weights: Path, benchmark: DictConfig, truth_cells: list[str],
                   progress: bool) -> int:
    """Score the cells of ``truth_cells`` that ``folder`` has not scored, with the supernet of ``weights`` and the
    evaluator of ``folder``'s saved config; the caller holds ``folder``'s lock. Return how many it scored."""
    from nas.pipeline import build_evaluator, load_trained_supernet, setup

    run = RunFolder(folder)
    rows = run.read_benchmark_scores()
    have = {r.arch for r in rows}
    missing = [a for a in truth_cells if a not in have]
    if not missing:
        return 0
    run_cfg = run.trained_config()
    run_cfg.progress = progress
    data, space = setup(run_cfg)
    supernet = load_trained_supernet(weights, space)
    evaluator = build_evaluator(run_cfg, supernet, data, weights)  # snapshots, if any, are the weights' run's
    oracle = build_oracle(benchmark, space)
    archs = [space.parse(a) for a in missing]
    scores = evaluator.score_many(archs, desc=f"scoring new ground-truth cells for {folder}")
    run.write_benchmark_scores([*rows, *(BenchmarkScore(str(a), s, oracle(a)) for a, s in zip(archs, scores))])
    return len(missing)


def ensure_scored(folder: Path, benchmark: DictConfig, truth_cells: list[str], progress: bool,
                  weights: Path | None = None) -> None:
    """Score ground-truth cells that a run has not scored yet, from its checkpoint (or from ``weights``'s: the
    base run of a scoring-only row)."""
    run = RunFolder(folder)
    have = {r.arch for r in run.read_benchmark_scores()}
    if all(a in have for a in truth_cells):
        return
    weights = Path(weights or folder)
    check_weights(weights, folder)
    with run.lock("nas leaderboard (scoring new ground-truth cells)"):  # no `nas run` may write it meanwhile
        _score_missing(folder, weights, benchmark, truth_cells, progress)


def check_weights(weights: Path, folder: Path) -> None:
    """A clear error when the checkpoint that ``folder``'s scores need is gone."""
    if RunFolder(weights).checkpoint.is_file():
        return
    if Path(weights) == Path(folder):
        raise ConfigError(f"{folder} has no checkpoint to score the table's new cells with: rerun its row")
    raise ConfigError(f"{folder} rescores the supernet of {weights}, whose checkpoint "
                      f"({RunFolder(weights).checkpoint}) is gone (an archived run keeps scores, not weights): "
                      f"retrain the base row, e.g. `nas leaderboard only=[{Path(weights).parent.name}] "
                      f"rerun=[{Path(weights).parent.name}]`, then rerun")


def rescore_run(name: str, rescore: Rescore, runs_dir: Path, seed: int, benchmark: DictConfig,
                truth_cells: list[str], progress: bool) -> Path:
    """Make ``<runs_dir>/<name>/seed<seed>/``: the base row's supernet of that seed, scored with the overrides.

    The base run folder must be finished and hold its checkpoint (otherwise a ConfigError says to retrain the
    base row). Nothing is trained and no checkpoint is written. Return the new folder.
    """
    from nas.validation import validate

    base = RunFolder(Path(runs_dir) / rescore.base / f"seed{seed}")
    if not base.summary.is_file():
        raise ConfigError(f"scoring-only row {name!r} rescores row {rescore.base!r}, which has no finished run folder "
                          f"{base.path} (an archived run keeps scores, not weights): retrain it with "
                          f"`nas leaderboard only=[{rescore.base}]`, then rerun")
    check_weights(base.path, Path(runs_dir) / name / f"seed{seed}")
    overrides = OmegaConf.from_dotlist([o.lstrip("+") for o in rescore.overrides])
    run_cfg = OmegaConf.merge(base.trained_config(), overrides)
    validate(OmegaConf.create({"evaluator": run_cfg.evaluator}))  # e.g. an unknown bn_policy: before writing
    folder = RunFolder(Path(runs_dir) / name / f"seed{seed}")
    folder.path.mkdir(parents=True, exist_ok=True)
    summary = base.read_summary()
    with folder.lock(f"nas leaderboard (rescoring {rescore.base} seed {seed} as {name})"):
        folder.save_config(run_cfg, [*base.saved_overrides(), *rescore.overrides])
        started = time.perf_counter()
        _score_missing(folder.path, base.path, benchmark, truth_cells, progress)
        seconds = time.perf_counter() - started
        rows = [r for r in folder.read_benchmark_scores() if r.arch in set(truth_cells)]
        folder.write_summary(Summary(
            train_seconds=summary.train_seconds, train_steps=summary.train_steps, benchmark_seconds=seconds,
            child_evaluations=len(rows),
            ranking=rank_report([r.supernet_accuracy for r in rows], [r.truth for r in rows]) if len(rows) > 1
            else None, peak_memory_mib=dict(summary.peak_memory_mib),  # the base's training
        ))
    return folder.path
