"""The run folder: every file that `nas run` / `nas train` / `nas search` write, its lock and its saved config.

This module is the only one that knows a run folder's file names and JSON keys. Each JSON file has a typed
schema (a dataclass) with one writer and one reader here; every write is atomic. The folder's integrity is
owned here too:

- **one process per folder**: :meth:`RunFolder.claim` takes an exclusive ``flock`` on ``.lock`` (which
  records the holder's pid, command and start time), so a second `nas run` on the same folder is refused
  with one line naming the holder; the operating system releases the lock when the holder exits or crashes;
- **the saved config is the run's**: Hydra writes no ``.hydra/`` itself (``hydra.output_subdir: null`` in
  ``conf/common.yaml``); the folder's ``.hydra/config.yaml`` and ``overrides.yaml`` (same paths, same YAML as
  Hydra's) are written only once a command is accepted: a new folder, or one whose saved configuration has
  the same fingerprint (for `nas train` / `nas run`: ``nas.pipeline.training_fingerprint``). A command with
  another fingerprint is refused before anything in the folder is written or any data is loaded.

Example:
    >>> import tempfile
    >>> folder = RunFolder(tempfile.mkdtemp())
    >>> folder.write_summary(Summary(train_seconds=60.0, train_steps=16, child_evaluations=12))
    >>> folder.read_summary().train_steps, folder.summary.name
    (16, 'summary.json')
    >>> folder.checkpoint.relative_to(folder.path).as_posix()
    'checkpoints/last.pt'
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, OmegaConf

from nas.atomic import write_text_atomic
from nas.csv_file import write_csv
from nas.errors import ConfigError, NASError, RunFolderError
from nas.file_lock import FileLock, LockHolder

if TYPE_CHECKING:
    from nas.searchers.base import Trial

SCORE_KEYS = ("supernet_accuracy", "supernet_loss", "oracle_accuracy", "ranker_score")  # supernet_loss: minus the
# mean cross-entropy
"""What a ranking's score can be: the supernet's accuracy (evaluator), the benchmark's (oracle) or a free ranker's
(`nas search objective=ranker`)."""

SEARCH_KEY = "train_dir"
"""A saved config with this key is a `nas search` folder's (``conf/search.yaml``); others train a supernet."""


def _record(obj: Any) -> dict[str, Any]:
    """A dataclass as a dict in field order (shallow: values are written as they are)."""
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


def _known(cls: type, record: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in record.items() if k in names}


# -- schemas ---------------------------------------------------------------------------------------------------
@dataclass
class Summary:
    """``summary.json``: what a finished `nas run` (or `nas search`: no training, ``train_seconds`` 0) cost and
    found; `nas leaderboard` and `nas searchboard` collect it."""

    train_seconds: float = 0.0
    train_steps: int = 0
    search_seconds: float = 0.0
    benchmark_seconds: float = 0.0
    child_evaluations: int = 0
    ranking: dict[str, Any] | None = None          # the supernet's ranking metrics against ground truth
    baselines: dict[str, dict[str, Any]] = field(default_factory=dict)  # params / flops as rankers
    top: list[dict[str, Any]] = field(default_factory=list)  # the best children: arch, score, costs
    peak_memory_mib: dict[str, float] = field(default_factory=dict)  # at the end of training: ``rss`` (the
    # process's peak resident memory, data included), ``cuda`` (peak allocated on the GPU); empty: not recorded

    @staticmethod
    def top_of(trials: Sequence[Trial], k: int = 10) -> list[dict[str, Any]]:
        """The ``k`` best trials as ``summary.json`` lists them: architecture, score, then its costs."""
        return [{"arch": str(t.arch), "score": t.score, **t.cost} for t in sorted(trials, key=lambda t: -t.score)[:k]]

    def to_json(self) -> dict[str, Any]:
        return _record(self)

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> Summary:
        summary = cls(**_known(cls, record))
        summary.train_seconds, summary.search_seconds = float(summary.train_seconds), float(summary.search_seconds)
        summary.benchmark_seconds = float(summary.benchmark_seconds)
        summary.train_steps, summary.child_evaluations = int(summary.train_steps), int(summary.child_evaluations)
        return summary


@dataclass(frozen=True)
class RankedChild:
    """One row of ``ranked_children.json`` / ``.csv``: a scored child, best first.

    The score sits under its own key (``supernet_accuracy``, ``supernet_loss``: minus the validation loss, or
    ``oracle_accuracy``), and ``score_key`` says which; rankings written before ``score_key`` existed are read by
    the score key they hold.

    Example:
        >>> row = RankedChild(1, "w=1", 91.5, 1200, 3400, "oracle_accuracy")
        >>> row.to_json()
        {'rank': 1, 'arch': 'w=1', 'oracle_accuracy': 91.5, 'params': 1200, 'flops': 3400, 'score_key': 'oracle_accuracy'}
        >>> RankedChild.from_json({"rank": 1, "arch": "w=1", "supernet_accuracy": 80.0, "params": 1, "flops": 2})
        RankedChild(rank=1, arch='w=1', score=80.0, params=1, flops=2, score_key='supernet_accuracy')
    """

    rank: int
    arch: str
    score: float
    params: int | None = None
    flops: int | None = None
    score_key: str = "supernet_accuracy"

    @classmethod
    def of_trials(cls, trials: Sequence[Trial], score_key: str) -> list[RankedChild]:
        """``trials`` best first, scores rounded to 4 decimals."""
        if score_key not in SCORE_KEYS:
            raise ValueError(f"score_key must be one of {SCORE_KEYS}, got {score_key!r}")
        ranked = sorted(trials, key=lambda t: -t.score)
        return [cls(i + 1, str(t.arch), round(t.score, 4), t.cost.get("params"), t.cost.get("flops"), score_key)
                for i, t in enumerate(ranked)]

    def to_json(self) -> dict[str, Any]:
        return {"rank": self.rank, "arch": self.arch, self.score_key: self.score, "params": self.params,
                "flops": self.flops, "score_key": self.score_key}

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> RankedChild:
        key = record.get("score_key")
        if key is None:  # written before score_key: the one score key the row holds
            held = [k for k in SCORE_KEYS if k in record]
            if len(held) != 1:
                raise ValueError(f"a ranked child holds one of the scores {SCORE_KEYS}, this one holds {held}")
            key = held[0]
        return cls(int(record["rank"]), str(record["arch"]), float(record[key]), record.get("params"),
                   record.get("flops"), str(key))


