"""The search-results board (`nas searchboard`): what each search method finds, against ground truth.

Per row (a method, or a supernet + searcher baseline) and search seed: the architecture the search returns, its
ground-truth accuracy (from the benchmark's table, an equivalent cell of it, or stand-alone training by the table's
recipe), the search cost and the peak memory; for gradient-based methods also the any-time curve (the truth of the
argmax architecture every epoch, from the run's ``anytime.json``).

Modules, one concept each:

- ``runs``: what one run found (:class:`SearchRun`), from its run folder or its archive;
- ``searches``: the search-only rows (:class:`SearchOnly`), other searchers on a training row's supernets, or on a
  free ranker (no supernet);
- ``truth``: ground truth over the table and the board's own trained cells (:class:`GroundTruth`), which classes
  are missing, and the order in which to train them;
- ``table``: the rows over seeds, the markdown section, the CSV files, and the section's place in ``LEADERBOARD.md``.
"""

from nas.searchboard.runs import (
    KINDS,
    SearchRun,
    archive_search_run,
    finished,
    read_archived_search_run,
    read_free_search_run,
    read_search_run,
    read_shared_search_run,
)
from nas.searchboard.searches import SearchOnly, search_rows
from nas.searchboard.table import (
    END,
    START,
    aggregate,
    curve_rows,
    curve_series,
    markers,
    render_section,
    run_rows,
    splice,
)
from nas.searchboard.truth import GroundTruth, Truth, build_order

__all__ = [
    "END",
    "KINDS",
    "START",
    "GroundTruth",
    "SearchOnly",
    "SearchRun",
    "Truth",
    "aggregate",
    "archive_search_run",
    "build_order",
    "curve_rows",
    "curve_series",
    "finished",
    "markers",
    "read_archived_search_run",
    "read_free_search_run",
    "read_search_run",
    "read_shared_search_run",
    "render_section",
    "run_rows",
    "search_rows",
    "splice",
]
