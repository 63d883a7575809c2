"""`nas bench build` then `nas leaderboard` on a tiny synthetic recipe: the same code as the real leaderboard."""

import csv
import json
import shutil
import subprocess
import sys

import pytest

from nas.checkpoint import load_checkpoint, tensor_bytes
from nas.run_folder import RunFolder


def nas(*args, cwd):
    return subprocess.run([sys.executable, "-m", "nas", *args], cwd=cwd, capture_output=True, text=True, timeout=1200)


FREE = ["params", "flops", "effective_params", "effective_flops", "synflow", "naswot", "jacob_cov", "snip",
        "grad_norm", "fisher", "mean_rank_anchored"]


def build_and_rank(tmp_path, seeds: str, curve: str, *extra: str):
    gt = tmp_path / "gt.jsonl"
    built = nas("bench", "build", "dataset=synthetic", "recipe=tiny", "archs.sample=5", f"output={gt}",
                "progress=false", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    overrides = f"run_overrides=['preset=smoke','trainer.epochs=2','benchmark.oracle.records={gt}']"
    done = nas("leaderboard", "only=[spos]", "dataset=synthetic", f"seeds={seeds}", overrides,
               f"benchmark.oracle.records={gt}",
               f"budget_curve.epochs={curve}", "threads=1", "progress=false", *extra, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_leaderboard_short(tmp_path):
    """CI's short version: one seed, no budget curve; the free rankers scored by `nas rank`, and combined rows."""
    done = build_and_rank(tmp_path, "[0]", "[]")
    assert "[free rankers] nas rank dataset=synthetic search_space=fmnist201 benchmark=fmnist201" in done.stdout
    board = (tmp_path / "LEADERBOARD.md").read_text()
    assert "| spos | 1 | supernet |" in board and "params (no training)" in board and "(ceiling)" in board
    assert "| tau 95% CI | p vs spos | p > best free |" in board
    assert "Free rows: every cell scored by `nas rank dataset=synthetic" in board
    rows = list(csv.DictReader((tmp_path / "leaderboard" / "leaderboard.csv").open()))
    combined = ["spos + synflow (mean rank)", "spos + effective_params (mean rank)",
                "spos + effective_params + synflow + naswot + jacob_cov (mean rank)",
                "spos + effective_params + synflow + jacob_cov (mean rank)",
                "spos + params + synflow + jacob_cov (mean rank)"]  # k=10..50 exceed 5 cells
    assert [r["name"] for r in rows] == ["spos", *combined, "params (no training)", "flops (no training)",
                                         *(f"{n} (no training)" for n in FREE[2:]),
                                         "ground truth seed0 vs seed1 (ceiling)"]
    assert [r["kind"] for r in rows][:7] == ["supernet", *["combined"] * 5, "baseline"]
    assert [r["kind"] for r in rows][-2:] == ["free combined", "ceiling"]   # a mean rank of free rankers ...
    anchored = next(r for r in rows if r["name"] == "mean_rank_anchored (no training)")
    members = [next(r for r in rows if r["name"] == f"{n} (no training)")
               for n in ("effective_params", "synflow", "jacob_cov")]
    assert float(anchored["free_seconds_per_child"]) == pytest.approx(     # ... costs what its members cost
        sum(float(m["free_seconds_per_child"]) for m in members), rel=0.5)
    assert "| spos + effective_params + synflow + naswot + jacob_cov (mean rank) † | 1 | combined |" in board
    assert "† The free rankers of these rows were chosen after looking at the free rows" in board
    assert "| spos + effective_params + synflow + jacob_cov (mean rank) ‡ | 1 | combined |" in board
    assert "| spos + params + synflow + jacob_cov (mean rank) ‡ | 1 | combined |" in board
    assert "‡ These combinations' free rankers were fixed by a rule that reads no ground truth of this board" in board
    assert -1.0 <= float(rows[0]["kendall_tau_mean"]) <= 1.0
    # memory: the checkpoint's tensors and the training process's peak, from the run's summary
    spos_run = RunFolder(tmp_path / "runs" / "leaderboard" / "spos" / "seed0")
    assert float(rows[0]["state_mib_mean"]) == pytest.approx(
        tensor_bytes(load_checkpoint(spos_run.checkpoint)) / 2**20, rel=1e-5)
    assert float(rows[0]["peak_memory_mib_mean"]) == pytest.approx(
        spos_run.read_summary().peak_memory_mib["rss"], rel=1e-5)
    assert 100 < float(rows[0]["peak_memory_mib_mean"]) < 20_000 and rows[-1]["state_mib_mean"] == "nan"
    assert float(rows[0]["kendall_tau_ci_low"]) <= float(rows[0]["kendall_tau_mean"]) <= \
        float(rows[0]["kendall_tau_ci_high"])
    assert all(float(r["free_seconds_per_child"]) > 0 for r in rows if r["kind"] in ("free", "combined"))
    assert sorted(p.stem for p in (tmp_path / "leaderboard" / "free" / "scores").glob("*.json")) == sorted(FREE)
    assert (tmp_path / "leaderboard" / "tau.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "leaderboard" / "runs" / "spos" / "seed0.json").is_file()
    collect = ("leaderboard", "mode=collect", "only=[spos]", "dataset=synthetic", "seeds=[0]",
               f"benchmark.oracle.records={tmp_path / 'gt.jsonl'}", "budget_curve.epochs=[]", "progress=false")
    # collecting again reuses the finished run
    again = nas(*collect, cwd=tmp_path)
    assert again.returncode == 0 and "running seeds" not in again.stdout
    assert (tmp_path / "LEADERBOARD.md").read_text() == board
    # ... and once the run folders are gone, the archive alone gives the same board
    shutil.rmtree(tmp_path / "runs")
    archived = nas(*collect, cwd=tmp_path)
    assert archived.returncode == 0, archived.stderr[-2000:]
    assert (tmp_path / "LEADERBOARD.md").read_text() == board
    # `only` limits what trains; the board collects every row that has runs (here another row's archive)
    other = tmp_path / "leaderboard" / "runs" / "sandwich"
    other.mkdir()
    shutil.copy(tmp_path / "leaderboard" / "runs" / "spos" / "seed0.json", other / "seed0.json")
    both = nas(*collect, cwd=tmp_path)
    assert both.returncode == 0 and "| sandwich | 1 |" in (tmp_path / "LEADERBOARD.md").read_text()
    # an archived run counts as finished: `mode=run` does not train it again
    rerun = nas(*[a for a in collect if a != "mode=collect"], cwd=tmp_path)
    assert rerun.returncode == 0 and "running seeds" not in rerun.stdout, rerun.stdout[:500]
    assert not (tmp_path / "runs" / "leaderboard" / "spos").exists() and "[free rankers]" not in rerun.stdout
    # ... unless `rerun` names it (to get its checkpoints back): trained again, to the same scores on this machine
    def spos_scores() -> dict:
        return json.loads((tmp_path / "leaderboard" / "runs" / "spos" / "seed0.json").read_text())["scores"]

    archived_scores = spos_scores()
    same_run = (f"run_overrides=['preset=smoke','trainer.epochs=2','benchmark.oracle.records={tmp_path / 'gt.jsonl'}']",
                "threads=1")  # what build_and_rank trained it with
    retrained = nas(*[a for a in collect if a != "mode=collect"], *same_run, "rerun=[spos]", cwd=tmp_path)
    assert retrained.returncode == 0 and "[spos] running seeds [0]" in retrained.stdout, retrained.stderr[-2000:]
    assert (tmp_path / "runs" / "leaderboard" / "spos" / "seed0" / "checkpoints" / "last.pt").is_file()
    assert spos_scores() == archived_scores  # the archive rewritten from the new run: the same cell scores
    shutil.rmtree(tmp_path / "runs")
    unknown = nas(*collect, "rerun=[nope]", cwd=tmp_path)
    assert unknown.returncode == 2 and "rerun=['nope'] names no trained row" in unknown.stderr
    # collecting only reads the free rankers' files: without them, no free or combined row, and a note
    shutil.rmtree(tmp_path / "leaderboard" / "free")
    bare = nas(*collect, cwd=tmp_path)
    assert bare.returncode == 0 and not (tmp_path / "leaderboard" / "free").exists()
    board = (tmp_path / "LEADERBOARD.md").read_text()
    assert "synflow (no training)" not in board and "(mean rank)" not in board
    assert "Free rankers without scores of every cell yet" in board


def test_scoring_only_rows_rescore_the_base_checkpoints_without_training(tmp_path):
    """`rescore: {<row>: {base, overrides}}`: the base row's checkpoints scored with other evaluator settings."""
    from nas.pipeline import build_evaluator, load_trained_supernet, setup
    from nas.run_folder import RunFolder

    build_and_rank(tmp_path, "[0]", "[]", "free.rankers=[]", "combined.rows=[]")
    base = RunFolder(tmp_path / "runs" / "leaderboard" / "spos" / "seed0")
    weights = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.pt")}
    rescore = ("++rescore={spos_bn:{base:spos,overrides:['evaluator.bn_policy=batch_stats']},"
               "spos_same:{base:spos,overrides:['evaluator.bn_policy=recalibrate']}}")
    args = ("leaderboard", "only=[spos_bn,spos_same]", "dataset=synthetic", "seeds=[0]", "free.rankers=[]",
            "combined.rows=[]",
            f"benchmark.oracle.records={tmp_path / 'gt.jsonl'}", "budget_curve.epochs=[]", "progress=false")
    done = nas(*args, rescore, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "[spos_bn] rescoring spos's supernets of seeds [0]" in done.stdout and "running seeds" not in done.stdout
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.pt")} == weights   # nothing trained or saved
    rescored = RunFolder(tmp_path / "runs" / "leaderboard" / "spos_bn" / "seed0")
    assert not rescored.checkpoint.exists() and rescored.trained_config().evaluator.bn_policy == "batch_stats"
    assert rescored.read_summary().train_seconds == base.read_summary().train_seconds
    assert rescored.read_summary().peak_memory_mib == base.read_summary().peak_memory_mib != {}
    scores = {r.arch: r.supernet_accuracy for r in rescored.read_benchmark_scores()}
    same = {r.arch: r.supernet_accuracy for r in
            RunFolder(tmp_path / "runs" / "leaderboard" / "spos_same" / "seed0").read_benchmark_scores()}
    # the override is all that differs: the base run's own evaluator settings give its own scores
    assert same == {r.arch: r.supernet_accuracy for r in base.read_benchmark_scores()}
    cfg = rescored.trained_config()
    data, space = setup(cfg)
    evaluator = build_evaluator(cfg, load_trained_supernet(base.path, space), data)
    assert scores == {a: evaluator.score(space.parse(a)) for a in scores} and scores != same
    board = (tmp_path / "LEADERBOARD.md").read_text()
    assert "| spos_bn | 1 | supernet |" in board and "`spos_bn` rescores the checkpoints of `spos`" in board
    assert (tmp_path / "leaderboard" / "runs" / "spos_bn" / "seed0.json").is_file()
    costs = {r["name"]: (r["state_mib_mean"], r["peak_memory_mib_mean"])
             for r in csv.DictReader((tmp_path / "leaderboard" / "leaderboard.csv").open())}
    assert costs["spos_bn"] == costs["spos"] and "nan" not in costs["spos"]   # the base's weights and training
    # without the base row's checkpoint a scoring-only row cannot be made: one clear error
    base.checkpoint.unlink()
    refused = nas(*args, "++rescore={spos_bn2:{base:spos,overrides:['evaluator.valid_size=64']}}", "only=[spos_bn2]",
                  cwd=tmp_path)
    assert refused.returncode == 2 and "retrain the base row" in refused.stderr and "only=[spos]" in refused.stderr


@pytest.mark.slow
def test_leaderboard_full(tmp_path):
    """Three seeds and a budget curve."""
    build_and_rank(tmp_path, "[0,1,2]", "[1]")
    board = (tmp_path / "LEADERBOARD.md").read_text()
    assert "| spos | 3 |" in board and "Kendall tau against the supernet budget" in board
    assert (tmp_path / "leaderboard" / "tau_vs_epochs.png").is_file()


def test_elastic_leaderboard_reports_best_child_under_flops_limit(tmp_path):
    """The weight-entangled board (`board=elastic_conv`) on a tiny synthetic elastic-conv table."""
    gt = tmp_path / "gt.jsonl"
    built = nas("bench", "build", "search_space=elastic_conv", "dataset=synthetic", "recipe=tiny", "archs.sample=4",
                f"output={gt}", "progress=false", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    flops = sorted({json.loads(line)["flops"] for line in gt.read_text().splitlines()})
    limit = flops[1]                                            # two of the four cells fit
    done = nas("leaderboard", "board=elastic_conv", "only=[uniform]", "dataset=synthetic",
               "seeds=[0]", f"benchmark.oracle.records={gt}", f"flops_limit={limit}", "output_dir=board",
               "assets_dir=board", f"run_overrides=['preset=smoke','trainer.epochs=1','benchmark.oracle.records={gt}',"
               f"'searcher.constraints.max_flops={limit}']", "threads=1", "progress=false", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    board = (tmp_path / "board" / "LEADERBOARD.md").read_text()
    assert f"truth of predicted best ≤ {limit / 1e6:g} MFLOPs" in board and "| uniform | 1 |" in board
    assert "nas leaderboard board=elastic_conv" in board and "](tau.png)" in board
    rows = {r["name"]: r for r in csv.DictReader((tmp_path / "board" / "leaderboard.csv").open())}
    records = [json.loads(line) for line in gt.read_text().splitlines()]
    feasible = {r["arch"] for r in records if r["flops"] <= limit}
    truth = {a: sum(r["accuracy"] for r in records if r["arch"] == a) / 2 for a in feasible}
    assert float(rows["ground truth seed0 vs seed1 (ceiling)"]["best_under_flops_truth_mean"]) == \
        pytest.approx(max(truth.values()), abs=1e-3)               # the CSV keeps 6 digits
    picked = float(rows["uniform"]["best_under_flops_truth_mean"])
    assert any(picked == pytest.approx(v, abs=1e-3) for v in truth.values())


@pytest.mark.parametrize("board, rows, search_space", [
    ("fmnist201", ["spos", "strict_fair", "sandwich", "cost_bucket", "pada_path", "pada_data", "pada",
                   "fewshot_exhaustive", "gm2", "gm4", "spos_distinct", "spos_distinct_60ep", "spos_distinct_120ep", "fewshot_distinct",
                   "spos_score_loss",
                   "spos_label_smoothing", "spos_drop_path", "spos_bn_no_track", "spos_bn_no_affine", "spos_max_none2",
                   "spos_valid10k", "spos_snapshots", "spos_60ep", "spos_120ep", "spos_lr0.1", "spos_lr0.025",
                   "spos_wd1e-4", "spos_wd2e-3", "spos_distinct_wd2e-3", "enas", "enas_buffer"], "nb201"),
    ("elastic_conv", ["uniform", "uniform_score_loss", "sandwich_kl", "sandwich_alpha", "shiftnas", "deps", "mos"], "elastic_conv"),
    ("elastic_vit", ["uniform", "sandwich_kl", "mos"], "elastic_vit"),
])
def test_each_board_has_only_its_own_rows(board, rows, search_space):
    from hydra import compose, initialize_config_dir

    from nas.cli.common import CONF_DIR

    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("leaderboard", overrides=[f"board={board}"])
    assert list(cfg.rows) == rows
    assert cfg.search_space._target_.split(".")[1] == search_space
