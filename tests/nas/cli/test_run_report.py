"""`nas run` sets its supernet beside the free rankers on the benchmark's cells (a tiny synthetic table)."""

import json
import subprocess
import sys


def nas(*args, cwd):
    return subprocess.run([sys.executable, "-m", "nas", *args], cwd=cwd, capture_output=True, text=True, timeout=900)


def test_nas_run_prints_the_supernet_beside_every_free_ranker_and_orders_its_children_by_the_combination(tmp_path):
    gt = tmp_path / "gt.jsonl"
    built = nas("bench", "build", "dataset=synthetic", "recipe=tiny", "archs.sample=5", f"output={gt}",
                "progress=false", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    board = tmp_path / "board.csv"
    board.write_text("name,kind,kendall_tau_mean,kendall_tau_std\nspos,supernet,0.613892,0.0109365\n"
                     "spos_distinct,supernet,0.677234,0.0117\nspos_distinct_score_loss,supernet,0.686712,0.0041\n")
    done = nas("run", "preset=smoke", "dataset=synthetic", "benchmark=fmnist201", f"benchmark.oracle.records={gt}",
               f"report.leaderboard.csv={board}", "report.bootstrap.resamples=100", f"run_dir={tmp_path / 'run'}",
               "threads=1", "progress=false", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "by supernet + effective_params + synflow + jacob_cov (mean rank) (no ground truth" in out
    assert "Ranking of 5 ground-truth cells (Kendall tau [95% bootstrap CI over cells]):" in out
    ranking = out.split("Ranking of 5 ground-truth cells")[1].splitlines()[1:9]
    names = [line.split("  tau ")[0].strip() for line in ranking]
    assert names == ["supernet", "params", "flops", "effective_params", "synflow", "naswot", "jacob_cov",
                     "supernet + effective_params + synflow + jacob_cov (mean rank)"]
    assert all(" [" in line and "best pick" in line for line in ranking)
    assert all("s/child" in line for line in ranking[1:])
    verdict = out.split("Ranking of 5 ground-truth cells")[1].splitlines()[9]
    assert verdict.startswith("The supernet (tau ")
    assert "beats every free ranker" in verdict or verdict.endswith(
        "preset=full reaches 0.687 ± 0.004 on the leaderboard (row spos_distinct_score_loss).")  # report.leaderboard.row
    metrics = json.loads((tmp_path / "run" / "ranking_metrics.json").read_text())
    assert list(metrics["baselines"]) == names[1:] and len(metrics["supernet"]["kendall_interval"]) == 2
    report = (tmp_path / "run" / "report.md").read_text()
    assert "| supernet + effective_params + synflow + jacob_cov (mean rank) | combined |" in report and verdict in report
    assert "## Top 10 children by supernet + effective_params + synflow + jacob_cov (mean rank)" in report
