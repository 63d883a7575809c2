"""Summary statistics of a ground-truth table, and its markdown data card."""

from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np

from nas.atomic import write_text_atomic
from nas.benchmarks.records import RecordsError
from nas.metrics import kendall_tau, spearman_rho


def summarize(records: list[dict]) -> dict:
    """Counts, accuracy range, seed-to-seed agreement and the parameter-count baseline of a table.

    Seed-to-seed numbers compare the two lowest seeds over the architectures that have both;
    the baselines rank the per-architecture mean accuracy. With four or more seeds, the split-half numbers compare
    the mean over the lower half of the seeds with the mean over the upper half, and the Spearman-Brown formula
    2r / (1 + r) projects the split-half Spearman r to the reliability of the mean over all seeds (what a ranker is
    scored against): how far more seeds lift a table's ceiling.
    """
    by_arch: dict[str, dict[int, dict]] = {}
    for r in records:
        by_arch.setdefault(r["arch"], {})[int(r["seed"])] = r
    if not by_arch:
        raise RecordsError("no records to summarize")
    seeds = sorted({s for runs in by_arch.values() for s in runs})
    complete = {a: runs for a, runs in by_arch.items() if len(runs) == len(seeds)}
    mean = {a: statistics.fmean(float(r["accuracy"]) for r in runs.values()) for a, runs in complete.items()}
    summary = {
        "records": len(records),
        "architectures": len(by_arch),
        "complete_architectures": len(complete),
        "seeds": seeds,
        "recipe": sorted({r["recipe"] for r in records}),
        "train_hours": sum(float(r["seconds"]) for r in records) / 3600,
    }
    if len(mean) >= 2:
        values = np.array(list(mean.values()))
        summary.update(accuracy_min=float(values.min()), accuracy_median=float(np.median(values)),
                       accuracy_max=float(values.max()))
        params = [float(next(iter(complete[a].values()))["params"]) for a in mean]
        flops = [float(next(iter(complete[a].values()))["flops"]) for a in mean]
        summary["params_tau"] = kendall_tau(params, list(mean.values()))
        summary["params_rho"] = spearman_rho(params, list(mean.values()))
        summary["flops_tau"] = kendall_tau(flops, list(mean.values()))
    if len(seeds) >= 2 and len(complete) >= 2:
        a = [float(runs[seeds[0]]["accuracy"]) for runs in complete.values()]
        b = [float(runs[seeds[1]]["accuracy"]) for runs in complete.values()]
        summary["seed_tau"] = kendall_tau(a, b)
        summary["seed_rho"] = spearman_rho(a, b)
        summary["seed_mean_abs_diff"] = float(np.mean(np.abs(np.array(a) - np.array(b))))
        cut = np.quantile(list(mean.values()), 0.75)
        top = [i for i, m in enumerate(mean.values()) if m >= cut]
        if len(top) >= 2:
            summary["top_quarter_seed_tau"] = kendall_tau([a[i] for i in top], [b[i] for i in top])
            summary["top_quarter_params_tau"] = kendall_tau([params[i] for i in top],
                                                            [list(mean.values())[i] for i in top])
    if len(seeds) >= 4 and len(complete) >= 2:
        lower, upper = seeds[:len(seeds) // 2], seeds[len(seeds) // 2:]
        a = [statistics.fmean(float(runs[k]["accuracy"]) for k in lower) for runs in complete.values()]
        b = [statistics.fmean(float(runs[k]["accuracy"]) for k in upper) for runs in complete.values()]
        rho = spearman_rho(a, b)
        summary.update(split_half_seeds=(lower, upper), split_half_tau=kendall_tau(a, b), split_half_rho=rho,
                       mean_reliability=2 * rho / (1 + rho) if rho > -1 else float("nan"))
    return summary


def card_markdown(summary: dict, title: str, recipe_text: str) -> str:
    """A short data card for a ground-truth table."""
    s = summary
    lines = [f"# {title}", "",
             f"- records: {s['records']} ({s['architectures']} architectures, {s['complete_architectures']} with "
             f"every seed {s['seeds']}); stand-alone training time {s['train_hours']:.1f} core-hours",
             f"- recipe hash: {', '.join(s['recipe'])}; recipe: {recipe_text}"]
    if "accuracy_min" in s:
        lines.append(f"- accuracy (mean over seeds): min {s['accuracy_min']:.2f}, median {s['accuracy_median']:.2f}, "
                     f"max {s['accuracy_max']:.2f}")
    if "seed_tau" in s:
        lines.append(f"- **seed-to-seed agreement** (seed {s['seeds'][0]} vs {s['seeds'][1]}): Kendall tau "
                     f"{s['seed_tau']:.3f}, Spearman {s['seed_rho']:.3f}, mean |difference| "
                     f"{s['seed_mean_abs_diff']:.2f} points — the ceiling for any supernet's ranking")
    if "split_half_tau" in s:
        lower, upper = s["split_half_seeds"]
        lines.append(f"- **split-half agreement** (mean of seeds {list(lower)} vs mean of {list(upper)}): Kendall tau "
                     f"{s['split_half_tau']:.3f}, Spearman {s['split_half_rho']:.3f}; projected Spearman reliability "
                     f"of the mean over all {len(lower) + len(upper)} seeds (Spearman-Brown) "
                     f"{s['mean_reliability']:.3f}")
    if "params_tau" in s:
        lines.append(f"- parameter count alone ranks the mean accuracy with Kendall tau {s['params_tau']:.3f} "
                     f"(Spearman {s['params_rho']:.3f}); FLOPs alone {s['flops_tau']:.3f}")
    if "top_quarter_seed_tau" in s:
        lines.append(f"- inside the true top quarter: seed-to-seed tau {s['top_quarter_seed_tau']:.3f}, "
                     f"params tau {s['top_quarter_params_tau']:.3f}")
    return "\n".join(lines) + "\n"


def write_card(records: list[dict], path: str | Path, title: str, recipe_text: str) -> Path:
    write_text_atomic(path, card_markdown(summarize(records), title, recipe_text))
    return Path(path)
