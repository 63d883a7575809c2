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


def test_split_half_agreement_with_four_seeds_equals_a_hand_computation():
    acc = {"a": (80, 81, 79, 82), "b": (70, 75, 71, 72), "c": (60, 59, 66, 58), "d": (90, 88, 87, 91)}
    rows = [{"arch": arch, "seed": seed, "accuracy": float(value), "params": 1, "flops": 1, "seconds": 1.0,
             "recipe": "r"} for arch, values in acc.items() for seed, value in enumerate(values)]
    s = summarize(rows)
    lower = [(v[0] + v[1]) / 2 for v in acc.values()]  # 80.5, 72.5, 59.5, 89
    upper = [(v[2] + v[3]) / 2 for v in acc.values()]  # 80.5, 71.5, 62, 89
    assert s["split_half_seeds"] == ([0, 1], [2, 3])
    assert s["split_half_tau"] == pytest.approx(kendalltau(lower, upper).statistic) == pytest.approx(1.0)
    assert s["split_half_rho"] == pytest.approx(1.0)
    assert s["mean_reliability"] == pytest.approx(1.0)
    rows = [r for r in rows if not (r["arch"] == "c" and r["seed"] == 3)] + [
        {**next(r for r in rows if r["arch"] == "c" and r["seed"] == 3), "accuracy": 100.0}]
    s = summarize(rows)  # c's upper-half mean becomes 83: upper order d > c > a > b against lower d > a > b > c
    upper = [80.5, 71.5, 83.0, 89.0]
    rho = spearmanr(lower, upper).statistic
    assert s["split_half_rho"] == pytest.approx(rho) == pytest.approx(0.4)
    assert s["mean_reliability"] == pytest.approx(2 * 0.4 / 1.4)
    assert "split-half agreement" in card_markdown(s, "T", "recipe")


def test_two_seeds_have_no_split_half_numbers():
    assert "split_half_tau" not in summarize(records()[0])
