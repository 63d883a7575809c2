"""Architecture: an immutable, hashable mapping decision name -> chosen option."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Union

from nas.errors import InvalidArchitectureError

Option = Union[str, int, float, bool]
"""An option of a decision: a JSON scalar (an op name, a kernel size, a width...)."""

_SCALARS = (str, int, float, bool)


class Architecture(Mapping[str, Option]):
    """One child of a search space: which option each decision takes.

    Immutable and hashable, so it can key caches and sets. ``str(arch)`` is a stable text
    form; search spaces may subclass it to use their benchmark's own notation (NAS-Bench-201
    cell strings). ``to_json``/``from_json`` round-trip exactly.

    Example:
        >>> a = Architecture({"depth": 3, "kernel": 5})
        >>> a["kernel"], len(a)
        (5, 2)
        >>> str(a)
        'depth=3;kernel=5'
        >>> Architecture.from_json(a.to_json()) == a
        True
        >>> a.replace(kernel=7)
        Architecture('depth=3;kernel=7')
    """

    __slots__ = ("_choices", "_hash")

    def __init__(self, choices: Mapping[str, Option] | Iterable[tuple[str, Option]]):
        items = tuple(dict(choices).items())
        for name, option in items:
            if not isinstance(name, str) or not name:
                raise InvalidArchitectureError(f"decision names must be non-empty strings, got {name!r}")
            if not isinstance(option, _SCALARS):
                raise InvalidArchitectureError(
                    f"option of decision {name!r} must be a str, int, float or bool, got {type(option).__name__}"
                )
        object.__setattr__(self, "_choices", dict(items))
        object.__setattr__(self, "_hash", hash(frozenset(items)))

    # -- Mapping -----------------------------------------------------------------------------
    def __getitem__(self, name: str) -> Option:
        try:
            return self._choices[name]
        except KeyError:
            raise KeyError(f"architecture has no decision {name!r}; decisions: {list(self._choices)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._choices)

    def __len__(self) -> int:
        return len(self._choices)

    # -- value semantics -------------------------------------------------------------------------
    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Architecture):
            return NotImplemented
        return self._hash == other._hash and self._choices == other._choices

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Architecture is immutable; use replace(**changes) for a modified copy")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Architecture is immutable")

    def __reduce__(self):
        return (type(self), (self._choices,))

    def replace(self, **changes: Option) -> "Architecture":
        """A copy with some decisions changed (names must exist)."""
        unknown = set(changes) - set(self._choices)
        if unknown:
            raise InvalidArchitectureError(f"unknown decisions {sorted(unknown)}; decisions: {list(self._choices)}")
        return type(self)({**self._choices, **changes})

    # -- text forms ------------------------------------------------------------------------------
    def __str__(self) -> str:
        return ";".join(f"{name}={_format_option(opt)}" for name, opt in self._choices.items())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    @classmethod
    def from_string(cls, text: str) -> "Architecture":
        """Parse ``str(arch)``: ``name=option;name=option``; numbers and booleans are read as JSON."""
        if not isinstance(text, str) or not text.strip():
            raise InvalidArchitectureError(f"empty architecture string {text!r}; expected 'name=option;name=option'")
        choices: dict[str, Option] = {}
        for part in _split_outside_quotes(text):
            name, sep, raw = part.partition("=")
            if not sep or not name:
                raise InvalidArchitectureError(
                    f"malformed architecture string {text!r}: {part!r} is not 'name=option'"
                )
            try:
                value = json.loads(raw)
                if not isinstance(value, _SCALARS):
                    value = raw
            except json.JSONDecodeError:
                value = raw
            choices[name] = value
        return cls(choices)

    def to_dict(self) -> dict[str, Option]:
        return dict(self._choices)

    def to_json(self) -> str:
        return json.dumps(self._choices)

    @classmethod
    def from_json(cls, text: str) -> "Architecture":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidArchitectureError(f"architecture JSON is malformed ({exc}): {text[:80]!r}") from None
        if not isinstance(data, dict):
            raise InvalidArchitectureError(f"architecture JSON must be an object of decision -> option, got {text[:80]!r}")
        return cls(data)


def _format_option(option: Option) -> str:
    """Bare text for plain strings; JSON for numbers, booleans and strings that would read back otherwise."""
    if not isinstance(option, str):
        return json.dumps(option)
    try:
        ambiguous = not isinstance(json.loads(option), str) or option.startswith('"')
    except json.JSONDecodeError:
        ambiguous = option.startswith('"')
    if ambiguous or not option or any(c in option for c in ';="'):
        return json.dumps(option)
    return option


def _split_outside_quotes(text: str) -> list[str]:
    """Split ``name=option`` parts on ';' that are not inside a JSON string."""
    parts, current, quoted, escaped = [], [], False, False
    for char in text:
        if quoted:
            escaped = char == "\\" and not escaped
            if char == '"' and not escaped:
                quoted = False
        elif char == '"':
            quoted = True
        elif char == ";":
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts
