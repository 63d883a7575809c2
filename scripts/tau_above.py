"""Is a board row's Kendall tau above another row's? One-sided one-sample t-test of each row's per-seed taus
(`leaderboard/per_seed.json`, written by `nas leaderboard`) against the reference row's mean tau.

    python scripts/tau_above.py "mean_rank_anchored (no training)" --rows "synflow + jacob_cov (mean rank)"
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from scipy.stats import ttest_1samp


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", help="the row name to test against (its mean tau over seeds, taken as exact)")
    parser.add_argument("--rows", default="", help="only rows whose name contains this text (default: every row)")
    parser.add_argument("--per-seed", default="leaderboard/per_seed.json", type=Path)
    args = parser.parse_args(argv)
    if not args.per_seed.is_file():
        print(f"error: {args.per_seed} does not exist: run `nas leaderboard mode=collect` first", file=sys.stderr)
        return 2
    taus: dict[str, list[float]] = {}
    for record in json.loads(args.per_seed.read_text()):
        taus.setdefault(record["row"], []).append(float(record["kendall_tau"]))
    if args.reference not in taus:
        print(f"error: no row {args.reference!r} in {args.per_seed}; rows: {', '.join(taus)}", file=sys.stderr)
        return 2
    reference = statistics.fmean(taus[args.reference])
    print(f"reference: {args.reference}, tau {reference:.3f}")
    for row, values in taus.items():
        if row == args.reference or args.rows not in row or len(values) < 2:
            continue
        p = ttest_1samp(values, reference, alternative="greater").pvalue
        print(f"{row}: tau {statistics.fmean(values):.3f} over {len(values)} seeds, p(above) = {p:.3g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
