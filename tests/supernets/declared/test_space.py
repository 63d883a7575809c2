"""DeclaredSearchSpace: what is derived from a declared network (costs, extremes, functional classes, checks)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from torch import nn

from supernets.declared import (
    BatchNorm2d,
    Choice,
    Conv2d,
    DeclaredSearchSpace,
    Elastic,
    Linear,
    Repeat,
    measure_macs,
)
from supernets.declared.space import DeclarationError


class Cells(DeclaredSearchSpace):
    """Shared: two layers of ops, the first with a strided option (positions downstream change with it)."""

    name = "cells"

    def __init__(self, strided: bool = False):
        self.input_shape = (1, 8, 8)
        self.strided = strided

    def network(self) -> nn.Module:
        ops = {"conv3": nn.Conv2d(4, 4, 3, padding=1), "conv1": nn.Conv2d(4, 8, 1), "skip": nn.Identity()}
        if self.strided:
            ops["down"] = nn.Conv2d(4, 4, 3, stride=2, padding=1)
        first = Choice("first", {k: (v if k != "conv1" else nn.Sequential(v, nn.Conv2d(8, 4, 1)))
                                 for k, v in ops.items()})
        return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), first,
                             Choice("second", {"conv5": nn.Conv2d(4, 4, 5, padding=2), "pool": nn.MaxPool2d(3, 1, 1)}),
                             nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(16, 3))


class Elastics(DeclaredSearchSpace):
    name = "elastics"
    input_shape = (1, 8, 8)

    def network(self) -> nn.Module:
        width = Elastic("width", (4, 8))

        def block(i: int) -> nn.Module:
            return nn.Sequential(Conv2d(width, width, Elastic(f"k{i}", (1, 3))), BatchNorm2d(width), nn.ReLU())
        return nn.Sequential(Conv2d(1, width, 3), BatchNorm2d(width), nn.ReLU(),
                             Repeat(block, Elastic("depth", (0, 1, 2))), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                             Choice("head", {"one": Linear(width, 3), "two": nn.Sequential(Linear(width, 16), nn.ReLU(),
                                                                                            Linear(16, 3))}))


@pytest.mark.parametrize("space", [Cells(), Cells(strided=True), Elastics()], ids=["shared", "strided", "entangled"])
def test_costs_equal_the_childs_own_count_and_measured_macs(space):
    supernet = space.build_supernet()
    x = torch.zeros(1, *space.input_shape)
    for arch in space.enumerate():
        child = supernet.subnet(arch)
        assert space.params(arch) == sum(p.numel() for p in child.parameters()), arch
        assert space.params(arch) == sum(p.numel() for p in space.build_model(arch).parameters())
        assert space.flops(arch) == measure_macs(child, x), arch


def test_flops_are_analytic_unless_a_choice_changes_later_layers_positions():
    assert Cells().probe_report().calls is not None
    assert Elastics().probe_report().calls is not None
    assert Cells(strided=True).probe_report().calls is None  # "down" halves the map: measured per child instead
    space = Elastics()
    arch = space.make({"width": 8, "depth": 2, "k0": 3, "k1": 1, "head": "two"})
    assert space.flops(arch) == 8 * 8 * 9 * 8 + 8 * 8 * 8 * 8 * 9 + 8 * 8 * 8 * 8 + 8 * 16 + 16 * 3  # padding k // 2


def test_largest_and_smallest():
    space = Elastics()
    assert space.largest() == space.make({"width": 8, "depth": 2, "k0": 3, "k1": 3, "head": "two"})
    assert space.smallest() == space.make({"width": 4, "depth": 0, "k0": 1, "k1": 1, "head": "one"})
    params = [space.params(a) for a in space.enumerate()]
    assert space.params(space.largest()) == max(params) and space.params(space.smallest()) == min(params)
    # choices: the option with the most / fewest parameters (conv3: 148, conv1 + its 1x1 back: 76, skip: 0)
    assert Cells().largest()["first"] == "conv3" and Cells().smallest()["first"] == "skip"


def test_decisions_of_skipped_blocks_are_not_live_and_canonical_forms_merge_them():
    space = Elastics()
    shallow = space.make({"width": 4, "depth": 1, "k0": 3, "k1": 1, "head": "one"})
    assert space.live_decisions(shallow) == {"width", "depth", "k0", "head"}
    assert space.canonical(shallow) == space.canonical(shallow.replace(k1=3))
    assert space.canonical(shallow) != space.canonical(shallow.replace(k0=1))
    assert space.size == 48 and len({space.canonical(a) for a in space.enumerate()}) == 2 * 2 * (1 + 2 + 4)
    assert space.effective_cost(shallow) == space.cost(shallow)


def test_build_model_initialises_elastic_layers_at_their_own_size():
    space = Elastics()
    torch.manual_seed(0)
    model = space.build_model(space.make({"width": 4, "depth": 0, "k0": 1, "k1": 1, "head": "one"}))
    head = model[-1]
    bound = 1 / np.sqrt(4)  # nn.Linear(4, 3)'s default initialisation, not the stored 8-input weight's
    assert isinstance(head, nn.Linear) and head.in_features == 4
    largest = float(head.weight.detach().abs().max())
    assert 1 / np.sqrt(8) < largest <= bound


def test_structure_uses_no_random_numbers_and_pickles_without_caches():
    torch.manual_seed(3)
    expected = torch.rand(1)
    torch.manual_seed(3)
    space = Elastics()
    space.flops(space.largest()), space.params(space.smallest()), space.check()
    assert torch.equal(torch.rand(1), expected)
    copy = pickle.loads(pickle.dumps(space))
    assert not any(k.startswith("_declared_") for k in vars(copy))
    assert copy.decisions == space.decisions and copy.spec() == space.spec()
    assert space.spec()["network"] != Cells().spec()["network"]


def test_sampling_and_parsing_come_from_the_base_class():
    space = Elastics()
    arch = space.sample(np.random.default_rng(0))
    assert space.parse(str(arch)) == arch


# -- checks: one line per problem, naming the space --------------------------------------------------------
class Broken(DeclaredSearchSpace):
    name = "broken"
    input_shape = (4,)

    def __init__(self, problem: str):
        self.problem = problem

    def network(self) -> nn.Module:
        problem = self.problem

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = Linear(4, Elastic("hidden", (4, 8)))
                self.act = Choice("act", {"relu": nn.ReLU(), "wrong": nn.Linear(3, 3)} if problem == "run"
                                  else {"relu": nn.ReLU(), "tanh": nn.Tanh()})
                self.unused = Choice("unused", {"a": nn.Identity(), "b": nn.Identity()})
                self.out = Linear(Elastic("hidden", (4, 8)), 2)

            def forward(self, x):
                h = self.act(self.fc(x))
                return self.out(self.unused(h) if problem != "unread" else h)

        if problem == "build":
            Choice("act", ("relu", "swish"), lambda o: {"relu": nn.ReLU()}[o])
        if problem == "empty":
            return nn.Linear(4, 2)
        return Net()


def test_a_decision_the_network_never_reads_is_named():
    with pytest.raises(DeclarationError) as info:
        Broken("unread").check()
    assert info.value.problems == [
        "search space 'broken' (tests.supernets.declared.test_space.Broken): decision 'unused' (declared at unused) "
        "is never read: the network's forward() never calls that module; call it in forward(), or remove the decision"]
    Broken("fine").check()  # the same network calling it is fine


def test_an_option_that_cannot_run_is_named():
    with pytest.raises(DeclarationError) as info:
        Broken("run").check()
    problem, = info.value.problems
    assert problem.startswith("search space 'broken' (tests.supernets.declared.test_space.Broken): option 'wrong' "
                              "of decision 'act' cannot run: RuntimeError: mat1 and mat2 shapes cannot be multiplied")
    assert problem.endswith("fix the modules of that option (or drop it)") and "\n" not in problem


def test_an_option_that_cannot_be_built_is_named():
    with pytest.raises(ValueError, match=r"^search space 'broken' \(tests.supernets.declared.test_space.Broken\): "
                                         r"option 'swish' of decision 'act' cannot be built: KeyError: 'swish'; "
                                         r"fix build\('swish'\) or drop the option$"):
        Broken("build").decisions


def test_a_network_without_decisions_or_input_shape_is_refused():
    with pytest.raises(ValueError, match="network\\(\\) declares no decision: mark what depends on one"):
        Broken("empty").decisions

    class NoShape(Elastics):
        input_shape = None
    with pytest.raises(DeclarationError, match="declares no input_shape: set self.input_shape"):
        NoShape().check()