@dataclass(frozen=True)
class BenchmarkScore:
    """One row of ``benchmark_scores.json``: a ground-truth cell, its supernet accuracy and its truth."""

    arch: str
    supernet_accuracy: float
    truth: float

    def to_json(self) -> dict[str, Any]:
        return _record(self)

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> BenchmarkScore:
        return cls(str(record["arch"]), float(record["supernet_accuracy"]), record["truth"])


@dataclass
class RankingMetrics:
    """``ranking_metrics.json``: the supernet's ranking of the ground-truth cells, and the no-training baselines."""

    supernet: dict[str, Any]
    baselines: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return _record(self)

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> RankingMetrics:
        return cls(**_known(cls, record))


@dataclass
class FewShotSummary:
    """``few_shot.json``: how a few-shot run split its supernet, and what the split cost."""

    method: str
    split_epochs: list[int]
    restart: bool
    sub_supernets: int
    partition: list[dict[str, Any]]   # per sub-supernet: decision -> the options it owns ({} = all)
    gm_scoring_seconds: float
    split_seconds: float
    training_seconds: float
    gm_fraction_of_training: float
    epoch: int
    history: list[dict[str, Any]] = field(default_factory=list)  # every split round's scores and choice

    def to_json(self) -> dict[str, Any]:
        return _record(self)

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> FewShotSummary:
        return cls(**_known(cls, record))


@dataclass
class AssignedConfiguration:
    """One configuration's row of ``balanced_mixture.json``: the supernet that scores it and what decided that.

    ``supernet`` is its supernet in the hard balanced assignment (the one the evaluator, BN recalibration and
    ``subnet`` use); per supernet, in supernet order: ``loss`` its estimated loss (the moving average of its
    training loss there, minus the moving average of all losses when the mixture is ``relative``; an entry never
    measured holds the configuration's mean over the measured ones), ``probabilities`` its balanced soft assignment
    (what training drew from) and ``steps`` the child steps it trained there.

    Example:
        >>> row = AssignedConfiguration("w=1", 1, [0.25, -0.5], [0.1, 0.9], [2, 3])
        >>> AssignedConfiguration.from_json(row.to_json()) == row
        True
    """

    arch: str
    supernet: int
    loss: list[float]
    probabilities: list[float]
    steps: list[int]

    def to_json(self) -> dict[str, Any]:
        return _record(self)

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> AssignedConfiguration:
        return cls(str(record["arch"]), int(record["supernet"]), [float(v) for v in record["loss"]],
                   [float(v) for v in record["probabilities"]], [int(v) for v in record["steps"]])


@dataclass
class BalancedMixtureSummary:
    """``balanced_mixture.json``: how a Balanced Mixture of SuperNets run (``few_shot=bmos``) assigned every
    configuration of its space to one of its ``supernets`` supernets, as it stood at the end of training.

    ``settings`` are the mixture's (temperature, decay, relative, baseline_decay, tolerance, init, seed);
    ``train_steps`` the trainer's steps; ``baseline`` the moving average of every training loss that relative
    losses are measured against; ``counts`` the configurations per supernet of the hard assignment (⌊N/K⌋ or
    ⌈N/K⌉ each); ``trained`` the child steps each supernet trained; ``configurations`` one
    ``AssignedConfiguration`` per configuration, in the space's enumeration order. The reader checks that these
    agree (lengths, supernet indices, counts, steps).

    Example:
        >>> summary = BalancedMixtureSummary(2, {"temperature": 0.05}, 5, 0.0, [1, 1], [3, 2], [
        ...     AssignedConfiguration("w=0", 0, [-0.1, 0.2], [0.8, 0.2], [2, 0]),
        ...     AssignedConfiguration("w=1", 1, [0.3, -0.2], [0.2, 0.8], [1, 2])])
        >>> BalancedMixtureSummary.from_json(summary.to_json()) == summary, summary.assignment()
        (True, {'w=0': 0, 'w=1': 1})
    """

    supernets: int
    settings: dict[str, Any]
    train_steps: int
    baseline: float
    counts: list[int]
    trained: list[int]
    configurations: list[AssignedConfiguration]

    def assignment(self) -> dict[str, int]:
        """configuration -> its supernet (the hard assignment that scoring uses)."""
        return {row.arch: row.supernet for row in self.configurations}

    def to_json(self) -> dict[str, Any]:
        return {**_record(self), "configurations": [row.to_json() for row in self.configurations]}

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> BalancedMixtureSummary:
        """The summary ``record`` holds; a ValueError naming the first disagreement (a damaged file)."""
        summary = cls(int(record["supernets"]), dict(record["settings"]), int(record["train_steps"]),
                      float(record["baseline"]), [int(c) for c in record["counts"]],
                      [int(t) for t in record["trained"]],
                      [AssignedConfiguration.from_json(row) for row in record["configurations"]])
        k, rows = summary.supernets, summary.configurations
        if k < 1 or not rows or len(summary.counts) != k or len(summary.trained) != k:
            raise ValueError(f"{k} supernets with counts {summary.counts}, trained {summary.trained} and "
                             f"{len(rows)} configurations")
        for row in rows:
            if not 0 <= row.supernet < k or not len(row.loss) == len(row.probabilities) == len(row.steps) == k:
                raise ValueError(f"configuration {row.arch!r} does not fit {k} supernets")
        if [sum(row.supernet == m for row in rows) for m in range(k)] != summary.counts:
            raise ValueError(f"counts {summary.counts} are not those of the configurations' supernets")
        if [sum(row.steps[m] for row in rows) for m in range(k)] != summary.trained:
            raise ValueError(f"trained {summary.trained} is not the sum of the configurations' steps")
        return summary


