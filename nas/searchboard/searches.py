"""Search-only rows of the search board: another searcher on the supernets of one of the board's training rows.

A search-only row (board config ``searches: {<name>: {supernet: <row of rows>, overrides: [...]}}``) trains
nothing: for each seed k it runs ``nas search train_dir=<runs_dir>/<supernet>/seed<k> seed=<k> <overrides>`` into
``<runs_dir>/<name>/seed<k>/``, so several searchers compare on the very same supernets at the queries they are
given (``search.budget``). Its overrides set only what `nas search` does; anything that would change the training
belongs to a row of ``rows``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from nas.errors import ConfigError

SEARCH_KEYS = ("searcher", "search", "evaluator", "benchmark", "latency", "report")
"""The top-level keys a search-only row may override: the searcher, its budget, how the supernet scores children,
the ground truth and latency it reads, the report. Training keys (trainer, method, samplers, dataset, search space,
experiment, preset, ...) would change nothing in `nas search` (the supernet is trained), and seed / train_dir are the
board's."""


@dataclass(frozen=True)
class SearchOnly:
    """A search-only row: the training row whose supernets it searches, and its `nas search` overrides.

    Example:
        >>> row = SearchOnly.of("tpe", {"supernet": "spos", "overrides": ["searcher=tpe"]}, ["spos"])
        >>> row.command_overrides("runs/searchboard")
        ['train_dir=runs/searchboard/spos/seed${seed}', 'searcher=tpe']
        >>> try:
        ...     SearchOnly.of("tpe", {"supernet": "spos", "overrides": ["trainer.epochs=60"]}, ["spos"])
        ... except ConfigError as exc:
        ...     print(str(exc)[:65])
        searches.tpe.overrides: trainer.epochs=60 is not a search setting
    """

    name: str
    supernet: str
    overrides: tuple[str, ...]

    @classmethod
    def of(cls, name: str, spec: DictConfig | dict, rows: Sequence[str]) -> SearchOnly:
        """Check one entry of the board's ``searches`` map against the board's training ``rows``."""
        supernet, overrides = spec.get("supernet"), [str(o) for o in spec.get("overrides") or []]
        if name in rows:
            raise ConfigError(f"searches.{name}: {name!r} is also a row of `rows:`; give the search-only row another "
                              "name")
        if supernet not in rows:
            raise ConfigError(f"searches.{name}.supernet={supernet}: a search-only row searches the supernets of a "
                              f"training row of the board; use one of {list(rows)}")
        for override in overrides:
            key = override.split("=", 1)[0].lstrip("+~")
            if "=" not in override:
                raise ConfigError(f"searches.{name}.overrides: {override!r} is not key=value (e.g. searcher=tpe)")
            if key.split(".")[0] not in SEARCH_KEYS:
                raise ConfigError(f"searches.{name}.overrides: {override} is not a search setting: a search-only row "
                                  f"shares the training of its supernet ({supernet}), so it overrides only "
                                  f"{', '.join(SEARCH_KEYS)} keys; to train another supernet, make it a row of "
                                  "`rows:`")
        return cls(name, str(supernet), tuple(overrides))

    def train_dir(self, runs_dir: str | Path, seed: int) -> Path:
        """The supernet run that seed ``seed`` of this row searches."""
        return Path(runs_dir) / self.supernet / f"seed{seed}"

    def command_overrides(self, runs_dir: str | Path) -> list[str]:
        """The `nas search` overrides of this row over seeds (``seed=...`` picks each seed's supernet)."""
        return [f"train_dir={Path(runs_dir) / self.supernet}/seed${{seed}}", *self.overrides]

    def recorded_overrides(self, saved: Sequence[str], runs_dir: str | Path) -> list[str]:
        """A run's saved overrides with its ``train_dir`` as :meth:`command_overrides` writes it (Hydra records a
        sweep job's ``seed${seed}`` escaped, ``seed$\\{seed\\}``); empty when nothing was saved."""
        rest = [o for o in saved if o.split("=", 1)[0].lstrip("+~") != "train_dir"]
        return [self.command_overrides(runs_dir)[0], *rest] if saved else []


def search_rows(cfg: DictConfig) -> dict[str, SearchOnly]:
    """The board's search-only rows (``searches``), each checked against its training rows (``rows``)."""
    rows = list(cfg.rows or {})
    return {str(name): SearchOnly.of(str(name), spec, rows) for name, spec in (cfg.get("searches") or {}).items()}
