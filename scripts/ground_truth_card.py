"""Rewrite the data card of a ground-truth table from its records (the builder also writes it when it ends).

    python scripts/ground_truth_card.py nas/benchmarks/data/fmnist201.jsonl
"""

import argparse
from pathlib import Path

from nas.benchmarks import load_records
from nas.benchmarks.card import summarize, write_card

RECIPE = ("FMNIST-201 (BENCHMARK.md section 2): first 10,000 train images, 12 epochs, batch 256, SGD Nesterov 0.9, "
          "lr 0.1 per-step cosine to 0, weight decay 5e-4, test accuracy in eval mode; seeds 0 and 1; cells sampled "
          "uniformly from the 15,625 (`nas bench build`, archs.sample_seed=0)")

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("records", type=Path)
parser.add_argument("--target", type=int, default=200, help="architectures the build aims at")
args = parser.parse_args()
records = load_records(args.records)
summary = summarize(records)
title = f"Ground truth: {args.records.name}"
if summary["complete_architectures"] < args.target:
    title += f" (in progress: {summary['complete_architectures']} of {args.target} cells)"
print(write_card(records, args.records.with_suffix(".md"), title, RECIPE))
