"""UniformPathSampler's restrictions: functionally distinct classes (distinct) and at most k `none` edges (max_none).

The distributions the sampler actually produces, connectivity of every draw, purity in (seed, step),
resume, and the errors.
"""

from __future__ import annotations

import functools
import math
from collections import Counter

import numpy as np
import pytest
import torch
from scipy import stats

from nas.checkpoint import load_checkpoint
from nas.data import synthetic
from nas.errors import ConfigError
from nas.run_folder import RunFolder
from tests.spaces import DecisionsOnlySpace
from samplers import UniformDataSampler, UniformPathSampler
from search_spaces.nb201 import NB201SearchSpace
from search_spaces.nb201.canonical import DEAD_FORM
from tests.nas.training.helpers import KillAt, one_shot_trainer

SPACE = NB201SearchSpace()
STEPS, PATHS = 1_000, 60  # 60,000 draws: about 10 per class


@pytest.fixture(scope="module")
def distinct() -> UniformPathSampler:
    return UniformPathSampler(SPACE, seed=3, distinct=True)


@pytest.fixture(scope="module")
def draws() -> list:
    sampler = UniformPathSampler(SPACE, seed=3, num_paths=PATHS, distinct=True)
    return [arch for step in range(STEPS) for arch in sampler.sample(step)]


@pytest.fixture(scope="module")
def class_of(distinct) -> dict:
    return {arch: index for index, members in enumerate(distinct.classes) for arch in members}


def test_the_classes_are_the_5772_connected_canonical_forms(distinct):
    assert len(distinct.classes) == 5_772
    forms = [{SPACE.canonical(a) for a in members} for members in distinct.classes]
    assert all(len(f) == 1 for f in forms)
    assert len({f.pop() for f in forms}) == 5_772
    assert all(SPACE.canonical(a) != DEAD_FORM for members in distinct.classes for a in members)
    members = sum(len(m) for m in distinct.classes)
    dead = sum(1 for a in SPACE.enumerate() if not SPACE.live_decisions(a))
    assert members + dead == 15_625  # every connected cell is in exactly one class


def test_every_draw_is_connected(draws):
    assert all(SPACE.live_decisions(arch) for arch in draws)


def test_classes_are_drawn_uniformly(draws, class_of):
    counts = Counter(class_of[arch] for arch in draws)
    observed = np.array([counts[i] for i in range(5_772)], dtype=float)
    assert observed.sum() == STEPS * PATHS
    assert stats.chisquare(observed).pvalue > 1e-4
    expected = STEPS * PATHS / 5_772
    assert observed.max() < expected + 6 * math.sqrt(expected)


def test_the_class_test_rejects_plain_uniform_sampling(class_of):
    """Power: plain SPOS draws the same classes in proportion to their sizes, which the test rejects."""
    plain = UniformPathSampler(SPACE, seed=3, num_paths=PATHS)
    counts = Counter(class_of.get(arch, -1) for step in range(STEPS) for arch in plain.sample(step))
    observed = np.array([counts[i] for i in range(5_772)], dtype=float)
    assert stats.chisquare(observed * (STEPS * PATHS) / observed.sum()).pvalue < 1e-10


def test_members_are_drawn_uniformly_within_their_class(draws, class_of, distinct):
    """Probability integral transform: with member index i of m, (i + U) / m is uniform on [0, 1) exactly."""
    index_in_class = {arch: i for members in distinct.classes for i, arch in enumerate(members)}
    jitter = np.random.default_rng(0)
    u = [(index_in_class[a] + jitter.random()) / len(distinct.classes[class_of[a]])
         for a in draws if len(distinct.classes[class_of[a]]) > 1]
    assert len(u) > 10_000  # draws of classes with two or more members
    assert stats.kstest(u, "uniform").pvalue > 1e-4
    biased = [x / 2 for x in u]  # power: a member choice favouring the first half is rejected
    assert stats.kstest(biased, "uniform").pvalue < 1e-10


def test_max_none_keeps_exactly_the_cells_with_at_most_k_none_edges():
    sampler = UniformPathSampler(SPACE, seed=0, num_paths=50, max_none=2)
    assert len(sampler.classes) == 4**6 + 6 * 4**5 + 15 * 4**4 == 14_080  # every such cell is connected
    assert all(len(members) == 1 for members in sampler.classes)
    draws = [a for step in range(400) for a in sampler.sample(step)]
    nones = Counter(sum(op == "none" for op in a.values()) for a in draws)
    assert set(nones) <= {0, 1, 2}
    expected = np.array([4**6, 6 * 4**5, 15 * 4**4]) / 14_080 * len(draws)
    assert stats.chisquare([nones[k] for k in range(3)], expected).pvalue > 1e-4
    assert all(SPACE.live_decisions(a) for a in draws)


def test_max_none_excludes_disconnected_cells():
    sampler = UniformPathSampler(SPACE, seed=0, max_none=6)
    connected = sum(1 for a in SPACE.enumerate() if SPACE.live_decisions(a))
    assert len(sampler.classes) == connected < 15_625


