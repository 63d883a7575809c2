"""Free rows: rankers that need no training (analytic counts, zero-cost proxies of a fresh model), scored once by
`nas rank` into files that the board only reads.

`nas rank ranker=[...] output_dir=<dir>` writes ``<dir>/scores/<ranker>.json`` (every cell's score, and the
measured seconds per child); a ranker whose file is missing or lacks a ground-truth cell is *stale* and is
scored again by ``nas leaderboard`` (``mode=run``). Parameter count and FLOPs are already rows of the board (the
no-training baselines); their files only add their cost per child.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from nas.confidence import Bootstrap
from nas.errors import ConfigError
from nas.leaderboard.runs import Row, RunScores
from nas.leaderboard.scoring import COST_KEYS, NAN_PAIR, aggregate
from nas.rankers import RecordedRanker, average_ranks
from nas.rankers.aggregate import AGGREGATION_USES

BASELINES = {"params": "params (no training)", "flops": "flops (no training)"}
FREE_COMBINED = "free combined"
"""The kind of a free row that is a mean rank of free rankers."""
"""Free rankers that are the board's baseline rows already (ranker name -> that row's name)."""


def scores_path(folder: Path, ranker: str) -> Path:
    """Where `nas rank output_dir=<folder>` writes ``ranker``'s scores (its ``scores/`` folder)."""
    return Path(folder) / "scores" / f"{ranker}.json"


def read_free(folder: Path, rankers: Sequence[str], cells: Sequence[str]) -> tuple[dict[str, RecordedRanker],
                                                                                    list[str]]:
    """The rankers whose files in ``folder`` score every cell, and the names of those that are missing or stale."""
    found: dict[str, RecordedRanker] = {}
    stale: list[str] = []
    for name in rankers:
        path = scores_path(folder, name)
        if not path.is_file():
            stale.append(name)
            continue
        try:
            ranker = RecordedRanker(path, name=name)
        except ConfigError:
            stale.append(name)
            continue
        if any(c not in ranker.scores for c in cells):
            stale.append(name)
            continue
        found[name] = ranker
    return found, stale


def free_label(name: str) -> str:
    """A free ranker's row name."""
    return BASELINES.get(name, f"{name} (no training)")


def free_rows(rankers: dict[str, RecordedRanker], truth: dict[str, float], flops: dict[str, float] | None = None,
              flops_limit: float | None = None, bootstrap: Bootstrap = Bootstrap()) -> list[dict]:
    """One row per ranker that is not a baseline row: its metrics, tau interval and cost per child. Its kind is
    ``free``, or ``free combined`` for a mean rank of free rankers (not a single ranker: the "best free" reference
    that p-values test against is chosen among single rankers only)."""
    rows = []
    for name, ranker in rankers.items():
        if name in BASELINES:
            continue
        cells = list(truth)  # ranks, not raw scores: a proxy's -inf (undefined for a child) ranks it last
        run = RunScores(seed=-1, folder=ranker.path,
                        scores=dict(zip(cells, average_ranks([ranker.scores[a] for a in cells]).tolist())))
        kind = FREE_COMBINED if ranker.uses.startswith(AGGREGATION_USES) else "free"
        result = aggregate(Row(free_label(name), "-", [run], kind=kind), truth, flops, flops_limit, bootstrap)
        for key in COST_KEYS:
            result[key] = NAN_PAIR
        result["seconds_per_child"] = (ranker.seconds_per_child, 0.0)
        result["uses"] = ranker.uses
        rows.append(result)
    return rows


def add_baseline_costs(results: list[dict], rankers: dict[str, RecordedRanker]) -> None:
    """Give the baseline rows (parameter count, FLOPs) the cost per child that their `nas rank` files measured."""
    by_name = {r["name"]: r for r in results}
    for name, row_name in BASELINES.items():
        if name in rankers and row_name in by_name:
            by_name[row_name]["seconds_per_child"] = (rankers[name].seconds_per_child, 0.0)
            by_name[row_name]["uses"] = rankers[name].uses
