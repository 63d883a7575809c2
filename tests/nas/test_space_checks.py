"""Checks of a space against the config and the dataset: one line per problem, naming the space and the fix."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf
from torch import nn

from nas.data import synthetic
from nas.registry import create_search_space
from nas.search_space import SearchSpace
from nas.space_checks import check_fits_data, check_space, check_supernet
from nas.validation import ConfigValueError
from search_spaces.elastic_conv import ElasticConvSearchSpace
from search_spaces.elastic_vit import ElasticViTSearchSpace
from search_spaces.nb201 import NB201SearchSpace
from supernets.declared import Choice, DeclaredSearchSpace, Elastic, Linear

DATA = synthetic(train_size=8, valid_size=8, test_size=8, image_size=8, channels=1, num_classes=4)
CONSTRAINED = OmegaConf.create({"searcher": {"constraints": {"_target_": "nas.searchers.Constraints",
                                                             "max_params": 10_000, "max_flops": None}}})


class HandWritten(SearchSpace):
    """The README's old plugin: a stub supernet, and cost functions that may be missing."""

    name = "widths"

    def __init__(self, in_features: int = 64, num_classes: int = 4, costs: bool = True):
        self.in_features, self.num_classes, self.costs = in_features, num_classes, costs

    @property
    def decisions(self):
        return {"hidden": (32, 64)}

    def build_model(self, arch):
        return nn.Sequential(nn.Flatten(), nn.Linear(self.in_features, arch["hidden"]), nn.ReLU(),
                             nn.Linear(arch["hidden"], self.num_classes))

    def build_supernet(self): ...

    def params(self, arch):
        if not self.costs:
            raise NotImplementedError
        return (self.in_features + 1) * arch["hidden"]

    def flops(self, arch): ...


class Mlp(DeclaredSearchSpace):
    name = "mlp"

    def __init__(self, in_channels: int = 1, input_size: int = 8, num_classes: int = 4, read_act: bool = True):
        self.input_shape = (in_channels, input_size, input_size)
        self.num_classes, self.read_act = num_classes, read_act

    def network(self) -> nn.Module:
        hidden, read_act = Elastic("hidden", (8, 16)), self.read_act

        class Net(nn.Module):
            def __init__(self, features: int, classes: int):
                super().__init__()
                self.fc, self.out = Linear(features, hidden), Linear(hidden, classes)
                self.act = Choice("act", {"relu": nn.ReLU(), "tanh": nn.Tanh()})

            def forward(self, x):
                h = self.fc(x.flatten(1))
                return self.out(self.act(h) if read_act else h)

        return Net(self.input_shape[0] * self.input_shape[1] * self.input_shape[2], self.num_classes)


HAND = "search space 'widths' (tests.nas.test_space_checks.HandWritten)"
MLP = "search space 'mlp' (tests.nas.test_space_checks.Mlp)"


def problems(check, *args) -> list[str]:
    with pytest.raises(ConfigValueError) as info:
        check(*args)
    return info.value.problems


def test_a_stub_supernet_is_refused_naming_what_a_supernet_must_be():
    space = HandWritten()
    assert problems(check_supernet, space, space.build_supernet()) == [
        f"{HAND}: build_supernet() returned None, not a supernets.Supernet (forward(x, arch), subnet(arch)); derive "
        "the space from supernets.declared.DeclaredSearchSpace and mark its choices in network() (the supernet "
        "comes with it), or return a Supernet subclass"]
    supernet = Mlp().build_supernet()
    assert check_supernet(Mlp(), supernet) is supernet


def test_a_model_that_does_not_take_the_datasets_examples_names_both_shapes():
    lines = problems(check_fits_data, HandWritten(in_features=256), DATA)
    assert len(lines) == 1
    assert lines[0].startswith(f"{HAND}: its model does not take dataset 'synthetic''s examples of shape 1x8x8 (its "
                               "first layer, Linear, takes 256 features; an example has 1x8x8 = 64; RuntimeError: ")
    assert problems(check_fits_data, Mlp(input_size=16), DATA) == [
        f"{MLP} takes inputs of shape 1x16x16 but dataset 'synthetic' has examples of shape 1x8x8: build the network "
        "from the dataset's shape (take in_channels and input_size in __init__: search_space=plugin passes them) or "
        "set input_shape to it"]
    check_fits_data(HandWritten(in_features=64), DATA)
    check_fits_data(Mlp(), DATA)


