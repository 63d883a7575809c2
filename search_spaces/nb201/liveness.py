"""Which edges of a NAS-Bench-201 cell are live: on a path from the cell's input to its output."""

from __future__ import annotations

from nas.architecture import Architecture
from search_spaces.nb201.architecture import EDGE_NAMES, EDGES

INPUT, OUTPUT = 0, 3
"""The cell's input node and its output node."""


def live_edges(arch: Architecture) -> frozenset[str]:
    """Edges that are not ``none`` and lie on a path from node 0 to node 3 through non-``none`` edges.

    Any other edge is dead: either nothing of the input reaches its source node (the node
    computes zeros, or a constant), or nothing it computes reaches the output.

    Example:
        >>> from search_spaces.nb201.architecture import NB201Architecture
        >>> cell = NB201Architecture.from_string(
        ...     "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")  # node 1 feeds nothing
        >>> sorted(live_edges(cell))
        ['3<-0']
    """
    carries = {(to, src) for (to, src), name in zip(EDGES, EDGE_NAMES) if arch[name] != "none"}
    reached = {INPUT}  # nodes the input reaches
    for to in range(INPUT + 1, OUTPUT + 1):
        if any((to, src) in carries and src in reached for src in range(to)):
            reached.add(to)
    reaching = {OUTPUT}  # nodes that reach the output
    for src in range(OUTPUT - 1, INPUT - 1, -1):
        if any((to, src) in carries and to in reaching for to in range(src + 1, OUTPUT + 1)):
            reaching.add(src)
    return frozenset(name for (to, src), name in zip(EDGES, EDGE_NAMES)
                     if (to, src) in carries and src in reached and to in reaching)


def without_dead_edges(arch: Architecture) -> dict[str, str]:
    """``arch``'s choices with every dead edge set to ``none``: only live ops kept, the same function of the
    cell's input (up to the constant a dead op fed by a zero node may add)."""
    live = live_edges(arch)
    return {name: (str(arch[name]) if name in live else "none") for name in EDGE_NAMES}
