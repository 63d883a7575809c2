"""Table of what gradient-based search runs found: one row per run folder holding ``found_architecture.json``.

    python3 scripts/found_architectures.py runs/run/*            # a markdown table
    python3 scripts/found_architectures.py --csv out.csv runs/run/*

Columns: the run's method (config choice), search space, the found architecture, its ground truth (and the
table cell it came from when that is an equivalent cell), the inherited-weight accuracy of the exported child,
the search cost (steps, seconds) and the peak memory. What a search-results board collects per seed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nas.csv_file import write_csv
from nas.run_folder import RunFolder

COLUMNS = ["run", "method", "search_space", "arch", "truth", "truth_arch", "supernet_accuracy", "train_steps",
           "train_seconds", "peak_rss_mib", "peak_cuda_mib"]


def rows(folders: list[Path]) -> list[dict]:
    out = []
    for path in folders:
        folder = RunFolder(path)
        found = folder.read_found_architecture()
        if found is None:
            continue
        overrides = dict(o.split("=", 1) for o in folder.saved_overrides() if "=" in o)
        choices = {"method": overrides.get("method", found.method.rsplit(".", 1)[-1]),
                   "search_space": overrides.get("search_space", "fmnist201")}  # conf/common.yaml's defaults
        out.append({"run": path.name, **choices, "arch": found.arch, "truth": found.truth,
                    "truth_arch": found.truth_arch if found.truth_arch != found.arch else "",
                    "supernet_accuracy": round(found.supernet_accuracy, 2), "train_steps": found.train_steps,
                    "train_seconds": round(found.train_seconds), "peak_rss_mib": round(found.peak_memory_mib.get("rss", 0)),
                    "peak_cuda_mib": None if "cuda" not in found.peak_memory_mib else round(found.peak_memory_mib["cuda"])})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--csv", type=Path, default=None)
    args = parser.parse_args()
    table = rows(args.folders)
    if not table:
        sys.exit("none of these folders holds found_architecture.json: run `nas run method=darts` (or gdas, drnas, "
                 "rarts, tanglenas) first")
    if args.csv is not None:
        write_csv(args.csv, COLUMNS, table)
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + " --- |" * len(COLUMNS))
    for row in table:
        cells = ["" if row.get(c) is None else str(row.get(c, "")) for c in COLUMNS]
        print("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")  # cell strings hold '|'



if __name__ == "__main__":
    main()