@dataclass(frozen=True)
class ParetoPoint:
    """One row of ``pareto_front.json`` / ``.csv``: ``{"arch", <score_name>: score, <costs>..., "trial"}``.

    The score's key is the second key of a row and the trial number the last (JSON keeps key order).

    Example:
        >>> point = ParetoPoint("w=1", 80.0, {"params": 5, "flops": 10}, 1, "accuracy")
        >>> point.to_json()
        {'arch': 'w=1', 'accuracy': 80.0, 'params': 5, 'flops': 10, 'trial': 1}
        >>> ParetoPoint.from_json(point.to_json()) == point
        True
    """

    arch: str
    score: float
    cost: dict[str, Any]
    trial: int
    score_name: str = "score"

    def to_json(self) -> dict[str, Any]:
        return {"arch": self.arch, self.score_name: self.score, **self.cost, "trial": self.trial}

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> ParetoPoint:
        keys = list(record)
        if len(keys) < 3 or keys[0] != "arch" or keys[-1] != "trial":
            raise ValueError(f"a Pareto point is {{arch, <score>, <costs>..., trial}}, got keys {keys}")
        return cls(str(record["arch"]), float(record[keys[1]]), {k: record[k] for k in keys[2:-1]},
                   int(record["trial"]), keys[1])


@dataclass
class FoundArchitecture:
    """``found_architecture.json``: what a gradient-based search (DARTS, GDAS, DrNAS, RARTS, TangleNAS) found.

    ``truth`` is the benchmark's ground-truth accuracy of ``arch`` (of ``truth_arch``, a functionally equivalent
    cell, when the table lacks ``arch`` itself; None when it has neither); ``supernet_accuracy`` the exported
    child's accuracy with the inherited weights on the evaluator's valid images, ``relaxed_accuracy`` the relaxed
    supernet's (every option, at its expected weight) on the same images: the gap between them is what
    discretising costs the inherited weights. ``truth_source`` says where the truth came from: ``table`` (the
    benchmark's table) or ``trained`` (`nas run found_truth.build=true`: trained stand-alone by the table's recipe
    into ``truth_records``, a file of the run folder given relative to it, over ``truth_seeds``).
    ``peak_memory_mib`` holds ``cuda`` (peak allocated on the GPU) and ``rss`` (the process's peak resident memory,
    data included).
    ``architecture`` is the method's record: weight map, mean entropy, every decision's logits and weights.
    ``benchmark`` names the table the truth was looked up in (None: the run had no benchmark).

    Example:
        >>> found = FoundArchitecture("Bilevel", "w=1", 88.1, "w=1", 80.0, 10, 20, 60.0, 100, {"rss": 900.0}, {})
        >>> FoundArchitecture.from_json(found.to_json()) == found
        True
    """

    method: str
    arch: str
    truth: float | None
    truth_arch: str | None
    supernet_accuracy: float | None
    params: int
    flops: int
    train_seconds: float
    train_steps: int
    peak_memory_mib: dict[str, float] = field(default_factory=dict)
    architecture: dict[str, Any] = field(default_factory=dict)
    benchmark: str | None = None  # the table the truth was looked up in (None: the run had no benchmark)
    relaxed_accuracy: float | None = None  # the relaxed supernet at the expected option weights (None: not scored)
    truth_source: str | None = None  # table | trained (None: no truth)
    truth_records: str | None = None  # a trained truth's records, relative to the run folder
    truth_seeds: list[int] | None = None  # the seeds a trained truth averages

    def to_json(self) -> dict[str, Any]:
        return _record(self)

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> FoundArchitecture:
        return cls(**_known(cls, record))


@dataclass(frozen=True)
class AnytimePoint:
    """One entry of ``anytime.json``: where a search stood at the end of an epoch (or of training).

    ``arch`` is the method's argmax architecture then (None for a method that finds none itself: SPOS-style
    training, whose points record only the cost); ``seconds`` the training seconds so far; ``peak_memory_mib``
    the peak so far (``rss``; ``cuda`` on a GPU). ``final``: the last step of training.

    Example:
        >>> point = AnytimePoint(3, 291, 120.5, "w=1", {"rss": 700.0})
        >>> AnytimePoint.from_json(point.to_json()) == point
        True
    """

    epoch: int
    step: int
    seconds: float
    arch: str | None
    peak_memory_mib: dict[str, float] = field(default_factory=dict)
    final: bool = False

    def to_json(self) -> dict[str, Any]:
        return _record(self)

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> AnytimePoint:
        return cls(int(record["epoch"]), int(record["step"]), float(record["seconds"]), record.get("arch"),
                   {k: float(v) for k, v in (record.get("peak_memory_mib") or {}).items()}, bool(record.get("final")))


