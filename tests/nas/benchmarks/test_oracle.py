"""Oracles: TableOracle over records files, and build_oracle, the one way every command builds an oracle."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from nas.benchmarks import build_oracle
from nas.benchmarks.oracle import Oracle, TableOracle
from nas.benchmarks.records import RecordsError, load_records, write_records
from nas.cli.common import CONF_DIR
from nas.errors import ConfigError, InvalidArchitectureError, NASError
from search_spaces.nb201 import NB201SearchSpace

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
CELL_A = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|none~0|skip_connect~1|avg_pool_3x3~2|"
CELL_B = "|nor_conv_3x3~0|+|skip_connect~0|avg_pool_3x3~1|+|skip_connect~0|skip_connect~1|nor_conv_3x3~2|"
CELL_C = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"


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


def test_a_table_of_another_search_space_is_a_clear_error(tmp_path):
    from search_spaces.elastic_conv import ElasticConvSearchSpace

    write_records(tmp_path / "gt.jsonl", [{"arch": CELL_A, "seed": s, "accuracy": 80.0, "params": 1, "flops": 1,
                                           "seconds": 1.0, "recipe": "r"} for s in (0, 1)])
    with pytest.raises(RecordsError, match="not of search space 'elastic_conv'.*benchmark=none"):
        TableOracle(tmp_path / "gt.jsonl", ElasticConvSearchSpace(in_channels=1, input_size=16))


# -- build_oracle: one function, one calling convention -----------------------------------------------------
def benchmark_config(name: str):
    return OmegaConf.load(Path(CONF_DIR) / "benchmark" / f"{name}.yaml")


def test_build_oracle_builds_a_table_over_the_given_space(records_file, space):
    oracle = build_oracle(OmegaConf.create({"oracle": {"_target_": "nas.benchmarks.TableOracle",
                                                       "records": str(records_file)}}), space)
    assert isinstance(oracle, TableOracle) and oracle.space is space
    assert oracle(CELL_A) == pytest.approx(81.5)
    assert oracle.on_own_space() is oracle  # a table built by `nas bench build` measured the space it is given


def test_build_oracle_of_the_shipped_fmnist201_config(fmnist_space):
    oracle = build_oracle(benchmark_config("fmnist201"), fmnist_space)
    assert isinstance(oracle, TableOracle) and oracle.path.name == "fmnist201.jsonl" and oracle.space is fmnist_space
    assert oracle.architectures()[0] in set(fmnist_space.enumerate())


@pytest.mark.parametrize("node", [None, OmegaConf.create({"oracle": None}), {}])
def test_build_oracle_without_ground_truth_is_none(node, space):
    assert build_oracle(node, space) is None


def test_build_oracle_of_benchmark_none_is_none(space):
    assert build_oracle(benchmark_config("none"), space) is None


def test_build_oracle_refuses_what_is_not_an_oracle(space):
    with pytest.raises(ConfigError, match=r"benchmark.oracle built a dict, not an Oracle: point its _target_ at"):
        build_oracle({"oracle": {"_target_": "builtins.dict"}}, space)


def test_build_oracle_fails_early_on_a_table_of_another_space(tmp_path):
    from search_spaces.elastic_conv import ElasticConvSearchSpace

    with pytest.raises(RecordsError, match="not of search space 'elastic_conv'"):
        build_oracle(benchmark_config("fmnist201"), ElasticConvSearchSpace(in_channels=1, input_size=16))


def test_an_oracle_subclass_needs_query_and_architectures():
    class Half(Oracle):
        def query(self, arch):
            return {"accuracy": 50.0}

    with pytest.raises(TypeError, match="architectures"):
        Half()


def test_build_oracle_is_the_only_place_that_instantiates_an_oracle():
    """No command builds an oracle by hand (``instantiate(cfg.benchmark.oracle, ...)``): all go through build_oracle."""
    import ast

    root = Path(__file__).resolve().parents[3]
    by_hand = []
    for path in sorted([*(root / "nas").rglob("*.py"), *(root / "scripts").glob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text())):
            name = getattr(node.func, "id", getattr(node.func, "attr", None)) if isinstance(node, ast.Call) else None
            if name == "instantiate" and node.args and "oracle" in ast.unparse(node.args[0]):
                by_hand.append(f"{path.relative_to(root)}:{node.lineno}")
    assert by_hand == []
