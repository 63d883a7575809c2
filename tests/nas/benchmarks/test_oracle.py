"""Oracles: the shipped NAS-Bench-201 table against the reference CSV, and TableOracle over records files."""

from __future__ import annotations

import random
import time

import pytest
import torch  # noqa: F401  (the load-time bound is measured with torch already imported)

from nas.architecture import Architecture
from nas.benchmarks.oracle import NB201_DATASETS, NB201Oracle, Oracle, TableOracle, _nb201_table
from nas.benchmarks.records import RecordsError, load_records, write_records
from nas.errors import ConfigError, InvalidArchitectureError, NASError
from nas.searchers import RandomSearch
from search_spaces.nb201 import NB201Architecture, NB201SearchSpace

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
CELL_A = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|none~0|skip_connect~1|avg_pool_3x3~2|"
CELL_B = "|nor_conv_3x3~0|+|skip_connect~0|avg_pool_3x3~1|+|skip_connect~0|skip_connect~1|nor_conv_3x3~2|"
CELL_C = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"


# -- NAS-Bench-201 ------------------------------------------------------------------------------------------
def test_best_cifar10_cell_is_94_37():
    oracle = NB201Oracle("cifar10")
    assert isinstance(oracle, Oracle)
    assert round(oracle(BEST), 2) == 94.37
    assert round(oracle(NB201Architecture.from_string(BEST)), 2) == 94.37


def test_best_cell_metrics_include_analytic_costs():
    oracle = NB201Oracle("cifar10")
    metrics = oracle.query(BEST)
    space = NB201SearchSpace()
    arch = space.parse(BEST)
    assert metrics == {"accuracy": pytest.approx(94.3733, abs=1e-4),
                       "params": float(space.params(arch)), "flops": float(space.flops(arch))}


@pytest.mark.parametrize("dataset", list(NB201_DATASETS))
def test_agrees_with_the_reference_csv_on_200_random_rows(nb201_rows, dataset):
    assert len(nb201_rows) == 15_625
    oracle = NB201Oracle(dataset)
    column = NB201_DATASETS[dataset]
    for row in random.Random(201).sample(nb201_rows, 200):
        assert oracle(row["ArchitectureString"]) == pytest.approx(float(row[column]), abs=1e-9), row


@pytest.mark.parametrize("dataset, best", [("cifar10", 94.3733), ("cifar100", 73.5133), ("ImageNet16-120", 47.3111)])
def test_table_maxima_are_the_published_optima(dataset, best):
    table = _nb201_table()
    column = list(NB201_DATASETS).index(dataset)
    assert max(row[column] for row in table.values()) == pytest.approx(best, abs=1e-4)


def test_covers_every_cell():
    oracle = NB201Oracle("cifar100")
    archs = oracle.architectures()
    assert len(oracle) == len(archs) == 15_625
    assert set(archs) == set(NB201SearchSpace().enumerate())


def test_table_loads_in_under_a_second():
    _nb201_table.cache_clear()
    started = time.perf_counter()
    table = _nb201_table()
    seconds = time.perf_counter() - started
    assert len(table) == 15_625
    assert seconds < 1.0, f"loading the NAS-Bench-201 table took {seconds:.2f} s"
    assert _nb201_table() is table  # cached


def test_oracle_is_a_searcher_objective():
    oracle = NB201Oracle("cifar10")
    history = RandomSearch(NB201SearchSpace(), seed=0).search(oracle, budget=20)
    assert [t.score for t in history.trials] == [oracle(t.arch) for t in history.trials]


@pytest.mark.parametrize("dataset", ["cifar-10", "imagenet", "CIFAR10", ""])
def test_unknown_dataset_raises_config_error(dataset):
    with pytest.raises(ConfigError, match=f"NAS-Bench-201 has no dataset {dataset!r}.*cifar10.*ImageNet16-120"):
        NB201Oracle(dataset)


@pytest.mark.parametrize("text", [
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|",                       # two nodes
    "|conv_5x5~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|",  # bad op
    "|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|",  # bad index
    "not a cell",
])
def test_malformed_arch_raises_invalid_architecture_error(text):
    with pytest.raises(InvalidArchitectureError, match="NAS-Bench-201 cell string"):
        NB201Oracle("cifar10")(text)


def test_arch_of_another_space_raises_invalid_architecture_error():
    with pytest.raises(InvalidArchitectureError, match="missing decisions"):
        NB201Oracle("cifar10").query(Architecture({"width": 4}))


