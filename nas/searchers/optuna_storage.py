"""Optuna storage from a URL: a journal file (the default for parallel workers) or a database."""

from __future__ import annotations

import json
import os
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
from optuna.storages._heartbeat import BaseHeartbeat
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

from nas.errors import ConfigError

JOURNAL_NAME = "optuna_journal.log"
"""The journal file a run folder gets when ``searcher.storage`` is null."""


def open_storage(url: str | os.PathLike | None, heartbeat_seconds: int | None = None,
                 grace_seconds: int | None = None, retries: int | None = 2) -> optuna.storages.BaseStorage | None:
    """The storage behind ``url``; ``None`` keeps the study in memory (one process).

    - a path (optionally ``journal:PATH``): an Optuna ``JournalStorage`` file that several worker
      processes append to (file locks; works on local and network file systems; see ``UnsyncedJournalFile``);
    - a database URL with ``://`` (``sqlite:///study.db``, ``postgresql://user@host:port/db``): ``RDBStorage``
      (``postgresql://`` is opened with the psycopg 3 driver, the ``postgresql`` extra).

    ``heartbeat_seconds`` (``None``: off) turns on heartbeats, on a database (Optuna's own) and on a journal
    file (``HeartbeatJournalStorage``: a trial attribute): a trial whose worker has not beaten for
    ``grace_seconds`` (default twice the interval) is failed by the next worker that asks, and retried
    (``retries`` times at most, ``None``: without limit) as a new trial with the same parameters.

    A storage that cannot be opened is a ConfigError that names the URL and the fix.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> type(open_storage(folder / "study.log")).__name__
        'JournalStorage'
        >>> type(open_storage(folder / "study.log", heartbeat_seconds=60)).__name__
        'HeartbeatJournalStorage'
        >>> open_storage(None) is None
        True
    """
    if url is None:
        return None
    text = str(url)
    if "://" in text:
        return _database(text, heartbeat_seconds, grace_seconds, retries)
    return _journal(Path(text.removeprefix("journal:")).expanduser(), heartbeat_seconds, grace_seconds, retries)


def _journal(path: Path, heartbeat_seconds: int | None = None, grace_seconds: int | None = None,
             retries: int | None = 2) -> optuna.storages.BaseStorage:
    fix = "create the folder, or point searcher.storage at a file in an existing, writable folder"
    if path.is_dir():
        raise ConfigError(f"Optuna journal storage {path} is a folder, not a file: name a file such as "
                          f"{path / JOURNAL_NAME}")
    if not path.parent.is_dir():
        raise ConfigError(f"cannot open Optuna journal storage {path}: folder {path.parent} does not exist; {fix}")
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ConfigError(f"cannot open Optuna journal storage {path}: not writable; {fix}")
    try:
        if heartbeat_seconds is None:
            return optuna.storages.JournalStorage(UnsyncedJournalFile(str(path)))
        return HeartbeatJournalStorage(UnsyncedJournalFile(str(path)), heartbeat_seconds, grace_seconds,
                                       _retry_callback(retries))
    except Exception as exc:  # a damaged journal, a lock that cannot be taken
        raise ConfigError(f"cannot open Optuna journal storage {path} ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0][:200] if str(exc) else ''}); {fix}, or delete a damaged "
                          "journal to start the study afresh") from None


POSTGRESQL_SCHEMES = ("postgresql://", "postgres://")
"""URL schemes opened with SQLAlchemy's psycopg (version 3) dialect."""


def is_sqlite(url: str | os.PathLike | None) -> bool:
    """Whether ``url`` names an SQLite database (one writer at a time: not for parallel workers)."""
    return url is not None and str(url).startswith("sqlite:")


