"""BalancedAssignment and BalancedMixtureSupernet: K = 1 is the plain supernet, the balance constraint holds for
any losses, a configuration goes to the supernet where its loss is lower, and the state round-trips exactly."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch

import supernets.balanced_mixture as module
from nas.errors import CheckpointError, ConfigError, InvalidArchitectureError
from search_spaces.downsample import DownsampleSearchSpace
from supernets.balanced_mixture import BalancedAssignment, BalancedMixtureSupernet, restore_mixture
from supernets.split import restore_split
from tests.search_spaces.elastic_helpers import perturb

SMALL = dict(input_size=8, num_classes=4, stem_channels=4, stage_widths=[4, 8], blocks_per_stage=2,
             first_positions=[0, 1], second_positions=[2, 3], pools=["stride", "avg"])


@pytest.fixture(scope="module")
def space():
    return DownsampleSearchSpace(**SMALL)


def random_table(assignment: BalancedAssignment, rng: np.random.Generator, fraction: float = 1.0) -> None:
    for index in range(assignment.num_architectures):
        for member in range(assignment.members):
            if rng.random() < fraction:
                assignment.observe(index, member, float(rng.uniform(0.1, 3.0)))


@pytest.mark.parametrize("n, k", [(20, 1), (20, 2), (20, 4), (20, 3), (7, 2), (36, 5)])
def test_the_balance_constraint_holds_for_any_losses(n, k):
    """Hard assignment: floor(N/K) or ceil(N/K) per supernet; soft: every column N/K within the tolerance."""
    rng = np.random.default_rng(n * 10 + k)
    for trial in range(5):
        assignment = BalancedAssignment(n, k, temperature=0.05, tolerance=0.01)
        random_table(assignment, rng, fraction=0.3 + 0.7 * trial / 4)
        counts = assignment.counts()
        assert sum(counts) == n and min(counts) >= n // k and max(counts) <= -(-n // k), counts
        p = assignment.probabilities()
        assert torch.allclose(p.sum(1), torch.ones(n, dtype=p.dtype))
        assert float((p.sum(0) - n / k).abs().max()) <= 0.01 * n / k + 1e-9


def test_even_when_every_configuration_prefers_one_supernet():
    assignment = BalancedAssignment(4, 2)
    for index, (first, second) in enumerate([(0.1, 1.0), (0.2, 0.4), (0.3, 0.35), (0.1, 0.9)]):
        assignment.observe(index, 0, first)
        assignment.observe(index, 1, second)
    # all four do better on supernet 0; the two that gain most (0.9, 0.8) keep it
    assert assignment.assignment().tolist() == [0, 1, 1, 0]
    assert assignment.counts() == [2, 2]


def test_a_configuration_moves_to_the_supernet_with_lower_loss():
    assignment = BalancedAssignment(4, 2, decay=0.5)
    table = [(1.0, 2.0), (2.0, 1.0), (1.0, 2.0), (2.0, 1.0)]
    for index, losses in enumerate(table):
        for member, loss in enumerate(losses):
            assignment.observe(index, member, loss)
    assert assignment.assignment().tolist() == [0, 1, 0, 1]
    before = assignment.probabilities()[0, 1]
    for _ in range(6):  # configuration 0 now trains much better on supernet 1, configuration 1 on supernet 0
        assignment.observe(0, 1, 0.1)
        assignment.observe(1, 0, 0.1)
    assert assignment.assignment().tolist() == [1, 0, 0, 1]
    assert assignment.probabilities()[0, 1] > before
    assert assignment.counts() == [2, 2]


def test_the_moving_average_and_unmeasured_entries():
    assignment = BalancedAssignment(3, 2, decay=0.75, relative=False)
    assignment.observe(0, 0, 2.0)
    assignment.observe(0, 0, 1.0)
    assignment.observe(1, 1, 3.0)
    estimates = assignment.estimates()
    assert estimates[0, 0] == pytest.approx(0.75 * 2 + 0.25 * 1)
    assert estimates[0, 1] == estimates[0, 0]             # unmeasured: the row's measured mean
    assert estimates[1].tolist() == [3.0, 3.0] and estimates[2].tolist() == [0.0, 0.0]
    assert assignment.count.tolist() == [[2, 0], [0, 1], [0, 0]]


def test_relative_losses_compare_early_and_late_measurements():
    """Configuration 0 trained on supernet 0 early (loss 2.0 while every loss was about 2.2) and on supernet 1
    late (1.0 while every loss was about 0.8): relative to their time, supernet 0 did better. Raw losses say 1."""
    relative, raw = BalancedAssignment(2, 2, baseline_decay=0.5), BalancedAssignment(2, 2, relative=False)
    for assignment in (relative, raw):
        for _ in range(4):
            assignment.observe(1, 1, 2.2)
        assignment.observe(0, 0, 2.0)
        for _ in range(8):
            assignment.observe(1, 1, 0.8)   # another configuration: the run's losses fall
        assignment.observe(0, 1, 1.0)
    assert relative.estimates()[0, 0] < relative.estimates()[0, 1] and relative.assignment().tolist() == [0, 1]
    assert raw.estimates()[0, 0] > raw.estimates()[0, 1] and raw.assignment().tolist() == [1, 0]
    assert 0.8 < float(relative.baseline) < 1.0


def test_sampling_is_a_pure_function_and_follows_the_probabilities():
    assignment = BalancedAssignment(4, 2, temperature=0.5)
    for index, losses in enumerate([(0.2, 1.0), (1.0, 0.2), (0.5, 0.6), (0.6, 0.5)]):
        for member, loss in enumerate(losses):
            assignment.observe(index, member, loss)
    draws = [assignment.sample(0, step, seed=3) for step in range(4000)]
    assert draws[:50] == [assignment.sample(0, step, seed=3) for step in range(50)]
    assert np.mean(np.array(draws) == 1) == pytest.approx(float(assignment.probabilities()[0, 1]), abs=0.03)


def test_one_supernet_is_the_plain_supernet(space):
    torch.manual_seed(0)
    single = perturb(space.build_supernet())
    mixture = BalancedMixtureSupernet([single], space.enumerate())
    x = torch.randn(3, 1, 8, 8)
    for mode in ("train", "eval"):
        getattr(mixture, mode)()
        for step, arch in enumerate(space.enumerate()):
            mixture.step = step
            assert torch.equal(mixture(x, arch), single(x, arch))
    assert mixture.assignment.counts() == [space.size]
    assert list(mixture.parameters()) == list(single.parameters())


def test_scoring_uses_the_assigned_supernet_and_subnet_follows_it(space):
    torch.manual_seed(0)
    members = [perturb(space.build_supernet(), seed=k) for k in range(2)]
    mixture = BalancedMixtureSupernet(members, space.enumerate()).eval()
    archs = list(space.enumerate())
    for index in range(len(archs)):  # even configurations do better on supernet 1
        mixture.assignment.observe(index, index % 2 == 0, 0.1)
        mixture.assignment.observe(index, index % 2 == 1, 1.0)
    x = torch.randn(3, 1, 8, 8)
    for index, arch in enumerate(archs):
        member = mixture.route(arch)
        assert member == (1 if index % 2 == 0 else 0)
        assert torch.equal(mixture(x, arch), members[member](x, arch))
        assert torch.allclose(mixture.subnet(arch).eval()(x), members[member](x, arch), atol=1e-6)


def test_state_dict_round_trip_is_exact(space):
    torch.manual_seed(0)
    mixture = BalancedMixtureSupernet([perturb(space.build_supernet(), seed=k) for k in range(3)],
                                      space.enumerate(), seed=7, temperature=0.2)
    random_table(mixture.assignment, np.random.default_rng(0), fraction=0.6)
    state = mixture.state_dict()
    restored = restore_split(space.build_supernet(), state)  # what nas search / nas export call
    assert isinstance(restored, BalancedMixtureSupernet) and len(restored.members) == 3
    restored.load_state_dict(state)
    assert torch.equal(restored.assignment.loss, mixture.assignment.loss)
    assert torch.equal(restored.assignment.count, mixture.assignment.count)
    assert torch.equal(restored.assignment.probabilities(), mixture.assignment.probabilities())
    assert restored.assignment.assignment().tolist() == mixture.assignment.assignment().tolist()
    assert [restored.training_member(a, 5) for a in space.enumerate()] == \
        [mixture.training_member(a, 5) for a in space.enumerate()]
    x = torch.randn(2, 1, 8, 8)
    arch = space.largest()
    assert torch.equal(restored.eval()(x, arch), mixture.eval()(x, arch))


def test_a_checkpoint_of_another_structure_is_refused(space):
    mixture = BalancedMixtureSupernet([space.build_supernet() for _ in range(2)], space.enumerate())
    other = restore_mixture(space.build_supernet(), {"balanced_mixture": {
        "members": 2, "seed": 1, "temperature": 0.05, "decay": 0.9, "tolerance": 0.01, "relative": True,
        "baseline_decay": 0.98, "architectures": mixture.architectures}})
    with pytest.raises(CheckpointError, match="rebuild it with restore_mixture"):
        other.load_state_dict(mixture.state_dict())


def test_errors(space):
    with pytest.raises(ConfigError, match="1 <= supernets <= architectures"):
        BalancedAssignment(3, 4)
    mixture = BalancedMixtureSupernet([space.build_supernet()], list(space.enumerate())[:4])
    with pytest.raises(InvalidArchitectureError, match="is not one of the 4 architectures"):
        mixture.route(space.largest().replace(pool="avg"))


def test_docstring_examples():
    assert doctest.testmod(module).failed == 0
