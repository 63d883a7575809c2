"""Does one search-board row find better cells than another? Paired t-tests over seeds of the found cells' truth.

    python scripts/compare_searches.py epnas:spos_re tpe:spos_re rs_ws:spos_re       # searchers on the same supernets
    python scripts/compare_searches.py enas_controller:enas enas_buffer_controller:enas_buffer --pool
    python scripts/compare_searches.py enas:rs_ws --unpaired                           # different supernets: Welch

Reads `leaderboard/search/search_runs.csv` (one line per run, written by `nas searchboard`). Each `A:B` compares
row A with row B: the truth (ground-truth accuracy) of the cell A found minus the one B found, seed by seed, over
the seeds both rows have, with a two-sided paired t-test (rows that search the same supernet of each seed pair
naturally). `--unpaired` uses Welch's t-test on the two rows' seeds instead; `--pool` also tests every pair's
per-seed differences together. Runs whose truth is still pending are left out, and said so.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
from pathlib import Path

from scipy.stats import ttest_1samp, ttest_ind


def _truths(path: Path) -> dict[str, dict[int, float]]:
    rows: dict[str, dict[int, float]] = {}
    with path.open(newline="") as handle:
        for record in csv.DictReader(handle):
            if record.get("truth") not in (None, ""):
                rows.setdefault(record["row"], {})[int(record["seed"])] = float(record["truth"])
            else:
                rows.setdefault(record["row"], {})
    return rows


def _mean_std(values: list[float]) -> str:
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}" if len(values) > 1 else \
        f"{values[0]:.2f}"


def _p(value: float) -> str:
    return "n/a (no spread or too few seeds)" if value != value else f"{value:.3g}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pairs", nargs="+", help="A:B, row A against row B")
    parser.add_argument("--runs", default="leaderboard/search/search_runs.csv", type=Path)
    parser.add_argument("--unpaired", action="store_true", help="Welch's t-test instead of the paired one")
    parser.add_argument("--pool", action="store_true", help="also test all pairs' per-seed differences together")
    args = parser.parse_args(argv)
    if not args.runs.is_file():
        print(f"error: {args.runs} does not exist: run `nas searchboard mode=collect` first", file=sys.stderr)
        return 2
    truths = _truths(args.runs)
    pooled: list[float] = []
    for pair in args.pairs:
        a, sep, b = pair.partition(":")
        if not sep or not a or not b:
            print(f"error: {pair!r} is not A:B (two row names of {args.runs}, joined by a colon)", file=sys.stderr)
            return 2
        for name in (a, b):
            if name not in truths:
                print(f"error: no row {name!r} in {args.runs}; rows: {', '.join(sorted(truths))}", file=sys.stderr)
                return 2
        if args.unpaired:
            xs, ys = list(truths[a].values()), list(truths[b].values())
            if not xs or not ys:
                print(f"{a} vs {b}: no truth yet")
                continue
            constant = len(set(xs)) == 1 and len(set(ys)) == 1  # t-test undefined: no spread in either row
            p = ttest_ind(xs, ys, equal_var=False).pvalue if len(xs) > 1 and len(ys) > 1 and not constant \
                else float("nan")
            print(f"{a} {_mean_std(xs)} ({len(xs)} seeds) vs {b} {_mean_std(ys)} ({len(ys)} seeds): "
                  f"{statistics.mean(xs) - statistics.mean(ys):+.2f}, Welch p = {_p(p)}")
            continue
        seeds = sorted(set(truths[a]) & set(truths[b]))
        if not seeds:
            print(f"{a} vs {b}: no seed has both truths yet")
            continue
        diffs = [truths[a][s] - truths[b][s] for s in seeds]
        pooled += diffs
        p = ttest_1samp(diffs, 0.0).pvalue if len(set(diffs)) > 1 else float("nan")  # constant: undefined
        wins = sum(d > 0 for d in diffs)
        print(f"{a} vs {b}, seeds {seeds}: {_mean_std([truths[a][s] for s in seeds])} vs "
              f"{_mean_std([truths[b][s] for s in seeds])}, difference {statistics.mean(diffs):+.2f} "
              f"({', '.join(f'{d:+.2f}' for d in diffs)}), {wins}/{len(diffs)} better, paired p = {_p(p)}")
    if args.pool and pooled:
        p = ttest_1samp(pooled, 0.0).pvalue if len(pooled) > 1 else float("nan")
        print(f"pooled: {len(pooled)} paired seeds, difference {statistics.mean(pooled):+.2f}, paired p = {_p(p)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
