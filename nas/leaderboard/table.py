"""The board's views of its rows: the markdown table, the CSV and the plots."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

from nas import plots
from nas.csv_file import write_csv as write_csv_file
from nas.leaderboard.runs import Row
from nas.leaderboard.scoring import COST_KEYS, HEADERS, LIMITED, METRICS, NAN_PAIR, metrics_of

KIND_COLORS = {"supernet": "C0", "baseline": "C7", "free": "C7", "free combined": "C5", "combined": "C1",
               "uses ground truth": "C3", "ceiling": "C2"}


def _header(metric: str, flops_limit: float | None = None) -> str:
    if metric == LIMITED:
        return f"truth of predicted best ≤ {flops_limit / 1e6:g} MFLOPs" if flops_limit else "truth of best ≤ limit"
    return HEADERS[METRICS.index(metric)]


def _num(value: float, digits: int) -> str:
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text  # no "-0.000"


def _fmt(pair: tuple[float, float], digits: int = 3) -> str:
    mean, std = pair
    if math.isnan(mean):
        return "–"
    return f"{_num(mean, digits)} ± {_num(std, digits)}" if std else _num(mean, digits)


def _interval(pair: tuple[float, float] | None) -> str:
    if pair is None or any(math.isnan(v) for v in pair):
        return "–"
    return f"[{_num(pair[0], 3)}, {_num(pair[1], 3)}]"


def _p(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "–"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _seconds(value: float) -> str:
    if math.isnan(value):
        return "–"
    return f"{value:.2g}" if value < 0.01 else f"{value:.3f}"


def render_table(results: list[dict], flops_limit: float | None = None, reference: str | None = None,
                 confidence: float = 0.95) -> str:
    """The markdown table of the leaderboard (one line per row).

    Besides the metrics (mean ± std over seeds): ``kind``, the interval of the mean tau over cells, Welch's p
    against ``reference``, the p-value that the row's mean tau is above the best free ranker's, and the cost per
    child of the free rankers a row uses. A row's ``marks`` (footnote signs) follow its name.
    """
    metrics = metrics_of(results)
    head = ["method", "seeds", "kind", _header(metrics[0], flops_limit), f"tau {100 * confidence:g}% CI",
            f"p vs {reference or 'reference'}", "p > best free",
            *(_header(m, flops_limit) for m in metrics[1:]), "train (min)", "state (MiB)", "peak memory (MiB)",
            "scoring (s)", "child evals",
            "free s / child", "reproduce"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        name = f"{r['name']} {r['marks']}" if r.get("marks") else r["name"]
        values = [_fmt(r[m], 2 if m in ("best_predicted_truth", LIMITED) else 3) for m in metrics]
        cells = [name, str(r["seeds"]), r["kind"], values[0], _interval(r.get("kendall_ci")),
                 _p(r.get("p_vs_reference")), _p(r.get("p_above_best_free")), *values[1:],
                 _fmt(r["train_minutes"], 1), _fmt(r.get("state_mib", NAN_PAIR), 2),
                 _fmt(r.get("peak_memory_mib", NAN_PAIR), 0), _fmt(r["scoring_seconds"], 0),
                 _fmt(r["child_evaluations"], 0),
                 _seconds(r.get("seconds_per_child", NAN_PAIR)[0]),
                 f"`{r['command']}`" if r["command"] != "-" else "–"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


EXTRA_COLUMNS = ("kendall_tau_ci_low", "kendall_tau_ci_high", "p_vs_reference", "p_above_best_free",
                 "free_seconds_per_child", "uses")
"""CSV columns after the metrics' mean and std (before ``command``)."""


def _extras(r: dict) -> dict[str, str]:
    low, high = r.get("kendall_ci") or (math.nan, math.nan)
    numbers = (low, high, r.get("p_vs_reference", math.nan), r.get("p_above_best_free", math.nan),
               r.get("seconds_per_child", NAN_PAIR)[0])
    return {**{k: f"{float(v):.6g}" for k, v in zip(EXTRA_COLUMNS, numbers)}, "uses": r.get("uses", "")}


def write_csv(results: list[dict], path: Path) -> None:
    columns = ["name", "kind", "seeds", "epochs"]
    metrics = [*metrics_of(results), *COST_KEYS]
    stats = [f"{m}_{s}" for m in metrics for s in ("mean", "std")]
    rows = [{**{c: r[c] for c in columns},
             **dict(zip(stats, (f"{x:.6g}" for m in metrics for x in r.get(m, NAN_PAIR)))),
             **_extras(r), "command": r["command"].replace('"', "'")} for r in results]
    write_csv_file(path, [*columns, *stats, *EXTRA_COLUMNS, "command"], rows, always_quote={"command"},
                   line_end="\n")


def plot_scatter(row: Row, truth: dict[str, float], path: Path) -> None:
    """Supernet accuracy of every ground-truth cell against its truth, one colour per seed of ``row``."""
    cells = list(truth)
    plots.seeds_against_truth(row.name, [(f"seed {run.seed}", [truth[a] for a in cells],
                                          [run.scores[a] for a in cells]) for run in row.runs], path)


def plot_tau_bars(results: list[dict], path: Path) -> None:
    """Kendall tau of every row: supernets blue, free rankers grey (their combinations brown), combined orange,
    calibrated red, ceiling green."""
    plots.tau_bars([textwrap.fill(r["name"], 60) for r in results], [r["kendall_tau"][0] for r in results],
                   [r["kendall_tau"][1] for r in results], [KIND_COLORS.get(r["kind"], "C7") for r in results], path)


def plot_tau_vs_epochs(results: list[dict], path: Path) -> None:
    """Kendall tau of the budget-curve rows against their epochs, the params baseline as a line."""
    points = sorted((r["epochs"], r["kendall_tau"], r["kendall_tau_top10"]) for r in results if r["epochs"])
    baseline = [r for r in results if r["name"].startswith("params")]
    plots.tau_vs_epochs([p[0] for p in points], [p[1] for p in points], [p[2] for p in points],
                        baseline[0]["kendall_tau"][0] if baseline else None, path)