# -- TableOracle over a records file ---------------------------------------------------------------------------
def record(arch: str, seed: int, accuracy: float, recipe: str = "abc", seconds: float = 10.0) -> dict:
    return {"arch": arch, "seed": seed, "accuracy": accuracy, "params": 1000 + len(arch), "flops": 5000 + seed,
            "seconds": seconds, "recipe": recipe}


@pytest.fixture
def records_file(tmp_path):
    path = tmp_path / "truth.jsonl"
    write_records(path, [
        record(CELL_A, 0, 80.0, seconds=10.0), record(CELL_A, 1, 83.0, seconds=12.0),
        record(CELL_B, 0, 90.0), record(CELL_B, 1, 91.0), record(CELL_B, 2, 92.5),
        record(CELL_C, 0, 10.0),  # one seed only
    ])
    return path


@pytest.fixture
def space() -> NB201SearchSpace:
    return NB201SearchSpace(C=8, N=1, in_channels=1, input_size=16, reduction="light")


def test_write_records_writes_sorted_json_lines(records_file):
    text = records_file.read_text()
    assert text.endswith("\n") and text.count("\n") == 6
    rows = load_records(records_file)
    assert rows[0] == record(CELL_A, 0, 80.0, seconds=10.0)
    assert [r["seed"] for r in rows] == [0, 1, 0, 1, 2, 0]
    assert not list(records_file.parent.glob(".*.tmp"))


def test_table_oracle_means_over_seeds(records_file, space):
    oracle = TableOracle(records_file, space)
    assert oracle.recipe == "abc"
    assert oracle(CELL_A) == pytest.approx(81.5)
    assert oracle(space.parse(CELL_B)) == pytest.approx((90.0 + 91.0 + 92.5) / 3)
    metrics = oracle.query(CELL_A)
    assert metrics == {"accuracy": pytest.approx(81.5), "accuracy_seed0": 80.0, "accuracy_seed1": 83.0,
                       "params": float(1000 + len(CELL_A)), "flops": 5000.0, "seconds": 22.0}


def test_table_oracle_min_seeds_filters(records_file, space):
    assert set(TableOracle(records_file, space).architectures()) == {space.parse(CELL_A), space.parse(CELL_B)}
    assert set(TableOracle(records_file, space, min_seeds=1).architectures()) == {
        space.parse(CELL_A), space.parse(CELL_B), space.parse(CELL_C)}
    three = TableOracle(records_file, space, min_seeds=3)
    assert three.architectures() == [space.parse(CELL_B)]
    assert len(three) == 1
    with pytest.raises(RecordsError, match="has no architecture with 4 seeds yet"):
        TableOracle(records_file, space, min_seeds=4)


def test_table_oracle_min_seeds_counts_distinct_seeds(tmp_path, space):
    path = tmp_path / "dup.jsonl"
    write_records(path, [record(CELL_A, 0, 80.0), record(CELL_A, 0, 82.0), record(CELL_B, 0, 1.0),
                         record(CELL_B, 1, 3.0)])
    oracle = TableOracle(path, space, min_seeds=2)
    assert oracle.architectures() == [space.parse(CELL_B)]
    assert oracle(CELL_B) == pytest.approx(2.0)


def test_query_of_an_arch_not_in_the_table(records_file, space):
    oracle = TableOracle(records_file, space)
    with pytest.raises(InvalidArchitectureError, match="not in the ground-truth table truth.jsonl"):
        oracle(CELL_C)  # present, but with one seed only
    with pytest.raises(InvalidArchitectureError, match="not in the ground-truth table"):
        oracle.query(BEST)
    with pytest.raises(InvalidArchitectureError, match="malformed NAS-Bench-201 cell string"):
        oracle("|x~0|")


def test_mixed_recipes_raise(tmp_path, space):
    path = tmp_path / "mixed.jsonl"
    write_records(path, [record(CELL_A, 0, 80.0, recipe="abc"), record(CELL_A, 1, 81.0, recipe="def")])
    with pytest.raises(RecordsError, match=r"mixes records of 2 recipes \['abc', 'def'\]"):
        TableOracle(path, space)


