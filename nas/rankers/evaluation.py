"""How well rankers rank a ground-truth table: Kendall tau with a bootstrap interval, Spearman, the truth of
the predicted best and the cost per child; calibrated rankers only on cells held out of their fit."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from nas.architecture import Architecture
from nas.errors import ConfigError
from nas.metrics import bootstrap_interval, kendall_tau, rank_report, spearman_rho
from nas.rankers.base import Ranker
from nas.rankers.calibrated import CalibratedRanker
from nas.rankers.ranks import average_ranks


@dataclass
class RankerRow:
    """One ranker's measurement on a table.

    A ranker without ground truth is measured on every cell, with percentile-bootstrap intervals
    over cells (``*_interval``). A calibrated ranker is measured on the cells held out of its fit
    (``k`` fit cells), as mean and standard deviation over ``splits`` random splits (``*_std``).
    """

    name: str
    uses: str
    cells: int
    kendall_tau: float
    spearman_rho: float
    best_predicted_truth: float
    seconds_per_child: float
    kendall_interval: tuple[float, float] | None = None
    spearman_interval: tuple[float, float] | None = None
    k: int | None = None
    splits: int | None = None
    kendall_std: float | None = None
    spearman_std: float | None = None
    best_predicted_truth_std: float | None = None
    report: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def _check(archs: Sequence[Architecture], truth: Sequence[float]) -> np.ndarray:
    t = np.asarray(truth, dtype=np.float64)
    if t.shape != (len(archs),):
        raise ConfigError(f"need one truth per architecture: {len(archs)} architectures, truth of shape {t.shape}")
    return t


def evaluate(ranker: Ranker, archs: Sequence[Architecture], truth: Sequence[float], resamples: int = 1_000,
             confidence: float = 0.95, seed: int = 0) -> RankerRow:
    """Score every cell with ``ranker`` and compare with ``truth`` (bootstrap over cells, seeded).

    Example:
        >>> from nas.architecture import Architecture
        >>> from nas.rankers.base import PointwiseRanker
        >>> class Key(PointwiseRanker):
        ...     def score_one(self, arch): return float(arch["x"])
        >>> cells = [Architecture({"x": i}) for i in range(8)]
        >>> row = evaluate(Key("x"), cells, [10, 11, 13, 12, 14, 15, 17, 16], resamples=100)
        >>> round(row.kendall_tau, 3), row.best_predicted_truth   # 2 of 28 pairs discordant: 24 / 28
        (0.857, 16.0)
        >>> row.kendall_interval[0] <= row.kendall_tau <= row.kendall_interval[1]
        True
    """
    if ranker.needs_ground_truth:
        raise ConfigError(f"{ranker.name} needs ground truth: measure it with evaluate_held_out")
    archs = list(archs)
    t = _check(archs, truth)
    ranks = average_ranks(ranker.score(archs))  # rank-based metrics are unchanged; -inf becomes rankable
    report = rank_report(ranks, t)
    return RankerRow(
        name=ranker.name, uses=ranker.uses, cells=len(archs), kendall_tau=report["kendall_tau"],
        spearman_rho=report["spearman_rho"], best_predicted_truth=report["best_predicted_truth"],
        seconds_per_child=ranker.seconds_per_child,
        kendall_interval=bootstrap_interval(ranks, t, kendall_tau, resamples, confidence, seed),
        spearman_interval=bootstrap_interval(ranks, t, spearman_rho, resamples, confidence, seed),
        report=report,
    )


def held_out_splits(n: int, k: int, splits: int, seed: int = 0) -> list[tuple[list[int], list[int]]]:
    """``splits`` random (fit, held-out) partitions of ``range(n)`` with ``k`` fit indices, seeded.

    >>> fit, held = held_out_splits(10, 3, 1, seed=0)[0]
    >>> len(fit), len(held), sorted(fit + held) == list(range(10))
    (3, 7, True)
    """
    if not (3 <= k <= n - 2):
        raise ConfigError(f"k = {k} fit cells of {n}: need 3 <= k <= {n - 2} so that both sides can be ranked")
    if splits < 1:
        raise ConfigError(f"splits must be >= 1, got {splits}")
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(int(splits)):
        order = rng.permutation(n)
        out.append((sorted(int(i) for i in order[:k]), sorted(int(i) for i in order[k:])))
    return out


@dataclass
class HeldOutSplit:
    """One split of :func:`evaluate_held_out`: the fit and held-out cell indices, the held-out scores and metrics."""

    fit: list[int]
    held_out: list[int]
    scores: list[float]
    report: dict


def evaluate_held_out(ranker: CalibratedRanker, archs: Sequence[Architecture], truth: Sequence[float], k: int,
                      splits: int = 20, seed: int = 0) -> tuple[RankerRow, list[HeldOutSplit]]:
    """Fit ``ranker`` on ``k`` random cells, measure it on all the others; repeat over ``splits`` splits.

    The fit sees only its ``k`` cells and their truth; held-out cells are scored after fitting and
    their truth is read only to measure. The row reports mean and standard deviation over splits.
    """
    archs = list(archs)
    t = _check(archs, truth)
    done = []
    for fit, held in held_out_splits(len(archs), k, splits, seed):
        ranker.fit([archs[i] for i in fit], [float(t[i]) for i in fit])
        scores = ranker.score([archs[i] for i in held])
        done.append(HeldOutSplit(fit, held, scores, rank_report(scores, t[held])))

    def stats(key: str) -> tuple[float, float]:
        values = np.array([s.report[key] for s in done], dtype=np.float64)
        return float(np.nanmean(values)), float(np.nanstd(values, ddof=1)) if len(values) > 1 else 0.0

    (tau, tau_std), (rho, rho_std), (best, best_std) = (stats(m) for m in
                                                        ("kendall_tau", "spearman_rho", "best_predicted_truth"))
    row = RankerRow(
        name=f"{ranker.name} [k={k}]", uses=ranker.uses.replace("k ground-truth", f"{k} ground-truth"),
        cells=len(archs) - k, kendall_tau=tau, spearman_rho=rho, best_predicted_truth=best,
        seconds_per_child=ranker.seconds_per_child, k=int(k), splits=int(splits), kendall_std=tau_std,
        spearman_std=rho_std, best_predicted_truth_std=best_std,
    )
    return row, done


def _num(value: float, digits: int = 3) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _seconds(value: float) -> str:
    if value is None or math.isnan(value):
        return "—"
    return f"{value:.2g}" if value < 0.01 else f"{value:.3f}"


def _cells(row: RankerRow) -> tuple[str, str, str]:
    """(Kendall tau, Spearman, truth of predicted best) as table text."""
    if row.k is not None:
        return (f"{_num(row.kendall_tau)} ± {_num(row.kendall_std)}",
                f"{_num(row.spearman_rho)} ± {_num(row.spearman_std)}",
                f"{_num(row.best_predicted_truth, 2)} ± {_num(row.best_predicted_truth_std, 2)}")
    low, high = row.kendall_interval or (float("nan"), float("nan"))
    s_low, s_high = row.spearman_interval or (float("nan"), float("nan"))
    return (f"{_num(row.kendall_tau)} [{_num(low)}, {_num(high)}]", f"{_num(row.spearman_rho)} [{_num(s_low)}, "
            f"{_num(s_high)}]", _num(row.best_predicted_truth, 2))


HEADER = ("ranker", "Kendall tau [95% CI]", "Spearman [95% CI]", "truth of predicted best", "s / child", "uses")


def markdown_table(rows: Sequence[RankerRow]) -> str:
    """The rows as a markdown table (held-out rows: mean ± std over splits, on held-out cells).

    >>> row = RankerRow("params", "analytic params", 4, 0.5, 0.6, 80.0, 1e-5, (0.2, 0.8), (0.3, 0.9))
    >>> print(markdown_table([row]).splitlines()[2])
    | params | 0.500 [0.200, 0.800] | 0.600 [0.300, 0.900] | 80.00 | 1e-05 | analytic params |
    """
    lines = ["| " + " | ".join(HEADER) + " |", "|" + " --- |" * len(HEADER)]
    for row in rows:
        tau, rho, best = _cells(row)
        lines.append(f"| {row.name} | {tau} | {rho} | {best} | {_seconds(row.seconds_per_child)} | {row.uses} |")
    return "\n".join(lines)


def text_table(rows: Sequence[RankerRow]) -> str:
    """The rows as aligned plain text, for the terminal."""
    body = [(row.name, *_cells(row), _seconds(row.seconds_per_child)) for row in rows]
    head = HEADER[:5]
    widths = [max(len(str(r[i])) for r in [head, *body]) for i in range(len(head))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in [head, *body])
