"""NAS-Bench-201's oracle, shipped with its space: the table against the reference CSV, and its own network."""

from __future__ import annotations

import gzip
import hashlib
import random
import time

import pytest
import torch  # noqa: F401  (the load-time bound is measured with torch already imported)
from hydra import compose, initialize_config_dir

from nas.architecture import Architecture
from nas.benchmarks import Oracle, build_oracle
from nas.cli.common import CONF_DIR
from nas.errors import ConfigError, InvalidArchitectureError
from nas.searchers import RandomSearch
from search_spaces.nb201 import NB201_DATASETS, NB201Architecture, NB201Oracle, NB201SearchSpace
from search_spaces.nb201.benchmark import DATA_DIR, TABLE, _nb201_table

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


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




def test_shipped_nb201_table_is_byte_identical_to_the_reference_csv():
    """PROVENANCE.md's sha256 of nb201_test_acc_200ep.csv: the shipped copy is that file, unaltered."""
    raw = gzip.decompress(TABLE.read_bytes())
    assert hashlib.sha256(raw).hexdigest() == "cb5d777ec3368be83c8f9b3aa4d520696051cb0eb8d94b8f85b519f9ea4afa3e"
    assert "cb5d777ec3368be83c8f9b3aa4d520696051cb0eb8d94b8f85b519f9ea4afa3e" in (
        DATA_DIR / "NB201_PROVENANCE.md").read_text()


# -- built from conf/benchmark/nb201.yaml through build_oracle, like every other oracle ------------------------
def benchmark_config(*overrides: str):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose(config_name="run", overrides=["benchmark=nb201", *overrides]).benchmark


def test_config_builds_it_over_the_configured_space(fmnist_space):
    oracle = build_oracle(benchmark_config("benchmark.oracle.dataset=cifar100"), fmnist_space)
    assert isinstance(oracle, NB201Oracle) and oracle.dataset == "cifar100" and oracle.space is fmnist_space
    metrics = oracle.query(BEST)
    arch = fmnist_space.parse(BEST)
    # the table's CIFAR-100 number, priced on the configured skeleton (C=8, N=1)
    assert metrics == {"accuracy": pytest.approx(73.22, abs=1e-4),
                       "params": float(fmnist_space.params(arch)), "flops": float(fmnist_space.flops(arch))}
    assert metrics["params"] < NB201Oracle("cifar100").query(BEST)["params"]


def test_on_own_space_is_the_benchmarks_cifar_network(fmnist_space):
    oracle = NB201Oracle("ImageNet16-120", fmnist_space)
    own = oracle.on_own_space()
    assert isinstance(own, NB201Oracle) and own.dataset == "ImageNet16-120"
    assert own.space.spec() == NB201SearchSpace(C=16, N=5).spec() != fmnist_space.spec()
    assert own(BEST) == oracle(BEST) == pytest.approx(46.7111, abs=1e-4)
    assert own.query(BEST)["flops"] == float(NB201SearchSpace().flops(NB201SearchSpace().parse(BEST)))


def test_the_table_ships_inside_the_space_package():
    assert DATA_DIR.parent.name == "nb201" and TABLE.parent == DATA_DIR
    assert (DATA_DIR / "NB201_PROVENANCE.md").is_file()


def test_config_with_an_unknown_dataset_raises_the_oracles_config_error(fmnist_space):
    with pytest.raises(ConfigError, match=r"^NAS-Bench-201 has no dataset 'cifar'; choose one of"):
        build_oracle(benchmark_config("benchmark.oracle.dataset=cifar"), fmnist_space)
