"""The search-results board: rows over seeds, its markdown section, its CSV files and the any-time plot.

``aggregate`` turns a row's runs into the numbers of the table (the found architectures' ground truth, mean ± std
and best over seeds; cost; peak memory); ``render_section`` writes the markdown section with the issue's reported
anchors; ``splice`` puts a section between its markers in a board file (``LEADERBOARD.md``), appended at the end
when the markers are missing. Each board has its own marker name (``markers``), so several boards share one file.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nas.atomic import write_text_atomic
from nas.csv_file import write_csv
from nas.searchboard.runs import SearchRun
from nas.searchboard.truth import GroundTruth

MARKER = "search-results"   # the FMNIST-201 board's marker name; another board names its own


def markers(name: str = MARKER) -> tuple[str, str]:
    """The start and end markers of the board section named ``name``.

    Example:
        >>> markers("search-results-elastic-conv")
        ('<!-- search-results-elastic-conv:start -->', '<!-- search-results-elastic-conv:end -->')
    """
    if not name or any(c in name for c in "<>\n") or "--" in name:
        raise ValueError(f"a board's marker name must be a non-empty word without '<', '>', '--' or newlines, "
                         f"got {name!r}")
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


START, END = markers()

ROW_COLUMNS = ["row", "kind", "supernet", "seeds", "truth_mean", "truth_std", "truth_best", "truth_known",
               "cost_minutes_mean", "cost_minutes_std", "peak_memory_mib_mean", "found", "command"]
RUN_COLUMNS = ["row", "seed", "kind", "supernet", "arch", "truth", "truth_cell", "truth_source", "train_seconds",
               "search_seconds", "peak_memory_mib"]
CURVE_COLUMNS = ["row", "seed", "epoch", "arch", "truth", "truth_source"]


def _mean_std(values: Sequence[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def aggregate(name: str, runs: Sequence[SearchRun], truth: GroundTruth, command: str) -> dict[str, Any]:
    """One row of the board: its seeds' found architectures with their truth, mean ± std and best, cost, memory;
    ``supernet``: the row whose supernets a search-only row searched (None for a row that trains its own)."""
    found = [(run, truth.lookup(run.arch)) for run in runs]
    known = [t.accuracy for _, t in found if t is not None]
    mean, std = _mean_std(known)
    minutes = _mean_std([run.cost_seconds / 60 for run in runs])
    peaks = [run.peak_mib for run in runs if run.peak_mib is not None]
    return {"row": name, "kind": runs[0].kind, "supernet": runs[0].supernet, "seeds": len(runs), "truth_mean": mean,
            "truth_std": std, "truth_best": max(known) if known else None, "truth_known": f"{len(known)}/{len(runs)}",
            "cost_minutes_mean": minutes[0], "cost_minutes_std": minutes[1],
            "peak_memory_mib_mean": statistics.fmean(peaks) if peaks else None,
            "found": "; ".join(f"seed{run.seed}: {run.arch}" for run in runs), "command": command,
            "runs": found}


def run_rows(runs: Sequence[SearchRun], truth: GroundTruth) -> list[dict[str, Any]]:
    """One CSV row per run: its found architecture and where its truth came from."""
    out = []
    for run in runs:
        t = truth.lookup(run.arch)
        out.append({"row": run.row, "seed": run.seed, "kind": run.kind, "supernet": run.supernet, "arch": run.arch,
                    "truth": None if t is None else round(t.accuracy, 4), "truth_cell": None if t is None else t.cell,
                    "truth_source": None if t is None else t.source, "train_seconds": round(run.train_seconds, 1),
                    "search_seconds": round(run.search_seconds, 1),
                    "peak_memory_mib": None if run.peak_mib is None else round(run.peak_mib, 1)})
    return out


def curve_rows(runs: Sequence[SearchRun], truth: GroundTruth) -> list[dict[str, Any]]:
    """One CSV row per any-time point: the epoch's argmax architecture and its truth (blank: not known)."""
    out = []
    for run in runs:
        for epoch, arch in run.anytime:
            t = truth.lookup(arch)
            out.append({"row": run.row, "seed": run.seed, "epoch": epoch, "arch": arch,
                        "truth": None if t is None else round(t.accuracy, 4),
                        "truth_source": None if t is None else t.source})
    return out


