"""Searcher overhead: wall time per proposed architecture, excluding the objective, at 1,000 trials.

    python scripts/bench_searcher_overhead.py            # targets: <= 5 ms evolution, <= 50 ms TPE (BENCHMARK.md)
    python scripts/bench_searcher_overhead.py --trials 300

Each searcher (built from conf/searcher/*.yaml, as `nas search` builds it) searches NAS-Bench-201 with a
trivial objective: a dict lookup of the cell's CIFAR-10 accuracy. The objective's own time is measured and
subtracted; what is left (ask, tell, dedup, constraints, cost computation, storage) is divided by the number of
proposals (asks; a proposal of a cell already scored is answered from the cache) and by the number of new
architectures scored. "At 1,000 trials" is the window of the last 100 new architectures (TPE's cost grows with
the trials it models). One run, one thread: the ratios against the targets are what matters on a noisy machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from search_spaces.nb201 import NB201Oracle, NB201SearchSpace

ROOT = Path(__file__).resolve().parents[1]
TARGETS_MS = {"evolution": 5.0, "tpe": 50.0}
CASES = [  # (label, searcher config, storage, target key)
    ("random search", "random", None, None),
    ("regularized evolution", "evolution", None, "evolution"),
    ("constrained evolution (FLOPs <= 40M)", "constrained_evolution", None, "evolution"),
    ("TPE, in-memory study", "tpe", None, "tpe"),
    ("TPE, journal file (nas search default)", "tpe", "journal", "tpe"),
    ("NSGA-II, accuracy vs params", "nsga2", None, None),
]


def measure(name: str, storage: str | None, space: NB201SearchSpace, table: dict[str, float], trials: int,
            folder: Path) -> tuple[float, float, float]:
    """Objective excluded: ms per new architecture over all trials; over the last 100 new architectures, ms per
    proposal (ask) and ms per new architecture."""
    node = OmegaConf.load(ROOT / "conf" / "searcher" / f"{name}.yaml")
    if name == "constrained_evolution":
        node.constraints.max_flops = 40_000_000
    extra = {"storage": str(folder / f"{name}.log")} if storage == "journal" else {}
    searcher = instantiate(OmegaConf.create({"seed": 0, "searcher": node}).searcher, space=space, **extra)
    objective_seconds = [0.0]
    asks = [0]
    marks: list[tuple[float, float, int]] = []  # (wall clock, objective seconds, asks) after each new trial
    ask = searcher.ask

    def counted_ask():
        asks[0] += 1
        return ask()

    searcher.ask = counted_ask

    def objective(arch) -> float:
        started = time.perf_counter()
        value = table[str(arch)]
        objective_seconds[0] += time.perf_counter() - started
        return value

    started = time.perf_counter()
    history = searcher.search(objective, trials, progress=lambda trial: marks.append(
        (time.perf_counter(), objective_seconds[0], asks[0])))
    total = time.perf_counter() - started - objective_seconds[0]
    tail = min(100, len(marks) - 1)
    (end, end_objective, end_asks), (start, start_objective, start_asks) = marks[-1], marks[-1 - tail]
    last = (end - start) - (end_objective - start_objective)
    return 1000 * total / len(history), 1000 * last / (end_asks - start_asks), 1000 * last / tail


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    space = NB201SearchSpace()
    oracle = NB201Oracle("cifar10", space)
    table = {str(arch): oracle(arch) for arch in oracle.architectures()}
    print(f"searcher overhead per proposed architecture, objective excluded, {args.trials} trials, "
          "NAS-Bench-201, 1 thread")
    print(f"{'':<40} {'all trials':>11} {'at ' + str(args.trials) + ' trials (last 100 new)':>28}")
    print(f"{'searcher':<40} {'ms/new arch':>11} {'ms/proposal':>13} {'ms/new arch':>13}  target per proposal")
    with tempfile.TemporaryDirectory() as folder:
        for label, name, storage, target in CASES:
            overall, per_ask, per_arch = measure(name, storage, space, table, args.trials, Path(folder))
            verdict = ""
            if target:
                limit = TARGETS_MS[target]
                verdict = f"<= {limit:g} ms: {'PASS' if per_ask <= limit else 'FAIL'} ({per_ask / limit:.2f} of it)"
            print(f"{label:<40} {overall:11.3f} {per_ask:13.3f} {per_arch:13.3f}  {verdict}", flush=True)


if __name__ == "__main__":
    main()
