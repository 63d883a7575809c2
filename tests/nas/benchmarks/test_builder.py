import functools
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from nas.benchmarks import RecordsError, StandaloneRecipe, build_ground_truth, load_records, sample_distinct
from nas.benchmarks.recipe import train_standalone
from nas.data import synthetic
from search_spaces.nb201 import NB201SearchSpace

TINY = StandaloneRecipe(train_size=128, epochs=1, batch_size=64)
SPACE = NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
LOAD = functools.partial(synthetic, train_size=128, valid_size=64, test_size=64)


def without_time(records):
    return sorted((json.dumps({k: v for k, v in r.items() if k != "seconds"}, sort_keys=True) for r in records))


def test_sample_distinct_is_uniform_distinct_and_prefix_stable():
    small, large = sample_distinct(SPACE, 20, seed=3), sample_distinct(SPACE, 50, seed=3)
    assert len(set(small)) == 20 and large[:20] == small
    assert sample_distinct(SPACE, 20, seed=4) != small


def test_record_fields_and_determinism():
    arch = sample_distinct(SPACE, 1, seed=0)[0]
    data = LOAD()
    a = train_standalone(SPACE, arch, data, TINY, seed=0)
    b = train_standalone(SPACE, arch, data, TINY, seed=0)
    c = train_standalone(SPACE, arch, data, TINY, seed=1)
    assert set(a) >= {"arch", "seed", "accuracy", "params", "flops", "seconds", "recipe"}
    assert a["arch"] == str(arch) and a["params"] == SPACE.params(arch) and a["flops"] == SPACE.flops(arch)
    assert (a["accuracy"], a["train_accuracy"]) == (b["accuracy"], b["train_accuracy"])
    assert a["recipe"] == TINY.fingerprint(SPACE, data.name) == c["recipe"]
    assert a["recipe"] != StandaloneRecipe(train_size=128, epochs=2, batch_size=64).fingerprint(SPACE, data.name)


def test_resume_skips_finished_records_and_ends_like_an_uninterrupted_build(tmp_path):
    archs = sample_distinct(SPACE, 3, seed=0)
    straight = build_ground_truth(SPACE, LOAD, "synthetic", archs, [0, 1], tmp_path / "a.jsonl", TINY,
                                  progress=False)
    # "killed" after the first architecture's two runs: then rerun with the full list
    build_ground_truth(SPACE, LOAD, "synthetic", archs[:1], [0, 1], tmp_path / "b.jsonl", TINY, progress=False)
    first = load_records(tmp_path / "b.jsonl")
    resumed = build_ground_truth(SPACE, LOAD, "synthetic", archs, [0, 1], tmp_path / "b.jsonl", TINY, progress=False)
    assert len(resumed) == 6 and len({(r["arch"], r["seed"]) for r in resumed}) == 6
    assert load_records(tmp_path / "b.jsonl")[:2] == first  # finished records untouched
    assert without_time(resumed) == without_time(straight)


def test_two_workers_produce_the_same_records(tmp_path):
    archs = sample_distinct(SPACE, 2, seed=1)
    one = build_ground_truth(SPACE, LOAD, "synthetic", archs, [0, 1], tmp_path / "one.jsonl", TINY, progress=False)
    two = build_ground_truth(SPACE, LOAD, "synthetic", archs, [0, 1], tmp_path / "two.jsonl", TINY, workers=2,
                             progress=False)
    assert without_time(one) == without_time(two)


def test_a_file_of_another_recipe_is_refused(tmp_path):
    archs = sample_distinct(SPACE, 1, seed=0)
    build_ground_truth(SPACE, LOAD, "synthetic", archs, [0], tmp_path / "gt.jsonl", TINY, progress=False)
    other = StandaloneRecipe(train_size=128, epochs=2, batch_size=64)
    with pytest.raises(RecordsError, match="another recipe"):
        build_ground_truth(SPACE, LOAD, "synthetic", archs, [0], tmp_path / "gt.jsonl", other, progress=False)
    assert len(load_records(tmp_path / "gt.jsonl")) == 1  # nothing appended


def test_sigkill_during_build_then_rerun_loses_only_the_run_in_flight(tmp_path):
    """The real CLI, killed with SIGKILL, then rerun: no duplicates, no damaged file, same records."""
    base = [sys.executable, "-m", "nas", "bench", "build", "dataset=synthetic", "recipe=tiny", "archs.sample=3",
            "progress=false", "recipe.epochs=3"]
    done = subprocess.run(base + [f"output={tmp_path / 'straight.jsonl'}"], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    target = tmp_path / "killed.jsonl"
    victim = subprocess.Popen(base + [f"output={target}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and victim.poll() is None:
        if target.exists() and len(target.read_text().splitlines()) >= 2:
            break
        time.sleep(0.02)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    partial = load_records(target)  # never half-written: loads cleanly
    assert 2 <= len(partial) < 6
    rerun = subprocess.run(base + [f"output={target}"], capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    final = load_records(target)
    assert final[: len(partial)] == partial
    assert without_time(final) == without_time(load_records(tmp_path / "straight.jsonl"))
    assert (tmp_path / "killed.md").is_file() and "seed-to-seed" in (tmp_path / "killed.md").read_text()


def test_a_second_builder_on_the_same_file_is_refused(tmp_path):
    from nas.benchmarks.builder import _exclusive
    from nas.errors import ConfigError

    target = tmp_path / "gt.jsonl"
    with _exclusive(target):
        with pytest.raises(ConfigError, match="another `nas bench build` is writing"):
            build_ground_truth(SPACE, LOAD, "synthetic", sample_distinct(SPACE, 1, 0), [0], target, TINY,
                               progress=False)
    assert not target.exists()
