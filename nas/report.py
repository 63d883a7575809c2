"""The text views of a search: the fixed-width table of the best children (terminal and report.md).

The files of a run folder (rankings, plots, the report itself) are written by ``nas.run_folder``.
"""

from __future__ import annotations

from collections.abc import Sequence

from nas.searchers.base import History, Trial


def format_table(trials: Sequence[Trial], top_k: int = 10) -> str:
    """A fixed-width table of the best ``top_k`` children."""
    ranked = History(list(trials)).ranked()[:top_k]
    width = max([len(str(t.arch)) for t in ranked] + [12])
    head = f"{'rank':>4}  {'architecture':<{width}}  {'acc %':>6}  {'params':>8}  {'MFLOPs':>7}"
    rows = [f"{i + 1:>4}  {str(t.arch):<{width}}  {t.score:6.2f}  {t.cost.get('params', 0):8,d}  "
            f"{t.cost.get('flops', 0) / 1e6:7.2f}" for i, t in enumerate(ranked)]
    if ranked and all("latency_ms" in t.cost for t in ranked):  # latency=table | measured (nas.latency)
        head += f"  {'ms':>7}"
        rows = [f"{row}  {t.cost['latency_ms']:7.3f}" for row, t in zip(rows, ranked)]
    return "\n".join([head, *rows])
