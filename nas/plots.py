"""Every matplotlib figure the project draws (run folders, Pareto fronts, the leaderboard), on one helper.

Functions take plain numbers and write one PNG; callers (the run folder, the leaderboard) decide the file.
matplotlib is imported on first use, with the non-interactive Agg backend.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nas.searchers.base import Trial


@contextmanager
def figure(path: str | Path, figsize: tuple[float, float], dpi: int) -> Iterator[Any]:
    """One figure with one axes: yields the axes, then lays it out, saves it to ``path`` and closes it.

    Example:
        >>> import tempfile, pathlib
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "line.png"
        >>> with figure(target, (3, 2), 50) as ax:
        ...     _ = ax.plot([0, 1], [1, 0])
        >>> target.read_bytes()[:4]
        b'\\x89PNG'
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize, dpi=dpi)
    try:
        yield ax
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)


def accuracy_vs_cost(trials: Sequence[Trial], front: Sequence[Trial], path: str | Path, cost: str = "params",
                     title: str = "", score_label: str = "supernet accuracy (%)") -> Path:
    """Scatter of supernet scores (``score_label``) against a cost, with the Pareto ``front`` as a step line."""
    with figure(path, (6, 4), 120) as ax:
        ax.scatter([t.cost.get(cost, 0) for t in trials], [t.score for t in trials], s=12, alpha=0.6,
                   label="children")
        if front:
            ax.step([t.cost[cost] for t in front], [t.score for t in front], where="post", color="C3",
                    label="Pareto front")
        ax.set_xlabel(cost)
        ax.set_ylabel(score_label)
        ax.set_title(title or f"{score_label.split(' (')[0]} vs {cost}")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
    return Path(path)


def against_truth(predicted: Sequence[float], truth: Sequence[float], path: str | Path, title: str,
                  score_label: str = "supernet accuracy (%)") -> Path:
    """Scatter of supernet scores (``score_label``) against ground-truth accuracy."""
    with figure(path, (5, 4), 120) as ax:
        ax.scatter(truth, predicted, s=12, alpha=0.6)
        ax.set_xlabel("ground-truth accuracy (%)")
        ax.set_ylabel(score_label)
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
    return Path(path)


def pareto_front(trials: Sequence[Trial], front: Sequence[Trial], path: str | Path, cost: str,
                 score_name: str) -> Path:
    """Every scored architecture, and its Pareto ``front`` (score against ``cost``) with markers."""
    with figure(path, (6, 4), 120) as ax:
        ax.scatter([t.cost[cost] for t in trials], [t.score for t in trials], s=12, alpha=0.5, label="scored")
        ax.step([t.cost[cost] for t in front], [t.score for t in front], where="post", color="C3", marker="o",
                markersize=4, label=f"Pareto front ({len(front)})")
        ax.set_xlabel(cost)
        ax.set_ylabel(score_name)
        ax.set_title(f"{score_name} vs {cost}: {len(trials)} architectures")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
    return Path(path)


