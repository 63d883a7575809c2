"""The calibrated ranker: fits on k cells only, never sees held-out cells, recovers a known weighting."""

from __future__ import annotations

import numpy as np
import pytest

from nas.architecture import Architecture
from nas.errors import ConfigError
from nas.rankers import CalibratedRanker, evaluate_held_out, held_out_splits

from tests.nas.rankers.helpers import Key

RNG = np.random.default_rng(0)
N = 40
GOOD, WEAK, NOISE = RNG.normal(size=N), RNG.normal(size=N), RNG.normal(size=N)
ARCHS = [Architecture({"good": float(g), "weak": float(w), "noise": float(z), "i": i})
         for i, (g, w, z) in enumerate(zip(GOOD, WEAK, NOISE))]
TRUTH = (80 + 3 * GOOD + WEAK + 0.1 * RNG.normal(size=N)).tolist()


def members():
    return [Key("good"), Key("weak"), Key("noise")]


def test_fit_sees_only_the_fit_cells_and_held_out_scores_ignore_held_out_truth():
    spies = members()
    ranker = CalibratedRanker(spies)
    row, splits = evaluate_held_out(ranker, ARCHS, TRUTH, k=10, splits=5, seed=1)
    assert len(splits) == 5 and row.k == 10 and row.cells == N - 10
    calls = [call for spy in spies for call in spy.asked]
    for split in splits:
        fit, held = {ARCHS[i] for i in split.fit}, {ARCHS[i] for i in split.held_out}
        assert not fit & held and len(fit) == 10 and len(fit | held) == N
        # every member call is either one fit set or one held-out set, never a mix
        assert any(set(call) == fit for call in calls) and any(set(call) == held for call in calls)
    assert all(any(set(c) == {ARCHS[i] for i in s.fit} or set(c) == {ARCHS[i] for i in s.held_out}
                   for s in splits) for c in calls)
    # change the truth of every held-out cell of split 0: its fit and held-out scores cannot move
    first = splits[0]
    poisoned = list(TRUTH)
    for i in first.held_out:
        poisoned[i] = -poisoned[i] * 7.0
    _, again = evaluate_held_out(CalibratedRanker(members()), ARCHS, poisoned, k=10, splits=1, seed=1)
    assert again[0].fit == first.fit and again[0].scores == first.scores
    assert again[0].report["kendall_tau"] != first.report["kendall_tau"]


def test_fitted_weights_follow_the_truth():
    ranker = CalibratedRanker(members(), alpha=0.1).fit(ARCHS[:30], TRUTH[:30])
    good, weak, noise = ranker.weights
    assert good > weak > abs(noise)
    assert ranker.fitted_on == frozenset(ARCHS[:30])


def test_held_out_tau_beats_a_noise_member_and_is_reported_over_splits():
    row, _ = evaluate_held_out(CalibratedRanker(members()), ARCHS, TRUTH, k=20, splits=10, seed=0)
    assert row.kendall_tau > 0.6 and row.kendall_std > 0 and row.splits == 10
    assert row.name.endswith("[k=20]") and "20 ground-truth cells" in row.uses


def test_splits_are_seeded_partitions():
    a = held_out_splits(20, 5, 3, seed=4)
    assert a == held_out_splits(20, 5, 3, seed=4) != held_out_splits(20, 5, 3, seed=5)
    for fit, held in a:
        assert sorted(fit + held) == list(range(20)) and len(fit) == 5


def test_misuse_is_a_clear_error():
    with pytest.raises(ConfigError, match="must be fit"):
        CalibratedRanker(members()).score(ARCHS)
    with pytest.raises(ConfigError, match="k = 39"):
        held_out_splits(40, 39, 1)
