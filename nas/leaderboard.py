"""Leaderboard: how well each training method ranks the ground-truth cells, over seeds.

The runs are ordinary `nas run` folders. Collecting a run reads its supernet's scores of the
ground-truth cells (``benchmark_scores.json``); cells that the table gained since the run are
scored from the run's checkpoint, so every row is measured on the same, current table.

Every collected run is also archived as one small JSON file (scores, costs, the overrides that made it), so the
leaderboard can be collected again, and new rows added to it, after the run folders and their checkpoints are
gone (they are large and are not committed).
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from nas.benchmarks.oracle import Oracle
from nas.errors import ConfigError
from nas.metrics import rank_report
from nas.report import write_text_atomic

METRICS = ("kendall_tau", "spearman_rho", "precision_at_top10", "kendall_tau_top10", "best_predicted_truth")
HEADERS = ("Kendall tau", "Spearman rho", "P@top-10%", "tau in true top-10%", "truth of predicted best")
LIMITED = "best_under_flops_truth"  # with a FLOPs limit: truth of the best-scored cell within the limit


def metrics_of(results: list[dict]) -> tuple[str, ...]:
    """The metric columns of ``results``: METRICS, plus the FLOPs-limited one when the rows have it."""
    return (*METRICS, LIMITED) if results and LIMITED in results[0] else METRICS


def _header(metric: str, flops_limit: float | None = None) -> str:
    if metric == LIMITED:
        return f"truth of predicted best ≤ {flops_limit / 1e6:g} MFLOPs" if flops_limit else "truth of best ≤ limit"
    return HEADERS[METRICS.index(metric)]


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


@dataclass
class RunScores:
    """One trained supernet's scores of the ground-truth cells, and what they cost."""

    seed: int
    folder: Path
    scores: dict[str, float]
    train_seconds: float = 0.0
    scoring_seconds: float = 0.0
    child_evaluations: int = 0


@dataclass
class Row:
    """One method of the leaderboard: several seeds of the same command."""

    name: str
    command: str
    runs: list[RunScores] = field(default_factory=list)
    kind: str = "supernet"  # supernet | baseline | ceiling
    epochs: float | None = None
    overrides: list[str] = field(default_factory=list)  # the `nas run` overrides of its runs, seed excluded


def read_run(folder: Path, seed: int) -> RunScores:
    """A finished run folder's scores and costs (``benchmark_scores.json`` + ``summary.json``)."""
    scores_file, summary_file = folder / "benchmark_scores.json", folder / "summary.json"
    if not summary_file.is_file() or not scores_file.is_file():
        raise ConfigError(f"{folder} is not a finished `nas run` with a benchmark (summary.json or "
                          "benchmark_scores.json missing): run it, or leave it out of the leaderboard")
    summary = json.loads(summary_file.read_text())
    rows = json.loads(scores_file.read_text())
    return RunScores(
        seed=seed, folder=folder, scores={r["arch"]: float(r["supernet_accuracy"]) for r in rows},
        train_seconds=float(summary.get("train_seconds", 0.0)),
        scoring_seconds=float(summary.get("benchmark_seconds", 0.0)),
        child_evaluations=int(summary.get("child_evaluations", 0)),
    )


ARCHIVE_KEYS = ("row", "seed", "overrides", "epochs", "train_seconds", "scoring_seconds", "child_evaluations",
                "scores")


def archive_run(run: RunScores, row: str, overrides: list[str], epochs: float | None, path: Path) -> None:
    """Write one run's scores and costs to ``path`` (atomically): what collecting needs once its folder is gone."""
    record = {"row": row, "seed": run.seed, "overrides": list(overrides), "epochs": epochs,
              "train_seconds": run.train_seconds, "scoring_seconds": run.scoring_seconds,
              "child_evaluations": run.child_evaluations, "scores": dict(sorted(run.scores.items()))}
    write_text_atomic(path, json.dumps(record, indent=0) + "\n")


