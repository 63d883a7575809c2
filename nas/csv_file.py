"""CSV files of the project (run-folder rankings, Pareto fronts, the leaderboard): one writer, atomic."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from nas.atomic import write_text_atomic

_SPECIAL = (",", '"', "\r", "\n")


def _field(value: Any, quote: bool) -> str:
    text = "" if value is None else str(value)
    if quote or any(c in text for c in _SPECIAL):
        return '"' + text.replace('"', '""') + '"'
    return text


def csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, Any]], always_quote: Collection[str] = (),
             line_end: str = "\r\n") -> str:
    """``rows`` (dicts keyed by ``columns``) as CSV text: a header line, then one line per row.

    Fields are quoted as Python's ``csv`` module quotes them (only when they hold a comma, a quote or a line
    break; quotes doubled), and always in the ``always_quote`` columns. ``None`` is an empty field; numbers
    are written with ``str``, so callers format them first when they want fewer digits.

    Example:
        >>> csv_text(["name", "tau", "command"], [{"name": "spos", "tau": 0.61, "command": "nas run"}],
        ...          always_quote={"command"}, line_end="\\n")
        'name,tau,command\\nspos,0.61,"nas run"\\n'
        >>> csv_text(["a", "b"], [{"a": "x,y", "b": None}])
        'a,b\\r\\n"x,y",\\r\\n'
    """
    lines = [",".join(_field(c, False) for c in columns)]
    lines += [",".join(_field(row.get(c), c in always_quote) for c in columns) for row in rows]
    return "".join(line + line_end for line in lines)


def write_csv(path: str | Path, columns: Sequence[str], rows: Iterable[Mapping[str, Any]],
              always_quote: Collection[str] = (), line_end: str = "\r\n") -> Path:
    """Write :func:`csv_text` to ``path`` atomically (a reader never sees half a table); return ``path``."""
    write_text_atomic(path, csv_text(columns, rows, always_quote, line_end))
    return Path(path)