# -- the folder ------------------------------------------------------------------------------------------------
class RunFolder:
    """The files of one run folder, by name; their typed readers and writers; the folder's lock and config.

    Example:
        >>> import tempfile
        >>> from nas.architecture import Architecture
        >>> from nas.searchers.base import Trial
        >>> folder = RunFolder(tempfile.mkdtemp())
        >>> trials = [Trial(i, Architecture({"w": i}), 50.0 + i, {"params": 10 * i, "flops": i}) for i in range(3)]
        >>> [c.arch for c in folder.write_ranking(trials, "supernet_accuracy")]
        ['w=2', 'w=1', 'w=0']
        >>> folder.read_ranking()[0].score, folder.ranked_children_csv.read_text().splitlines()[0]
        (52.0, 'rank,arch,supernet_accuracy,params,flops')
    """

    CHECKPOINT = "checkpoints/last.pt"
    SNAPSHOT = "checkpoints/snapshot_epoch{epoch:04d}.pt"
    LOCK = ".lock"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    @classmethod
    def of_table(cls, table: str | Path) -> RunFolder:
        """The folder where `nas bench build output=<table>` keeps its Hydra record (``hydra.run.dir`` of
        conf/bench_build.yaml): its ``hydra_config`` names the command that built the table."""
        return cls(f"{table}.hydra")

    # -- file names ----------------------------------------------------------------------------------------
    @property
    def summary(self) -> Path:
        return self.path / "summary.json"

    @property
    def ranked_children(self) -> Path:
        return self.path / "ranked_children.json"

    @property
    def ranked_children_csv(self) -> Path:
        return self.path / "ranked_children.csv"

    @property
    def combined_ranking(self) -> Path:
        return self.path / "combined_ranking.json"

    @property
    def benchmark_scores(self) -> Path:
        return self.path / "benchmark_scores.json"

    @property
    def ranking_metrics(self) -> Path:
        return self.path / "ranking_metrics.json"

    @property
    def found_architecture(self) -> Path:
        return self.path / "found_architecture.json"

    @property
    def found_model(self) -> Path:
        """The found architecture's standalone model: ``{"arch": str, "state_dict": ...}`` (``torch.load``)."""
        return self.path / "found_model.pt"

    @property
    def few_shot(self) -> Path:
        return self.path / "few_shot.json"

    @property
    def balanced_mixture(self) -> Path:
        """The assignment of a Balanced Mixture of SuperNets run (``few_shot=bmos``): ``BalancedMixtureSummary``."""
        return self.path / "balanced_mixture.json"

    @property
    def anytime(self) -> Path:
        """The any-time record of a search: the argmax architecture every few epochs (``AnytimePoint`` rows)."""
        return self.path / "anytime.json"

    @property
    def pareto_front_json(self) -> Path:
        return self.path / "pareto_front.json"

    @property
    def pareto_front_csv(self) -> Path:
        return self.path / "pareto_front.csv"

    @property
    def pareto_front_png(self) -> Path:
        return self.path / "pareto_front.png"

    @property
    def report(self) -> Path:
        return self.path / "report.md"

    @property
    def accuracy_vs_params_png(self) -> Path:
        return self.path / "accuracy_vs_params.png"

    @property
    def supernet_vs_truth_png(self) -> Path:
        return self.path / "supernet_vs_truth.png"

    @property
    def checkpoint(self) -> Path:
        """The trainer's checkpoint (``checkpoints/last.pt``)."""
        return self.path / self.CHECKPOINT

    def snapshot(self, epoch: int) -> Path:
        """The supernet's weights at the end of epoch ``epoch`` (1-based), kept for a snapshot ensemble."""
        return self.path / self.SNAPSHOT.format(epoch=int(epoch))

    @property
    def searcher_state(self) -> Path:
        return self.path / "searcher_state.pt"

    @property
    def optuna_journal(self) -> Path:
        """The Optuna study's journal when ``searcher.storage`` is null."""
        from nas.searchers.optuna_storage import JOURNAL_NAME

        return self.path / JOURNAL_NAME

    @property
    def tensorboard(self) -> Path:
        return self.path / "tensorboard"

    @property
    def hydra_dir(self) -> Path:
        return self.path / ".hydra"

    @property
    def config(self) -> Path:
        """The composed config of the command that made the folder (Hydra's ``.hydra/config.yaml``)."""
        return self.hydra_dir / "config.yaml"

    @property
    def overrides(self) -> Path:
        """Its command-line overrides (Hydra's ``.hydra/overrides.yaml``)."""
        return self.hydra_dir / "overrides.yaml"

    @property
    def hydra_config(self) -> Path:
        return self.hydra_dir / "hydra.yaml"

    @property
    def lock_file(self) -> Path:
        return self.path / self.LOCK

    # -- JSON helpers --------------------------------------------------------------------------------------
    @staticmethod
    def _write_json(path: Path, value: Any, default: Callable[[Any], Any] | None = None) -> None:
        write_text_atomic(path, json.dumps(value, indent=1, default=default) + "\n")

    def _read_json(self, path: Path) -> Any:
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise RunFolderError(f"{self.path} has no {path.name}: the stage that writes it has not run "
                                 "(or the folder is not a run folder)") from None
        except (OSError, ValueError) as exc:
            raise RunFolderError(f"{path} is unreadable ({exc}): delete it and rerun the command that wrote "
                                 "it") from None

    def _read_rows(self, path: Path, parse: Callable[[dict[str, Any]], Any]) -> list:
        rows = self._read_json(path)
        try:
            return [parse(row) for row in rows]
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise RunFolderError(f"{path} is unreadable ({type(exc).__name__}: {exc}): delete it and rerun "
                                 "the command that wrote it") from None

    # -- summary.json --------------------------------------------------------------------------------------
    def write_summary(self, summary: Summary) -> None:
        self._write_json(self.summary, summary.to_json())

    def read_summary(self) -> Summary:
        return Summary.from_json(self._read_json(self.summary))

    # -- ranked_children.json / .csv -----------------------------------------------------------------------
    def write_ranking(self, trials: Sequence[Trial], score_key: str) -> list[RankedChild]:
        """Write every scored child, best first, to ``ranked_children.json`` and ``.csv``; return the rows."""
        children = RankedChild.of_trials(trials, score_key)
        self._write_json(self.ranked_children, [c.to_json() for c in children])
        columns = ["rank", "arch", score_key, "params", "flops"] if children else ["rank", "arch"]
        write_csv(self.ranked_children_csv, columns, [c.to_json() for c in children])
        return children

    def read_ranking(self) -> list[RankedChild]:
        return self._read_rows(self.ranked_children, RankedChild.from_json)

    # -- combined_ranking.json -------------------------------------------------------------------------------
    def write_combined_ranking(self, ranker: str | None, ordered: Sequence[tuple[Trial, float]]) -> None:
        """The children in the order of the run's combined ranker (``ranker``: its name; ``ordered``: each child
        with its mean rank, best first), the order `nas run` prints; rows are ``RankedChild`` (their score the
        supernet's accuracy) plus ``mean_rank``. No combination (``ordered`` empty): the file is removed."""
        if not ordered:
            self.combined_ranking.unlink(missing_ok=True)
            return
        rows = [{**RankedChild(i + 1, str(t.arch), round(t.score, 4), t.cost.get("params"), t.cost.get("flops"))
                 .to_json(), "mean_rank": round(float(mean_rank), 4)} for i, (t, mean_rank) in enumerate(ordered)]
        self._write_json(self.combined_ranking, {"ranker": ranker, "children": rows})

    def read_combined_ranking(self) -> tuple[str, list[RankedChild]] | None:
        """``(ranker name, children in its order)``, or None when the run combined no rankers."""
        if not self.combined_ranking.is_file():
            return None
        record = self._read_json(self.combined_ranking)
        try:
            return str(record["ranker"]), [RankedChild.from_json(row) for row in record["children"]]
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise RunFolderError(f"{self.combined_ranking} is unreadable ({type(exc).__name__}: {exc}): delete it "
                                 "and rerun the command that wrote it") from None

    # -- benchmark_scores.json, ranking_metrics.json, supernet_vs_truth.png --------------------------------
    def write_benchmark_scores(self, scores: Sequence[BenchmarkScore]) -> None:
        self._write_json(self.benchmark_scores, [s.to_json() for s in scores])

    def read_benchmark_scores(self) -> list[BenchmarkScore]:
        """The scored ground-truth cells; none when the benchmark stage has not run."""
        if not self.benchmark_scores.exists():
            return []
        return self._read_rows(self.benchmark_scores, BenchmarkScore.from_json)

    def write_ranking_metrics(self, metrics: RankingMetrics) -> None:
        self._write_json(self.ranking_metrics, metrics.to_json())

    def read_ranking_metrics(self) -> RankingMetrics:
        return RankingMetrics.from_json(self._read_json(self.ranking_metrics))

    def plot_supernet_vs_truth(self, predicted: Sequence[float], truth: Sequence[float], title: str,
                               score_label: str = "supernet accuracy (%)") -> Path:
        from nas import plots

        return plots.against_truth(predicted, truth, self.supernet_vs_truth_png, title, score_label)

    # -- found_architecture.json, found_model.pt ------------------------------------------------------------
    def write_found_architecture(self, found: FoundArchitecture) -> None:
        self._write_json(self.found_architecture, found.to_json())

    def read_found_architecture(self) -> FoundArchitecture | None:
        """What a gradient-based search found; None for other runs (no ``found_architecture.json``)."""
        if not self.found_architecture.is_file():
            return None
        return FoundArchitecture.from_json(self._read_json(self.found_architecture))

    def write_found_model(self, arch: str, state_dict: dict[str, Any]) -> Path:
        """Save the found child's standalone weights with its architecture string, atomically."""
        from nas.checkpoint import save_atomic

        save_atomic({"arch": arch, "state_dict": state_dict}, self.found_model)
        return self.found_model

    @property
    def found_truth_records(self) -> Path:
        """The found architecture's ground truth trained stand-alone by the table's recipe (`nas run
        found_truth.build=true`): `nas bench build`'s records (its card, lock and Hydra record beside them)."""
        return self.path / "found_truth" / "truth.jsonl"

    @property
    def found_truth_archs(self) -> Path:
        """The architecture file that `nas bench build archs.file=...` trains into :attr:`found_truth_records`."""
        return self.path / "found_truth" / "archs.txt"

    # -- anytime.json --------------------------------------------------------------------------------------
    def write_anytime(self, points: Sequence[AnytimePoint]) -> None:
        """Replace ``anytime.json`` with ``points`` (oldest first), atomically."""
        self._write_json(self.anytime, [p.to_json() for p in points])

    def read_anytime(self) -> list[AnytimePoint]:
        """The any-time record, oldest first; empty when the run kept none."""
        if not self.anytime.is_file():
            return []
        return self._read_rows(self.anytime, AnytimePoint.from_json)

    # -- few_shot.json -------------------------------------------------------------------------------------
    def write_few_shot(self, summary: FewShotSummary) -> None:
        self._write_json(self.few_shot, summary.to_json(), default=str)

    def read_few_shot(self) -> FewShotSummary | None:
        """The few-shot split of the run; None for a one-shot run (no ``few_shot.json``)."""
        if not self.few_shot.is_file():
            return None
        return FewShotSummary.from_json(self._read_json(self.few_shot))

    # -- balanced_mixture.json -----------------------------------------------------------------------------
    def write_balanced_mixture(self, summary: BalancedMixtureSummary) -> None:
        self._write_json(self.balanced_mixture, summary.to_json())

    def read_balanced_mixture(self) -> BalancedMixtureSummary | None:
        """The learned assignment of a Balanced Mixture of SuperNets run; None for other runs (no file)."""
        if not self.balanced_mixture.is_file():
            return None
        record = self._read_json(self.balanced_mixture)
        try:
            return BalancedMixtureSummary.from_json(record)
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise RunFolderError(f"{self.balanced_mixture} is unreadable ({type(exc).__name__}: {exc}): delete it "
                                 "and rerun the `nas train` / `nas run` that trained the folder (a finished run "
                                 "rewrites it from its checkpoint)") from None

    # -- pareto_front.json / .csv / .png -------------------------------------------------------------------
    def write_pareto_front(self, trials: Sequence[Trial], cost: str = "params",
                           score_name: str = "score") -> list[ParetoPoint]:
        """The Pareto front of ``trials`` (score against ``cost``) as JSON, CSV and a plot; return its points."""
        from nas import plots
        from nas.searchers.pareto import pareto_front

        front = pareto_front(trials, cost)
        points = [ParetoPoint(str(t.arch), t.score, dict(t.cost), t.number, score_name) for t in front]
        rows = [p.to_json() for p in points]
        self._write_json(self.pareto_front_json, rows)
        write_csv(self.pareto_front_csv, list(rows[0]) if rows else ["arch", score_name, cost, "trial"], rows)
        plots.pareto_front(trials, front, self.pareto_front_png, cost, score_name)
        return points

    def read_pareto_front(self) -> list[ParetoPoint]:
        return self._read_rows(self.pareto_front_json, ParetoPoint.from_json)

    # -- checkpoints/snapshot_epoch<NNNN>.pt -----------------------------------------------------------------
    def write_snapshot(self, epoch: int, state: dict[str, Any]) -> Path:
        """Save ``state`` (the snapshot: weights and where training stood) as epoch ``epoch``'s, atomically."""
        from nas.checkpoint import save_atomic

        path = self.snapshot(epoch)
        save_atomic(state, path)
        return path

    def read_snapshot(self, epoch: int) -> dict[str, Any]:
        from nas.checkpoint import load_checkpoint

        return load_checkpoint(self.snapshot(epoch))

    def snapshot_epochs(self) -> list[int]:
        """The epochs whose snapshots the folder holds, ascending (none: an empty list)."""
        prefix, suffix = self.SNAPSHOT.split("{")[0], ".pt"
        folder = (self.path / prefix).parent
        stem = Path(prefix).name
        if not folder.is_dir():
            return []
        epochs = []
        for path in folder.iterdir():
            digits = path.name[len(stem):-len(suffix)]
            if path.name.startswith(stem) and path.name.endswith(suffix) and digits.isdigit():
                epochs.append(int(digits))
        return sorted(epochs)

    # -- report.md and its plot ----------------------------------------------------------------------------
    def write_report(self, text: str) -> Path:
        write_text_atomic(self.report, text)
        return self.report

    def plot_accuracy_vs_params(self, trials: Sequence[Trial], score_label: str = "supernet accuracy (%)") -> Path:
        """Supernet score (``score_label``) of every child against its parameter count, with the Pareto front."""
        from nas import plots
        from nas.searchers.pareto import pareto_front

        return plots.accuracy_vs_cost(trials, pareto_front(trials, "params"), self.accuracy_vs_params_png,
                                      "params", score_label=score_label)

    # -- the saved config ----------------------------------------------------------------------------------
    def saved_config(self) -> DictConfig | None:
        """The config the folder was made with; None when it has none (a new folder)."""
        if not self.config.is_file():
            return None
        try:
            config = OmegaConf.load(self.config)
        except Exception as exc:  # a damaged YAML file
            raise RunFolderError(f"{self.config} is unreadable ({type(exc).__name__}: {str(exc)[:200]}): delete "
                                 "the folder, or use another run_dir") from None
        if not isinstance(config, DictConfig):
            raise RunFolderError(f"{self.config} does not hold a config: delete the folder, or use another run_dir")
        return config

    def trained_config(self) -> DictConfig:
        """The saved config of a `nas train` / `nas run` folder (what `nas search train_dir=...` rebuilds from)."""
        config = self.saved_config()
        if config is None:
            raise RunFolderError(f"{self.path} is not the folder of a `nas train` or `nas run` ({self.config} is "
                                 "missing)")
        if SEARCH_KEY in config:
            raise RunFolderError(f"{self.path} is the folder of a `nas search`, not of a `nas train` or `nas run`: "
                                 "point train_dir at the folder that trained the supernet")
        return config

    def saved_overrides(self) -> list[str]:
        """The command-line overrides the folder was made with (``.hydra/overrides.yaml``)."""
        if not self.overrides.is_file():
            raise RunFolderError(f"{self.path} has no {self.overrides.relative_to(self.path)}: it was not made "
                                 "by a `nas` command")
        return [str(o) for o in OmegaConf.load(self.overrides)]

    def save_config(self, cfg: DictConfig, overrides: Sequence[str], hydra_yaml: str | None = None) -> None:
        """Write ``.hydra/config.yaml`` and ``overrides.yaml`` as Hydra writes them (and ``hydra.yaml``)."""
        write_text_atomic(self.config, OmegaConf.to_yaml(cfg))
        write_text_atomic(self.overrides, OmegaConf.to_yaml(OmegaConf.create(list(overrides))))
        if hydra_yaml is not None:
            write_text_atomic(self.hydra_config, hydra_yaml)

    def check_config(self, cfg: DictConfig, kind: str, fingerprint: Callable[[DictConfig], str]) -> None:
        """Refuse ``cfg`` (a RunFolderError) unless the folder is new or was made with the same fingerprint.

        ``kind`` is ``"train"`` (`nas train`, `nas run`: the folder holds a supernet) or ``"search"``; the
        two kinds never share a folder. Reads only: a refused command leaves the folder as it was.
        """
        saved = self.saved_config()
        if saved is None:
            if kind == "train" and self.checkpoint.is_file():  # a folder without its config: ask the checkpoint
                self._check_checkpoint(fingerprint(cfg))
            return
        saved_kind = "search" if SEARCH_KEY in saved else "train"
        if saved_kind != kind:
            made_by = "`nas search`" if saved_kind == "search" else "`nas train` or `nas run` (a trained supernet)"
            raise RunFolderError(f"{self.path} was made by {made_by}; this command writes another kind of run "
                                 "folder: use another run_dir")
        try:
            old = fingerprint(saved)
        except Exception as exc:
            raise RunFolderError(f"{self.config} cannot be compared with this configuration ({type(exc).__name__}: "
                                 f"{str(exc)[:200]}); use another run_dir, or delete the folder to start "
                                 "over") from None
        new = fingerprint(cfg)
        if old != new:
            what = "training" if kind == "train" else "search"
            raise RunFolderError(f"{self.path} belongs to a run with another {what} configuration ({old} vs {new}); "
                                 "use another run_dir, or delete the folder to start over")

    def _check_checkpoint(self, new: str) -> None:
        from nas.checkpoint import load_checkpoint

        old = load_checkpoint(self.checkpoint).get("fingerprint")
        if old not in (None, new):
            raise RunFolderError(f"{self.checkpoint} belongs to a run with another training configuration ({old} vs "
                                 f"{new}); use another run_dir, or delete the folder to start over")

    # -- the lock ------------------------------------------------------------------------------------------
    @contextmanager
    def lock(self, command: str) -> Iterator[RunFolder]:
        """Hold the folder's lock (``.lock``) for the block, or raise LockedError naming its holder.

        ``command`` is what the refusal of a second process will name (e.g. ``"nas run seed=1"``).
        """
        with FileLock(self.lock_file, subject=f"run folder {self.path}") as lock:
            lock.acquire(command)
            yield self

    def holder(self) -> LockHolder | None:
        """Who holds (or last held) the folder's lock; None when nobody ever did."""
        return FileLock(self.lock_file).holder()

    @contextmanager
    def claim(self, cfg: DictConfig, command: str, fingerprint: Callable[[DictConfig], str],
              overrides: Sequence[str] | None = None) -> Iterator[RunFolder]:
        """Make the folder this process's for the block: check ``cfg``, lock the folder, save the config.

        ``command`` is ``"run"``, ``"train"`` or ``"search"``; ``fingerprint`` hashes what must not change
        between two commands on one folder. Refused (a NASError, before anything is written) when the folder
        was made with another fingerprint or another process holds it. ``overrides`` default to Hydra's.
        """
        kind = "search" if command == "search" else "train"
        self.check_config(cfg, kind, fingerprint)
        hydra_overrides, hydra_yaml = _hydra_record()
        overrides = list(hydra_overrides if overrides is None else overrides)
        existed = self.lock_file.exists()
        with self.lock(shlex.join(["nas", command, *overrides])):
            try:
                self.check_config(cfg, kind, fingerprint)  # again: another process may have claimed it meanwhile
            except NASError:
                if not existed:
                    self.lock_file.unlink(missing_ok=True)
                raise
            self.save_config(cfg, overrides, hydra_yaml)
            yield self


