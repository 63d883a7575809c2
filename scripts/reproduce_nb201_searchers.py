"""Random search, regularized evolution and TPE on the NAS-Bench-201 oracle, beside the paper's Table 5.

    python scripts/reproduce_nb201_searchers.py                  # 100 runs each, 150 queries: a few minutes
    python scripts/reproduce_nb201_searchers.py --runs 20 --tpe-runs 5 --out /tmp/check

Writes ``results/nb201_searchers.csv`` (one row per run), ``results/nb201_searchers.md`` (mean ± std of the
found cell's test accuracy per searcher x dataset, beside the paper's numbers) and
``results/nb201_searchers.png`` (best-found accuracy against queries, mean over runs, one panel per dataset).

Protocol. Each run searches one dataset's 200-epoch test accuracy (the oracle) for ``--budget`` distinct
architectures and reports the test accuracy of the best one it found. The searchers are built from the shipped
Hydra configs (``conf/searcher/{random,evolution,tpe}.yaml``: REA with population 10 and tournament 3, as the
paper's scripts-search/algos/R-EA.sh). The paper instead searched on CIFAR-10 only, selecting on 12-epoch
validation accuracy, and looked the found cell up on all three datasets; the "transfer" table reproduces that
shape from our CIFAR-10 runs. See the markdown output for why our numbers are optimistic.
"""

from __future__ import annotations

import argparse
import csv
import io
import time
from pathlib import Path

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from nas.atomic import write_text_atomic
from nas.progress import track
from nas.searchers import Searcher
from search_spaces.nb201 import NB201_DATASETS, NB201Oracle, NB201SearchSpace

ROOT = Path(__file__).resolve().parents[1]
SEARCHERS = {"random": "Random search", "evolution": "REA", "tpe": "TPE"}
DATASETS = list(NB201_DATASETS)
PAPER = {  # NAS-Bench-201 (Dong & Yang, ICLR 2020), Table 5: test accuracy of the found cell, mean ± std
    "random": {"cifar10": (93.70, 0.36), "cifar100": (71.04, 1.07), "ImageNet16-120": (44.57, 1.25)},
    "evolution": {"cifar10": (93.92, 0.30), "cifar100": (71.84, 0.99), "ImageNet16-120": (45.54, 1.03)},
}
PAPER_OPTIMUM = {"cifar10": 94.37, "cifar100": 73.51, "ImageNet16-120": 47.31}


def make_searcher(name: str, space: NB201SearchSpace, seed: int) -> Searcher:
    """The searcher exactly as `nas search searcher=<name>` builds it (in-memory study for Optuna)."""
    config = OmegaConf.create({"seed": seed, "searcher": OmegaConf.load(ROOT / "conf" / "searcher" / f"{name}.yaml")})
    return instantiate(config.searcher, space=space)


def accuracy_tables(space: NB201SearchSpace) -> dict[str, dict[str, float]]:
    """Test accuracy of every cell per dataset, read once from the oracle (a dict lookup per query after that)."""
    tables = {}
    for dataset in DATASETS:
        oracle = NB201Oracle(dataset, space)
        tables[dataset] = {str(arch): oracle(arch) for arch in oracle.architectures()}
    return tables


def run_all(tables: dict[str, dict[str, float]], space: NB201SearchSpace, runs: int, tpe_runs: int, budget: int
            ) -> tuple[list[dict], dict[tuple[str, str], np.ndarray]]:
    jobs = [(name, dataset, seed) for name in SEARCHERS for dataset in DATASETS
            for seed in range(tpe_runs if name == "tpe" else runs)]
    rows, curves = [], {}
    for name, dataset, seed in track(jobs, "searches", unit="run"):
        table = tables[dataset]
        started = time.perf_counter()
        history = make_searcher(name, space, seed).search(lambda arch: table[str(arch)], budget)
        seconds = time.perf_counter() - started
        scores = np.array([t.score for t in history.trials])
        curves.setdefault((name, dataset), []).append(np.maximum.accumulate(scores))
        best = history.best
        rows.append({"searcher": name, "search_dataset": dataset, "seed": seed, "queries": len(history),
                     "best_arch": str(best.arch), "found_at_query": best.number + 1,
                     **{f"test_{d}": round(tables[d][str(best.arch)], 4) for d in DATASETS},
                     "best_at_100": round(float(np.maximum.accumulate(scores)[min(100, len(scores)) - 1]), 4),
                     "seconds": round(seconds, 3)})
    return rows, {key: np.array(value) for key, value in curves.items()}


def mean_std(values: list[float]) -> str:
    return f"{np.mean(values):.2f} ± {np.std(values, ddof=1):.2f}" if len(values) > 1 else f"{values[0]:.2f}"


