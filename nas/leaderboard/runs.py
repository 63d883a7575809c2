"""A leaderboard row's runs: one trained supernet's scores of the ground-truth cells and costs, read from its run
folder or from the small JSON archive that keeps them once the folder is gone."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from nas.atomic import write_text_atomic
from nas.checkpoint import load_checkpoint, tensor_bytes
from nas.errors import CheckpointError, ConfigError
from nas.run_folder import RunFolder


@dataclass
class RunScores:
    """One trained supernet's scores of the ground-truth cells, and what they cost.

    ``state_mib``: what training keeps between steps (the tensors of its final checkpoint: weights, optimizer
    state, samplers; every sub-supernet of a split or mixture); ``peak_memory_mib``: the training process's peak
    (resident memory on CPU, data and libraries included; allocated memory on a GPU). NaN: not recorded (runs
    collected before they were).
    """

    seed: int
    folder: Path
    scores: dict[str, float]
    train_seconds: float = 0.0
    scoring_seconds: float = 0.0
    child_evaluations: int = 0
    state_mib: float = math.nan
    peak_memory_mib: float = math.nan


@dataclass
class Row:
    """One method of the leaderboard: several seeds of the same command."""

    name: str
    command: str
    runs: list[RunScores] = field(default_factory=list)
    kind: str = "supernet"  # supernet | baseline | free | combined | uses ground truth | ceiling
    epochs: float | None = None
    overrides: list[str] = field(default_factory=list)  # the `nas run` overrides of its runs, seed excluded


def read_run(folder: Path, seed: int) -> RunScores:
    """A finished run folder's scores and costs (its benchmark scores and summary)."""
    run = RunFolder(folder)
    if not run.summary.is_file() or not run.benchmark_scores.is_file():
        raise ConfigError(f"{folder} is not a finished `nas run` with a benchmark ({run.summary.name} or "
                          f"{run.benchmark_scores.name} missing): run it, or leave it out of the leaderboard")
    summary = run.read_summary()
    peak = summary.peak_memory_mib
    return RunScores(
        seed=seed, folder=folder, scores={r.arch: r.supernet_accuracy for r in run.read_benchmark_scores()},
        train_seconds=summary.train_seconds, scoring_seconds=summary.benchmark_seconds,
        child_evaluations=summary.child_evaluations, state_mib=checkpoint_mib(run.checkpoint),
        peak_memory_mib=float(peak.get("cuda", peak.get("rss", math.nan))),
    )


def checkpoint_mib(path: Path) -> float:
    """MiB of the tensors in the checkpoint at ``path`` (:func:`nas.checkpoint.tensor_bytes`); NaN when there is
    none (a scoring-only row's folder)."""
    try:
        return tensor_bytes(load_checkpoint(path)) / 2**20
    except CheckpointError:
        return math.nan


ARCHIVE_KEYS = ("row", "seed", "overrides", "epochs", "train_seconds", "scoring_seconds", "child_evaluations",
                "scores")
"""The keys every archive holds; ``state_mib`` and ``peak_memory_mib`` are optional (archives written before them
lack them)."""


def archive_run(run: RunScores, row: str, overrides: list[str], epochs: float | None, path: Path) -> None:
    """Write one run's scores and costs to ``path`` (atomically): what collecting needs once its folder is gone."""
    record = {"row": row, "seed": run.seed, "overrides": list(overrides), "epochs": epochs,
              "train_seconds": run.train_seconds, "scoring_seconds": run.scoring_seconds,
              "child_evaluations": run.child_evaluations,
              **{k: getattr(run, k) for k in ("state_mib", "peak_memory_mib") if math.isfinite(getattr(run, k))},
              "scores": dict(sorted(run.scores.items()))}
    write_text_atomic(path, json.dumps(record, indent=0) + "\n")


def read_archived_run(path: Path) -> tuple[RunScores, list[str], float | None]:
    """An archived run (see :func:`archive_run`): its scores and costs, its overrides and its epochs.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "seed0.json"
    >>> archive_run(RunScores(0, Path("."), {"a": 1.0}, 60.0, 2.0, 7), "spos", ["experiment=spos"], 30, path)
    >>> run, overrides, epochs = read_archived_run(path)
    >>> run.scores, run.train_seconds, overrides, epochs
    ({'a': 1.0}, 60.0, ['experiment=spos'], 30)
    """
    try:
        record = json.loads(path.read_text())
        missing = [k for k in ARCHIVE_KEYS if k not in record]
        if missing:
            raise ValueError(f"missing keys {missing}")
        run = RunScores(seed=int(record["seed"]), folder=path, scores={a: float(v) for a, v in record["scores"].items()},
                        train_seconds=float(record["train_seconds"]),
                        scoring_seconds=float(record["scoring_seconds"]),
                        child_evaluations=int(record["child_evaluations"]),
                        state_mib=float(record.get("state_mib", math.nan)),
                        peak_memory_mib=float(record.get("peak_memory_mib", math.nan)))
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise ConfigError(f"archived leaderboard run {path} is unreadable ({exc}): delete it and rerun its row "
                          "with `nas leaderboard only=[<row>]`") from None
    return run, list(record["overrides"]), record["epochs"]
