"""The NAS-Bench-201 supernet's training heuristics: path dropout and BatchNorm without affine / running statistics.

Off by default (the supernet is today's, bit for bit); never in eval mode, in ``subnet()`` or in the standalone
networks; path dropout keeps the expectation and resumes exactly; the evaluator's BN policies and the config
check agree with BatchNorm that keeps no running statistics.
"""

from __future__ import annotations

import copy
import functools

import pytest
import torch
from torch import nn

from nas.data import synthetic
from nas.errors import ConfigError
from nas.evaluator import Evaluator
from samplers import UniformDataSampler, UniformPathSampler
from search_spaces.nb201 import NB201Config, NB201SearchSpace, NB201Supernet
from search_spaces.nb201.network import SearchCell
from tests.nas.training.helpers import KillAt, one_shot_trainer

SMALL = dict(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
DEEP = "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def space(**options) -> NB201SearchSpace:
    return NB201SearchSpace(**SMALL, **options)


def supernet_with_seed(seed: int = 0, **options) -> NB201Supernet:
    torch.manual_seed(seed)
    return space(**options).build_supernet()


def op_norms(net: nn.Module) -> list[nn.BatchNorm2d]:
    return [m for cell in net.modules() if isinstance(cell, SearchCell) for m in cell.modules()
            if isinstance(m, nn.BatchNorm2d)]


# -- off by default ---------------------------------------------------------------------------------------------
def test_defaults_build_todays_supernet_exactly():
    torch.manual_seed(0)
    today = NB201Supernet(NB201Config(**SMALL))
    switched_off = supernet_with_seed(0, drop_path=0.0, bn_affine=True, bn_track_running_stats=True)
    a, b = today.state_dict(), switched_off.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    arch = space().parse(DEEP)
    x = torch.randn(16, 1, 8, 8)
    torch.manual_seed(1)
    out_today = today.train()(x, arch)
    torch.manual_seed(1)
    assert torch.equal(switched_off.train()(x, arch), out_today)


def test_the_options_change_neither_standalone_models_nor_the_spec():
    plain, heuristic = space(), space(drop_path=0.3, bn_affine=False, bn_track_running_stats=False)
    assert plain.spec() == heuristic.spec()
    arch = plain.parse(DEEP)
    torch.manual_seed(0)
    a = plain.build_model(arch).state_dict()
    torch.manual_seed(0)
    b = heuristic.build_model(arch).state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert heuristic.params(arch) == sum(p.numel() for p in heuristic.build_model(arch).parameters())


# -- path dropout ------------------------------------------------------------------------------------------------
def test_drop_path_never_acts_in_eval_mode():
    arch = space().parse(DEEP)
    plain = supernet_with_seed(0).eval()
    dropping = supernet_with_seed(0, drop_path=0.5).eval()
    x = torch.randn(16, 1, 8, 8)
    assert torch.equal(dropping(x, arch), plain(x, arch))


def test_drop_path_acts_in_train_mode_from_the_global_torch_generator():
    arch = space().parse(DEEP)
    plain, dropping = supernet_with_seed(0).train(), supernet_with_seed(0, drop_path=0.5).train()
    x = torch.randn(16, 1, 8, 8)
    torch.manual_seed(3)
    first = dropping(x, arch)
    assert not torch.allclose(first, plain(x, arch))
    torch.manual_seed(3)
    assert torch.equal(dropping(x, arch), first)  # the same generator state, the same masks


def test_each_example_is_dropped_with_probability_p_and_scaled():
    """One live edge (3<-0 skip): the cell's output is the input, zeroed per example w.p. p, else x / (1 - p)."""
    cell = SearchCell(channels=2, drop_path=0.25).train()
    arch = space().parse("|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")
    x = torch.rand(40_000, 2, 3, 3) + 1.0
    torch.manual_seed(0)
    out = cell(x, arch)
    kept = (out != 0).flatten(1).all(dim=1)
    assert ((out == 0).flatten(1).all(dim=1) | kept).all()  # whole examples, never parts of one
    assert abs(1 - kept.float().mean().item() - 0.25) < 4.5 * (0.25 * 0.75 / 40_000) ** 0.5
    torch.testing.assert_close(out[kept], x[kept] / 0.75)


def test_dead_edges_are_not_dropped():
    """1<-0 feeds node 1, which reaches nothing: its op runs (the supernet computes it) but draws no mask."""
    cell = SearchCell(channels=2, drop_path=0.5).train()
    live_only = space().parse("|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")
    with_dead = space().parse("|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")
    x = torch.rand(64, 2, 3, 3) + 1.0
    torch.manual_seed(5)
    a = cell(x, live_only)
    torch.manual_seed(5)
    assert torch.equal(cell(x, with_dead), a)  # same masks: the dead edge consumed no random numbers


def test_in_expectation_the_dropped_cell_computes_the_undropped_one():
    """With its BatchNorms in eval mode, and every conv fed by a node of one live edge (ReLU(m y) = m ReLU(y) for a
    mask m of 0 or 1/(1-p)), a cell is affine in each edge's independent mask: the mean over many per-example
    draws of the same input is the undropped output (within 5 standard errors)."""
    torch.manual_seed(0)
    cell = SearchCell(channels=3, drop_path=0.3)
    for m in cell.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.3)
            m.running_var.uniform_(0.5, 2.0)
    arch = space().parse("|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|")
    x = torch.randn(1, 3, 4, 4)
    with torch.no_grad():
        cell.eval()
        expected = cell(x, arch)[0]
        cell.train()
        for m in cell.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()  # batch statistics would couple the examples
        draws = cell(x.expand(50_000, -1, -1, -1).contiguous(), arch)
    mean, stderr = draws.mean(0), draws.std(0) / 50_000 ** 0.5
    assert (draws.std(0) > 0).all()  # the masks do act
    assert ((mean - expected).abs() <= 5 * stderr + 1e-6).all(), float(((mean - expected).abs() / stderr).max())


