"""scripts/compare_searches.py: paired and Welch t-tests of the found cells' truth between search-board rows."""

import csv
import subprocess
import sys
from pathlib import Path

from scipy.stats import ttest_1samp, ttest_ind

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "compare_searches.py"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True)


def write_runs(path: Path, truths: dict[str, dict[int, float | None]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, ["row", "seed", "kind", "arch", "truth"])
        writer.writeheader()
        for row, seeds in truths.items():
            for seed, truth in seeds.items():
                writer.writerow({"row": row, "seed": seed, "kind": "searcher", "arch": "x",
                                 "truth": "" if truth is None else truth})
    return path


def test_paired_differences_over_common_seeds_and_the_pooled_test(tmp_path):
    runs = write_runs(tmp_path / "runs.csv", {"a": {0: 86.0, 1: 85.0, 2: 87.0}, "b": {0: 85.0, 1: 85.5, 2: 86.0, 3: 80.0},
                                              "c": {0: 84.0, 1: None, 2: 83.0}, "d": {0: 82.0, 2: 84.0}})
    done = run("a:b", "c:d", "--pool", "--runs", str(runs))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    p_ab = ttest_1samp([1.0, -0.5, 1.0], 0.0).pvalue
    assert lines[0] == (f"a vs b, seeds [0, 1, 2]: 86.00 ± 1.00 vs 85.50 ± 0.50, difference +0.50 (+1.00, -0.50, "
                        f"+1.00), 2/3 better, paired p = {p_ab:.3g}")
    p_cd = ttest_1samp([2.0, -1.0], 0.0).pvalue  # seed 1 of c is pending: left out
    assert lines[1].startswith("c vs d, seeds [0, 2]: ") and lines[1].endswith(f"paired p = {p_cd:.3g}")
    p_pool = ttest_1samp([1.0, -0.5, 1.0, 2.0, -1.0], 0.0).pvalue
    assert lines[2] == f"pooled: 5 paired seeds, difference +0.50, paired p = {p_pool:.3g}"


def test_unpaired_uses_welch_on_every_seed_of_each_row(tmp_path):
    runs = write_runs(tmp_path / "runs.csv", {"a": {0: 86.0, 1: 85.0, 2: 87.0}, "b": {0: 85.0, 1: 85.5, 3: 80.0}})
    done = run("a:b", "--unpaired", "--runs", str(runs))
    p = ttest_ind([86.0, 85.0, 87.0], [85.0, 85.5, 80.0], equal_var=False).pvalue
    assert done.returncode == 0 and done.stdout.strip().endswith(f"Welch p = {p:.3g}")
    assert "(3 seeds) vs b" in done.stdout


def test_bad_input_is_one_clear_error(tmp_path):
    runs = write_runs(tmp_path / "runs.csv", {"a": {0: 86.0}})
    for args, message in ((["a:zz"], "error: no row 'zz'"), (["ab"], "is not A:B"),
                          (["a:a", "--runs", str(tmp_path / "absent.csv")], "nas searchboard mode=collect")):
        done = run(*args, *(["--runs", str(runs)] if "--runs" not in args else []))
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_rows_without_spread_get_no_p_value(tmp_path):
    # every seed finds the same cell in both rows: a t-test is undefined (scipy would say p = 0), so none is printed
    runs = write_runs(tmp_path / "runs.csv", {"a": {0: 88.18, 1: 88.18, 2: 88.18}, "b": {0: 86.11, 1: 86.11, 2: 86.11}})
    welch = run("a:b", "--unpaired", "--runs", str(runs))
    assert welch.returncode == 0, welch.stderr
    assert welch.stdout.strip().endswith("+2.07, Welch p = n/a (no spread or too few seeds)")
    paired = run("a:b", "--runs", str(runs))
    assert paired.stdout.strip().endswith("3/3 better, paired p = n/a (no spread or too few seeds)")
