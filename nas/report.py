"""Outputs of a search: ranked children (CSV/JSON), plots and the markdown report."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

from nas.atomic import write_text_atomic  # noqa: F401  (re-exported: other modules import it from here)
from nas.searchers.base import Trial


def write_ranking(trials: Sequence[Trial], folder: str | Path, stem: str = "ranked_children",
                  score_name: str = "supernet_accuracy") -> tuple[Path, Path]:
    """Write ``stem.csv`` and ``stem.json``: rank, architecture, score (``score_name``), params, FLOPs."""
    folder = Path(folder)
    ranked = sorted(trials, key=lambda t: -t.score)
    rows = [{"rank": i + 1, "arch": str(t.arch), score_name: round(t.score, 4),
             "params": t.cost.get("params"), "flops": t.cost.get("flops")} for i, t in enumerate(ranked)]
    json_path, csv_path = folder / f"{stem}.json", folder / f"{stem}.csv"
    write_text_atomic(json_path, json.dumps(rows, indent=1) + "\n")
    lines: list[str] = []

    class _Sink:
        def write(self, text: str) -> None:
            lines.append(text)

    writer = csv.DictWriter(_Sink(), fieldnames=list(rows[0]) if rows else ["rank", "arch"])
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(csv_path, "".join(lines))
    return csv_path, json_path


def read_ranking(path: str | Path) -> list[dict]:
    return json.loads(Path(path).read_text())


def format_table(trials: Sequence[Trial], top_k: int = 10) -> str:
    """A fixed-width table of the best ``top_k`` children."""
    ranked = sorted(trials, key=lambda t: -t.score)[:top_k]
    width = max([len(str(t.arch)) for t in ranked] + [12])
    head = f"{'rank':>4}  {'architecture':<{width}}  {'acc %':>6}  {'params':>8}  {'MFLOPs':>7}"
    rows = [f"{i + 1:>4}  {str(t.arch):<{width}}  {t.score:6.2f}  {t.cost.get('params', 0):8,d}  "
            f"{t.cost.get('flops', 0) / 1e6:7.2f}" for i, t in enumerate(ranked)]
    return "\n".join([head, *rows])


def plot_accuracy_vs_cost(trials: Sequence[Trial], path: str | Path, cost: str = "params",
                          title: str = "") -> Path:
    """Scatter of supernet accuracy against a cost, with the Pareto front drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [t.cost.get(cost, 0) for t in trials]
    ys = [t.score for t in trials]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    ax.scatter(xs, ys, s=12, alpha=0.6, label="children")
    front, best = [], float("-inf")
    for x, y in sorted(zip(xs, ys), key=lambda p: (p[0], -p[1])):
        if y > best:
            front.append((x, y))
            best = y
    if front:
        ax.step([p[0] for p in front], [p[1] for p in front], where="post", color="C3", label="Pareto front")
    ax.set_xlabel(cost)
    ax.set_ylabel("supernet accuracy (%)")
    ax.set_title(title or f"supernet accuracy vs {cost}")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def plot_against_truth(predicted: Sequence[float], truth: Sequence[float], path: str | Path, title: str) -> Path:
    """Scatter of supernet accuracy against ground-truth accuracy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4), dpi=120)
    ax.scatter(truth, predicted, s=12, alpha=0.6)
    ax.set_xlabel("ground-truth accuracy (%)")
    ax.set_ylabel("supernet accuracy (%)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)
