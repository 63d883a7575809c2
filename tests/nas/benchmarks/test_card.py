import pytest
from scipy.stats import kendalltau, spearmanr

from nas.benchmarks.card import card_markdown, summarize


def records():
    rows = []
    acc = {"a": (80.0, 81.0), "b": (70.0, 72.0), "c": (60.0, 59.0), "d": (90.0, 88.0), "e": (85.0, 86.5)}
    params = {"a": 30, "b": 20, "c": 10, "d": 50, "e": 40}
    for arch, (s0, s1) in acc.items():
        for seed, value in ((0, s0), (1, s1)):
            rows.append({"arch": arch, "seed": seed, "accuracy": value, "params": params[arch],
                         "flops": 2 * params[arch], "seconds": 30.0, "recipe": "r"})
    rows.append({"arch": "f", "seed": 0, "accuracy": 10.0, "params": 1, "flops": 2, "seconds": 30.0, "recipe": "r"})
    return rows, acc


def test_summary_numbers_equal_hand_and_scipy_computations():
    rows, acc = records()
    s = summarize(rows)
    assert (s["records"], s["architectures"], s["complete_architectures"]) == (11, 6, 5)
    assert s["train_hours"] == pytest.approx(11 * 30 / 3600)
    means = {a: sum(v) / 2 for a, v in acc.items()}
    assert s["accuracy_min"] == 59.5 and s["accuracy_max"] == 89.0 and s["accuracy_median"] == 80.5
    first, second = [v[0] for v in acc.values()], [v[1] for v in acc.values()]
    assert s["seed_tau"] == pytest.approx(kendalltau(first, second).statistic)
    assert s["seed_rho"] == pytest.approx(spearmanr(first, second).statistic)
    assert s["seed_mean_abs_diff"] == pytest.approx((1 + 2 + 1 + 2 + 1.5) / 5)
    assert s["params_tau"] == pytest.approx(kendalltau([30, 20, 10, 50, 40], list(means.values())).statistic)
    text = card_markdown(s, "T", "recipe")
    assert "seed-to-seed agreement" in text and f"{s['seed_tau']:.3f}" in text
