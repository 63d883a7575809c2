"""Pareto front of score (maximize) against a cost (minimize): computed, written (CSV, JSON) and plotted."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path

from nas.searchers.base import Trial


def pareto_front(trials: Sequence[Trial], cost: str = "params") -> list[Trial]:
    """The trials no other trial beats on both score and ``cost``, from cheapest to most expensive.

    Example:
        >>> from nas.architecture import Architecture
        >>> t = [Trial(i, Architecture({"w": i}), s, {"params": p}) for i, (s, p) in
        ...      enumerate([(90.0, 10), (80.0, 5), (85.0, 20), (95.0, 30), (95.0, 40)])]
        >>> [x.number for x in pareto_front(t)]
        [1, 0, 3]
    """
    front: list[Trial] = []
    best = float("-inf")
    for trial in sorted(trials, key=lambda t: (t.cost[cost], -t.score, t.number)):
        if trial.score > best:
            front.append(trial)
            best = trial.score
    return front


def write_pareto_front(trials: Sequence[Trial], folder: str | Path, cost: str = "params",
                       score_name: str = "score") -> dict[str, Path]:
    """Write ``pareto_front.csv``, ``pareto_front.json`` and ``pareto_front.png`` into ``folder``."""
    from nas.report import write_text_atomic

    folder = Path(folder)
    front = pareto_front(trials, cost)
    rows = [{"arch": str(t.arch), score_name: t.score, **t.cost, "trial": t.number} for t in front]
    paths = {"csv": folder / "pareto_front.csv", "json": folder / "pareto_front.json",
             "png": folder / "pareto_front.png"}
    write_text_atomic(paths["json"], json.dumps(rows, indent=1) + "\n")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["arch", score_name, cost, "trial"])
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(paths["csv"], buffer.getvalue())
    _plot(trials, front, paths["png"], cost, score_name)
    return paths


def _plot(trials: Sequence[Trial], front: Sequence[Trial], path: Path, cost: str, score_name: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    ax.scatter([t.cost[cost] for t in trials], [t.score for t in trials], s=12, alpha=0.5, label="scored")
    ax.step([t.cost[cost] for t in front], [t.score for t in front], where="post", color="C3", marker="o",
            markersize=4, label=f"Pareto front ({len(front)})")
    ax.set_xlabel(cost)
    ax.set_ylabel(score_name)
    ax.set_title(f"{score_name} vs {cost}: {len(trials)} architectures")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
