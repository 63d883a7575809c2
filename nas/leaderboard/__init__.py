"""Leaderboard: how well each training method ranks the ground-truth cells, over seeds, beside the free rankers.

The runs are ordinary `nas run` folders (read through ``nas.run_folder``). Collecting a run reads its
supernet's scores of the ground-truth cells; cells that the table gained since the run are scored from the run's
checkpoint, so every row is measured on the same, current table.

Every collected run is also archived as one small JSON file (scores, costs, the overrides that made it), so the
leaderboard can be collected again, and new rows added to it, after the run folders and their checkpoints are
gone (they are large and are not committed).

Modules, one concept each:

- ``runs``: a row's runs (:class:`RunScores`, :class:`Row`) from run folders or archives;
- ``scoring``: a row's metrics over seeds, the interval of its mean tau over cells, the no-training baselines;
- ``free``: rankers without training (`nas rank`'s files) as rows;
- ``derived``: rows computed from a trained row's scores: its seed ensemble, its mean rank with free rankers, a
  ranker calibrated on k ground-truth cells;
- ``compare``: Welch's p against the reference row, one-sample p against the best free ranker;
- ``rescore``: scoring trained supernets again (new cells; scoring-only rows with other evaluator settings);
- ``table``: the markdown table, the CSV and the plots.
"""

from nas.leaderboard.compare import add_p_values, best_free
from nas.leaderboard.derived import CHOSEN_ON_TRUTH, FOOTNOTE_MARKS, calibrated_rows, mean_rank_row, seed_ensemble_row
from nas.leaderboard.free import BASELINES, add_baseline_costs, free_label, free_rows, read_free, scores_path
from nas.leaderboard.runs import (ARCHIVE_KEYS, Row, RunScores, archive_run, checkpoint_mib, read_archived_run,
                                  read_run)
from nas.leaderboard.scoring import (
    COST_KEYS,
    HEADERS,
    LIMITED,
    METRICS,
    aggregate,
    costs,
    baseline_rows,
    best_under_limit,
    flops_of,
    mean_std,
    metrics_of,
    run_report,
)
from nas.leaderboard.table import plot_scatter, plot_tau_bars, plot_tau_vs_epochs, render_table, write_csv

__all__ = [
    "ARCHIVE_KEYS",
    "BASELINES",
    "CHOSEN_ON_TRUTH",
    "FOOTNOTE_MARKS",
    "HEADERS",
    "LIMITED",
    "METRICS",
    "Row",
    "RunScores",
    "COST_KEYS",
    "add_baseline_costs",
    "add_p_values",
    "aggregate",
    "archive_run",
    "checkpoint_mib",
    "costs",
    "baseline_rows",
    "best_free",
    "best_under_limit",
    "calibrated_rows",
    "flops_of",
    "free_label",
    "free_rows",
    "mean_rank_row",
    "mean_std",
    "metrics_of",
    "plot_scatter",
    "plot_tau_bars",
    "plot_tau_vs_epochs",
    "read_archived_run",
    "read_free",
    "read_run",
    "render_table",
    "run_report",
    "scores_path",
    "seed_ensemble_row",
    "write_csv",
]