def curve_series(curves: Sequence[dict[str, Any]]) -> list[tuple[str, list[tuple[list[int], list[float]]]]]:
    """The plot's lines: per row, per seed, the epochs whose argmax has a known truth."""
    rows: dict[str, dict[int, tuple[list[int], list[float]]]] = {}
    for point in curves:
        if point["truth"] is None:
            continue
        epochs, values = rows.setdefault(point["row"], {}).setdefault(point["seed"], ([], []))
        epochs.append(point["epoch"])
        values.append(point["truth"])
    return [(row, list(seeds.values())) for row, seeds in rows.items()]


def write_csvs(assets: Path, rows: Sequence[dict], runs: Sequence[dict], curves: Sequence[dict]) -> None:
    write_csv(assets / "search_results.csv", ROW_COLUMNS, [_rounded(r) for r in rows], always_quote={"command"})
    write_csv(assets / "search_runs.csv", RUN_COLUMNS, runs)
    write_csv(assets / "anytime.csv", CURVE_COLUMNS, curves)


def _rounded(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items() if k in ROW_COLUMNS}


def _num(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _cell(arch: str) -> str:
    return f"`{arch}`".replace("|", "\\|")


def _cost(minutes: float, std: float) -> str:
    """Minutes ± std, or seconds where a row costs under 3 seconds a seed (a free ranker's search), which minutes
    would show as 0.0.

    Example:
        >>> _cost(20.94, 0.12), _cost(0.0025, 0.0004)
        ('20.9 ± 0.1', '0.15 ± 0.02 s')
    """
    if minutes >= 0.05:
        return f"{minutes:.1f} ± {std:.1f}"
    return f"{minutes * 60:.2f} ± {std * 60:.2f} s"


def _found_text(found: Sequence[tuple[SearchRun, Any]]) -> str:
    parts = []
    for run, t in found:
        if t is None:
            note = "truth pending"
        else:
            marks = ("†" if t.source == "trained" else "") + ("≡" if t.cell != run.arch else "")
            note = f"{t.accuracy:.2f}{marks}"
        parts.append(f"s{run.seed}: {_cell(run.arch)} ({note})")
    return "<br>".join(parts)


def render_table(rows: Sequence[dict[str, Any]]) -> str:
    head = ["row", "kind", "seeds", "truth of found (mean ± std)", "best", "cost (min)", "peak memory (MiB)",
            "found architectures (truth)"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in rows:
        truth = "—" if r["truth_mean"] is None else f"{r['truth_mean']:.2f} ± {r['truth_std']:.2f}"
        if r["truth_known"].split("/")[0] != r["truth_known"].split("/")[1]:
            truth += f" ({r['truth_known']} seeds)"
        cost = _cost(r["cost_minutes_mean"], r["cost_minutes_std"])
        kind = r["kind"] if r["supernet"] is None else f"{r['kind']} on {r['supernet']}'s supernet"
        kind = "free ranker, no supernet" if r["kind"] == "free" else kind
        lines.append(f"| {r['row']} | {kind} | {r['seeds']} | {truth} | {_num(r['truth_best'])} | {cost} | "
                     f"{_num(r['peak_memory_mib_mean'], 0)} | {_found_text(r['runs'])} |")
    return "\n".join(lines)


def shared_supernet_notes(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The note on the search-only rows shown: whose supernets each searched, and its `nas search` command."""
    shared = [r for r in rows if r["supernet"] is not None]
    if not shared:
        return []
    return ["Search-only rows train nothing: seed k searches seed k's supernet of the row named, so they compare "
            "searchers on the same supernets; their cost is that row's training plus their own search, their peak "
            "memory that row's training's.", "",
            *(f"- `{r['row']}` shares the supernets of `{r['supernet']}`: `{r['command']}`" for r in shared), ""]


def free_ranker_notes(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The note on the free-ranker rows shown: no supernet, what they cost, and their `nas search` command."""
    free = [r for r in rows if r["kind"] == "free"]
    if not free:
        return []
    return ["Free-ranker rows train no supernet: the searcher queries a free ranker (`objective=ranker`, "
            "`free_ranker=<conf/ranker name>`: a parameter count, a zero-cost proxy of a fresh model) instead, at the "
            "same number of queries; their cost is that search alone, their peak memory its process's. A supernet's "
            "search is worth its training only where it finds better cells than these.", "",
            *(f"- `{r['row']}`: `{r['command']}`" for r in free), ""]


def render_section(title: str, rows: Sequence[dict[str, Any]], truth: GroundTruth, *, command: str,
                   runs_dir: str, assets_dir: str, assets_link: str, notes: Sequence[str], pending: Sequence[str],
                   pending_truth: int, findings: str | None, plot: bool,
                   capped_truth: tuple[int, int | None] = (0, None), anchors: str | None = None,
                   marker: str = MARKER) -> str:
    """The board's markdown section, between the markers of ``marker`` (``markers``); ``anchors``: the papers'
    reported numbers to compare with (the board config's), after the table's best cell."""
    start, end = markers(marker)
    table_name = getattr(getattr(truth.oracle, "path", None), "name", type(truth.oracle).__name__)
    lines = [start, f"# {title}", "",
             "What does each search method find? Per row and search seed, the architecture the method returns (a "
             "gradient-based method: the argmax of its architecture parameters at the end; a searcher: the child its "
             "supernet scores highest; a free-ranker row: the child its proxy scores highest) and that architecture's **ground-truth** test accuracy: looked up in "
             f"`{table_name}` ({len(truth)} cells), or in a functionally equivalent cell of it (≡), or trained "
             "stand-alone by the table's recipe and seeds for this board (†) when the table lacks it. Cost: "
             "training plus search minutes of one run; peak memory: the run's peak resident memory during training "
             "(the GPU's peak on a GPU).", "",
             f"Generated by `{command}` (it trains what is missing, then collects); each row's `nas run` command "
             f"(a search-only row's `nas search`) is in `{assets_dir}/search_results.csv`, every run's found "
             f"architecture in `search_runs.csv` and every any-time point in `anytime.csv`. Runs live in "
             f"`{runs_dir}/<row>/seed<k>/`, archived in `{assets_dir}/runs/`.", "",
             render_table(rows), ""]
    lines += [f"The table's best cell: {truth.best():.2f} of its {len(truth)} cells (a sample of the space, "
              "not the space's optimum)." + (f" {anchors.strip()}" if anchors else ""), ""]
    lines += shared_supernet_notes(rows)
    lines += free_ranker_notes(rows)
    lines += [*notes]
    if pending:
        lines += [f"Rows without a finished run yet (`nas searchboard only=[...]` runs them): "
                  f"{', '.join(f'`{n}`' for n in pending)}.", ""]
    if pending_truth:
        lines += [f"{pending_truth} found or any-time architecture(s) have no ground truth yet: `nas searchboard` "
                  "trains them stand-alone (`truth.build=true`).", ""]
    if capped_truth[0]:
        lines += [f"{capped_truth[0]} any-time architecture(s) beyond `anytime.max_archs={capped_truth[1]}` have no "
                  "ground truth (the cap keeps those that settle most curve points): their epochs are left out of the "
                  "curves.", ""]
    if plot:
        lines += ["## Any-time curves", "",
                  "The ground truth of the argmax architecture at the end of each search epoch (`anytime.json` of each "
                  "run; epochs whose argmax has no truth yet are left out). One panel per row, one colour per seed; "
                  "a cell far below the rest (▼, its truth written beside it) is drawn on the axis floor.", "",
                  f"![any-time curves]({assets_link}anytime.png)", ""]
    if findings:
        lines += [findings, ""]
    return "\n".join(lines).rstrip() + "\n" + end + "\n"


def splice(board: Path, section: str, marker: str = MARKER) -> str:
    """``board``'s text with ``section`` (which starts and ends with the markers of ``marker``) in place of the
    text between those markers, or appended at the end when they are missing; the file is rewritten atomically.
    Other boards' sections, with other marker names, are left as they are.

    Example:
        >>> import tempfile
        >>> board = Path(tempfile.mkdtemp()) / "LEADERBOARD.md"
        >>> _ = board.write_text("# Ranking\\n")
        >>> _ = splice(board, f"{START}\\nv1\\n{END}\\n")
        >>> _ = splice(board, f"{START}\\nv2\\n{END}\\n")
        >>> print(board.read_text())
        # Ranking
        <BLANKLINE>
        <!-- search-results:start -->
        v2
        <!-- search-results:end -->
        <BLANKLINE>
    """
    start_marker, end_marker = markers(marker)
    text = board.read_text() if board.is_file() else ""
    section = section.strip("\n")
    start, end = text.find(start_marker), text.find(end_marker)
    if start >= 0 and end > start:
        text = text[:start] + section + text[end + len(end_marker):]
    else:
        text = text.rstrip("\n") + ("\n\n" if text.strip() else "") + section + "\n"
    write_text_atomic(board, text)
    return text
