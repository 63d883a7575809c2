"""SplitSupernet: routing partitions the space, copies equal the parent, the partition travels with the weights."""

from collections import Counter

import numpy as np
import pytest
import torch

from nas.data import synthetic
from nas.errors import CheckpointError, ConfigError, InvalidArchitectureError
from nas.evaluator import Evaluator
from search_spaces.nb201 import NB201SearchSpace
from supernets.split import SplitSupernet, restore_split, split_supernet

SPACE = NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
GROUPS = [("none", "skip_connect"), ("nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")]


def _parent():
    torch.manual_seed(0)
    net = SPACE.build_supernet()
    with torch.no_grad():  # non-trivial BN statistics, so that eval-mode equality means something
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    return net


def _two_splits(parent):
    once, _ = split_supernet(parent, "1<-0", GROUPS)
    twice, _ = split_supernet(once, "3<-2", [("none",), ("skip_connect", "avg_pool_3x3"),
                                             ("nor_conv_1x1", "nor_conv_3x3")], leaf=1)
    return once, twice


def _owners(split, arch):
    return [k for k, c in enumerate(split.constraints) if all(arch[d] in o for d, o in c.items())]


def test_every_nb201_cell_routes_to_exactly_one_sub_supernet_after_one_and_two_splits():
    once, twice = _two_splits(_parent())
    archs = list(SPACE.enumerate())
    assert len(archs) == 15_625
    for split, expected in ((once, [2 * 5**5, 3 * 5**5]), (twice, [2 * 5**5, 3 * 5**4, 3 * 2 * 5**4, 3 * 2 * 5**4])):
        counts = Counter(split.route(a) for a in archs)
        assert [counts[k] for k in range(len(split.leaves))] == expected
        assert all(len(_owners(split, a)) == 1 for a in archs[::7])


def test_sub_supernets_equal_the_parent_right_after_the_split_for_every_routed_arch():
    parent = _parent().eval()
    once, twice = _two_splits(parent)
    x = torch.randn(3, 1, 8, 8)
    rng = np.random.default_rng(0)
    archs = [SPACE.sample(rng) for _ in range(40)] + [SPACE.make({**SPACE.largest(), "1<-0": o})
                                                      for o in SPACE.decisions["1<-0"]]
    with torch.no_grad():
        for arch in archs:
            expected = parent(x, arch)
            for split in (once.eval(), twice.eval()):
                assert torch.equal(split(x, arch), expected)
                assert torch.equal(split.subnet(arch).eval()(x), expected)
    routed = {twice.route(a) for a in archs}
    assert routed == set(range(4))


def test_copies_are_independent_and_map_to_their_parents():
    parent = _parent()
    split, parents = split_supernet(parent, "1<-0", GROUPS)
    params = list(split.parameters())
    assert len(params) == 2 * len(list(parent.parameters())) and all(p in parents for p in params)
    assert {id(parents[p]) for p in params} == {id(p) for p in parent.parameters()}
    with torch.no_grad():
        split.leaves[0].stem[0].weight.add_(1.0)
    assert not torch.equal(split.leaves[0].stem[0].weight, split.leaves[1].stem[0].weight)


def test_state_dict_carries_the_partition_and_reloads_exactly():
    _, twice = _two_splits(_parent())
    state = twice.state_dict()
    rebuilt = restore_split(SPACE.build_supernet(), state)
    rebuilt.load_state_dict(state)
    assert isinstance(rebuilt, SplitSupernet) and rebuilt.constraints == twice.constraints
    assert all(torch.equal(v, rebuilt.state_dict()[k]) for k, v in state.items() if torch.is_tensor(v))
    assert restore_split(SPACE.build_supernet(), SPACE.build_supernet().state_dict()).__class__ is not SplitSupernet
    other, _ = split_supernet(SPACE.build_supernet(), "1<-0", list(reversed(GROUPS)))
    with pytest.raises(CheckpointError, match="differs"):
        other.load_state_dict(state)


def test_option_parameters_merge_the_owning_sub_supernets():
    parent = _parent()
    split, _ = split_supernet(parent, "1<-0", GROUPS)
    merged = split.option_parameters()
    own = {k: {id(p) for p in v} for k, v in merged.items()}
    leaf = [{k: {id(p) for p in v} for k, v in l.option_parameters().items()} for l in split.leaves]
    assert own[("1<-0", "nor_conv_3x3")] == leaf[1][("1<-0", "nor_conv_3x3")] and own[("1<-0", "nor_conv_3x3")]
    assert own[("2<-0", "nor_conv_3x3")] == leaf[0][("2<-0", "nor_conv_3x3")] | leaf[1][("2<-0", "nor_conv_3x3")]


def test_bad_splits_and_unrouted_archs_are_clear_errors():
    parent = _parent()
    with pytest.raises(ConfigError, match="overlap"):
        split_supernet(parent, "1<-0", [("none", "skip_connect"), ("skip_connect", "nor_conv_1x1")])
    with pytest.raises(ConfigError, match="partition every option of decision '1<-0'"):
        split_supernet(parent, "1<-0", [("none",), ("skip_connect",)])
    with pytest.raises(ConfigError, match="at least two non-empty groups"):
        split_supernet(parent, "1<-0", [tuple(SPACE.decisions["1<-0"])])
    once, _ = split_supernet(parent, "1<-0", GROUPS)
    with pytest.raises(ConfigError, match="sub-supernet 0 owns"):
        split_supernet(once, "1<-0", [("none",), ("nor_conv_1x1",)], leaf=0)
    with pytest.raises(ConfigError, match="no sub-supernet 5"):
        split_supernet(once, "2<-0", GROUPS, leaf=5)
    partial = SplitSupernet([_parent()], [{"1<-0": ["none"]}])
    with pytest.raises(InvalidArchitectureError, match="no sub-supernet owns"):
        partial.route(SPACE.largest())


def test_evaluator_recalibrates_bn_of_the_routed_sub_supernet():
    data = synthetic(train_size=128)
    parent = _parent()
    split, _ = split_supernet(parent, "1<-0", GROUPS)
    rng = np.random.default_rng(1)
    archs = [SPACE.sample(rng) for _ in range(4)]
    kwargs = dict(recalibration_batches=2, recalibration_batch_size=32, progress=False)
    on_parent = Evaluator(parent, data.valid, data.train, **kwargs).score_many(archs)
    evaluator = Evaluator(split, data.valid, data.train, **kwargs)
    assert len(evaluator._norms) == 2 * len([m for m in parent.modules() if isinstance(m, torch.nn.BatchNorm2d)])
    assert evaluator.score_many(archs) == on_parent