def _hydra_record() -> tuple[list[str], str | None]:
    """This Hydra job's task overrides and its ``hydra.yaml``; nothing outside a Hydra app."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return [], None
    instance = HydraConfig.instance()
    return [str(o) for o in instance.cfg.hydra.overrides.task], OmegaConf.to_yaml(instance.cfg)


# -- export folders (`nas export`) -------------------------------------------------------------------------------
@dataclass
class ExportManifest:
    """``export.json`` of an export folder: which child, how it was checked, where it came from.

    ``max_abs_error`` is, per format (``state_dict``, ``torchscript``, ``onnx``), the largest absolute difference
    between its outputs and the PyTorch model's on ``checked_images`` real images; each is within ``tolerance``.

    Example:
        >>> manifest = ExportManifest("w=1", [1, 16, 16], 10, {"onnx": 2e-7}, 1e-5, 64, 17)
        >>> ExportManifest.from_json(manifest.to_json()) == manifest
        True
    """

    arch: str
    input_shape: list[int]
    num_classes: int
    max_abs_error: dict[str, float]
    tolerance: float
    checked_images: int
    opset: int
    source: dict[str, Any] = field(default_factory=dict)  # run folder, rank, supernet score, exported accuracy

    def to_json(self) -> dict[str, Any]:
        return _record(self)

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> ExportManifest:
        return cls(**_known(cls, record))


class ExportFolder:
    """The files of one exported child (`nas export`): weights, the config that rebuilds them, TorchScript, ONNX.

    Example:
        >>> import tempfile
        >>> folder = ExportFolder(tempfile.mkdtemp())
        >>> [p.name for p in (folder.state_dict, folder.model_config, folder.torchscript, folder.onnx)]
        ['model_state_dict.pt', 'model.yaml', 'model.torchscript.pt', 'model.onnx']
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @property
    def state_dict(self) -> Path:
        return self.path / "model_state_dict.pt"

    @property
    def model_config(self) -> Path:
        """The search space's config (``_target_``) and the architecture: ``build_model`` rebuilds the network."""
        return self.path / "model.yaml"

    @property
    def torchscript(self) -> Path:
        return self.path / "model.torchscript.pt"

    @property
    def onnx(self) -> Path:
        return self.path / "model.onnx"

    @property
    def manifest(self) -> Path:
        return self.path / "export.json"

    def write_config(self, config: dict[str, Any]) -> None:
        write_text_atomic(self.model_config, OmegaConf.to_yaml(OmegaConf.create(config)))

    def read_config(self) -> dict[str, Any]:
        if not self.model_config.is_file():
            raise RunFolderError(f"{self.path} is not an export folder ({self.model_config.name} is missing): "
                                 "point at a folder that `nas export` wrote")
        return OmegaConf.to_container(OmegaConf.load(self.model_config), resolve=True)

    def write_manifest(self, manifest: ExportManifest) -> None:
        RunFolder._write_json(self.manifest, manifest.to_json())

    def read_manifest(self) -> ExportManifest:
        return ExportManifest.from_json(RunFolder(self.path)._read_json(self.manifest))