def seeds_against_truth(title: str, series: Sequence[tuple[str, Sequence[float], Sequence[float]]],
                        path: str | Path) -> Path:
    """One scatter per ``(label, truth, supernet accuracy)`` series (a leaderboard row's seeds)."""
    with figure(path, (5, 4), 110) as ax:
        for label, truth, scores in series:
            ax.scatter(truth, scores, s=10, alpha=0.6, label=label)
        ax.set_xlabel("ground-truth accuracy (%)")
        ax.set_ylabel("supernet accuracy (%)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return Path(path)


def tau_bars(names: Sequence[str], means: Sequence[float], stds: Sequence[float], colors: Sequence[str],
             path: str | Path) -> Path:
    """Horizontal bars of Kendall tau (mean ± std over seeds), one per leaderboard row, first on top; the figure
    widens with the longest label line."""
    longest = max((len(line) for name in names for line in str(name).splitlines()), default=0)
    with figure(path, (max(7.0, 4.5 + 0.1 * longest), 0.45 * len(names) + 1.2), 110) as ax:
        ax.barh(names, means, xerr=stds, color=colors, capsize=3)
        ax.invert_yaxis()
        ax.set_xlabel("Kendall tau against ground truth (mean ± std over seeds)")
        ax.grid(axis="x", alpha=0.3)
    return Path(path)


def tau_vs_epochs(epochs: Sequence[float], tau: Sequence[tuple[float, float]],
                  tau_top10: Sequence[tuple[float, float]], baseline: float | None, path: str | Path) -> Path:
    """Kendall tau (global and within the true top 10%) against the supernet's epochs, (mean, std) each."""
    with figure(path, (5, 3.5), 110) as ax:
        ax.errorbar(epochs, [m for m, _ in tau], yerr=[s for _, s in tau], marker="o", capsize=3,
                    label="global Kendall tau")
        ax.errorbar(epochs, [m for m, _ in tau_top10], yerr=[s for _, s in tau_top10], marker="s", capsize=3,
                    label="tau in true top-10%")
        if baseline is not None:
            ax.axhline(baseline, color="C7", ls="--", label="params alone")
        ax.set_xlabel("supernet epochs (each point its own run, cosine schedule to 0)")
        ax.set_ylabel("Kendall tau")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return Path(path)


def break_gaps(epochs: Sequence[int], values: Sequence[float]) -> tuple[list[float], list[float]]:
    """The points of a curve with a NaN between two points further apart than its usual step (its smallest gap
    between epochs), so a plotted line stops where epochs are missing instead of bridging them.

    Example:
        >>> break_gaps([1, 2, 5, 6], [10.0, 11.0, 14.0, 15.0])
        ([1, 2, nan, 5, 6], [10.0, 11.0, nan, 14.0, 15.0])
        >>> break_gaps([2, 4, 6], [1.0, 2.0, 3.0])  # a point every 2 epochs: no gap
        ([2, 4, 6], [1.0, 2.0, 3.0])
    """
    steps = [b - a for a, b in zip(epochs, epochs[1:])]
    step = min(steps, default=0)
    xs: list[float] = []
    ys: list[float] = []
    for i, (epoch, value) in enumerate(zip(epochs, values)):
        if i and steps[i - 1] > step:
            xs.append(float("nan"))
            ys.append(float("nan"))
        xs.append(epoch)
        ys.append(value)
    return xs, ys


def anytime_curves(series: Sequence[tuple[str, Sequence[tuple[Sequence[int], Sequence[float]]]]],
                   reference: float | None, path: str | Path, span: float = 15.0) -> Path:
    """Any-time curves of gradient-based searches, one panel per row (``name``, its seeds' (epochs, truth) lines,
    one colour a seed), on shared axes: the ground truth of the argmax architecture against the epoch;
    ``reference``: the table's best cell (dashed). A line breaks where epochs are missing (their argmax has no ground
    truth yet). The y axis shows the ``span`` points below the best value; a point further down (a collapsed cell)
    is drawn on the axis floor as a down-pointing triangle, labelled with its true value once per seed, so one
    disconnected cell at chance does not flatten every other curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = [v for _, seeds in series for _, truth in seeds for v in truth]
    top = max([*values, *([reference] if reference is not None else [])], default=100.0)
    floor = top - span if values and min(values) < top - span else None
    ncols = max(1, min(3, len(series)))
    nrows = max(1, math.ceil(len(series) / ncols))
    size = (max(3.3 * ncols, 6.0), 2.5 * nrows + 0.6)  # at least wide enough for the axis note
    fig, axes = plt.subplots(nrows, ncols, sharex=True, sharey=True, figsize=size, dpi=110, squeeze=False)
    try:
        for ax in axes.flat[len(series):]:
            ax.set_visible(False)
        for ax, (name, seeds) in zip(axes.flat, series):
            for j, (epochs, truth) in enumerate(seeds):
                shown = [v if floor is None else max(v, floor) for v in truth]
                ax.plot(*break_gaps(epochs, shown), color=f"C{j % 10}", marker=".", lw=1.2, alpha=0.85)
                below = [(e, v) for e, v in zip(epochs, truth) if floor is not None and v < floor]
                if below:
                    ax.plot([e for e, _ in below], [floor] * len(below), ls="none", marker="v", ms=6,
                            color=f"C{j % 10}")
                    ax.annotate(f"{min(v for _, v in below):.1f}", (below[0][0], floor), textcoords="offset points",
                                xytext=(2, 5), fontsize=7, color=f"C{j % 10}")
            if reference is not None:
                ax.axhline(reference, color="C7", ls="--", lw=1)
            ax.set_title(name, fontsize=9)
            ax.grid(alpha=0.3)
        if floor is not None:
            axes.flat[0].set_ylim(floor - 1, top + 1)
        note = "; dashed: the table's best cell" if reference is not None else ""
        clipped = f"; ▼ below {floor:.1f}, labelled with the truth" if floor is not None else ""
        fig.supxlabel(f"search epoch (one colour a seed{note}{clipped})", fontsize=8)
        fig.supylabel("ground truth of the argmax (%)", fontsize=9, x=0.005)
        fig.tight_layout(rect=(0.015, 0, 1, 1))
        fig.savefig(path)
    finally:
        plt.close(fig)
    return Path(path)
