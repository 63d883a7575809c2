"""`nas rank` end to end on a tiny synthetic ground-truth table, as a user runs it (a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import kendalltau

from nas.benchmarks import write_records
from nas.rankers import RecordedRanker
from search_spaces.nb201 import NB201SearchSpace

# conf/dataset/synthetic.yaml: 1x8x8 images, 4 classes; the FMNIST-201 skeleton narrowed to C=4
SPACE = NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
CELLS = list(dict.fromkeys(SPACE.sample(np.random.default_rng(i)) for i in range(14)))
TABLE_ARGS = ["dataset=synthetic", "search_space=fmnist201", "search_space.C=4", "threads=1", "progress=false"]


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> tuple[Path, dict[str, float]]:
    folder = tmp_path_factory.mktemp("table")
    rng = np.random.default_rng(0)
    rows, truth = [], {}
    for cell in CELLS:
        base = 40 + SPACE.effective_cost(cell)["params"] / 100 + rng.normal()
        accs = [base + rng.normal(scale=0.3) for _ in (0, 1)]
        truth[str(cell)] = sum(accs) / 2
        rows += [{"arch": str(cell), "seed": s, "accuracy": a, "params": SPACE.params(cell),
                  "flops": SPACE.flops(cell), "seconds": 1.0, "recipe": "tiny"} for s, a in enumerate(accs)]
    write_records(folder / "gt.jsonl", rows)
    return folder / "gt.jsonl", truth


def nas_rank(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("NAS_DATA", "HYDRA_FULL_ERROR")}
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.run([sys.executable, "-m", "nas.cli.main", "rank", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_nas_rank_scores_the_table_with_every_kind_of_ranker(table, tmp_path):
    records, truth = table
    done = nas_rank(*TABLE_ARGS, f"benchmark.oracle.records={records}",
                    "ranker=[params,effective_params,synflow,naswot,mean_rank_synflow_effective_params,calibrated]",
                    "ranker.calibrated.members=[params,synflow,naswot]", "held_out.ks=[4,100]", "held_out.splits=3",
                    "bootstrap.resamples=50", f"output_dir={tmp_path / 'out'}", f"markdown={tmp_path / 'table.md'}",
                    cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Kendall tau [95% CI]" in done.stdout and "6 rankers on 14 cells" in done.stdout
    result = json.loads((tmp_path / "out" / "rankers.json").read_text())
    rows = {r["name"]: r for r in result["rows"]}
    assert list(rows) == ["params", "effective_params", "synflow", "naswot", "mean rank(synflow, effective_params)",
                          "calibrated(params, synflow, naswot) [k=4]"]  # k=100 does not fit 14 cells
    cells = list(truth)
    expected = kendalltau([SPACE.params(SPACE.parse(c)) for c in cells], [truth[c] for c in cells]).statistic
    assert rows["params"]["kendall_tau"] == pytest.approx(expected)
    for row in rows.values():
        assert -1.0 <= row["kendall_tau"] <= 1.0 and row["seconds_per_child"] >= 0
    low, high = rows["synflow"]["kendall_interval"]
    assert low <= rows["synflow"]["kendall_tau"] <= high
    calibrated = rows["calibrated(params, synflow, naswot) [k=4]"]
    assert calibrated["k"] == 4 and calibrated["splits"] == 3 and calibrated["cells"] == 10
    recorded = RecordedRanker(tmp_path / "out" / "scores" / "params.json")  # scores read back as a ranker
    assert recorded.score([SPACE.parse(c) for c in cells]) == [float(SPACE.params(SPACE.parse(c))) for c in cells]
    assert not (tmp_path / "out" / "scores" / "calibrated.json").exists()  # it has no score without a fit
    markdown = (tmp_path / "table.md").read_text()
    assert markdown == (tmp_path / "out" / "rankers.md").read_text()
    assert "Made by `nas rank dataset=synthetic" in markdown and "| naswot |" in markdown


def test_nas_rank_errors_are_one_line_with_exit_code_2(table, tmp_path):
    records, _ = table
    done = nas_rank(*TABLE_ARGS, f"benchmark.oracle.records={records}", "ranker=[params,mean_rank_free]",
                    f"output_dir={tmp_path / 'out'}", cwd=tmp_path)
    assert done.returncode == 2 and "error: ranker 'mean_rank_free' combines" in done.stderr
    done = nas_rank(*TABLE_ARGS, "benchmark=none", f"output_dir={tmp_path / 'out'}", cwd=tmp_path)
    assert done.returncode == 2 and "choose a benchmark with a table" in done.stderr