@dataclass
class SourceRun:
    """What `nas export` / `nas retrain` read from a run folder: the trained supernet's folder and config,
    the evaluator config that scored the children, and the ranking (empty when the folder has none).

    A `nas run` / `nas train` folder is its own training folder; a `nas search` folder points at its
    ``train_dir`` (an oracle search has no supernet: refused).
    """

    folder: RunFolder
    train_dir: Path
    trained: DictConfig
    evaluator: DictConfig
    ranking: list[RankedChild]
    ranked_by: str = "supernet accuracy"   # the order of ``ranking``: a combined ranker's name, or the score's
    name_prefix: str = ""                  # "supernet-" when ``ranking`` is not the order the run printed

    @classmethod
    def of(cls, path: str | Path, order: str = "combined") -> SourceRun:
        """The run folder ``path``, its children in the order the run printed (``order="combined"``: its combined
        ranker's, where it has one) or in the supernet's own (``order="supernet"``: ``ranked_children.json``)."""
        if order not in ("combined", "supernet"):
            raise ConfigError(f"ranking={order!r}: choose combined (the order `nas run` printed) or supernet")
        folder = RunFolder(path)
        if not folder.path.is_dir():
            raise RunFolderError(f"run_dir={folder.path} does not exist: point it at the folder of a finished "
                                 "`nas run`, `nas train` or `nas search`")
        saved = folder.saved_config()
        if saved is None:
            raise RunFolderError(f"{folder.path} is not a run folder ({folder.config} is missing): point run_dir at "
                                 "the folder of a finished `nas run`, `nas train` or `nas search`")
        train_dir = folder.path
        trained = saved
        if SEARCH_KEY in saved:
            if saved.get("objective", "supernet") != "supernet" or saved.get(SEARCH_KEY) is None:
                raise RunFolderError(f"{folder.path} searched a benchmark's table (objective=oracle): it has no "
                                     "supernet to take weights from; point run_dir at a `nas run` / `nas train` "
                                     "folder")
            train_dir = Path(saved[SEARCH_KEY])
            trained = RunFolder(train_dir).trained_config()
        ranking = folder.read_ranking() if folder.ranked_children.is_file() else []
        score = ranking[0].score_key.replace("_", " ") if ranking else "supernet accuracy"
        combined = folder.read_combined_ranking()
        if combined is None:
            return cls(folder, train_dir, trained, saved.evaluator, ranking, score)
        if order == "combined":
            return cls(folder, train_dir, trained, saved.evaluator, combined[1], combined[0])
        return cls(folder, train_dir, trained, saved.evaluator, ranking, score, "supernet-")