def check_workers(url: str | os.PathLike | None, workers: int) -> None:
    """Refuse a storage that cannot serve ``workers`` processes: an SQLite file (locks, no heartbeats) or none."""
    if workers <= 1:
        return
    if is_sqlite(url):
        raise ConfigError(f"searcher.storage={url} with searcher.workers={workers}: SQLite serves one worker at a "
                          "time; use a journal file (searcher.storage=/shared/folder/study.log) or PostgreSQL "
                          "(searcher.storage=postgresql://user@host:5432/db), or searcher.workers=1")


def sqlalchemy_url(url: str) -> str:
    """``url`` with ``postgresql://`` (or ``postgres://``) mapped to the psycopg 3 driver; others unchanged.

    Example:
        >>> sqlalchemy_url("postgresql://nas@db:5432/search")
        'postgresql+psycopg://nas@db:5432/search'
        >>> sqlalchemy_url("sqlite:///study.db")
        'sqlite:///study.db'
    """
    for scheme in POSTGRESQL_SCHEMES:
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme):]
    return url


def _database(url: str, heartbeat_seconds: int | None = None, grace_seconds: int | None = None,
              retries: int | None = 2) -> optuna.storages.BaseStorage:
    fix = "check the URL (sqlite:///relative.db, sqlite:////absolute/path.db, postgresql://user@host:port/db)"
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):])
        if str(path) not in ("", ":memory:") and not path.parent.is_dir():
            raise ConfigError(f"cannot open Optuna storage {url!r}: folder {path.parent} does not exist; "
                              f"create it or {fix}")
    target = sqlalchemy_url(url)
    if target.startswith("postgresql+psycopg://"):
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise ConfigError(f"Optuna storage {url!r} needs the psycopg driver: pip install -e '.[postgresql]'"
                              ) from None
    for attempt in range(5):
        try:
            with warnings.catch_warnings():  # heartbeats are experimental in Optuna
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(target, **_heartbeat_options(heartbeat_seconds, grace_seconds,
                                                                                retries))
        except Exception as exc:
            # Workers that open a new database at once race to create Optuna's tables: the losers try again.
            if attempt < 4 and type(exc).__name__ in ("IntegrityError", "ProgrammingError"):
                time.sleep(0.2 * (attempt + 1))
                continue
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
            raise ConfigError(f"cannot open Optuna storage {url!r} ({type(exc).__name__}: {first}); {fix}") from None
    raise AssertionError("unreachable")


def _heartbeat_options(heartbeat_seconds: int | None, grace_seconds: int | None,
                       retries: int | None) -> dict[str, Any]:
    """RDBStorage's keyword arguments for heartbeats (none when ``heartbeat_seconds`` is ``None``)."""
    if heartbeat_seconds is None:
        return {}
    key = "heartbeat_stale_trial_callback" if hasattr(optuna.storages, "RetryHeartbeatStaleTrialCallback") \
        else "failed_trial_callback"  # Optuna >= 4.9 renamed it
    return {"heartbeat_interval": int(heartbeat_seconds), "grace_period": grace_seconds,
            key: _retry_callback(retries)}


def _retry_callback(retries: int | None) -> Callable[[optuna.Study, FrozenTrial], None]:
    """Optuna's callback that re-enqueues a dead worker's trial (same parameters) ``retries`` times at most."""
    retry = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None)  # Optuna >= 4.9
    if retry is None:
        retry = optuna.storages.RetryFailedTrialCallback
    with warnings.catch_warnings():  # experimental in Optuna
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return retry(max_retry=retries)


HEARTBEAT_ATTR = "nas:heartbeat"
"""The trial system attribute where ``HeartbeatJournalStorage`` records a trial's last beat (Unix time)."""


