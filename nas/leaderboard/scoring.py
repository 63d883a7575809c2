"""A row's numbers: its ranking metrics per seed against ground truth, their mean ± std over seeds, the bootstrap
interval of its mean tau over cells, and the rows that need no training (parameter count, FLOPs, the ceiling)."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

from nas.benchmarks.oracle import Oracle
from nas.confidence import Bootstrap, tau_interval
from nas.errors import ConfigError
from nas.leaderboard.runs import Row, RunScores
from nas.metrics import rank_report

METRICS = ("kendall_tau", "spearman_rho", "precision_at_top10", "kendall_tau_top10", "best_predicted_truth")
HEADERS = ("Kendall tau", "Spearman rho", "P@top-10%", "tau in true top-10%", "truth of predicted best")
LIMITED = "best_under_flops_truth"  # with a FLOPs limit: truth of the best-scored cell within the limit
NAN_PAIR = (float("nan"), 0.0)
COST_KEYS = ("train_minutes", "scoring_seconds", "child_evaluations", "state_mib", "peak_memory_mib")
"""A row's costs (mean, std over its seeds): training minutes, scoring seconds, child evaluations, the MiB training
keeps between steps (its checkpoint's tensors) and the training process's peak memory (MiB)."""


def metrics_of(results: list[dict]) -> tuple[str, ...]:
    """The metric columns of ``results``: METRICS, plus the FLOPs-limited one when the rows have it."""
    return (*METRICS, LIMITED) if results and LIMITED in results[0] else METRICS


def best_under_limit(scores: dict[str, float], truth: dict[str, float], flops: dict[str, float],
                     limit: float) -> float:
    """Ground truth of the cell that ``scores`` ranks first among the cells of at most ``limit`` FLOPs.

    >>> best_under_limit({"a": 0.9, "b": 0.5, "c": 0.7}, {"a": 90, "b": 80, "c": 85}, {"a": 3, "b": 1, "c": 2}, 2)
    85
    """
    feasible = [a for a in truth if flops[a] <= limit]
    if not feasible:
        raise ConfigError(f"no ground-truth cell has at most {limit:g} FLOPs (the smallest has "
                          f"{min(flops.values()):g}): raise flops_limit")
    return truth[max(feasible, key=lambda a: scores[a])]


def run_report(run: RunScores, truth: dict[str, float], flops: dict[str, float] | None = None,
               flops_limit: float | None = None) -> dict[str, float]:
    """Ranking metrics of one run against ``truth`` (every ground-truth cell must be scored).

    With ``flops`` and ``flops_limit``, also the truth of the run's best-scored cell within the limit.
    """
    missing = [a for a in truth if a not in run.scores]
    if missing:
        raise ConfigError(f"{run.folder} has no score for {len(missing)} ground-truth cells (e.g. {missing[0]}): "
                          "collect it with `nas leaderboard`, which scores them from the run's checkpoint while its "
                          "run folder exists (otherwise rerun the row)")
    cells = list(truth)
    report = rank_report([run.scores[a] for a in cells], [truth[a] for a in cells])
    if flops_limit is not None:
        report[LIMITED] = best_under_limit(run.scores, truth, flops or {}, flops_limit)
    return report


def mean_std(values: list[float]) -> tuple[float, float]:
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return float("nan"), float("nan")
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def costs(runs: list[RunScores]) -> dict[str, tuple[float, float]]:
    """Mean and standard deviation over ``runs`` of every cost of :data:`COST_KEYS` (NaN where none recorded it).

    >>> costs([RunScores(0, Path("."), {}, 120.0, 4.0, 10, 2.0), RunScores(1, Path("."), {}, 240.0, 6.0, 10, 2.0)])
    {'train_minutes': (3.0, 1.4142135623730951), 'scoring_seconds': (5.0, 1.4142135623730951), 'child_evaluations': (10.0, 0.0), 'state_mib': (2.0, 0.0), 'peak_memory_mib': (nan, nan)}
    """
    return {"train_minutes": mean_std([r.train_seconds / 60 for r in runs]),
            "scoring_seconds": mean_std([r.scoring_seconds for r in runs]),
            "child_evaluations": mean_std([float(r.child_evaluations) for r in runs]),
            "state_mib": mean_std([r.state_mib for r in runs]),
            "peak_memory_mib": mean_std([r.peak_memory_mib for r in runs])}


def aggregate(row: Row, truth: dict[str, float], flops: dict[str, float] | None = None,
              flops_limit: float | None = None, bootstrap: Bootstrap = Bootstrap()) -> dict:
    """Mean and standard deviation over the row's seeds of every metric and cost, and ``kendall_ci``: the bootstrap
    interval over cells of the mean tau over seeds (:func:`nas.confidence.tau_interval`)."""
    reports = [run_report(run, truth, flops, flops_limit) for run in row.runs]
    result: dict = {"name": row.name, "kind": row.kind, "command": row.command, "seeds": len(row.runs),
                    "epochs": row.epochs}
    for metric in METRICS if flops_limit is None else (*METRICS, LIMITED):
        result[metric] = mean_std([r[metric] for r in reports])
    result.update(costs(row.runs))
    result["per_seed"] = [{"seed": run.seed, **rep} for run, rep in zip(row.runs, reports)]
    cells = list(truth)
    result["kendall_ci"] = tau_interval([[run.scores[a] for a in cells] for run in row.runs],
                                        [truth[a] for a in cells], bootstrap)
    return result


def flops_of(oracle: Oracle, truth: dict[str, float]) -> dict[str, float]:
    return {a: float(oracle.query(a)["flops"]) for a in truth}


def truth_seed_keys(oracle: Oracle, truth: dict[str, float]) -> list[str]:
    """The oracle's per-seed accuracy keys of the cells of ``truth`` (``accuracy_seed<k>``), by seed."""
    return sorted({k for a in truth for k in oracle.query(a) if k.startswith("accuracy_seed")},
                  key=lambda k: int(k[len("accuracy_seed"):]))


def _seed_span(keys: list[str]) -> str:
    """``["accuracy_seed0", ..., "accuracy_seed2"]`` -> ``0–2``."""
    seeds = [k[len("accuracy_seed"):] for k in keys]
    return f"{seeds[0]}–{seeds[-1]}" if len(seeds) > 1 else seeds[0]


def _ceiling_row(name: str, first: dict[str, float], second: dict[str, float], truth: dict[str, float],
                 flops: dict[str, float] | None, flops_limit: float | None, bootstrap: Bootstrap) -> dict:
    """A ceiling row: ``first`` (one seed's accuracies, or a mean over seeds) ranking ``second`` (another's), over
    the cells of ``truth``."""
    rep = rank_report([first[x] for x in truth], [second[x] for x in truth])
    if flops_limit is not None:
        rep[LIMITED] = best_under_limit(truth, truth, flops, flops_limit)
    row = {"name": name, "kind": "ceiling", "command": "-", "seeds": 1, "epochs": None,
           **dict.fromkeys(COST_KEYS, NAN_PAIR), "per_seed": [rep],
           "kendall_ci": tau_interval([[first[x] for x in truth]], [second[x] for x in truth], bootstrap)}
    row.update({m: (rep[m], 0.0) for m in METRICS if m in rep})
    if flops_limit is not None:
        row[LIMITED] = (rep[LIMITED], 0.0)
    return row


def baseline_rows(oracle: Oracle, truth: dict[str, float], flops_limit: float | None = None,
                  bootstrap: Bootstrap = Bootstrap()) -> list[dict]:
    """Rankers that need no training: parameter count, FLOPs, and one ground-truth seed against the other; with four
    or more seeds also the mean of the first half of the seeds against the mean of the second half."""
    rows = []
    flops = flops_of(oracle, truth) if flops_limit is not None else None
    for cost in ("params", "flops"):
        scores = {a: float(oracle.query(a)[cost]) for a in truth}
        run = RunScores(seed=-1, folder=Path("."), scores=scores)
        result = aggregate(Row(f"{cost} (no training)", "-", [run], kind="baseline"), truth, flops, flops_limit,
                           bootstrap)
        for key in COST_KEYS:
            result[key] = NAN_PAIR
        rows.append(result)
    seed_keys = truth_seed_keys(oracle, truth)
    if len(seed_keys) >= 2:
        a, b = seed_keys[:2]
        rows.append(_ceiling_row(f"ground truth {a[-5:]} vs {b[-5:]} (ceiling)", {x: oracle.query(x)[a] for x in truth},
                                 {x: oracle.query(x)[b] for x in truth}, truth, flops, flops_limit, bootstrap))
    if len(seed_keys) >= 4:  # the mean of one half of the seeds against the other half's: the agreement of means
        half = len(seed_keys) // 2
        first, second = seed_keys[:half], seed_keys[half:2 * half]
        rows.append(_ceiling_row(
            f"ground truth mean of seeds {_seed_span(first)} vs {_seed_span(second)} (ceiling)",
            {x: statistics.fmean(oracle.query(x)[k] for k in first) for x in truth},
            {x: statistics.fmean(oracle.query(x)[k] for k in second) for x in truth},
            truth, flops, flops_limit, bootstrap))
    return rows
