"""Latency: the meter, a child's layers, the lookup table (prediction = the sum of its entries), its file."""

from __future__ import annotations

import doctest
import json

import numpy as np
import pytest
import torch

import nas.latency.layers
import nas.latency.measured
import nas.latency.meter
import nas.latency.table
from nas.errors import ConfigError
from nas.latency import OVERHEAD, LatencyMeter, LatencyTable, MeasuredLatency, decompose
from search_spaces.elastic_conv import ElasticConvSearchSpace
from search_spaces.elastic_vit import ElasticViTSearchSpace
from search_spaces.nb201 import NB201SearchSpace

NB201 = NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
CONV = ElasticConvSearchSpace(in_channels=1, num_classes=4, input_size=8, stem_channels=4, stem_stride=1,
                              stage_channels=(4, 8), stage_strides=(1, 2), depths=(1, 2), kernel_sizes=(3, 5),
                              expand_ratios=(2, 3), channel_divisor=2)
VIT = ElasticViTSearchSpace(in_channels=1, num_classes=4, input_size=8, patch_size=4, embed_dims=(16, 24),
                            depths=(1, 2), num_heads=(1, 2), mlp_ratios=(2, 3), head_dim=8)
FAST = LatencyMeter(warmup=0, repeats=1)


class CountingMeter(LatencyMeter):
    """Every layer costs 1 ms and every whole network 100 ms: a deterministic table."""

    def time(self, run):
        run()
        return 1.0

    def measure_model(self, model, input_shape):
        return 100.0


def test_the_meter_times_what_it_runs_and_restores_the_thread_count():
    calls = []
    threads = torch.get_num_threads()
    ms = LatencyMeter(warmup=3, repeats=5, threads=1).time(lambda: calls.append(torch.get_num_threads()))
    assert len(calls) == 8 and set(calls) == {1} and torch.get_num_threads() == threads and ms >= 0.0
    with pytest.raises(ConfigError, match="repeats must be >= 1"):
        LatencyMeter(repeats=0)


def test_a_nb201_child_is_made_of_its_edge_ops_and_the_skeleton():
    arch = NB201.parse("|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|")
    names = [layer.key.split("[")[0] for layer in decompose(NB201.build_model(arch), torch.zeros(1, 1, 8, 8))]
    edge_ops = [n for n in names if n in ("ReLUConvBN", "Identity", "AvgPool3x3")]
    assert len(edge_ops) == 3 * 4  # three stages of one cell, four edges that are not `none`
    assert names[:2] == ["Conv2d", "BatchNorm2d"] and names[-2:] == ["BatchNorm2d", "Linear"]
    assert names.count("LightReduction") == 2


@pytest.mark.parametrize("space", [NB201, CONV, VIT], ids=["nb201", "elastic_conv", "elastic_vit"])
def test_the_tables_prediction_is_the_sum_of_its_entries(space):
    table = LatencyTable.build(space, CountingMeter(), patience=30, calibration=3, progress=False)
    rng = np.random.default_rng(1)
    for arch in [space.sample(rng) for _ in range(5)]:
        terms = table.breakdown(arch)
        assert table.predict(arch) == sum(table.entries[key] for key, _ in terms) == table(arch)
        assert [key for key, _ in terms][-1] == OVERHEAD
        assert table.predict(arch) == pytest.approx(len(terms) - 1 + table.entries[OVERHEAD])
    layers = [len(table.keys(a)) for a in (space.sample(np.random.default_rng(s)) for s in range(3))]
    assert table.entries[OVERHEAD] == pytest.approx(100.0 - np.median(layers), abs=max(layers))


def test_equal_layers_share_one_key_and_different_ones_do_not():
    a = CONV.largest()
    b = CONV.make({**a, "stage2.block1.kernel": 3})
    keys_a = decompose(CONV.build_model(a), torch.zeros(1, 1, 8, 8))
    keys_b = decompose(CONV.build_model(b), torch.zeros(1, 1, 8, 8))
    differ = [i for i, (x, y) in enumerate(zip(keys_a, keys_b)) if x.key != y.key]
    assert len(keys_a) == len(keys_b) and len(differ) == 1
    assert keys_a[differ[0]].key.startswith("InvertedResidual[")


def test_a_table_is_saved_loaded_and_refused_for_another_space(tmp_path):
    table = LatencyTable.build(NB201, FAST, patience=20, calibration=2, progress=False)
    path = table.save(tmp_path / "nb201.json")
    again = LatencyTable.load(NB201, path, warn=lambda line: None)
    arch = NB201.sample(np.random.default_rng(0))
    assert again.predict(arch) == table.predict(arch) and again.meter == FAST
    record = json.loads(path.read_text())
    assert record["layers"] == len(table) - 1 and record["meter"]["repeats"] == 1
    other = NB201SearchSpace(C=6, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
    with pytest.raises(ConfigError, match="was built for search space"):
        LatencyTable.load(other, path)
    with pytest.raises(ConfigError, match="does not exist: build it"):
        LatencyTable.load(NB201, tmp_path / "none.json")
    path.write_text("{")
    with pytest.raises(ConfigError, match="is unreadable"):
        LatencyTable.load(NB201, path)


def test_a_child_with_a_layer_the_table_lacks_is_refused():
    table = LatencyTable.build(NB201, CountingMeter(), patience=20, calibration=0, progress=False)
    arch = NB201.sample(np.random.default_rng(0))
    del table.entries[table.keys(arch)[3]]
    with pytest.raises(ConfigError, match="has no entry for 1 layer"):
        table.predict(arch)


def test_measured_latency_times_the_standalone_child_once_and_joins_the_spaces_cost():
    space = ElasticViTSearchSpace(**dict(
        in_channels=1, num_classes=4, input_size=8, patch_size=4, embed_dims=(16, 24), depths=(1, 2),
        num_heads=(1, 2), mlp_ratios=(2, 3), head_dim=8))  # its own object: cost() changes
    latency = MeasuredLatency(space, warmup=0, repeats=2)
    arch = space.smallest()
    first = latency(arch)
    assert first > 0.0 and latency(arch) == first and list(latency.cache) == [arch]
    assert "latency_ms" not in space.cost(arch)
    space.latency = latency
    assert space.cost(arch) == {"params": space.params(arch), "flops": space.flops(arch), "latency_ms": first}


def test_doctests():
    for module in (nas.latency.layers, nas.latency.meter, nas.latency.measured, nas.latency.table):
        assert doctest.testmod(module).failed == 0
