"""scripts/tau_above.py: the one-sided one-sample t-test of a row's per-seed taus against another row's mean tau."""

import json
import subprocess
import sys
from pathlib import Path

from scipy.stats import ttest_1samp

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "tau_above.py"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True)


def test_prints_the_hand_computed_p_value_of_each_matching_row(tmp_path):
    records = [{"row": "free", "seed": -1, "kendall_tau": 0.70}]
    records += [{"row": "a + free", "seed": s, "kendall_tau": t} for s, t in enumerate((0.71, 0.73, 0.72))]
    records += [{"row": "b", "seed": s, "kendall_tau": t} for s, t in enumerate((0.60, 0.80))]
    path = tmp_path / "per_seed.json"
    path.write_text(json.dumps(records))
    done = run("free", "--rows", "+ free", "--per-seed", str(path))
    assert done.returncode == 0, done.stderr
    p = ttest_1samp([0.71, 0.73, 0.72], 0.70, alternative="greater").pvalue
    assert done.stdout.splitlines() == ["reference: free, tau 0.700",
                                        f"a + free: tau 0.720 over 3 seeds, p(above) = {p:.3g}"]


def test_an_unknown_row_or_a_missing_file_is_one_clear_error(tmp_path):
    path = tmp_path / "per_seed.json"
    path.write_text(json.dumps([{"row": "x", "seed": 0, "kendall_tau": 0.5}]))
    done = run("nope", "--per-seed", str(path))
    assert done.returncode == 2 and done.stderr.startswith("error: no row 'nope'") and "Traceback" not in done.stderr
    missing = run("x", "--per-seed", str(tmp_path / "absent.json"))
    assert missing.returncode == 2 and "nas leaderboard mode=collect" in missing.stderr