def read_archived_run(path: Path) -> tuple[RunScores, list[str], float | None]:
    """An archived run (see :func:`archive_run`): its scores and costs, its overrides and its epochs.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "seed0.json"
    >>> archive_run(RunScores(0, Path("."), {"a": 1.0}, 60.0, 2.0, 7), "spos", ["experiment=spos"], 30, path)
    >>> run, overrides, epochs = read_archived_run(path)
    >>> run.scores, run.train_seconds, overrides, epochs
    ({'a': 1.0}, 60.0, ['experiment=spos'], 30)
    """
    try:
        record = json.loads(path.read_text())
        missing = [k for k in ARCHIVE_KEYS if k not in record]
        if missing:
            raise ValueError(f"missing keys {missing}")
        run = RunScores(seed=int(record["seed"]), folder=path, scores={a: float(v) for a, v in record["scores"].items()},
                        train_seconds=float(record["train_seconds"]),
                        scoring_seconds=float(record["scoring_seconds"]),
                        child_evaluations=int(record["child_evaluations"]))
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise ConfigError(f"archived leaderboard run {path} is unreadable ({exc}): delete it and rerun its row "
                          "with `nas leaderboard only=[<row>]`") from None
    return run, list(record["overrides"]), record["epochs"]


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


def aggregate(row: Row, truth: dict[str, float], flops: dict[str, float] | None = None,
              flops_limit: float | None = None) -> dict:
    """Mean and standard deviation over the row's seeds of every metric and cost."""
    reports = [run_report(run, truth, flops, flops_limit) for run in row.runs]
    result: dict = {"name": row.name, "kind": row.kind, "command": row.command, "seeds": len(row.runs),
                    "epochs": row.epochs}
    for metric in METRICS if flops_limit is None else (*METRICS, LIMITED):
        result[metric] = mean_std([r[metric] for r in reports])
    result["train_minutes"] = mean_std([r.train_seconds / 60 for r in row.runs])
    result["scoring_seconds"] = mean_std([r.scoring_seconds for r in row.runs])
    result["child_evaluations"] = mean_std([float(r.child_evaluations) for r in row.runs])
    result["per_seed"] = [{"seed": run.seed, **rep} for run, rep in zip(row.runs, reports)]
    return result


def flops_of(oracle: Oracle, truth: dict[str, float]) -> dict[str, float]:
    return {a: float(oracle.query(a)["flops"]) for a in truth}


def baseline_rows(oracle: Oracle, truth: dict[str, float], flops_limit: float | None = None) -> list[dict]:
    """Rankers that need no training: parameter count, FLOPs, and one ground-truth seed against the other."""
    rows = []
    flops = flops_of(oracle, truth) if flops_limit is not None else None
    for cost in ("params", "flops"):
        scores = {a: float(oracle.query(a)[cost]) for a in truth}
        run = RunScores(seed=-1, folder=Path("."), scores=scores)
        result = aggregate(Row(f"{cost} (no training)", "-", [run], kind="baseline"), truth, flops, flops_limit)
        for key in ("train_minutes", "scoring_seconds", "child_evaluations"):
            result[key] = (float("nan"), 0.0)
        rows.append(result)
    seed_keys = sorted({k for a in truth for k in oracle.query(a) if k.startswith("accuracy_seed")})
    if len(seed_keys) >= 2:
        a, b = seed_keys[:2]
        first = {x: oracle.query(x)[a] for x in truth}
        second = {x: oracle.query(x)[b] for x in truth}
        rep = rank_report([first[x] for x in truth], [second[x] for x in truth])
        if flops_limit is not None:
            rep[LIMITED] = best_under_limit(truth, truth, flops, flops_limit)
        row = {"name": f"ground truth {a[-5:]} vs {b[-5:]} (ceiling)", "kind": "ceiling", "command": "-", "seeds": 1,
               "epochs": None, "train_minutes": (float("nan"), 0.0), "scoring_seconds": (float("nan"), 0.0),
               "child_evaluations": (float("nan"), 0.0), "per_seed": [rep]}
        row.update({m: (rep[m], 0.0) for m in METRICS if m in rep})
        if flops_limit is not None:
            row[LIMITED] = (rep[LIMITED], 0.0)
        rows.append(row)
    return rows


