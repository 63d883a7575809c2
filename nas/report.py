"""The text views of a search: the fixed-width table of the best children (terminal and report.md).

The files of a run folder (rankings, plots, the report itself) are written by ``nas.run_folder``.
"""

from __future__ import annotations

from collections.abc import Sequence

from nas.searchers.base import History, Trial

SCORE_COLUMNS = {"accuracy": ("acc %", ".2f"), "loss": ("-loss", ".3f"), "score": ("score", ".6g")}
"""The score column's heading and format, by what a score is (the evaluator's ``metric``; an oracle's is accuracy; a
free ranker's a score)."""


def score_column(metric: str = "accuracy") -> tuple[str, str]:
    """(heading, format) of a score column: ``score_column("loss") == ("-loss", ".3f")``."""
    return SCORE_COLUMNS[metric]


def supernet_score_name(cfg) -> str:
    """What the supernet's score of a child is, in words: ``supernet accuracy`` or ``supernet validation loss``
    (``cfg.evaluator.metric``)."""
    return "supernet validation loss" if cfg.evaluator.metric == "loss" else "supernet accuracy"


def score_axis(cfg) -> str:
    """A plot axis of the supernet's scores: ``supernet accuracy (%)`` or ``supernet -validation loss``."""
    return "supernet -validation loss" if cfg.evaluator.metric == "loss" else "supernet accuracy (%)"


def format_table(trials: Sequence[Trial], top_k: int = 10, metric: str = "accuracy") -> str:
    """A fixed-width table of the best ``top_k`` children; ``metric`` says what their scores are."""
    ranked = History(list(trials)).ranked()[:top_k]
    width = max([len(str(t.arch)) for t in ranked] + [12])
    label, fmt = score_column(metric)
    head = f"{'rank':>4}  {'architecture':<{width}}  {label:>6}  {'params':>8}  {'MFLOPs':>7}"
    rows = [f"{i + 1:>4}  {str(t.arch):<{width}}  {t.score:6{fmt}}  {t.cost.get('params', 0):8,d}  "
            f"{t.cost.get('flops', 0) / 1e6:7.2f}" for i, t in enumerate(ranked)]
    if ranked and all("latency_ms" in t.cost for t in ranked):  # latency=table | measured (nas.latency)
        head += f"  {'ms':>7}"
        rows = [f"{row}  {t.cost['latency_ms']:7.3f}" for row, t in zip(rows, ranked)]
    return "\n".join([head, *rows])