# -- retrain folders (`nas retrain`) -----------------------------------------------------------------------------
@dataclass
class RetrainSummary:
    """``retrain.json`` of a retrain folder: the child, how it was trained, and each seed's test accuracy,
    beside the supernet's score and rank of the child in the run it came from.

    Example:
        >>> summary = RetrainSummary("w=1", "scratch", "tiny", {"epochs": 1}, "supernet_accuracy", 80.0, 1, 12,
        ...                          [{"seed": 0, "accuracy": 75.0}], "test")
        >>> RetrainSummary.from_json(summary.to_json()) == summary
        True
    """

    arch: str
    init: str                        # scratch | inherited
    recipe_name: str
    recipe: dict[str, Any]
    score_key: str | None            # what the run ranked by (supernet_accuracy), None: an arch outside the ranking
    score: float | None
    rank: int | None
    ranked_children: int
    seeds: list[dict[str, Any]]      # per seed: seed, accuracy (on eval_split), train_accuracy, seconds, steps
    eval_split: str = "test"
    source: dict[str, Any] = field(default_factory=dict)
    ranked_by: str | None = None     # the order ``rank`` counts in (nas.run_folder.SourceRun.ranked_by)

    def to_json(self) -> dict[str, Any]:
        return _record(self)

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> RetrainSummary:
        return cls(**_known(cls, record))


