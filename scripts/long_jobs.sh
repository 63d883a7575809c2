#!/usr/bin/env bash
# The project's long jobs, in order. Every step resumes where it stopped, so after any interruption just
# start it again (in the background: a session's foreground limit is short):
#   nohup bash scripts/long_jobs.sh > long_jobs.log 2>&1 &
# 1. the FMNIST-201 ground truth (200 cells x seeds 0 and 1; hours on 2 cores)
# 2. the leaderboard rows, two rows at a time (one thread each: the tiny convolutions scale badly with threads),
#    in the order the issues need them; LEADERBOARD.md is refreshed after each pair
set -euo pipefail
cd "$(dirname "$0")/.."
WORKERS=${WORKERS:-2}

nas bench build workers="$WORKERS" output=nas/benchmarks/data/fmnist201.jsonl progress=false
python scripts/ground_truth_card.py nas/benchmarks/data/fmnist201.jsonl

for pair in "spos pada_path" "pada_data pada" "strict_fair sandwich" "gm2 gm4" "fewshot_exhaustive cost_bucket"; do
  for row in $pair; do
    nas leaderboard "only=[$row]" threads=1 progress=false > "long_jobs.$row.log" 2>&1 &
  done
  wait
  nas leaderboard mode=collect progress=false
done
