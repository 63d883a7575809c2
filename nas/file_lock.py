"""An exclusive lock on a file that says who holds it: ``fcntl.flock`` plus the holder's pid, command and start.

The operating system releases a ``flock`` when its holder exits or crashes, so a lock is never left stale;
the holder's description stays in the file (it is rewritten by the next holder) and is only read to name
the holder when someone else is refused.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from nas.errors import LockedError


@dataclass(frozen=True)
class LockHolder:
    """Who holds a lock: process id, host, the command it runs and since when (local time, ISO 8601)."""

    pid: int
    command: str
    since: str
    host: str = ""

    def describe(self) -> str:
        host = f" on {self.host}" if self.host and self.host != socket.gethostname() else ""
        return f"pid {self.pid}{host} (`{self.command}`), since {self.since}"


class FileLock:
    """An exclusive, non-blocking lock on ``path`` (created if missing) that records its holder.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / ".lock"
        >>> first, second = FileLock(path), FileLock(path)
        >>> first.acquire("nas run seed=1")
        >>> try:
        ...     second.acquire("nas run seed=1")
        ... except LockedError as error:
        ...     print(str(error).split(" by ")[0] == f"{path.parent} is in use")
        True
        >>> first.release(); second.acquire("nas run seed=1"); second.release()
    """

    def __init__(self, path: str | Path, subject: str | None = None,
                 fix: str = "wait for it to finish, or use another run_dir") -> None:
        self.path = Path(path)
        self.subject = subject or str(self.path.parent)  # what the refusal says is in use
        self.fix = fix
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def holder(self) -> LockHolder | None:
        """The description the last (or current) holder wrote; None when there is none or it is unreadable."""
        try:
            record = json.loads(self.path.read_text())
            return LockHolder(int(record["pid"]), str(record["command"]), str(record["since"]),
                              str(record.get("host", "")))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def acquire(self, command: str) -> None:
        """Take the lock and write this process into the file, or raise LockedError naming the holder."""
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = self.holder()
            who = holder.describe() if holder is not None else "another process (it has not said who yet)"
            raise LockedError(f"{self.subject} is in use by {who}: {self.fix}") from None
        # Rewritten in place, never replaced: a new file would be a new lock.
        record = {"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                  "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> FileLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
