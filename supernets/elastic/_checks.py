"""Range checks shared by the elastic ops: an active size outside what is stored is a clear error."""

from __future__ import annotations

from collections.abc import Sequence

from nas.errors import InvalidArchitectureError


def check_size(op: str, what: str, value: int, maximum: int) -> int:
    """``value`` if ``1 <= value <= maximum``, else an error naming both."""
    if not 1 <= value <= maximum:
        raise InvalidArchitectureError(
            f"{op}: active {what} {value} is outside the stored range 1..{maximum}"
        )
    return value


def check_choice(op: str, what: str, value: int, allowed: Sequence[int]) -> int:
    """``value`` if it is one of ``allowed``, else an error naming both."""
    if value not in allowed:
        raise InvalidArchitectureError(
            f"{op}: {what} {value} is not available; stored {what}s are {tuple(allowed)}"
        )
    return value