def test_a_model_with_another_number_of_logits_than_classes_is_refused():
    assert problems(check_fits_data, Mlp(num_classes=10), DATA)[0].startswith(
        f"{MLP} gives outputs of shape 10 but dataset 'synthetic' has 4 classes: give the last layer num_classes")
    assert "its model gives outputs of shape 10 but dataset 'synthetic' has 4 classes" in \
        problems(check_fits_data, HandWritten(num_classes=10), DATA)[0]


def test_cost_constraints_on_a_space_without_cost_functions_are_refused():
    lines = problems(check_space, OmegaConf.create({"searcher": {"constraints": {"max_params": 10, "max_flops": 5}}}),
                     HandWritten(costs=False))
    assert lines == [
        f"{HAND} has no cost function flops() (it returned None) and searcher.constraints.max_params=10, "
        "searcher.constraints.max_flops=5 bounds it: define flops(arch) on the space (DeclaredSearchSpace derives "
        "params and flops), or drop searcher.constraints",
        f"{HAND} has no cost function params() (it raises NotImplementedError) and searcher.constraints.max_params=10, "
        "searcher.constraints.max_flops=5 bounds it: define params(arch) on the space (DeclaredSearchSpace derives "
        "params and flops), or drop searcher.constraints"]
    check_space(OmegaConf.create({}), HandWritten(costs=False))  # no bounds: nothing to refuse
    check_space(CONSTRAINED, Mlp())  # a declared space has both


def test_latency_bounds_are_left_to_the_latency_model_and_only_analytic_bounds_need_cost_functions():
    latency_only = OmegaConf.create({"searcher": {"constraints": {"max_latency_ms": 5.0, "min_latency_ms": 1.0}}})
    check_space(latency_only, HandWritten(costs=False))  # no params()/flops() needed: nas.latency measures it
    mixed = OmegaConf.create({"searcher": {"constraints": {"max_latency_ms": 5.0, "max_params": 10}}})
    lines = problems(check_space, mixed, HandWritten(costs=False))
    assert [line.split(" (it ")[0] for line in lines] == [f"{HAND} has no cost function params()"]
    assert "searcher.constraints.max_params=10 bounds it" in lines[0] and "latency" not in lines[0]


def test_declaration_problems_reach_the_command_with_the_space_named():
    assert problems(check_space, OmegaConf.create({}), Mlp(read_act=False)) == [
        f"{MLP}: decision 'act' (declared at act) is never read: the network's forward() never calls that module; "
        "call it in forward(), or remove the decision"]


@pytest.mark.parametrize("space", [
    NB201SearchSpace(C=8, N=1, in_channels=1, input_size=8, num_classes=4, reduction="light"),
    ElasticConvSearchSpace(in_channels=1, input_size=8, num_classes=4, stem_channels=8, stem_stride=2,
                           stage_channels=[8, 16, 24], channel_divisor=2),
    ElasticViTSearchSpace(in_channels=1, input_size=8, num_classes=4, patch_size=4),
], ids=["nb201", "elastic_conv", "elastic_vit"])
def test_builtin_spaces_pass(space):
    check_space(CONSTRAINED, space)
    check_fits_data(space, DATA)
    check_supernet(space, space.build_supernet())


def test_plugin_config_passes_the_datasets_shape_to_the_arguments_a_space_takes():
    shape = {"in_channels": 3, "input_size": 8, "num_classes": 5}
    space = create_search_space("nb201", from_dataset={**shape, "unknown": 1}, C=4, N=1, num_classes=7)
    assert (space.config.in_channels, space.config.input_size, space.config.num_classes) == (3, 8, 7)
    assert create_search_space("nb201", from_dataset={"in_channels": None}).config.in_channels == 3  # its default
