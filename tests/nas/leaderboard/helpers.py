"""A tiny ground-truth table of the FMNIST-201 space and fake finished runs, for the leaderboard's tests."""

import json
from pathlib import Path

from nas.benchmarks import TableOracle, write_records
from search_spaces.nb201 import NB201SearchSpace

SPACE = NB201SearchSpace(C=8, N=1, in_channels=1, input_size=16, reduction="light")
CELLS = [str(a) for a in list(SPACE.enumerate())[:: 1000][:10]]
TRUTH_SEEDS = {c: (50.0 + 3 * i, 51.0 + 3 * i - (2 if i % 3 == 0 else 0)) for i, c in enumerate(CELLS)}


def make_oracle(folder: Path) -> TableOracle:
    """The table of TRUTH_SEEDS (two seeds per cell) written to ``folder`` and loaded."""
    rows = [{"arch": c, "seed": s, "accuracy": acc[s], "params": SPACE.params(SPACE.parse(c)),
             "flops": SPACE.flops(SPACE.parse(c)), "seconds": 1.0, "recipe": "r"}
            for c, acc in TRUTH_SEEDS.items() for s in (0, 1)]
    write_records(folder / "gt.jsonl", rows)
    return TableOracle(folder / "gt.jsonl", SPACE)


def fake_run(folder: Path, scores: dict[str, float], train_seconds: float) -> Path:
    """A finished run folder: its benchmark scores and summary."""
    folder.mkdir(parents=True)
    (folder / "benchmark_scores.json").write_text(json.dumps([{"arch": a, "supernet_accuracy": s, "truth": 0}
                                                               for a, s in scores.items()]))
    (folder / "summary.json").write_text(json.dumps({"train_seconds": train_seconds, "benchmark_seconds": 4.0,
                                                     "child_evaluations": 110}))
    return folder
