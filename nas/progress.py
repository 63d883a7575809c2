"""Progress output: a live tqdm bar on a terminal, a few plain lines in logs and CI.

tqdm redraws its bar several times a second; written to a file or a pipe, every redraw is one more
line (thousands per run). :func:`progress_bar` gives a tqdm bar only when stderr is a terminal;
otherwise a :class:`LogProgress` that writes a line at the start, then at most one line per
``min_interval`` seconds *and* per ``min_fraction`` of the total (whichever is rarer), and one at the end.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, TextIO, TypeVar

from tqdm import tqdm

LOG_INTERVAL_SECONDS = 30.0
"""Without a terminal: at least this many seconds between two progress lines ..."""

LOG_FRACTION = 0.1
"""... and at least this share of the total."""

T = TypeVar("T")

_FORMAT = "{desc}: {percentage:3.0f}% {n_fmt}/{total_fmt} {unit} [{elapsed}<{remaining}, {rate_fmt}{postfix}]"


class ProgressBar(Protocol):
    """What callers may use: the part of tqdm's interface that both kinds of bar implement."""

    n: int
    total: int

    def update(self, n: int = 1) -> None: ...
    def set_postfix(self, ordered_dict: dict[str, Any] | None = None, refresh: bool = True, **kwargs: Any) -> None: ...
    def write(self, text: str) -> None: ...
    def close(self) -> None: ...
    def __enter__(self) -> "ProgressBar": ...
    def __exit__(self, *exc: object) -> None: ...


class LogProgress:
    """A tqdm-compatible progress reporter for logs: a handful of lines, never one per step.

    Example:
        >>> import io
        >>> clock = iter(range(0, 10_000, 10)).__next__       # 10 s per step
        >>> out = io.StringIO()
        >>> with LogProgress(100, "searching", unit="child", file=out, clock=clock) as bar:
        ...     for _ in range(100):
        ...         bar.update()
        >>> lines = out.getvalue().splitlines()
        >>> len(lines), lines[0].split(" [")[0], lines[-1].split(" [")[0]
        (11, 'searching:   0% 0/100 child', 'searching: 100% 100/100 child')
    """

    def __init__(self, total: int, desc: str, unit: str = "it", initial: int = 0, file: TextIO | None = None,
                 min_interval: float = LOG_INTERVAL_SECONDS, min_fraction: float = LOG_FRACTION,
                 clock: Callable[[], float] = time.monotonic):
        self.total, self.n, self.desc, self.unit = int(total), int(initial), desc, unit
        self.min_interval, self.min_fraction = float(min_interval), float(min_fraction)
        self._file, self._clock = file, clock
        self._postfix = ""
        self._start = clock()
        self._initial = self.n
        self._last_time, self._last_n = self._start, self.n
        self._closed = False
        self._line(self._start)

    @property
    def file(self) -> TextIO:
        return self._file if self._file is not None else sys.stderr  # looked up late: redirections apply

    def update(self, n: int = 1) -> None:
        self.n += int(n)
        now = self._clock()
        if (now - self._last_time >= self.min_interval
                and self.n - self._last_n >= self.min_fraction * max(self.total, 1) and self.n < self.total):
            self._line(now)

    def set_postfix(self, ordered_dict: dict[str, Any] | None = None, refresh: bool = True, **kwargs: Any) -> None:
        items = {**(ordered_dict or {}), **kwargs}
        self._postfix = ", ".join(f"{k}={v}" for k, v in items.items())

    def set_description(self, desc: str, refresh: bool = True) -> None:
        self.desc = desc

    def write(self, text: str) -> None:
        print(text, file=self.file, flush=True)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self.n != self._last_n:
                self._line()

    def __enter__(self) -> "LogProgress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _line(self, now: float | None = None) -> None:
        now = self._clock() if now is None else now
        elapsed = now - self._start
        rate = (self.n - self._initial) / elapsed if elapsed > 0 and self.n > self._initial else None
        text = tqdm.format_meter(self.n, self.total or None, elapsed, prefix=self.desc, unit=self.unit,
                                 rate=rate, postfix=self._postfix or None, bar_format=_FORMAT)
        print(text, file=self.file, flush=True)
        self._last_time, self._last_n = now, self.n


class _NoProgress:
    """``enabled=False``: the same interface, no output (messages from ``write`` still print)."""

    def __init__(self, total: int, initial: int = 0):
        self.total, self.n = int(total), int(initial)

    def update(self, n: int = 1) -> None:
        self.n += int(n)

    def set_postfix(self, ordered_dict: dict[str, Any] | None = None, refresh: bool = True, **kwargs: Any) -> None:
        pass

    def set_description(self, desc: str, refresh: bool = True) -> None:
        pass

    def write(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    def close(self) -> None:
        pass

    def __enter__(self) -> "_NoProgress":
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def progress_bar(total: int, desc: str, unit: str = "it", initial: int = 0, enabled: bool = True) -> ProgressBar:
    """A progress reporter on stderr: tqdm's bar on a terminal, :class:`LogProgress` lines otherwise.

    Use it as tqdm: ``update``, ``set_postfix``, ``write``, ``close``, or as a context manager.

    Example:
        >>> with progress_bar(3, "scoring", unit="child", enabled=False) as bar:
        ...     for _ in range(3):
        ...         bar.update()
        >>> bar.n
        3
    """
    if not enabled:
        return _NoProgress(total, initial)
    stream = sys.stderr
    if getattr(stream, "isatty", lambda: False)():
        return tqdm(total=total, desc=desc, unit=unit, initial=initial, file=stream, dynamic_ncols=True)
    return LogProgress(total, desc, unit=unit, initial=initial)


def track(items: Sequence[T], desc: str, unit: str = "it", enabled: bool = True) -> Iterator[T]:
    """``items`` one by one, with a :func:`progress_bar` over them (``tqdm(items)``, readable in logs too).

    Example:
        >>> [x * x for x in track([1, 2, 3], "squares", enabled=False)]
        [1, 4, 9]
    """
    with progress_bar(len(items), desc, unit=unit, enabled=enabled) as bar:
        for item in items:
            yield item
            bar.update(1)
