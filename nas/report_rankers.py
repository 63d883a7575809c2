"""The free rankers that `nas run`'s report sets beside its supernet, and their mean rank with it.

``report.free_rankers`` names rankers of ``conf/ranker/`` that need no training (analytic counts, zero-cost
proxies of a fresh child); each scores the benchmark's cells and is reported like the supernet: Kendall tau with
a bootstrap interval over cells, Spearman, precision@top-10%, tau in the true top 10%, truth of its predicted best,
measured seconds per child. ``report.combined`` names free rankers whose mean rank with the supernet's score (no
ground truth) is reported too and orders the children the run prints. ``report.leaderboard`` says where the
leaderboard's number for ``preset=full`` is read, for the line that says whether the supernet beats the free
rankers.

Example:
    >>> from search_spaces.nb201 import NB201SearchSpace
    >>> from nas.rankers import CostRanker
    >>> space = NB201SearchSpace(C=8, N=1, in_channels=1, input_size=16, reduction="light")
    >>> cells = [space.parse(s) for s in ("|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|none~0|none~1|nor_conv_3x3~2|",
    ...                                   "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|",
    ...                                   "|nor_conv_1x1~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|nor_conv_3x3~2|")]
    >>> rankers = ReportRankers({"params": CostRanker(space, "params")}, combined=["params"])
    >>> reports = rankers.measure([70.0, 40.0, 80.0], cells, [85.0, 60.0, 84.0])
    >>> list(reports), reports["params"]["kind"], rankers.combined_name
    (['params', 'supernet + params (mean rank)'], 'free', 'supernet + params (mean rank)')
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from nas.architecture import Architecture
from nas.confidence import Bootstrap, tau_interval
from nas.data.splits import TensorSplit
from nas.errors import ConfigError
from nas.metrics import rank_report
from nas.rankers import RankAggregation, Ranker, RecordedRanker, average_ranks
from nas.rankers.config import build_rankers, needs_data, ranker_specs
from nas.report import score_column
from nas.search_space import SearchSpace
from nas.searchers.base import Trial

SUPERNET = "supernet"


class ReportRankers:
    """Free rankers (name -> :class:`nas.rankers.Ranker`, none needing ground truth) and the names of those that
    the supernet is combined with by mean rank."""

    def __init__(self, free: dict[str, Ranker], combined: Sequence[str] = (), bootstrap: Bootstrap = Bootstrap()):
        unknown = [m for m in combined if m not in free]
        if unknown:
            raise ConfigError(f"report.combined names {unknown}, which are not built: list them in "
                              "report.free_rankers (names of conf/ranker/)")
        if any(r.needs_ground_truth for r in free.values()):
            raise ConfigError("report.free_rankers must need no ground truth: a calibrated ranker is measured by "
                              "`nas rank`, on cells held out of its fit")
        self.free = dict(free)
        self.combined = list(combined)
        self.bootstrap = bootstrap

    @classmethod
    def from_config(cls, cfg: DictConfig, space: SearchSpace, train: TensorSplit | None = None,
                    device: str = "cpu") -> ReportRankers:
        """The rankers of ``cfg.report`` (without it: parameter count and FLOPs, no combination). Without ``train``
        the rankers that need training images (zero-cost proxies) are left out, and so is a combination of them."""
        report = cfg.get("report") or {}
        names = list(report.get("free_rankers", ["params", "flops"]))
        combined = list(report.get("combined", []))
        specs = ranker_specs([*names, *(c for c in combined if c not in names)], int(cfg.get("seed", 0)), str(device))
        if train is None:
            specs = {n: s for n, s in specs.items() if not needs_data(s)}
            combined = combined if all(c in specs for c in combined) else []
        boot = report.get("bootstrap") or {}
        bootstrap = Bootstrap(int(boot.get("resamples", 1000)), float(boot.get("confidence", 0.95)),
                              int(cfg.get("seed", 0)))
        rankers = build_rankers(specs, space, lambda: train, bool(cfg.get("progress", False))) if specs else {}
        return cls(rankers, combined, bootstrap)

    @property
    def combined_name(self) -> str | None:
        """The combined ranker's label, or None when there is none."""
        return f"{SUPERNET} + {' + '.join(self.combined)} (mean rank)" if self.combined else None

    def _combine(self, scores: dict[str, float]) -> RankAggregation:
        supernet = RecordedRanker.from_scores(scores, name=SUPERNET, uses="the supernet's accuracy")
        return RankAggregation([supernet, *(self.free[m] for m in self.combined)], name=self.combined_name)

    def report_of(self, ranker_scores: Sequence[float], truth: Sequence[float]) -> dict[str, Any]:
        """Rank metrics of one ranking (scores may hold -inf: ranked last), with the interval of its tau."""
        ranks = average_ranks(ranker_scores)
        report = rank_report(ranks, truth)
        report["kendall_interval"] = list(tau_interval([ranks], truth, self.bootstrap))
        return report

    def measure(self, supernet_scores: Sequence[float], cells: Sequence[Architecture], truth: Sequence[float]
                ) -> dict[str, dict[str, Any]]:
        """name -> report of every free ranker on ``cells`` (kind ``free``), then of the combined ranker (kind
        ``combined``); each with its ``uses`` and measured ``seconds_per_child``."""
        reports: dict[str, dict[str, Any]] = {}
        for name, ranker in self.free.items():
            reports[name] = {"kind": "free", **self.report_of(ranker.score(cells), truth), "uses": ranker.uses,
                             "seconds_per_child": ranker.seconds_per_child}
        if self.combined:
            combined = self._combine({str(c): s for c, s in zip(cells, supernet_scores)})
            cost = float(sum(self.free[m].seconds_per_child for m in self.combined))  # beside the supernet's own
            reports[self.combined_name] = {"kind": "combined", **self.report_of(combined.score(cells), truth),
                                           "uses": combined.uses, "seconds_per_child": cost}
        return reports

    def order(self, trials: Sequence[Trial]) -> list[tuple[Trial, float]]:
        """``trials`` ordered by the combined ranker (mean rank among them, ties by supernet score), with their
        mean rank; empty when there is no combination."""
        if not self.combined or not trials:
            return []
        scores = self._combine({str(t.arch): t.score for t in trials}).score([t.arch for t in trials])
        return sorted(zip(trials, scores), key=lambda pair: (-pair[1], -pair[0].score))