class HeartbeatJournalStorage(optuna.storages.JournalStorage, BaseHeartbeat):
    """A journal file with heartbeats: the reaper of dead workers' trials that Optuna has only for databases.

    A beat is a trial system attribute (``HEARTBEAT_ATTR``: the beating machine's Unix time) appended to the
    journal, so every worker sees it; a RUNNING trial whose last beat (or, before its first, its start) is older
    than ``grace_seconds`` (default twice the interval) is stale. ``optuna.storages.fail_stale_trials(study)``
    fails it and ``stale_callback`` retries it, exactly as on ``RDBStorage``; ``OptunaSearch`` does both before
    each ask, so a worker's first ask at start-up reaps what dead workers left, and ``TrialHeartbeat`` beats.
    Of two workers that fail one trial at once, the journal applies the first; the second gets Optuna's
    ``UpdateFinishedTrialError``, which ``fail_stale_trials`` ignores: the trial is retried once.

    The clocks of the machines that share the file must agree to well within ``grace_seconds``.
    """

    def __init__(self, backend: optuna.storages.journal.BaseJournalBackend, heartbeat_seconds: int,
                 grace_seconds: int | None = None,
                 stale_callback: Callable[[optuna.Study, FrozenTrial], None] | None = None):
        if int(heartbeat_seconds) <= 0 or (grace_seconds is not None and int(grace_seconds) <= 0):
            raise ConfigError(f"heartbeat_seconds={heartbeat_seconds} and grace_seconds={grace_seconds} must be "
                              "positive (grace_seconds may be null: twice heartbeat_seconds)")
        super().__init__(backend)
        self.heartbeat_interval = int(heartbeat_seconds)
        self.grace_period = int(grace_seconds) if grace_seconds is not None else 2 * self.heartbeat_interval
        self.stale_callback = stale_callback

    def record_heartbeat(self, trial_id: int) -> None:
        self.set_trial_system_attr(trial_id, HEARTBEAT_ATTR, time.time())

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        deadline = time.time() - self.grace_period
        return [trial._trial_id for trial in self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,))
                if last_beat(trial) < deadline]

    def get_heartbeat_interval(self) -> int | None:
        return self.heartbeat_interval

    def get_heartbeat_stale_trial_callback(self) -> Callable[[optuna.Study, FrozenTrial], None] | None:
        return self.stale_callback

    def get_failed_trial_callback(self) -> Callable[[optuna.Study, FrozenTrial], None] | None:
        return self.stale_callback  # Optuna < 4.9 calls it by this name


def last_beat(trial: FrozenTrial) -> float:
    """Unix time of ``trial``'s last heartbeat on a journal file, or of its start if it has not beaten since.

    A retried trial inherits its dead original's attributes, the old beat too: its own start is what counts.
    """
    start = trial.datetime_start.timestamp() if trial.datetime_start is not None else 0.0
    return max(float(trial.system_attrs.get(HEARTBEAT_ATTR, 0.0)), start)


class TrialHeartbeat:
    """Beats for one trial of a heartbeat-enabled storage from a daemon thread until ``stop``.

    Optuna beats only inside ``Study.optimize``; an ask-and-tell searcher starts one of these per asked trial,
    so a worker killed mid-trial stops beating and the others fail and retry its trial
    (``optuna.storages.fail_stale_trials``).
    """

    def __init__(self, storage: optuna.storages.BaseStorage, trial_id: int):
        self._storage, self._trial_id = storage, trial_id
        self._stop = threading.Event()
        storage.record_heartbeat(trial_id)  # beat before returning: the trial is never seen without one
        self._thread = threading.Thread(target=self._beat, name=f"optuna-heartbeat-{trial_id}", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        interval = float(self._storage.get_heartbeat_interval())
        while not self._stop.wait(interval):
            try:
                self._storage.record_heartbeat(self._trial_id)
            except Exception:  # a database hiccup: the next beat tries again; a long outage fails the trial
                pass

    def stop(self) -> None:
        """Stop beating (the trial was told); returns once the thread has ended."""
        self._stop.set()
        self._thread.join()


def heartbeat_enabled(storage: optuna.storages.BaseStorage | None) -> bool:
    """Whether ``storage`` records heartbeats (an ``RDBStorage`` opened with ``heartbeat_seconds``, or a study's
    cache around one)."""
    interval = getattr(storage, "get_heartbeat_interval", None)
    return callable(interval) and interval() is not None


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
