#!/usr/bin/env bash
# The project's long jobs, in order. Every step resumes where it stopped, so after any interruption just
# start it again (in the background: a session's foreground limit is short):
#   nohup bash scripts/long_jobs.sh > long_jobs.log 2>&1 &
# 1. the FMNIST-201 ground truth (200 cells x seeds 0 and 1; hours on 2 cores)
# 2. the leaderboard rows, cheapest first; LEADERBOARD.md is refreshed after each row
set -euo pipefail
cd "$(dirname "$0")/.."
WORKERS=${WORKERS:-2}

nas bench build workers="$WORKERS" output=nas/benchmarks/data/fmnist201.jsonl progress=false
python scripts/ground_truth_card.py nas/benchmarks/data/fmnist201.jsonl

for row in spos pada_path pada_data pada cost_bucket gm2 gm4 fewshot_exhaustive sandwich strict_fair; do
  nas leaderboard "only=[$row]" progress=false
  nas leaderboard mode=collect progress=false
done