def markdown(rows: list[dict], runs: int, tpe_runs: int, budget: int, seconds: float,
             optimum: dict[str, float]) -> str:
    def cell(name: str, search: str, report: str, column: str = "test") -> str:
        picked = [r[f"{column}_{report}"] if column == "test" else r[column]
                  for r in rows if r["searcher"] == name and r["search_dataset"] == search]
        return mean_std(picked)

    def paper(name: str, dataset: str) -> str:
        mean, std = PAPER[name][dataset]
        return f"{mean:.2f} ± {std:.2f}"

    count = {name: tpe_runs if name == "tpe" else runs for name in SEARCHERS}
    header = "| searcher | runs | " + " | ".join(f"{d} (ours) | {d} (paper)" for d in DATASETS) + " |"
    rule = "| --- | --- | " + " | ".join("--- | ---" for _ in DATASETS) + " |"
    lines = [
        "## NAS-Bench-201: searchers on the oracle", "",
        f"Test accuracy (%) of the best cell found in **{budget} queries**, mean ± std over runs (seeds 0..n-1); "
        "generated by `python scripts/reproduce_nb201_searchers.py` "
        f"({seconds / 60:.1f} min on one CPU core). Paper: NAS-Bench-201 (Dong & Yang, ICLR 2020), Table 5.", "",
        "**Searched on each dataset's own test accuracy** (what the oracle objective does):", "",
        header, rule,
    ]
    for name, label in SEARCHERS.items():
        lines.append(f"| {label} | {count[name]} | " + " | ".join(
            f"{cell(name, d, d)} | {paper(name, d) if name in PAPER else '—'}" for d in DATASETS) + " |")
    lines.append("| optimum of the table | — | " + " | ".join(
        f"{optimum[d]:.2f} | {PAPER_OPTIMUM[d]:.2f}" for d in DATASETS) + " |")
    lines += [
        "", "**Searched on CIFAR-10 only, found cell looked up on every dataset** (the paper's shape: same runs as "
        "the CIFAR-10 column above):", "",
        header, rule,
    ]
    for name, label in SEARCHERS.items():
        lines.append(f"| {label} | {count[name]} | " + " | ".join(
            f"{cell(name, 'cifar10', d)} | {paper(name, d) if name in PAPER else '—'}" for d in DATASETS) + " |")
    lines += [
        "", f"At **100 queries** instead of {budget} (searched on each dataset itself):", "",
        "| searcher | " + " | ".join(DATASETS) + " |", "| --- | " + " | ".join("---" for _ in DATASETS) + " |",
    ]
    for name, label in SEARCHERS.items():
        lines.append(f"| {label} | " + " | ".join(cell(name, d, d, "best_at_100") for d in DATASETS) + " |")
    lines += [
        "", "![best-found accuracy against queries](nb201_searchers.png)", "",
        "How to read it:", "",
        f"- **Budget.** The paper gave every searcher 12,000 s of *simulated* time on CIFAR-10, each query costing "
        "the cell's 12-epoch training time (the authors' `exps/algos/R_EA.py`, `scripts-search/algos/R-EA.sh`). Our "
        "table has no training times, so we count queries instead: 12,000 s is the 12-epoch training time of roughly "
        f"100–150 cells, and we use {budget} (the upper end; the 100-query table and the curves show the "
        "sensitivity). This is an estimate, not a measured conversion.",
        "- **Optimistic by construction.** The paper selects the best cell by its *12-epoch validation* accuracy (a "
        "noisy, low-fidelity proxy) and reports the cell's 200-epoch *test* accuracy. Our table only has the "
        "200-epoch test accuracy, so we select on the very number we report: the found cell is the true best of "
        "those queried, and a searcher cannot be misled by proxy noise. Expect our means above the paper's and our "
        "stds below them; the comparison checks the ordering (random < REA) and the scale of the gap, not equality.",
        "- **Per-dataset search is even more optimistic** than the paper, which searched CIFAR-10 only and "
        "transferred; the second table reproduces that transfer shape (still selecting on CIFAR-10 *test* "
        "accuracy).",
        "- **Duplicates.** Our searchers never score a cell twice (REA re-mutates a child already seen; TPE is told "
        "the cached score), while the paper's REA re-queries duplicates and pays for them: a small advantage to us "
        "at equal queries.",
        "- The paper's Table 5 has no TPE row (its model-based baseline is BOHB).",
    ]
    return "\n".join(lines) + "\n"


def plot(curves: dict[tuple[str, str], np.ndarray], optimum: dict[str, float], budget: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(DATASETS), figsize=(4.2 * len(DATASETS), 3.6), dpi=120)
    for ax, dataset in zip(axes, DATASETS):
        for index, (name, label) in enumerate(SEARCHERS.items()):
            runs = curves[(name, dataset)]
            queries = np.arange(1, runs.shape[1] + 1)
            ax.plot(queries, runs.mean(axis=0), color=f"C{index}", label=f"{label} ({len(runs)} runs)")
            if name in PAPER:
                ax.axhline(PAPER[name][dataset][0], color=f"C{index}", linestyle=":", linewidth=1)
        ax.axhline(optimum[dataset], color="black", linestyle="--", linewidth=1, label="optimum")
        low = min(curves[(name, dataset)].mean(axis=0)[min(20, budget) - 1] for name in SEARCHERS)
        ax.set_ylim(low - 0.5, optimum[dataset] + 0.3)
        ax.set_title(dataset)
        ax.set_xlabel("queries (distinct cells scored)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("best test accuracy found (%), mean over runs")
    axes[0].legend(loc="lower right", fontsize=8)
    fig.suptitle("NAS-Bench-201 oracle: best-found accuracy vs queries (dotted: paper's RS / REA means)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100, help="runs (seeds) of random search and REA per dataset")
    parser.add_argument("--tpe-runs", type=int, default=100, help="runs of TPE per dataset")
    parser.add_argument("--budget", type=int, default=150, help="queries (distinct cells) per run")
    parser.add_argument("--out", type=Path, default=ROOT / "results")
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.perf_counter()
    space = NB201SearchSpace()
    tables = accuracy_tables(space)
    rows, curves = run_all(tables, space, args.runs, args.tpe_runs, args.budget)
    seconds = time.perf_counter() - started
    optimum = {d: max(table.values()) for d, table in tables.items()}

    args.out.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(args.out / "nb201_searchers.csv", buffer.getvalue())
    text = markdown(rows, args.runs, args.tpe_runs, args.budget, seconds, optimum)
    write_text_atomic(args.out / "nb201_searchers.md", text)
    plot(curves, optimum, args.budget, args.out / "nb201_searchers.png")
    print(text)
    print(f"wrote {args.out / 'nb201_searchers.csv'}, .md, .png in {seconds:.0f} s")


if __name__ == "__main__":
    main()