def test_empty_file_raises(tmp_path, space):
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    with pytest.raises(RecordsError, match="is empty"):
        load_records(path)
    with pytest.raises(RecordsError, match="is empty"):
        TableOracle(path, space)
    path.write_text("\n  \n")
    with pytest.raises(RecordsError, match="is empty"):
        load_records(path)
    assert load_records(path, allow_empty=True) == []


def test_truncated_file_raises(records_file, space):
    text = records_file.read_text()
    records_file.write_text(text[:-25])  # the last line is cut, no trailing newline
    with pytest.raises(RecordsError, match="is truncated"):
        load_records(records_file)
    with pytest.raises(RecordsError, match="is truncated"):
        TableOracle(records_file, space)
    records_file.write_text(text.rstrip("\n"))  # complete JSON, but no final newline either
    with pytest.raises(RecordsError, match="truncated"):
        load_records(records_file)


def test_bad_json_line_raises_with_its_line_number(records_file, space):
    lines = records_file.read_text().splitlines()
    lines[2] = lines[2][:40]
    records_file.write_text("\n".join(lines) + "\n")
    with pytest.raises(RecordsError, match=r"truth.jsonl:3 is not valid JSON"):
        load_records(records_file)
    with pytest.raises(RecordsError, match="not valid JSON"):
        TableOracle(records_file, space)


def test_missing_fields_raise(tmp_path):
    path = tmp_path / "short.jsonl"
    write_records(path, [{"arch": CELL_A, "seed": 0, "accuracy": 1.0}])
    with pytest.raises(RecordsError, match=r"short.jsonl:1 lacks fields \['params', 'flops', 'seconds', 'recipe'\]"):
        load_records(path)


def test_missing_file_raises(tmp_path, space):
    with pytest.raises(RecordsError, match="does not exist"):
        load_records(tmp_path / "nope.jsonl")
    assert load_records(tmp_path / "nope.jsonl", allow_empty=True) == []
    with pytest.raises(RecordsError, match="does not exist"):
        TableOracle(tmp_path / "nope.jsonl", space)


def test_recipe_mismatch_names_both_hashes(records_file):
    with pytest.raises(RecordsError) as info:
        load_records(records_file, recipe="other")
    message = str(info.value)
    assert "recipe abc" in message and "not other" in message
    assert "truth.jsonl:1" in message
    assert len(load_records(records_file, recipe="abc")) == 6


def test_records_error_is_a_nas_error():
    assert issubclass(RecordsError, NASError)
    assert issubclass(RecordsError, ValueError)


def test_shipped_fmnist201_table_loads_by_name(fmnist_space):
    oracle = TableOracle("fmnist201", fmnist_space)
    assert oracle.path.name == "fmnist201.jsonl"
    assert len(oracle) >= 1
    for arch in oracle.architectures():
        metrics = oracle.query(arch)
        assert 10.0 <= metrics["accuracy"] <= 100.0
        seeds = [v for k, v in metrics.items() if k.startswith("accuracy_seed")]
        assert len(seeds) >= 2
        assert metrics["accuracy"] == pytest.approx(sum(seeds) / len(seeds))


def test_shipped_nb201_table_is_byte_identical_to_the_reference_csv():
    """PROVENANCE.md's sha256 of nb201_test_acc_200ep.csv: the shipped copy is that file, unaltered."""
    import gzip
    import hashlib

    from nas.benchmarks.oracle import DATA_DIR

    raw = gzip.decompress((DATA_DIR / "nb201_test_acc_200ep.csv.gz").read_bytes())
    assert hashlib.sha256(raw).hexdigest() == "cb5d777ec3368be83c8f9b3aa4d520696051cb0eb8d94b8f85b519f9ea4afa3e"
    assert "cb5d777ec3368be83c8f9b3aa4d520696051cb0eb8d94b8f85b519f9ea4afa3e" in (
        DATA_DIR / "NB201_PROVENANCE.md").read_text()


def test_a_table_of_another_search_space_is_a_clear_error(tmp_path):
    from search_spaces.elastic_conv import ElasticConvSearchSpace

    write_records(tmp_path / "gt.jsonl", [{"arch": CELL_A, "seed": s, "accuracy": 80.0, "params": 1, "flops": 1,
                                           "seconds": 1.0, "recipe": "r"} for s in (0, 1)])
    with pytest.raises(RecordsError, match="not of search space 'elastic_conv'.*benchmark=none"):
        TableOracle(tmp_path / "gt.jsonl", ElasticConvSearchSpace(in_channels=1, input_size=16))
