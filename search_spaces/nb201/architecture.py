"""NAS-Bench-201 architectures and their cell strings."""

from __future__ import annotations

import re

from nas.architecture import Architecture
from nas.errors import InvalidArchitectureError
from search_spaces.nb201.ops import OPS

EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
"""Edges (to_node, from_node) in the order of the cell string."""

EDGE_NAMES: tuple[str, ...] = tuple(f"{to}<-{src}" for to, src in EDGES)
"""Decision names: ``"2<-1"`` is the op on the edge from node 1 to node 2."""

_NODE = re.compile(r"^\|(.+)\|$")


class NB201Architecture(Architecture):
    """A NAS-Bench-201 cell; ``str()`` is exactly the benchmark's cell string.

    Example:
        >>> s = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
        >>> arch = NB201Architecture.from_string(s)
        >>> arch["2<-1"]
        'avg_pool_3x3'
        >>> str(arch) == s
        True
    """

    __slots__ = ()

    def __str__(self) -> str:
        if set(self) != set(EDGE_NAMES):
            return super().__str__()
        nodes = []
        for to in (1, 2, 3):
            nodes.append("|" + "|".join(f"{self[f'{to}<-{src}']}~{src}" for src in range(to)) + "|")
        return "+".join(nodes)

    @classmethod
    def from_string(cls, text: str) -> "NB201Architecture":
        """Parse a NAS-Bench-201 cell string such as ``|nor_conv_3x3~0|+|none~0|skip_connect~1|+|...|``."""
        hint = "expected e.g. '|nor_conv_3x3~0|+|skip_connect~0|none~1|+|avg_pool_3x3~0|nor_conv_1x1~1|skip_connect~2|'"
        if not isinstance(text, str):
            raise InvalidArchitectureError(f"a NAS-Bench-201 cell string must be a str, got {type(text).__name__}")
        nodes = text.strip().split("+")
        if len(nodes) != 3:
            raise InvalidArchitectureError(
                f"malformed NAS-Bench-201 cell string {text!r}: {len(nodes)} node groups separated by '+', "
                f"need 3; {hint}"
            )
        choices: dict[str, str] = {}
        for to, node in enumerate(nodes, start=1):
            match = _NODE.match(node)
            parts = match.group(1).split("|") if match else []
            if len(parts) != to:
                raise InvalidArchitectureError(
                    f"malformed NAS-Bench-201 cell string {text!r}: node {to} is {node!r}, "
                    f"it needs {to} incoming edges written '|op~j|'; {hint}"
                )
            for src, part in enumerate(parts):
                op, sep, index = part.rpartition("~")
                if not sep or index != str(src):
                    raise InvalidArchitectureError(
                        f"malformed NAS-Bench-201 cell string {text!r}: edge {part!r} of node {to} should be "
                        f"'op~{src}'; {hint}"
                    )
                if op not in OPS:
                    raise InvalidArchitectureError(
                        f"unknown op {op!r} in NAS-Bench-201 cell string {text!r}; ops are {list(OPS)}"
                    )
                choices[f"{to}<-{src}"] = op
        return cls(choices)
