"""Do gradient-based searches drift to parameter-free operations? Per search-board run, how many of the cell's six
edges hold a parameter-free op (skip_connect, avg_pool_3x3, none) in the argmax architecture, epoch by epoch.

    python scripts/parameter_free_drift.py                       # every row of leaderboard/search/anytime.csv
    python scripts/parameter_free_drift.py --rows darts drnas --epochs 1 10 20 30

Reads `leaderboard/search/anytime.csv` (one line per run and epoch, written by `nas searchboard`); prints one
markdown line per run (its count at each asked epoch, the last point when an epoch is past the run's end) and one
per row (the mean over its seeds). DARTS' known failure on NAS-Bench-201 is such a drift: a cell of skip
connections ("collapse"), which the count shows as it grows towards 6.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
from pathlib import Path

from nas.errors import InvalidArchitectureError
from search_spaces.nb201.architecture import NB201Architecture

PARAMETER_FREE = ("skip_connect", "avg_pool_3x3", "none")


def parameter_free_edges(cell: str) -> int:
    """Edges of a NAS-Bench-201 cell string whose op has no weights.

    Example:
        >>> parameter_free_edges("|avg_pool_3x3~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|nor_conv_1x1~1|none~2|")
        4
    """
    try:
        arch = NB201Architecture.from_string(cell)
    except InvalidArchitectureError as error:
        raise ValueError(f"{cell!r} is not a NAS-Bench-201 cell string (6 edges): {error}") from None
    return sum(op in PARAMETER_FREE for op in arch.values())


def read_curves(path: Path) -> dict[tuple[str, int], dict[int, int]]:
    curves: dict[tuple[str, int], dict[int, int]] = {}
    with path.open(newline="") as handle:
        for record in csv.DictReader(handle):
            key = (record["row"], int(record["seed"]))
            curves.setdefault(key, {})[int(record["epoch"])] = parameter_free_edges(record["arch"])
    return curves


def at(curve: dict[int, int], epoch: int) -> int:
    """The count at ``epoch``, or at the run's last epoch before it."""
    return curve[max(e for e in curve if e <= epoch)] if any(e <= epoch for e in curve) else curve[min(curve)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--anytime", default="leaderboard/search/anytime.csv", type=Path)
    parser.add_argument("--rows", nargs="*", help="rows to show (default: all)")
    parser.add_argument("--epochs", nargs="+", type=int, default=[1, 5, 10, 15, 20, 25, 30])
    args = parser.parse_args(argv)
    if not args.anytime.is_file():
        print(f"error: {args.anytime} does not exist: run `nas searchboard mode=collect` first", file=sys.stderr)
        return 2
    try:
        curves = read_curves(args.anytime)
    except (ValueError, KeyError) as error:
        print(f"error: {args.anytime}: {error}", file=sys.stderr)
        return 2
    rows = args.rows or sorted({row for row, _ in curves})
    missing = [row for row in rows if not any(r == row for r, _ in curves)]
    if missing:
        print(f"error: no any-time points for {missing} in {args.anytime}", file=sys.stderr)
        return 2
    print("| run | " + " | ".join(f"epoch {e}" for e in args.epochs) + " |")
    print("| --- |" + " --- |" * len(args.epochs))
    for row in rows:
        seeds = sorted(seed for r, seed in curves if r == row)
        for seed in seeds:
            curve = curves[(row, seed)]
            print(f"| {row} seed {seed} | " + " | ".join(str(at(curve, e)) for e in args.epochs) + " |")
        means = [statistics.mean(at(curves[(row, s)], e) for s in seeds) for e in args.epochs]
        print(f"| **{row}** (mean of {len(seeds)}) | " + " | ".join(f"{m:.2f}" for m in means) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
