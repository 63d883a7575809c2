"""Rows derived from a trained row's archived scores, without training: its seed ensemble, its rank aggregation with
free rankers (no ground truth) and a ranker calibrated on a few ground-truth cells (measured on the others only).

Every derived row is computed per seed of the supernet row it derives from (the ensemble: over its seeds), then
summarised as the trained rows are: mean ± std over seeds, and the bootstrap interval of the mean tau over cells.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from nas.architecture import Architecture
from nas.confidence import Bootstrap
from nas.errors import ConfigError
from nas.leaderboard.runs import Row, RunScores
from nas.leaderboard.scoring import LIMITED, METRICS, aggregate, best_under_limit, costs, mean_std, run_report
from nas.rankers import CalibratedRanker, RankAggregation, RecordedRanker, Ranker, evaluate_held_out

CHOSEN_ON_TRUTH = "†"
"""Marks a combination whose free rankers were picked after looking at the free rows' tau on this very table."""

FOOTNOTE_MARKS = ("‡", "§", "¶")
"""Marks of the combinations a board explains in a footnote (``combined.footnotes``), in the order it lists them."""


def _mean(values: Sequence[float]) -> float:
    """The mean of the finite values; nan when there is none."""
    finite = [v for v in values if math.isfinite(v)]
    return statistics.fmean(finite) if finite else math.nan


def _max_or_nan(values: Sequence[float]) -> float:
    """The largest of ``values``; NaN unless every one is finite (a peak some seed did not record is unknown)."""
    return max(values) if values and all(math.isfinite(v) for v in values) else math.nan


def _member_cost(members: Sequence[Ranker]) -> tuple[float, float]:
    return (float(sum(m.seconds_per_child for m in members)), 0.0)


def seed_ensemble_row(row: Row, truth: dict[str, float], flops: dict[str, float] | None = None,
                      flops_limit: float | None = None, bootstrap: Bootstrap = Bootstrap()) -> dict:
    """One ranking from all the row's seeds: each cell scored by the mean of the seeds' scores.

    It costs every seed's training (its train minutes, scoring seconds and child evaluations are the sums).
    """
    for run in row.runs:
        run_report(run, truth)  # every seed scored every cell, or a clear error
    n = len(row.runs)
    ensemble = RunScores(seed=-1, folder=row.runs[0].folder,
                         scores={a: statistics.fmean(run.scores[a] for run in row.runs) for a in truth},
                         train_seconds=sum(r.train_seconds for r in row.runs),
                         scoring_seconds=sum(r.scoring_seconds for r in row.runs),
                         child_evaluations=sum(r.child_evaluations for r in row.runs),
                         state_mib=sum(r.state_mib for r in row.runs),  # every seed's supernet is kept
                         peak_memory_mib=_max_or_nan([r.peak_memory_mib for r in row.runs]))
    result = aggregate(Row(f"{row.name}, mean score of {n} seeds", row.command, [ensemble], epochs=row.epochs),
                       truth, flops, flops_limit, bootstrap)
    result["seeds"] = n
    result["per_seed"][0]["seed"] = "mean"
    result["single_ranking"] = True
    result["uses"] = f"the mean of the {n} {row.name} supernets' scores of each cell ({n}x the training)"
    return result


def mean_rank_row(row: Row, members: Sequence[RecordedRanker], archs: Sequence[Architecture],
                  truth: dict[str, float], flops: dict[str, float] | None = None, flops_limit: float | None = None,
                  bootstrap: Bootstrap = Bootstrap(), chosen_on_truth: bool = False, mark: str = "") -> dict:
    """Each seed's supernet scores and the free ``members``, combined by mean rank (:class:`RankAggregation`).

    No ground truth enters the score. ``archs`` are the ground-truth cells in the order of ``truth``. The row is
    marked :data:`CHOSEN_ON_TRUTH` when ``chosen_on_truth``, else with ``mark`` (a footnote's mark).
    """
    cells = list(truth)
    runs = []
    for run in row.runs:
        supernet = RecordedRanker.from_scores(run.scores, name=f"{row.name} seed {run.seed}")
        scores = RankAggregation([supernet, *members]).score(archs)
        runs.append(replace(run, scores=dict(zip(cells, scores))))
    names = [m.name for m in members]
    combined = Row(f"{row.name} + {' + '.join(names)} (mean rank)", row.command, runs, kind="combined",
                   epochs=row.epochs, overrides=row.overrides)
    result = aggregate(combined, truth, flops, flops_limit, bootstrap)
    result["seconds_per_child"] = _member_cost(members)
    result["uses"] = f"mean rank of the {row.name} supernet's scores and {', '.join(names)}; no ground truth"
    result["marks"] = CHOSEN_ON_TRUTH if chosen_on_truth else mark
    return result