def _fmt(pair: tuple[float, float], digits: int = 3) -> str:
    mean, std = pair
    if math.isnan(mean):
        return "–"
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if std else f"{mean:.{digits}f}"


def render_table(results: list[dict], flops_limit: float | None = None) -> str:
    """The markdown table of the leaderboard (one line per row)."""
    metrics = metrics_of(results)
    head = ["method", "seeds", *(_header(m, flops_limit) for m in metrics), "train (min)", "scoring (s)",
            "child evals", "reproduce"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        cells = [r["name"], str(r["seeds"]),
                 *(_fmt(r[m], 2 if m in ("best_predicted_truth", LIMITED) else 3) for m in metrics),
                 _fmt(r["train_minutes"], 1), _fmt(r["scoring_seconds"], 0), _fmt(r["child_evaluations"], 0),
                 f"`{r['command']}`" if r["command"] != "-" else "–"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_csv(results: list[dict], path: Path) -> None:
    columns = ["name", "kind", "seeds", "epochs"]
    metrics = [*metrics_of(results), "train_minutes", "scoring_seconds", "child_evaluations"]
    lines = [",".join(columns + [f"{m}_{s}" for m in metrics for s in ("mean", "std")] + ["command"])]
    for r in results:
        values = [str(r[c]) if r[c] is not None else "" for c in columns]
        values += [f"{x:.6g}" for m in metrics for x in r[m]]
        lines.append(",".join([*values, '"' + r["command"].replace('"', "'") + '"']))
    write_text_atomic(path, "\n".join(lines) + "\n")


def plot_scatter(row: Row, truth: dict[str, float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4), dpi=110)
    for run in row.runs:
        cells = list(truth)
        ax.scatter([truth[a] for a in cells], [run.scores[a] for a in cells], s=10, alpha=0.6,
                   label=f"seed {run.seed}")
    ax.set_xlabel("ground-truth accuracy (%)")
    ax.set_ylabel("supernet accuracy (%)")
    ax.set_title(row.name)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_tau_bars(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["name"] for r in results]
    means = [r["kendall_tau"][0] for r in results]
    stds = [r["kendall_tau"][1] for r in results]
    colors = ["C0" if r["kind"] == "supernet" else "C7" if r["kind"] == "baseline" else "C2" for r in results]
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(names) + 1.2), dpi=110)
    ax.barh(names, means, xerr=stds, color=colors, capsize=3)
    ax.invert_yaxis()
    ax.set_xlabel("Kendall tau against ground truth (mean ± std over seeds)")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_tau_vs_epochs(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = sorted((r["epochs"], r["kendall_tau"], r["kendall_tau_top10"]) for r in results if r["epochs"])
    fig, ax = plt.subplots(figsize=(5, 3.5), dpi=110)
    xs = [p[0] for p in points]
    ax.errorbar(xs, [p[1][0] for p in points], yerr=[p[1][1] for p in points], marker="o", capsize=3,
                label="global Kendall tau")
    ax.errorbar(xs, [p[2][0] for p in points], yerr=[p[2][1] for p in points], marker="s", capsize=3,
                label="tau in true top-10%")
    baseline = [r for r in results if r["name"].startswith("params")]
    if baseline:
        ax.axhline(baseline[0]["kendall_tau"][0], color="C7", ls="--", label="params alone")
    ax.set_xlabel("supernet epochs (each point its own run, cosine schedule to 0)")
    ax.set_ylabel("Kendall tau")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