def top_table(ordered: Sequence[tuple[Trial, float]], top_k: int = 10, metric: str = "accuracy") -> str:
    """A fixed-width table of the first ``top_k`` children of :meth:`ReportRankers.order`; ``metric`` says what
    the supernet's scores are."""
    rows = list(ordered)[:top_k]
    width = max([len(str(t.arch)) for t, _ in rows] + [12])
    label, fmt = score_column(metric)
    head = f"{'rank':>4}  {'architecture':<{width}}  {'mean rank':>9}  {label:>6}  {'params':>8}  {'MFLOPs':>7}"
    lines = [f"{i + 1:>4}  {str(t.arch):<{width}}  {score:9.1f}  {t.score:6{fmt}}  {t.cost.get('params', 0):8,d}  "
             f"{t.cost.get('flops', 0) / 1e6:7.2f}" for i, (t, score) in enumerate(rows)]
    if rows and all("latency_ms" in t.cost for t, _ in rows):  # latency=table | measured (nas.latency)
        head += f"  {'ms':>7}"
        lines = [f"{line}  {t.cost['latency_ms']:7.3f}" for line, (t, _) in zip(lines, rows)]
    return "\n".join([head, *lines])


def _interval(report: dict) -> str:
    low, high = report.get("kendall_interval") or (math.nan, math.nan)
    return "" if math.isnan(low) else f"[{low:.3f}, {high:.3f}]"


