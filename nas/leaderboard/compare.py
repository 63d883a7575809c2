"""Rows against rows: Welch's p against the reference supernet row (SPOS), and whether a row's mean tau over seeds
is above the best free ranker's tau (one-sided one-sample t-test)."""

from __future__ import annotations

import math

from nas.confidence import above_p, against_p, welch_p

FREE_KINDS = ("baseline", "free")
"""Rows that need no training; the best of them is the bar a trained row should clear."""
COMPARED_KINDS = ("supernet", "combined", "uses ground truth")
"""Rows that get the p-value columns."""


def best_free(results: list[dict]) -> dict | None:
    """The free row (baseline or free) with the highest Kendall tau; None when there is none."""
    free = [r for r in results if r["kind"] in FREE_KINDS and not math.isnan(r["kendall_tau"][0])]
    return max(free, key=lambda r: r["kendall_tau"][0]) if free else None


def _taus(result: dict) -> list[float]:
    return [float(s["kendall_tau"]) for s in result["per_seed"]]


def add_p_values(results: list[dict], reference: str | None, best: dict | None) -> None:
    """Set ``p_vs_reference`` and ``p_above_best_free`` on every supernet, combined and calibrated row.

    ``p_vs_reference``: Welch's two-sided t-test of the row's per-seed taus against the ``reference`` row's; a
    row that is a single ranking (a seed ensemble) gets the two-sided one-sample t-test of the reference's taus
    against its tau instead (``single_ranking``). ``p_above_best_free``: the one-sided one-sample t-test that
    the row's mean tau over seeds is above ``best``'s tau (``nan`` for a single ranking). Other rows get ``nan``.

    Example:
        >>> rows = [{"name": "spos", "kind": "supernet", "per_seed": [{"kendall_tau": t} for t in (.60, .61, .62)]},
        ...         {"name": "x", "kind": "combined", "per_seed": [{"kendall_tau": t} for t in (.70, .72, .74)]},
        ...         {"name": "params", "kind": "baseline", "kendall_tau": (0.65, 0.0), "per_seed": []}]
        >>> add_p_values(rows, "spos", rows[2])
        >>> round(rows[1]["p_vs_reference"], 4), round(rows[1]["p_above_best_free"], 4), rows[0]["p_vs_reference"]
        (0.0037, 0.0131, nan)
    """
    ref = next((r for r in results if r["name"] == reference), None)
    for result in results:
        result["p_vs_reference"] = result["p_above_best_free"] = math.nan
        if result["kind"] not in COMPARED_KINDS:
            continue
        taus = _taus(result)
        if ref is not None and result is not ref:
            result["p_vs_reference"] = (against_p(_taus(ref), taus[0]) if result.get("single_ranking")
                                        else welch_p(taus, _taus(ref)))
        if best is not None and not result.get("single_ranking"):
            result["p_above_best_free"] = above_p(taus, best["kendall_tau"][0])