def calibrated_rows(row: Row, members: Sequence[RecordedRanker], archs: Sequence[Architecture],
                    truth: dict[str, float], ks: Sequence[int], splits: int = 20, alpha: float = 1.0,
                    flops: dict[str, float] | None = None, flops_limit: float | None = None,
                    bootstrap: Bootstrap = Bootstrap()) -> list[dict]:
    """A :class:`CalibratedRanker` on each seed's supernet scores and the free ``members``, fit on ``k`` random
    ground-truth cells and measured on all the other cells only, over ``splits`` seeded splits; one row per k.

    A row's metrics are mean ± std over its seeds × splits; ``kendall_ci`` holds the central ``confidence`` share
    of those held-out taus; ``per_seed`` holds each seed's mean over splits. A ``k`` that leaves fewer than two
    cells to measure is skipped.
    """
    cells = list(truth)
    t = [truth[c] for c in cells]
    names = [m.name for m in members]
    metrics = METRICS if flops_limit is None else (*METRICS, LIMITED)
    rows = []
    for k in ks:
        if not 3 <= int(k) <= len(cells) - 2:
            continue
        per_run: list[list[dict]] = []
        for run in row.runs:
            supernet = RecordedRanker.from_scores(run.scores, name=row.name)
            ranker = CalibratedRanker([supernet, *members], alpha=alpha)
            _, done = evaluate_held_out(ranker, archs, t, int(k), int(splits), bootstrap.seed)
            reports = []
            for split in done:
                report = dict(split.report)
                if flops_limit is not None:
                    held = [cells[i] for i in split.held_out]
                    try:
                        report[LIMITED] = best_under_limit(dict(zip(held, split.scores)),
                                                           {c: truth[c] for c in held}, flops or {}, flops_limit)
                    except ConfigError:  # no held-out cell within the limit in this split
                        report[LIMITED] = math.nan
                reports.append(report)
            per_run.append(reports)
        result: dict = {"name": f"{row.name} + {' + '.join(names)}, calibrated on k={k} cells",
                        "kind": "uses ground truth", "command": row.command, "seeds": len(row.runs),
                        "epochs": row.epochs, "k": int(k), "splits": int(splits)}
        for metric in metrics:
            result[metric] = mean_std([rep[metric] for reports in per_run for rep in reports])
        result.update(costs(row.runs))
        result["per_seed"] = [{"seed": run.seed, "splits": int(splits),
                               **{m: _mean([rep[m] for rep in reports]) for m in metrics}}
                              for run, reports in zip(row.runs, per_run)]
        taus = np.array([rep["kendall_tau"] for reports in per_run for rep in reports], dtype=np.float64)
        taus = taus[np.isfinite(taus)]
        tail = 100.0 * (1.0 - bootstrap.confidence) / 2.0
        result["kendall_ci"] = tuple(float(v) for v in np.percentile(taus, [tail, 100.0 - tail])) if taus.size \
            else (math.nan, math.nan)
        result["seconds_per_child"] = _member_cost(members)
        result["uses"] = (f"ridge regression on the ranks of the {row.name} supernet's scores and {', '.join(names)}, "
                          f"fit on {k} ground-truth cells; measured on the other {len(cells) - int(k)} cells only")
        rows.append(result)
    return rows