def test_distinct_with_max_none_keeps_only_qualifying_members():
    sampler = UniformPathSampler(SPACE, seed=0, distinct=True, max_none=1)
    members = [a for m in sampler.classes for a in m]
    assert len(members) == 4**6 + 6 * 4**5
    assert all(sum(op == "none" for op in a.values()) <= 1 for a in members)
    assert len(sampler.classes) == len({SPACE.canonical(a) for a in members}) < len(members)


def test_draws_are_a_pure_function_of_seed_and_step():
    first = UniformPathSampler(SPACE, seed=11, distinct=True, num_paths=2)
    second = UniformPathSampler(SPACE, seed=11, distinct=True, num_paths=2)
    steps = list(range(40))
    assert {s: first.sample(s) for s in steps} == {s: second.sample(s) for s in reversed(steps)}
    assert first.sample(7) == first.sample(7)
    other = UniformPathSampler(SPACE, seed=12, distinct=True, num_paths=2)
    assert sum(first.sample(s) != other.sample(s) for s in steps) >= 38


def test_the_default_draws_are_unchanged():
    """distinct=false, max_none=null: exactly plain SPOS (default_rng([seed, step]) through space.sample)."""
    sampler = UniformPathSampler(SPACE, seed=5, num_paths=2, distinct=False, max_none=None)
    assert sampler.classes is None
    rng = np.random.default_rng([5, 123])
    assert sampler.sample(123) == [SPACE.sample(rng), SPACE.sample(rng)]


def test_state_dict_round_trip():
    source = UniformPathSampler(SPACE, seed=42, distinct=True)
    target = UniformPathSampler(SPACE, seed=0, distinct=True)
    assert [target.sample(s) for s in range(10)] != [source.sample(s) for s in range(10)]
    target.load_state_dict(source.state_dict())
    assert [target.sample(s) for s in range(10)] == [source.sample(s) for s in range(10)]


def test_training_resumed_after_a_kill_equals_the_uninterrupted_run(tmp_path):
    """A run killed mid-training (no checkpoint on the way out) and resumed ends with the same weights."""
    space = NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
    data = synthetic(train_size=128)
    sampler = UniformPathSampler(space, seed=0, distinct=True)

    def make(folder, callbacks=()):
        torch.manual_seed(0)
        return one_shot_trainer(space.build_supernet(), data.train, sampler, UniformDataSampler(len(data.train)),
                                folder, optimizer=functools.partial(torch.optim.SGD, lr=0.1, momentum=0.9),
                                epochs=2, batch_size=32, progress=False, tensorboard=False, checkpoint_every=3,
                                callbacks=callbacks)

    straight = make(tmp_path / "straight")
    straight.fit()
    with pytest.raises(RuntimeError, match="killed"):
        make(tmp_path / "killed", [KillAt(5)]).fit()
    assert load_checkpoint(RunFolder(tmp_path / "killed").checkpoint)["train_state"]["step"] == 3
    resumed = make(tmp_path / "killed")
    resumed.fit()
    a, b = straight.supernet.state_dict(), resumed.supernet.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_smoke_space_works_too():
    smoke = NB201SearchSpace(C=8, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
    assert len(UniformPathSampler(smoke, distinct=True).classes) == 5_772


def Big() -> DecisionsOnlySpace:
    return DecisionsOnlySpace({f"d{i}": ("none", "a", "b", "c", "d", "e", "f", "g") for i in range(7)},  # 8^7
                              name="big")


def Small() -> DecisionsOnlySpace:
    return DecisionsOnlySpace({"w": (1, 2), "k": (3, 5)}, name="small")


@pytest.mark.parametrize("switch", [{"distinct": True}, {"max_none": 1}])
def test_a_space_too_large_to_enumerate_is_refused(switch):
    with pytest.raises(ConfigError, match=r"'big' has 2,097,152 architectures \(more than 1,000,000\)"):
        UniformPathSampler(Big(), **switch)


def test_max_none_needs_a_none_option():
    with pytest.raises(ConfigError, match="has no 'none' option"):
        UniformPathSampler(Small(), max_none=1)
    assert len(UniformPathSampler(Small(), distinct=True).classes) == 4  # every architecture its own class


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_bad_max_none_is_refused(bad):
    with pytest.raises(ConfigError, match="max_none must be null or an integer >= 0"):
        UniformPathSampler(SPACE, max_none=bad)


def test_auto_is_distinct_on_a_space_with_canonical_forms():
    auto, on = UniformPathSampler(SPACE, seed=5, distinct="auto"), UniformPathSampler(SPACE, seed=5, distinct=True)
    assert auto.distinct and len(auto.classes) == 5_772
    assert [auto.sample(s) for s in range(50)] == [on.sample(s) for s in range(50)]


@pytest.mark.parametrize("space", [Small(), Big()], ids=["no canonical forms", "too large to enumerate"])
def test_auto_is_plain_uniform_elsewhere(space):
    auto, plain = UniformPathSampler(space, seed=5, distinct="auto"), UniformPathSampler(space, seed=5)
    assert not auto.distinct and auto.classes is None
    assert [auto.sample(s) for s in range(50)] == [plain.sample(s) for s in range(50)]


@pytest.mark.parametrize("bad", ["yes", 1, None])
def test_bad_distinct_is_refused(bad):
    with pytest.raises(ConfigError, match="path_sampler.distinct must be true, false or auto"):
        UniformPathSampler(SPACE, distinct=bad)
