"""The board's footnoted combinations: each note marks the combinations it names, and its text is printed under the
table once a marked row is on it; bad footnote configs are one clear error."""

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from nas.cli.common import CONF_DIR
from nas.cli.leaderboard import check_board, derived_results, footnote_marks, reading_notes
from nas.confidence import Bootstrap
from nas.errors import ConfigError
from nas.leaderboard import CHOSEN_ON_TRUTH
from tests.nas.leaderboard.helpers import CELLS, SPACE
from tests.nas.leaderboard.test_derived import TRUTH, free_ranker, supernet_row


def board(*overrides: str):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("leaderboard", overrides=list(overrides))


def test_the_shipped_board_marks_the_anchored_combinations_and_keeps_the_dagger_for_the_post_hoc_one():
    cfg = board()
    assert footnote_marks(cfg) == {"anchored": "‡", "anchored_params": "‡"}
    assert list(cfg.combined.mean_rank.anchored) == ["effective_params", "synflow", "jacob_cov"]
    assert list(cfg.combined.mean_rank.anchored_params) == ["params", "synflow", "jacob_cov"]
    assert list(cfg.combined.chosen_on_truth) == ["strong"]
    check_board(cfg, list(cfg.rows))


def test_marked_rows_and_their_note_appear_on_the_board_and_unmarked_rows_stay_unmarked():
    cfg = board("combined.rows=[spos]", "reference=spos")
    OmegaConf.set_struct(cfg, False)
    cfg.combined.mean_rank = {"synflow": ["synflow"], "strong": ["synflow", "naswot"], "anchored": ["naswot"]}
    cfg.combined.footnotes = [{"combinations": ["anchored"], "text": "Members  fixed\n by a rule."}]
    cfg.combined.calibrated = None
    cfg.free.rankers = []   # (the free rows' command line needs a running Hydra app; not what this test reads)
    free = {n: free_ranker(n, i) for i, n in enumerate(["synflow", "naswot"])}
    archs = [SPACE.parse(c) for c in CELLS]
    results = derived_results(cfg, [supernet_row()], free, archs, TRUTH, None, None, Bootstrap(resamples=50))
    marks = {r["name"]: r["marks"] for r in results if r["kind"] == "combined"}
    assert marks == {"spos + synflow (mean rank)": "", "spos + synflow + naswot (mean rank)": CHOSEN_ON_TRUTH,
                     "spos + naswot (mean rank)": "‡"}
    notes = reading_notes(cfg, results, None, [], {}, set())
    assert "‡ Members fixed by a rule." in notes
    assert any(line.startswith(CHOSEN_ON_TRUTH) for line in notes)
    unmarked = [r for r in results if r.get("marks") != "‡"]
    assert not any(line.startswith("‡") for line in reading_notes(cfg, unmarked, None, [], {}, set()))


@pytest.mark.parametrize("footnotes, message", [
    ([{"combinations": ["nope"], "text": "x"}], "combined.footnotes[0].combinations names ['nope'], which do not exist"),
    ([{"combinations": ["strong"], "text": "x"}], "combined.chosen_on_truth already marks †"),
    ([{"combinations": ["synflow"], "text": "x"}, {"combinations": ["synflow"], "text": "y"}], "more than one note"),
    ([{"combinations": [], "text": str(i)} for i in range(4)], "at most 3"),
])
def test_bad_footnotes_are_one_clear_error(footnotes, message):
    cfg = board("combined.rows=[spos]")
    OmegaConf.set_struct(cfg, False)
    cfg.combined.footnotes = footnotes
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        check_board(cfg, list(cfg.rows))


def test_a_footnote_with_a_misspelled_key_is_refused_before_anything_runs():
    from nas.validation import validate

    with pytest.raises(ConfigError, match=r"keyed \['combinations', 'tex'\], not \['combinations', 'text'\]"):
        validate(board("combined.footnotes=[{combinations:[anchored],tex:x}]"))
    validate(board())   # the shipped board's notes pass
