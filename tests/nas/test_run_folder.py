"""The run folder: file names, typed schemas (round trips, old formats), CSV, the lock and the saved config."""

from __future__ import annotations

import ast
import csv
import doctest
import hashlib
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

import nas.csv_file
import nas.file_lock
import nas.plots
import nas.run_folder
from nas.architecture import Architecture
from nas.checkpoint import save_atomic
from nas.cli.common import CONF_DIR
from nas.csv_file import csv_text
from nas.errors import LockedError, NASError, RunFolderError
from nas.file_lock import FileLock
from nas.pipeline import search_fingerprint, training_fingerprint
from nas.run_folder import (
    AssignedConfiguration,
    BalancedMixtureSummary,
    BenchmarkScore,
    FewShotSummary,
    ParetoPoint,
    RankedChild,
    RankingMetrics,
    RunFolder,
    Summary,
)
from nas.searchers.base import Trial

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ROOT = Path(__file__).resolve().parents[2]


def trials_from(points) -> list[Trial]:
    return [Trial(i, Architecture({"i": i}), float(s), {"params": int(p), "flops": int(2 * p)})
            for i, (s, p) in enumerate(points)]


def tree_hash(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def config(app: str, *overrides: str):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose(app, overrides=list(overrides))


# -- schemas -----------------------------------------------------------------------------------------------
def test_summary_round_trips_with_todays_keys_in_order(tmp_path):
    folder = RunFolder(tmp_path)
    trials = trials_from([(80.0, 10), (95.5, 30), (90.0, 20)])
    summary = Summary(train_seconds=61.5, train_steps=16, search_seconds=2.25, benchmark_seconds=4.0,
                      child_evaluations=212, ranking={"kendall_tau": 0.5, "n": 10},
                      baselines={"params": {"kendall_tau": 0.1}}, top=Summary.top_of(trials, k=2),
                      peak_memory_mib={"rss": 812.5})
    folder.write_summary(summary)
    record = json.loads(folder.summary.read_text())
    assert list(record) == ["train_seconds", "train_steps", "search_seconds", "benchmark_seconds",
                            "child_evaluations", "ranking", "baselines", "top", "peak_memory_mib"]
    assert record["peak_memory_mib"] == {"rss": 812.5}
    assert record["top"] == [{"arch": "i=1", "score": 95.5, "params": 30, "flops": 60},
                             {"arch": "i=2", "score": 90.0, "params": 20, "flops": 40}]
    assert folder.read_summary() == summary
    # what older or hand-made summaries lack takes its default (the leaderboard's tests write three keys)
    folder.summary.write_text('{"train_seconds": 60, "child_evaluations": 110}')
    partial = folder.read_summary()
    assert (partial.train_seconds, partial.benchmark_seconds, partial.child_evaluations) == (60.0, 0.0, 110)
    assert isinstance(partial.train_seconds, float) and partial.peak_memory_mib == {}


def test_ranking_json_says_which_score_it_holds_and_csv_keeps_its_columns(tmp_path):
    folder = RunFolder(tmp_path / "out")
    trials = trials_from([(40.123456, 10), (71.99999, 5), (55.5, 20)])
    children = folder.write_ranking(trials, "oracle_accuracy")
    rows = json.loads(folder.ranked_children.read_text())
    assert rows[0] == {"rank": 1, "arch": "i=1", "oracle_accuracy": 72.0, "params": 5, "flops": 10,
                       "score_key": "oracle_accuracy"}
    assert [r["arch"] for r in rows] == ["i=1", "i=2", "i=0"]
    assert [r["oracle_accuracy"] for r in rows] == [72.0, 55.5, 40.1235]
    assert folder.read_ranking() == children
    with folder.ranked_children_csv.open(newline="") as handle:
        table = list(csv.reader(handle))
    assert table == [["rank", "arch", "oracle_accuracy", "params", "flops"], ["1", "i=1", "72.0", "5", "10"],
                     ["2", "i=2", "55.5", "20", "40"], ["3", "i=0", "40.1235", "10", "20"]]
    assert not list(folder.path.glob(".*.tmp"))
    with pytest.raises(ValueError, match="score_key must be one of"):
        folder.write_ranking(trials, "accuracy")
    folder.write_ranking([], "supernet_accuracy")
    assert folder.read_ranking() == [] and folder.ranked_children_csv.read_bytes() == b"rank,arch\r\n"


@pytest.mark.parametrize("key", ["supernet_accuracy", "oracle_accuracy"])
def test_an_old_ranking_without_score_key_is_read_by_the_score_it_holds(tmp_path, key):
    folder = RunFolder(tmp_path)
    old = [{"rank": 1, "arch": "i=3", key: 91.25, "params": 7, "flops": 14},
           {"rank": 2, "arch": "i=1", key: 80.5, "params": 3, "flops": 6}]
    folder.ranked_children.write_text(json.dumps(old, indent=1) + "\n")  # as nas/report.py wrote it
    assert folder.read_ranking() == [RankedChild(1, "i=3", 91.25, 7, 14, key), RankedChild(2, "i=1", 80.5, 3, 6, key)]


def test_a_ranking_with_no_or_two_scores_is_one_clear_error(tmp_path):
    folder = RunFolder(tmp_path)
    folder.ranked_children.write_text(json.dumps([{"rank": 1, "arch": "a", "params": 1, "flops": 1}]))
    with pytest.raises(RunFolderError, match=r"ranked_children.json is unreadable .*holds \[\]"):
        folder.read_ranking()
    both = {"rank": 1, "arch": "a", "supernet_accuracy": 1.0, "oracle_accuracy": 2.0}
    folder.ranked_children.write_text(json.dumps([both]))
    with pytest.raises(RunFolderError, match="holds .'supernet_accuracy', 'oracle_accuracy'."):
        folder.read_ranking()
    folder.ranked_children.write_text('[{"rank": 1, "ar')
    with pytest.raises(RunFolderError, match="ranked_children.json is unreadable"):
        folder.read_ranking()
    with pytest.raises(RunFolderError, match="has no summary.json"):
        folder.read_summary()


def test_benchmark_scores_and_ranking_metrics_round_trip(tmp_path):
    folder = RunFolder(tmp_path)
    assert folder.read_benchmark_scores() == []
    scores = [BenchmarkScore("a", 81.25, 90.0), BenchmarkScore("b", 70.5, 88.75)]
    folder.write_benchmark_scores(scores)
    assert json.loads(folder.benchmark_scores.read_text()) == [
        {"arch": "a", "supernet_accuracy": 81.25, "truth": 90.0},
        {"arch": "b", "supernet_accuracy": 70.5, "truth": 88.75}]
    assert folder.read_benchmark_scores() == scores
    metrics = RankingMetrics({"kendall_tau": 0.25, "n": 2}, {"params": {"kendall_tau": -1.0}})
    folder.write_ranking_metrics(metrics)
    assert list(json.loads(folder.ranking_metrics.read_text())) == ["supernet", "baselines"]
    assert folder.read_ranking_metrics() == metrics
    assert folder.plot_supernet_vs_truth([81.25, 70.5], [90.0, 88.75], "tau 1").read_bytes()[:8] == PNG_MAGIC


def test_few_shot_summary_round_trips_and_a_one_shot_run_has_none(tmp_path):
    folder = RunFolder(tmp_path)
    assert folder.read_few_shot() is None
    summary = FewShotSummary(method="gradient_matching", split_epochs=[1, 2], restart=False, sub_supernets=4,
                             partition=[{"edge_0": ["conv3x3"]}, {"edge_0": ["skip", "none"]}],
                             gm_scoring_seconds=1.5, split_seconds=0.25, training_seconds=30.0,
                             gm_fraction_of_training=0.05, epoch=3, history=[{"epoch": 1, "decision": "edge_0"}])
    folder.write_few_shot(summary)
    assert list(json.loads(folder.few_shot.read_text()))[:3] == ["method", "split_epochs", "restart"]
    assert folder.read_few_shot() == summary
    odd = FewShotSummary("exhaustive", [1], True, 2, [{"w": [Path("x")]}], 0.0, 0.0, 1.0, 0.0, 1)
    folder.write_few_shot(odd)  # values JSON cannot hold are written as text, as before
    assert folder.read_few_shot().partition == [{"w": ["x"]}]


def mixture_summary() -> BalancedMixtureSummary:
    rows = [AssignedConfiguration("w=0", 1, [0.125, -0.25], [0.25, 0.75], [1, 2]),
            AssignedConfiguration("w=1", 0, [-0.5, 0.0625], [0.875, 0.125], [3, 0]),
            AssignedConfiguration("w=2", 0, [0.0, 0.0], [0.5, 0.5], [0, 0])]
    settings = {"temperature": 0.05, "decay": 0.9, "relative": True, "baseline_decay": 0.98, "tolerance": 0.01,
                "init": "independent", "seed": 0}
    return BalancedMixtureSummary(2, settings, 6, 1.375, [2, 1], [4, 2], rows)


def test_balanced_mixture_summary_round_trips_and_other_runs_have_none(tmp_path):
    folder = RunFolder(tmp_path)
    assert folder.read_balanced_mixture() is None
    summary = mixture_summary()
    folder.write_balanced_mixture(summary)
    assert folder.balanced_mixture.name == "balanced_mixture.json"
    record = json.loads(folder.balanced_mixture.read_text())
    assert list(record) == ["supernets", "settings", "train_steps", "baseline", "counts", "trained", "configurations"]
    assert record["configurations"][0] == {"arch": "w=0", "supernet": 1, "loss": [0.125, -0.25],
                                           "probabilities": [0.25, 0.75], "steps": [1, 2]}
    assert folder.read_balanced_mixture() == summary
    assert summary.assignment() == {"w=0": 1, "w=1": 0, "w=2": 0}
    assert [p.name for p in tmp_path.iterdir()] == ["balanced_mixture.json"]   # atomic: no temporary file left


@pytest.mark.parametrize("damage, message", [
    (lambda text: text[: len(text) // 2], "balanced_mixture.json is unreadable"),            # cut short
    (lambda text: "[]", r"balanced_mixture.json is unreadable \(TypeError"),                  # not an object
    (lambda text: text.replace('"counts"', '"count"'), r"unreadable \(KeyError: 'counts'"),   # a key missing
    (lambda text: text.replace('"supernet": 1', '"supernet": 2'), "does not fit 2 supernets"),
    (lambda text: text.replace('"supernet": 1', '"supernet": 0'), r"counts \[2, 1\] are not those"),
    (lambda text: text.replace('"train_steps": 6', '"train_steps": "six"'), "ValueError"),
])
def test_a_damaged_balanced_mixture_file_is_one_clear_error(tmp_path, damage, message):
    folder = RunFolder(tmp_path)
    folder.write_balanced_mixture(mixture_summary())
    folder.balanced_mixture.write_text(damage(json.dumps(mixture_summary().to_json())))
    with pytest.raises(RunFolderError, match=message):
        folder.read_balanced_mixture()


def test_pareto_front_is_written_as_json_csv_and_png_and_read_back(tmp_path):
    folder = RunFolder(tmp_path)
    trials = trials_from([(90, 10), (80, 5), (85, 20), (95, 30)])
    points = folder.write_pareto_front(trials, "params", score_name="accuracy")
    rows = json.loads(folder.pareto_front_json.read_text())
    assert [r["trial"] for r in rows] == [1, 0, 3]
    assert rows[0] == {"arch": "i=1", "accuracy": 80.0, "params": 5, "flops": 10, "trial": 1}
    with folder.pareto_front_csv.open(newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [r["arch"] for r in table] == ["i=1", "i=0", "i=3"]
    assert list(table[0]) == ["arch", "accuracy", "params", "flops", "trial"]
    assert folder.pareto_front_png.read_bytes()[:8] == PNG_MAGIC
    assert folder.read_pareto_front() == points
    assert points[2] == ParetoPoint("i=3", 95.0, {"params": 30, "flops": 60}, 3, "accuracy")


def test_report_plot_draws_the_same_front_that_is_written(tmp_path, monkeypatch):
    drawn = {}
    monkeypatch.setattr(nas.plots, "accuracy_vs_cost",
                        lambda trials, front, path, cost, score_label: drawn.update(
                            front=[t.number for t in front], label=score_label))
    folder = RunFolder(tmp_path)
    trials = trials_from([(90, 10), (80, 5), (85, 20), (95, 30), (95, 40)])
    folder.plot_accuracy_vs_params(trials, "supernet -validation loss")
    assert drawn["front"] == [p.trial for p in folder.write_pareto_front(trials, "params")] == [1, 0, 3]
    assert drawn["label"] == "supernet -validation loss"


# -- CSV -------------------------------------------------------------------------------------------------
def test_csv_text_quotes_as_the_csv_module_does():
    rows = [{"a": "plain", "b": 'say "hi"', "c": 1.5}, {"a": "x,y", "b": None, "c": "two\nlines"},
            {"a": "", "b": 3, "c": -0.0}]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["a", "b", "c"])
    writer.writeheader()
    writer.writerows(rows)
    assert csv_text(["a", "b", "c"], rows) == buffer.getvalue()
    back = list(csv.DictReader(io.StringIO(csv_text(["a", "b", "c"], rows, always_quote={"a"}, line_end="\n"))))
    assert back[1] == {"a": "x,y", "b": "", "c": "two\nlines"}


def test_leaderboard_csv_keeps_its_committed_bytes(tmp_path):
    """Rebuilding leaderboard.csv from its own numbers gives the committed file, byte for byte."""
    from nas.leaderboard import write_csv

    committed = (ROOT / "leaderboard" / "leaderboard.csv").read_text()
    table = list(csv.DictReader(io.StringIO(committed)))
    stats = [k for k in table[0] if k.endswith(("_mean", "_std"))]
    results = []
    for row in table:
        result = {"name": row["name"], "kind": row["kind"], "seeds": row["seeds"],
                  "epochs": row["epochs"] or None, "command": row["command"]}
        for key in stats[::2]:
            metric = key[: -len("_mean")]
            result[metric] = (float(row[f"{metric}_mean"]), float(row[f"{metric}_std"]))
        result.update(kendall_ci=(float(row["kendall_tau_ci_low"]), float(row["kendall_tau_ci_high"])),
                      p_vs_reference=float(row["p_vs_reference"]), p_above_best_free=float(row["p_above_best_free"]),
                      seconds_per_child=(float(row["free_seconds_per_child"]), 0.0), uses=row["uses"])
        results.append(result)
    write_csv(results, tmp_path / "leaderboard.csv")
    assert (tmp_path / "leaderboard.csv").read_text() == committed


# -- lock ------------------------------------------------------------------------------------------------
def test_a_held_folder_refuses_a_second_holder_and_names_the_first(tmp_path):
    folder = RunFolder(tmp_path / "run")
    with folder.lock("nas run preset=smoke run_dir=X"):
        holder = folder.holder()
        assert (holder.pid, holder.command) == (os.getpid(), "nas run preset=smoke run_dir=X")
        with pytest.raises(LockedError) as info:
            with RunFolder(tmp_path / "run").lock("nas train"):
                pass
        message = str(info.value)
        assert message.startswith(f"run folder {tmp_path / 'run'} is in use by pid {os.getpid()} "
                                  "(`nas run preset=smoke run_dir=X`), since ")
        assert holder.since in message and message.endswith("wait for it to finish, or use another run_dir")
        assert "\n" not in message and isinstance(info.value, NASError)
    with folder.lock("nas train"):  # released at the end of the block
        assert folder.holder().command == "nas train"


def test_the_lock_dies_with_its_holder(tmp_path):
    """A killed holder (SIGKILL: no cleanup at all) leaves the folder free: flock goes with the process."""
    lock_file = tmp_path / ".lock"
    code = ("import sys, time; from nas.file_lock import FileLock; "
            f"FileLock({str(lock_file)!r}).acquire('nas run seed=7'); print('held', flush=True); time.sleep(60)")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "held"
        with pytest.raises(LockedError, match=f"in use by pid {child.pid} .`nas run seed=7`."):
            FileLock(lock_file).acquire("nas run seed=7")
    finally:
        child.kill()
        child.wait()
    lock = FileLock(lock_file)
    lock.acquire("nas run seed=7")
    assert lock.holder().pid == os.getpid()
    lock.release()


# -- the saved config ------------------------------------------------------------------------------------
def test_claim_saves_config_and_overrides_as_hydra_does_and_refuses_another_fingerprint(tmp_path):
    overrides = ["preset=smoke", "trainer.epochs=3"]
    cfg = config("run", *overrides)
    folder = RunFolder(tmp_path / "R")
    with folder.claim(cfg, "run", training_fingerprint, overrides=overrides):
        assert folder.holder().command == "nas run preset=smoke trainer.epochs=3"
    assert folder.config.read_text() == OmegaConf.to_yaml(cfg)
    assert folder.overrides.read_text() == "- preset=smoke\n- trainer.epochs=3\n"
    assert folder.saved_overrides() == overrides
    assert training_fingerprint(folder.saved_config()) == training_fingerprint(cfg)

    # same training, other cosmetic or search settings: accepted, and the new command is recorded
    again = ["preset=smoke", "trainer.epochs=3", "progress=false", "search.budget=5"]
    with folder.claim(config("run", *again), "run", training_fingerprint, overrides=again):
        pass
    assert folder.saved_overrides() == again

    before = tree_hash(folder.path)
    for other in (["dataset.noise=3.0"], ["search_space.C=4"], ["seed=1"]):
        with pytest.raises(RunFolderError, match="belongs to a run with another training configuration .* use "
                                                 "another run_dir, or delete the folder to start over"):
            with folder.claim(config("run", *overrides, *other), "train", training_fingerprint, overrides=other):
                pytest.fail("a refused claim must not run its block")
        assert tree_hash(folder.path) == before


def test_training_and_search_folders_are_never_shared(tmp_path):
    trained = RunFolder(tmp_path / "trained")
    with trained.claim(config("train", "preset=smoke"), "train", training_fingerprint, overrides=[]):
        pass
    searched = RunFolder(tmp_path / "searched")
    search_cfg = config("search", "preset=smoke", f"train_dir={trained.path}")
    with searched.claim(search_cfg, "search", search_fingerprint, overrides=[]):
        pass
    assert trained.trained_config().trainer.epochs == 2
    with pytest.raises(RunFolderError, match="is the folder of a `nas search`"):
        searched.trained_config()
    before = tree_hash(tmp_path)
    with pytest.raises(RunFolderError, match="was made by `nas train` or `nas run`"):
        with trained.claim(search_cfg, "search", search_fingerprint, overrides=[]):
            pass
    with pytest.raises(RunFolderError, match="was made by `nas search`"):
        with searched.claim(config("run", "preset=smoke"), "run", training_fingerprint, overrides=[]):
            pass
    # a search of another trained folder into the same search folder would reuse the first one's ranking
    with pytest.raises(RunFolderError, match="another search configuration"):
        with searched.claim(config("search", "preset=smoke", f"train_dir={tmp_path / 'other'}"), "search",
                            search_fingerprint, overrides=[]):
            pass
    assert tree_hash(tmp_path) == before
    with searched.claim(config("search", "preset=smoke", f"train_dir={trained.path}", "search.budget=30"),
                        "search", search_fingerprint, overrides=[]):
        pass  # a larger budget extends the same search


def test_a_folder_with_a_checkpoint_but_no_config_is_checked_against_the_checkpoint(tmp_path):
    cfg = config("train", "preset=smoke")
    folder = RunFolder(tmp_path)
    save_atomic({"fingerprint": training_fingerprint(config("train", "preset=smoke", "seed=3"))}, folder.checkpoint)
    with pytest.raises(RunFolderError, match="last.pt belongs to a run with another training configuration"):
        with folder.claim(cfg, "train", training_fingerprint, overrides=[]):
            pass
    assert not folder.config.exists() and not folder.lock_file.exists()
    save_atomic({"fingerprint": training_fingerprint(cfg)}, folder.checkpoint)
    with folder.claim(cfg, "train", training_fingerprint, overrides=[]):
        pass
    assert folder.config.is_file()


def test_a_damaged_saved_config_is_one_clear_error(tmp_path):
    folder = RunFolder(tmp_path)
    folder.config.parent.mkdir()
    folder.config.write_text("trainer: [unclosed\n")
    with pytest.raises(RunFolderError, match="config.yaml is unreadable"):
        folder.saved_config()
    with pytest.raises(RunFolderError, match="has no .hydra/overrides.yaml"):
        folder.saved_overrides()


# -- ownership -------------------------------------------------------------------------------------------
RUN_FOLDER_NAMES = ("summary.json", "ranked_children", "benchmark_scores.json", "ranking_metrics.json",
                    "few_shot.json", "balanced_mixture.json", "pareto_front.", "report.md", "accuracy_vs_params.png",
                    "supernet_vs_truth.png", "last.pt", "searcher_state", ".hydra", "config.yaml", "overrides.yaml")


def string_literals(path: Path) -> list[tuple[int, str]]:
    """The string constants of a module that are not docstrings (f-string parts included)."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def test_no_module_but_the_run_folder_names_a_run_folder_file():
    offenders = []
    for package in ("nas", "samplers", "search_spaces", "supernets"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path == ROOT / "nas" / "run_folder.py":
                continue
            for line, text in string_literals(path):
                offenders += [f"{path.relative_to(ROOT)}:{line}: {text!r}" for name in RUN_FOLDER_NAMES
                              if name in text and "://" not in text]
    assert not offenders, "\n".join(offenders)


def test_the_pareto_module_imports_nothing_above_the_searchers():
    tree = ast.parse((ROOT / "nas" / "searchers" / "pareto.py").read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert imported <= {"__future__", "collections.abc", "nas.searchers.base"}, imported


@pytest.mark.parametrize("module", [nas.run_folder, nas.csv_file, nas.file_lock, nas.plots])
def test_doctests(module):
    assert doctest.testmod(module).failed == 0


def test_importing_the_run_folder_stays_light():
    """The trainer imports it: it must not pull in Optuna or matplotlib at import time."""
    code = "import sys, nas.run_folder; print(sorted(m for m in ('optuna', 'matplotlib') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_lock_file_is_rewritten_in_place_so_a_waiting_holder_keeps_its_lock(tmp_path):
    path = tmp_path / ".lock"
    first = FileLock(path)
    first.acquire("one")
    inode = path.stat().st_ino
    first.release()
    second = FileLock(path)
    second.acquire("two")
    assert path.stat().st_ino == inode and second.holder().command == "two"
    second.release()
    assert time.strptime(second.holder().since, "%Y-%m-%d %H:%M:%S")

