"""The downsampling-position space: enumeration, analytic costs, supernet children equal to standalone models,
config errors, registration, and the few-shot exhaustive split on one of its decisions."""

from __future__ import annotations

import doctest
import functools
import itertools

import numpy as np
import pytest
import torch

from nas.errors import ConfigError, InvalidArchitectureError
from search_spaces.downsample import DownsampleSearchSpace
from search_spaces.downsample import config, network, space as space_module, supernet as supernet_module
from supernets.declared.macs import measure_macs
from tests.search_spaces.elastic_helpers import numel, perturb

SMALL = dict(input_size=8, num_classes=4, stem_channels=4, stage_widths=[4, 8], blocks_per_stage=2,
             first_positions=[0, 1], second_positions=[2, 3], pools=["stride", "avg", "max"])


@pytest.fixture(scope="module")
def space():
    return DownsampleSearchSpace(**SMALL)


def test_default_space_is_fmnist_sized_with_every_configuration_once():
    space = DownsampleSearchSpace()
    archs = list(space.enumerate())
    assert space.size == len(archs) == 20 and len(set(archs)) == 20
    expected = {(a, b, "stride") for a, b in itertools.product(range(4), range(4, 9))}
    assert {(a["down1"], a["down2"], a["pool"]) for a in archs} == expected
    assert all(space.parse(str(a)) == a for a in archs)


def test_sample_and_mutate_stay_in_the_space(space):
    rng = np.random.default_rng(0)
    every = set(space.enumerate())
    for _ in range(30):
        arch = space.sample(rng)
        mutated = space.mutate(arch, rng)
        assert arch in every and mutated in every and mutated != arch


@pytest.mark.parametrize("kwargs", [SMALL, {}])
def test_analytic_params_and_flops_equal_the_counted_ones(kwargs):
    space = DownsampleSearchSpace(**kwargs)
    cfg = space.config
    for arch in space.enumerate():
        model = space.build_model(arch)
        assert space.params(arch) == numel(model)
        assert space.flops(arch) == measure_macs(model, torch.zeros(1, cfg.in_channels, cfg.input_size,
                                                                    cfg.input_size)), arch
    flops = [space.flops(a) for a in space.enumerate()]
    assert len(set(flops)) > 1 and space.flops(space.smallest()) == min(flops)
    assert space.flops(space.largest()) == max(flops)


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_supernet_child_equals_standalone_model_with_copied_weights(space, mode):
    torch.manual_seed(0)
    supernet = perturb(space.build_supernet())
    x = torch.randn(4, 1, 8, 8)
    for arch in space.enumerate():
        model = space.build_model(arch)
        model.load_state_dict(supernet.backbone.state_dict())  # the same parameter names
        exported = supernet.subnet(arch)
        getattr(supernet, mode)(), getattr(model, mode)(), getattr(exported, mode)()
        expected = supernet(x, arch)
        assert torch.allclose(model(x), expected, atol=1e-6), arch
        assert torch.allclose(exported(x), expected, atol=1e-6), arch


def test_one_set_of_weights_and_options_own_none(space):
    supernet = space.build_supernet()
    model = space.build_model(space.largest())
    assert numel(supernet) == numel(model)
    owned = supernet.option_parameters()
    assert set(owned) == {(d, o) for d, opts in space.decisions.items() for o in opts}
    assert all(params == [] for params in owned.values())


def test_every_child_halves_the_resolution_twice(space):
    for arch in space.enumerate():
        plan = space.plan(arch)
        assert [b.downsample for b in plan].count(True) == 2 and plan[-1].out_size == 2


@pytest.mark.parametrize("change, fragment", [
    (dict(first_positions=[0, 2], second_positions=[2, 3]), "must come before"),
    (dict(second_positions=[2, 4]), "distinct block indices in [0, 3]"),
    (dict(pools=["stride", "mean"]), "pools=['stride', 'mean']"),
    (dict(input_size=6), "divisible by 4"),
    (dict(stage_widths=[]), "sizes must be positive"),
])
def test_config_errors_name_the_fix(change, fragment):
    with pytest.raises(ConfigError, match=None) as info:
        DownsampleSearchSpace(**{**SMALL, **change})
    assert fragment in str(info.value)


def test_architectures_outside_the_space_are_refused(space):
    supernet = space.build_supernet()
    with pytest.raises(InvalidArchitectureError, match="has no option 2"):
        supernet(torch.zeros(1, 1, 8, 8), space.largest().replace(down1=2))


def test_registered_and_spec():
    from nas.registry import create_search_space

    space = create_search_space("downsample", input_size=16)
    assert isinstance(space, DownsampleSearchSpace)
    assert space.spec()["name"] == "downsample" and space.spec()["stage_widths"] == [4, 8, 16]


def test_docstring_examples():
    for module in (config, network, space_module, supernet_module):
        assert doctest.testmod(module).failed == 0


def test_few_shot_exhaustive_split_on_one_decision(tmp_path, space):
    """The existing few-shot split works on this space: one sub-supernet per option of ``down1``."""
    from nas.data import synthetic
    from nas.few_shot import FewShotSchedule
    from nas.training import OneShot, Optimization, Trainer
    from samplers import UniformDataSampler, UniformPathSampler
    from supernets.split import SplitSupernet

    torch.manual_seed(0)
    data = synthetic(train_size=128)
    method = OneShot(space.build_supernet(), UniformPathSampler(space),
                     Optimization(functools.partial(torch.optim.SGD, lr=0.05)))
    schedule = FewShotSchedule(space, method="exhaustive", split_epochs=[1], sub_supernets=None, decision="down1")
    trainer = Trainer(method, data.train, UniformDataSampler(len(data.train)), tmp_path, epochs=2, batch_size=64,
                      progress=False, tensorboard=False, callbacks=[schedule])
    trainer.fit()
    split = trainer.supernet
    assert isinstance(split, SplitSupernet) and len(split.leaves) == 2
    assert [c["down1"] for c in split.constraints] == [(0,), (1,)]
    arch = space.make({"down1": 1, "down2": 3, "pool": "avg"})
    x = torch.randn(2, 1, 8, 8)
    assert torch.equal(split.eval()(x, arch), split.leaves[1].eval()(x, arch))