class RetrainFolder:
    """The files of a `nas retrain` folder: ``retrain.json`` and, per seed, a checkpoint and TensorBoard logs.

    Example:
        >>> folder = RetrainFolder("runs/retrain/x")
        >>> folder.checkpoint(1).as_posix(), folder.tensorboard(1).as_posix()
        ('runs/retrain/x/seed1/checkpoint.pt', 'runs/retrain/x/seed1/tensorboard')
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @property
    def summary(self) -> Path:
        return self.path / "retrain.json"

    def seed_dir(self, seed: int) -> Path:
        return self.path / f"seed{int(seed)}"

    def checkpoint(self, seed: int) -> Path:
        return self.seed_dir(seed) / "checkpoint.pt"

    def tensorboard(self, seed: int) -> Path:
        return self.seed_dir(seed) / "tensorboard"

    def write_summary(self, summary: RetrainSummary) -> None:
        RunFolder._write_json(self.summary, summary.to_json())

    def read_summary(self) -> RetrainSummary:
        return RetrainSummary.from_json(RunFolder(self.path)._read_json(self.summary))

    @contextmanager
    def lock(self, command: str) -> Iterator[RetrainFolder]:
        """One `nas retrain` per folder at a time (the folder's ``.lock``; a second one is told who holds it)."""
        with RunFolder(self.path).lock(command):
            yield self