def test_subnet_never_drops_paths():
    arch = space().parse(DEEP)
    dropping = supernet_with_seed(0, drop_path=0.5).train()
    plain = supernet_with_seed(0).train()
    x = torch.randn(16, 1, 8, 8)
    subnet = dropping.subnet(arch)
    assert subnet.training
    assert torch.equal(subnet(x), plain(x, arch))
    assert torch.equal(subnet(x), subnet(x))


def test_training_with_drop_path_resumes_exactly(tmp_path):
    """The trainer checkpoints the global RNG: a killed run resumed draws the same masks as the straight run."""
    data = synthetic(train_size=128)
    heuristic = space(drop_path=0.2)

    def make(folder, callbacks=()):
        torch.manual_seed(0)
        return one_shot_trainer(heuristic.build_supernet(), data.train, UniformPathSampler(heuristic, seed=0),
                                UniformDataSampler(len(data.train)), folder,
                                optimizer=functools.partial(torch.optim.SGD, lr=0.1, momentum=0.9), epochs=2,
                                batch_size=32, progress=False, tensorboard=False, checkpoint_every=3,
                                callbacks=callbacks)

    straight = make(tmp_path / "straight")
    straight.fit()
    with pytest.raises(RuntimeError, match="killed"):
        make(tmp_path / "killed", [KillAt(5)]).fit()
    resumed = make(tmp_path / "killed")
    resumed.fit()
    a, b = straight.supernet.state_dict(), resumed.supernet.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    torch.manual_seed(0)
    undropped = make(tmp_path / "undropped")
    for cell in undropped.supernet.modules():
        if isinstance(cell, SearchCell):
            cell.drop_path = 0.0
    undropped.fit()
    c = undropped.supernet.state_dict()
    assert not all(torch.equal(a[k], c[k]) for k in a)  # the masks did change training


@pytest.mark.parametrize("bad", [-0.1, 1.0])
def test_drop_path_outside_zero_one_is_refused(bad):
    with pytest.raises(ConfigError, match=r"drop_path must be in \[0, 1\)"):
        space(drop_path=bad)


# -- BatchNorm without affine parameters / running statistics ------------------------------------------------------
def test_bn_options_apply_to_the_cells_op_norms_only():
    net = space(bn_affine=False, bn_track_running_stats=False).build_supernet()
    norms = op_norms(net)
    assert norms and all(not m.affine and not m.track_running_stats and m.running_mean is None for m in norms)
    others = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d) and all(m is not n for n in norms)]
    assert others and all(m.affine and m.track_running_stats for m in others)  # stem, reductions, head
    plain = space().build_supernet()
    removed = set(plain.state_dict()) - set(net.state_dict())
    assert removed and all(".ops." in k and k.rsplit(".", 1)[1] in
                           ("weight", "bias", "running_mean", "running_var", "num_batches_tracked") for k in removed)
    assert sum(p.numel() for p in net.parameters()) < sum(p.numel() for p in plain.parameters())


@pytest.mark.parametrize("options", [dict(bn_affine=False), dict(bn_track_running_stats=False),
                                     dict(bn_affine=False, bn_track_running_stats=False)])
def test_subnet_matches_the_supernet_with_the_bn_options(options):
    net = supernet_with_seed(0, **options)
    arch = space().parse(DEEP)
    x = torch.randn(8, 1, 8, 8)
    net.train()(x, arch)  # move the running statistics that exist
    net.eval()
    subnet = net.subnet(arch).eval()
    assert torch.equal(subnet(x), net(x, arch))


def test_evaluator_refuses_policies_that_need_running_statistics():
    data = synthetic(train_size=512, valid_size=64)
    net = space(bn_track_running_stats=False).build_supernet()
    for policy in ("recalibrate", "running_stats"):
        with pytest.raises(ConfigError, match=r"keep no running statistics.*use evaluator.bn_policy=batch_stats"):
            Evaluator(net, data.valid, data.train, bn_policy=policy, recalibration_batch_size=64, progress=False)


def test_evaluator_scores_untracked_bn_with_batch_statistics():
    data = synthetic(train_size=512, valid_size=64)
    net = supernet_with_seed(0, bn_track_running_stats=False)
    arch = space().parse(DEEP)
    evaluator = Evaluator(net, data.valid, bn_policy="batch_stats", batch_size=32, progress=False)
    twin = copy.deepcopy(net).train()
    with torch.no_grad():
        correct = sum(int((twin(data.valid.x[i:i + 32], arch).argmax(1) == data.valid.y[i:i + 32]).sum())
                      for i in range(0, 64, 32))
    assert evaluator.score(arch) == 100.0 * correct / 64