def _seconds(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "–"
    return f"{value:.2g}" if value < 0.01 else f"{value:.3f}"


def ranking_lines(ranking: dict, rankers: dict[str, dict]) -> list[str]:
    """The supernet's and every other ranker's Kendall tau [interval] and cost per child, for the terminal."""
    rows = [(SUPERNET, ranking), *rankers.items()]
    width = max(len(name) for name, _ in rows)
    return [f"  {name:<{width}}  tau {rep['kendall_tau']:.3f} {_interval(rep):<16}  Spearman {rep['spearman_rho']:.3f}"
            f"  best pick {rep['best_predicted_truth']:.2f}"
            + (f"  {_seconds(rep.get('seconds_per_child'))} s/child" if name != SUPERNET else "")
            for name, rep in rows]


def ranking_table(ranking: dict, rankers: dict[str, dict], confidence: float = 0.95) -> list[str]:
    """The same as a markdown table (report.md)."""
    lines = [f"| ranker | kind | Kendall tau [{100 * confidence:g}% CI] | Spearman rho | precision@top-10% | "
             "tau in true top-10% | truth of predicted best | s / child | uses |", "|" + " --- |" * 9]
    for name, rep in [(SUPERNET, {"kind": "supernet", **ranking}), *rankers.items()]:
        lines.append(f"| {name} | {rep.get('kind', '')} | {rep['kendall_tau']:.3f} {_interval(rep)} | "
                     f"{rep['spearman_rho']:.3f} | {rep['precision_at_top10']:.2f} | {rep['kendall_tau_top10']:.3f} | "
                     f"{rep['best_predicted_truth']:.2f} | {_seconds(rep.get('seconds_per_child'))} | "
                     f"{rep.get('uses', 'trained supernet')} |")
    return lines


def leaderboard_tau(csv_path: str | None, row: str) -> tuple[float, float] | None:
    """(mean, std) Kendall tau of ``row`` in the leaderboard's CSV (relative to the working folder or the
    repository); None when the file or the row is not there."""
    if not csv_path:
        return None
    candidates = [Path(csv_path), Path(__file__).resolve().parents[1] / csv_path]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        return None
    try:
        with path.open(newline="") as handle:
            found = next((r for r in csv.DictReader(handle) if r.get("name") == row), None)
        return None if found is None else (float(found["kendall_tau_mean"]), float(found["kendall_tau_std"]))
    except (OSError, KeyError, ValueError):
        return None


def verdict(ranking: dict, rankers: dict[str, dict], leaderboard: tuple[float, float] | None = None,
            leaderboard_row: str = "spos") -> str | None:
    """One line: does the supernet beat every free ranker? If not, beside what ``preset=full`` reaches on the
    leaderboard (when known). None without free rankers.

    >>> print(verdict({"kendall_tau": 0.55}, {"params": {"kind": "free", "kendall_tau": 0.63}}, (0.614, 0.011)))
    The supernet (tau 0.550) does not beat the best free ranker, params (tau 0.630); preset=full reaches 0.614 ± 0.011 on the leaderboard (row spos).
    """
    free = {n: r for n, r in rankers.items() if r.get("kind") == "free" and not math.isnan(r["kendall_tau"])}
    if not free:
        return None
    name, best = max(free.items(), key=lambda item: item[1]["kendall_tau"])
    tau = ranking["kendall_tau"]
    if tau > best["kendall_tau"]:
        return f"The supernet (tau {tau:.3f}) beats every free ranker (best: {name}, tau {best['kendall_tau']:.3f})."
    line = f"The supernet (tau {tau:.3f}) does not beat the best free ranker, {name} (tau {best['kendall_tau']:.3f})"
    if leaderboard is not None:
        line += (f"; preset=full reaches {leaderboard[0]:.3f} ± {leaderboard[1]:.3f} on the leaderboard "
                 f"(row {leaderboard_row})")
    return line + "."
