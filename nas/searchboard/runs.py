"""What one search run found, read from its run folder or its archive.

A gradient-based run (``found_architecture.json``) found the argmax architecture, and its any-time record
(``anytime.json``) holds the argmax of every epoch; a searcher run (SPOS + regularized evolution, random search with
weight sharing) found the child its supernet scores highest (the first of ``ranked_children.json``). Both cost
their training seconds plus their search seconds (a gradient-based search searches while it trains). A search-only
row's run (a `nas search` of another row's supernet, :func:`read_shared_search_run`) found the first of its ranked
children too; it trained nothing, so it costs its supernet's training seconds plus its own search seconds. A
free-ranker row's run (`nas search objective=ranker`, :func:`read_free_search_run`) found the child its proxy scores
highest, with no supernet: it costs its search seconds alone, and its peak memory is its own process's.

Every collected run is archived as one small JSON file (``<assets>/runs/<row>/seed<k>.json``), so the board can
be collected again after the run folders (with their checkpoints, not committed) are gone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from nas.atomic import write_text_atomic
from nas.errors import RunFolderError
from nas.run_folder import SEARCH_KEY, RunFolder

KINDS = ("gradient", "searcher", "free")


@dataclass
class SearchRun:
    """One seed of one row: the found architecture, its cost, its peak memory and its any-time record.

    ``anytime`` lists ``(epoch, argmax architecture)`` (gradient-based runs; empty for searcher runs);
    ``peak_memory_mib`` the peak of the run's training (``rss``; ``cuda`` on a GPU), empty when not recorded;
    ``supernet`` the row whose supernet a search-only run searched (its training and peak memory are that run's).

    Example:
        >>> run = SearchRun("darts", 0, "gradient", "a", 60.0, 0.0, {"rss": 800.0}, [(1, "b"), (2, "a")], ["m=d"])
        >>> SearchRun.from_json(run.to_json()) == run, run.cost_seconds, run.peak_mib
        (True, 60.0, 800.0)
    """

    row: str
    seed: int
    kind: str
    arch: str
    train_seconds: float
    search_seconds: float
    peak_memory_mib: dict[str, float] = field(default_factory=dict)
    anytime: list[tuple[int, str]] = field(default_factory=list)
    overrides: list[str] = field(default_factory=list)
    supernet: str | None = None

    @property
    def cost_seconds(self) -> float:
        """Training plus search seconds."""
        return self.train_seconds + self.search_seconds

    @property
    def peak_mib(self) -> float | None:
        """The GPU's peak where the run had one, else the process's peak resident memory; None: not recorded."""
        return self.peak_memory_mib.get("cuda", self.peak_memory_mib.get("rss"))

    def to_json(self) -> dict[str, Any]:
        record = {f.name: getattr(self, f.name) for f in fields(self)}
        record["anytime"] = [[epoch, arch] for epoch, arch in self.anytime]
        return record

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> SearchRun:
        return cls(str(record["row"]), int(record["seed"]), str(record["kind"]), str(record["arch"]),
                   float(record["train_seconds"]), float(record["search_seconds"]),
                   {k: float(v) for k, v in (record.get("peak_memory_mib") or {}).items()},
                   [(int(e), str(a)) for e, a in record.get("anytime") or []], list(record.get("overrides") or []),
                   record.get("supernet"))


def finished(folder: str | Path) -> bool:
    """Whether the run folder holds a finished `nas run` or `nas search` (its ``summary.json``)."""
    return RunFolder(folder).summary.exists()


def read_search_run(folder: str | Path, row: str, seed: int, overrides: list[str]) -> SearchRun:
    """The finished run in ``folder`` (see the module docstring)."""
    folder = RunFolder(folder)
    summary = folder.read_summary()
    points = folder.read_anytime()
    peak = dict(points[-1].peak_memory_mib) if points else dict(summary.peak_memory_mib)
    found = folder.read_found_architecture()
    if found is not None:
        return SearchRun(row, seed, "gradient", found.arch, found.train_seconds, 0.0,
                         peak or dict(found.peak_memory_mib),
                         [(p.epoch, p.arch) for p in points if p.arch is not None], overrides)
    if not folder.ranked_children.exists():
        raise RunFolderError(f"{folder.path} holds neither {folder.found_architecture.name} (a gradient-based search) "
                             f"nor {folder.ranked_children.name} (a searcher's ranking): it is not a search run; delete "
                             "it and rerun `nas searchboard`")
    ranking = folder.read_ranking()
    if not ranking:
        raise RunFolderError(f"{folder.path}'s ranking is empty: delete the folder and rerun `nas searchboard`")
    return SearchRun(row, seed, "searcher", ranking[0].arch, summary.train_seconds, summary.search_seconds, peak, [],
                     overrides)


def read_shared_search_run(folder: str | Path, supernet: SearchRun, row: str, overrides: list[str]) -> SearchRun:
    """The finished `nas search` in ``folder`` that searched ``supernet``'s run (same seed): the first of its ranked
    children, its own search seconds, and its supernet's training seconds and peak memory (the training is shared)."""
    if SEARCH_KEY not in (RunFolder(folder).saved_config() or {}):
        raise RunFolderError(f"{folder} is not the folder of a `nas search`, as the search-only row {row!r} makes: "
                             "delete it and rerun `nas searchboard`")
    run = read_search_run(folder, row, supernet.seed, overrides)
    return replace(run, train_seconds=supernet.train_seconds, peak_memory_mib=dict(supernet.peak_memory_mib),
                   supernet=supernet.row)


def read_free_search_run(folder: str | Path, row: str, seed: int, overrides: list[str]) -> SearchRun:
    """The finished `nas search objective=ranker` in ``folder``: the first of its ranked children (the child the free
    ranker scores highest), its search seconds and its own peak memory; nothing trained."""
    saved = RunFolder(folder).saved_config() or {}
    if SEARCH_KEY not in saved or saved.get("objective") != "ranker":
        raise RunFolderError(f"{folder} is not the folder of a `nas search objective=ranker`, as the free-ranker row "
                             f"{row!r} makes: delete it and rerun `nas searchboard`")
    return replace(read_search_run(folder, row, seed, overrides), kind="free", train_seconds=0.0)


def archive_search_run(run: SearchRun, path: str | Path) -> None:
    """Write ``run``'s archive atomically."""
    write_text_atomic(Path(path), json.dumps(run.to_json(), indent=1) + "\n")


def read_archived_search_run(path: str | Path) -> SearchRun:
    try:
        return SearchRun.from_json(json.loads(Path(path).read_text()))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RunFolderError(f"{path} is unreadable ({type(exc).__name__}: {exc}): delete it and rerun the row "
                             "(`nas searchboard only=[<row>]`)") from None
