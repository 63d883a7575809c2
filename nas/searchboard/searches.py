"""Search-only rows of the search board: another searcher on the supernets of one of the board's training rows,
or a searcher on a free ranker with no supernet at all.

A search-only row (board config ``searches: {<name>: {supernet: <row of rows>, overrides: [...]}}``) trains
nothing: for each seed k it runs ``nas search train_dir=<runs_dir>/<supernet>/seed<k> seed=<k> <overrides>`` into
``<runs_dir>/<name>/seed<k>/``, so several searchers compare on the very same supernets at the queries they are
given (``search.budget``). Its overrides set only what `nas search` does; anything that would change the training
belongs to a row of ``rows``. A free-ranker row (``supernet: null``, overrides with ``objective=ranker
free_ranker=<conf/ranker name>``) runs ``nas search seed=<k> <overrides>``: the searcher queries the proxy, the
baseline every supernet's search must beat to be worth its training.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from nas.errors import ConfigError

SEARCH_KEYS = ("searcher", "search", "evaluator", "benchmark", "latency", "report", "objective", "free_ranker")
"""The top-level keys a search-only row may override: the searcher, its budget, how the supernet scores children,
the ground truth and latency it reads, the report. Training keys (trainer, method, samplers, dataset, search space,
experiment, preset, ...) would change nothing in `nas search` (the supernet is trained), and seed / train_dir are the
board's. ``objective`` and ``free_ranker`` belong to a free-ranker row (no supernet) only."""


@dataclass(frozen=True)
class SearchOnly:
    """A search-only row: the training row whose supernets it searches (None: a free-ranker row, which searches a
    free ranker and trains nothing), and its `nas search` overrides.

    Example:
        >>> row = SearchOnly.of("tpe", {"supernet": "spos", "overrides": ["searcher=tpe"]}, ["spos"])
        >>> row.command_overrides("runs/searchboard")
        ['train_dir=runs/searchboard/spos/seed${seed}', 'searcher=tpe']
        >>> try:
        ...     SearchOnly.of("tpe", {"supernet": "spos", "overrides": ["trainer.epochs=60"]}, ["spos"])
        ... except ConfigError as exc:
        ...     print(str(exc)[:65])
        searches.tpe.overrides: trainer.epochs=60 is not a search setting
        >>> free = SearchOnly.of("params_re", {"supernet": None, "overrides": ["objective=ranker",
        ...                      "free_ranker=params", "searcher=evolution"]}, ["spos"])
        >>> free.is_free, free.command_overrides("runs/searchboard")
        (True, ['objective=ranker', 'free_ranker=params', 'searcher=evolution'])
    """

    name: str
    supernet: str | None
    overrides: tuple[str, ...]

    @property
    def is_free(self) -> bool:
        """Whether the row searches a free ranker (no supernet, nothing trained)."""
        return self.supernet is None

    @classmethod
    def of(cls, name: str, spec: DictConfig | dict, rows: Sequence[str]) -> SearchOnly:
        """Check one entry of the board's ``searches`` map against the board's training ``rows``."""
        supernet, overrides = spec.get("supernet"), [str(o) for o in spec.get("overrides") or []]
        if name in rows:
            raise ConfigError(f"searches.{name}: {name!r} is also a row of `rows:`; give the search-only row another "
                              "name")
        if supernet is not None and supernet not in rows:
            raise ConfigError(f"searches.{name}.supernet={supernet}: a search-only row searches the supernets of a "
                              f"training row of the board; use one of {list(rows)} (or null with objective=ranker: "
                              "a free ranker, no supernet)")
        objective = next((o.split("=", 1)[1] for o in overrides if o.split("=", 1)[0].lstrip("+~") == "objective"),
                         None)
        if supernet is None and objective != "ranker":
            raise ConfigError(f"searches.{name}: a row without a supernet searches a free ranker: add objective=ranker "
                              "and free_ranker=<a name of conf/ranker/> to its overrides, or name the training row "
                              f"whose supernets it searches (supernet: one of {list(rows)})")
        if supernet is not None and objective not in (None, "supernet"):
            raise ConfigError(f"searches.{name}.overrides: objective={objective} does not search {supernet}'s "
                              "supernets; drop it (a free-ranker row has supernet: null)")
        for override in overrides:
            key = override.split("=", 1)[0].lstrip("+~")
            if "=" not in override:
                raise ConfigError(f"searches.{name}.overrides: {override!r} is not key=value (e.g. searcher=tpe)")
            if key.split(".")[0] not in SEARCH_KEYS:
                raise ConfigError(f"searches.{name}.overrides: {override} is not a search setting: a search-only row "
                                  f"shares the training of its supernet ({supernet}), so it overrides only "
                                  f"{', '.join(SEARCH_KEYS)} keys; to train another supernet, make it a row of "
                                  "`rows:`")
        return cls(name, None if supernet is None else str(supernet), tuple(overrides))

    def train_dir(self, runs_dir: str | Path, seed: int) -> Path | None:
        """The supernet run that seed ``seed`` of this row searches (None for a free-ranker row)."""
        return None if self.supernet is None else Path(runs_dir) / self.supernet / f"seed{seed}"

    def command_overrides(self, runs_dir: str | Path) -> list[str]:
        """The `nas search` overrides of this row over seeds (``seed=...`` picks each seed's supernet)."""
        if self.supernet is None:
            return list(self.overrides)
        return [f"train_dir={Path(runs_dir) / self.supernet}/seed${{seed}}", *self.overrides]

    def recorded_overrides(self, saved: Sequence[str], runs_dir: str | Path) -> list[str]:
        """A run's saved overrides with its ``train_dir`` as :meth:`command_overrides` writes it (Hydra records a
        sweep job's ``seed${seed}`` escaped, ``seed$\\{seed\\}``); empty when nothing was saved."""
        if self.supernet is None:
            return list(saved)
        rest = [o for o in saved if o.split("=", 1)[0].lstrip("+~") != "train_dir"]
        return [self.command_overrides(runs_dir)[0], *rest] if saved else []


def search_rows(cfg: DictConfig) -> dict[str, SearchOnly]:
    """The board's search-only rows (``searches``), each checked against its training rows (``rows``)."""
    rows = list(cfg.rows or {})
    return {str(name): SearchOnly.of(str(name), spec, rows) for name, spec in (cfg.get("searches") or {}).items()}
