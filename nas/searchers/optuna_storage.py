"""Optuna storage from a URL: a journal file (the default for parallel workers) or a database."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import optuna
from optuna.storages.journal import JournalFileBackend

from nas.errors import ConfigError

JOURNAL_NAME = "optuna_journal.log"
"""The journal file a run folder gets when ``searcher.storage`` is null."""


def open_storage(url: str | os.PathLike | None) -> optuna.storages.BaseStorage | None:
    """The storage behind ``url``; ``None`` keeps the study in memory (one process).

    - a path (optionally ``journal:PATH``): an Optuna ``JournalStorage`` file that several worker
      processes append to (file locks; works on local and network file systems; see ``UnsyncedJournalFile``);
    - a database URL with ``://`` (``sqlite:///study.db``, ``postgresql://...``): ``RDBStorage``.

    A storage that cannot be opened is a ConfigError that names the URL and the fix.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> type(open_storage(folder / "study.log")).__name__
        'JournalStorage'
        >>> open_storage(None) is None
        True
    """
    if url is None:
        return None
    text = str(url)
    if "://" in text:
        return _database(text)
    return _journal(Path(text.removeprefix("journal:")).expanduser())


def _journal(path: Path) -> optuna.storages.BaseStorage:
    fix = "create the folder, or point searcher.storage at a file in an existing, writable folder"
    if path.is_dir():
        raise ConfigError(f"Optuna journal storage {path} is a folder, not a file: name a file such as "
                          f"{path / JOURNAL_NAME}")
    if not path.parent.is_dir():
        raise ConfigError(f"cannot open Optuna journal storage {path}: folder {path.parent} does not exist; {fix}")
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ConfigError(f"cannot open Optuna journal storage {path}: not writable; {fix}")
    try:
        return optuna.storages.JournalStorage(UnsyncedJournalFile(str(path)))
    except Exception as exc:  # a damaged journal, a lock that cannot be taken
        raise ConfigError(f"cannot open Optuna journal storage {path} ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0][:200] if str(exc) else ''}); {fix}, or delete a damaged "
                          "journal to start the study afresh") from None


def _database(url: str) -> optuna.storages.BaseStorage:
    fix = "check the URL (sqlite:///relative.db, sqlite:////absolute/path.db, postgresql://user@host/db)"
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):])
        if str(path) not in ("", ":memory:") and not path.parent.is_dir():
            raise ConfigError(f"cannot open Optuna storage {url!r}: folder {path.parent} does not exist; "
                              f"create it or {fix}")
    try:
        return optuna.storages.RDBStorage(url)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise ConfigError(f"cannot open Optuna storage {url!r} ({type(exc).__name__}: {first}); {fix}") from None


class UnsyncedJournalFile(JournalFileBackend):
    """Optuna's journal file backend, each append written and closed under the file lock but not fsync'ed.

    Optuna fsyncs every journal write, about nine per trial (create, one per decision, values): at ~4 ms
    each on a local disk that was most of TPE's overhead per proposal. Without it nothing that matters is
    lost: other processes see a closed append at once (shared page cache; NFS close-to-open), a killed
    process loses nothing, and after a machine crash the searcher's own state file (``search(...,
    state_path=...)``, as `nas search` does: written atomically and fsync'ed after every trial) re-adds to the
    study, on ``load``, whatever trials its journal lost.
    """

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        text = "\n".join(json.dumps(log, separators=(",", ":")) for log in logs) + "\n"
        self._lock.acquire()
        try:
            with open(self._file_path, "ab") as handle:
                handle.write(text.encode("utf-8"))
        finally:
            self._lock.release()
