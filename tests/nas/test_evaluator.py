"""Evaluator: each BN policy against a hand computation, state restoration, caching, errors."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nas.architecture import Architecture
from nas.data import synthetic
from nas.errors import ConfigError
from nas.evaluator import Evaluator
from search_spaces.nb201 import NB201Architecture, NB201SearchSpace

VALID_SIZE = 200   # fewer than the 256 synthetic valid images: head() matters
BATCH_SIZE = 64    # 200 = 64 + 64 + 64 + 8: batch statistics depend on the split
K, B = 3, 32       # recalibration batches x batch size
SEED = 5


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models: one thread is faster than two that fight with other jobs over the cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def data():
    return synthetic(train_size=512, valid_size=256, test_size=16, seed=1)


@pytest.fixture(scope="module")
def space() -> NB201SearchSpace:
    return NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")


@pytest.fixture(scope="module")
def trained_state(space, data):
    """A supernet briefly trained on random children, then randomly perturbed (weights and BN stats)."""
    torch.manual_seed(0)
    net = space.build_supernet()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    rng = np.random.default_rng(0)
    net.train()
    for step in range(40):
        picks = torch.randint(len(data.train), (64,), generator=torch.Generator().manual_seed(step))
        loss = F.cross_entropy(net(data.train.x[picks], space.sample(rng)), data.train.y[picks])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=generator))
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):  # stale statistics, far from the truth
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=generator))
                m.running_var.copy_(0.2 + 3 * torch.rand(m.running_var.shape, generator=generator))
                m.num_batches_tracked.fill_(17)
    return copy.deepcopy(net.state_dict())


@pytest.fixture
def supernet(space, trained_state):
    net = space.build_supernet()
    net.load_state_dict(trained_state)
    return net


@pytest.fixture(scope="module")
def archs(space) -> list[NB201Architecture]:
    rng = np.random.default_rng(123)
    chosen = [space.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|"
                          "nor_conv_1x1~2|")]
    while len(chosen) < 4:
        arch = space.sample(rng)
        if arch not in chosen:
            chosen.append(arch)
    return chosen


def make_evaluator(supernet, data, **kwargs) -> Evaluator:
    options = dict(valid_size=VALID_SIZE, recalibration_batches=K, recalibration_batch_size=B, batch_size=BATCH_SIZE,
                   seed=SEED, progress=False)
    options.update(kwargs)
    return Evaluator(supernet, data.valid, data.train, **options)


def recalibration_batches(data) -> list[torch.Tensor]:
    picks = torch.randperm(len(data.train), generator=torch.Generator().manual_seed(SEED))[: K * B]
    return list(data.train.x[picks].split(B))


def norms(module: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def bn_snapshot(module: nn.Module) -> list[tuple]:
    return [(m.momentum, m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone())
            for m in norms(module)]


def assert_same_bn(before: list[tuple], after: list[tuple]) -> None:
    assert len(before) == len(after)
    for (m0, mean0, var0, n0), (m1, mean1, var1, n1) in zip(before, after):
        assert m0 == m1
        assert torch.equal(mean0, mean1)
        assert torch.equal(var0, var1)
        assert torch.equal(n0, n1)


@torch.no_grad()
def accuracy(forward, valid, batch_size=BATCH_SIZE) -> float:
    correct = 0
    for start in range(0, len(valid.y), batch_size):
        logits = forward(valid.x[start : start + batch_size])
        correct += int((logits.argmax(1) == valid.y[start : start + batch_size]).sum())
    return 100.0 * correct / len(valid.y)


@torch.no_grad()
def recalibrate(module: nn.Module, batches, forward) -> None:
    for m in norms(module):
        m.reset_running_stats()
        m.momentum = None
    module.train()
    for x in batches:
        forward(x)
    module.eval()


class ForwardCounter:
    """Counts the supernet's forward calls through a forward hook."""

    def __init__(self, module: nn.Module):
        self.calls = 0
        self.handle = module.register_forward_hook(self._hook)

    def _hook(self, module, inputs, output):
        self.calls += 1


# -- (a), (b) recalibrate ----------------------------------------------------------------------------------
def test_recalibration_batches_are_the_documented_ones(supernet, data):
    evaluator = make_evaluator(supernet, data)
    expected = recalibration_batches(data)
    assert len(evaluator.recalibration) == K
    for got, want in zip(evaluator.recalibration, expected):
        assert torch.equal(got, want)
    assert torch.equal(evaluator.valid_x, data.valid.x[:VALID_SIZE])
    assert torch.equal(evaluator.valid_y, data.valid.y[:VALID_SIZE])


def test_recalibrate_equals_hand_computation_on_a_copy(supernet, data, archs):
    evaluator = make_evaluator(supernet, data)
    valid = data.valid.head(VALID_SIZE)
    for arch in archs:
        twin = copy.deepcopy(supernet)
        recalibrate(twin, recalibration_batches(data), lambda x: twin(x, arch))
        expected = accuracy(lambda x: twin(x, arch), valid)
        assert evaluator.score(arch) == expected, str(arch)


def test_recalibrate_equals_recalibrated_subnet(supernet, data, archs):
    evaluator = make_evaluator(supernet, data)
    valid = data.valid.head(VALID_SIZE)
    for arch in archs:
        subnet = supernet.subnet(arch)
        recalibrate(subnet, recalibration_batches(data), subnet)
        assert evaluator.score(arch) == accuracy(subnet, valid), str(arch)


def test_policies_give_different_scores_here(supernet, data, archs):
    """Guard: the stale running statistics make the three policies disagree, so the tests can tell them apart."""
    scores = {policy: make_evaluator(supernet, data, bn_policy=policy).score_many(archs)
              for policy in ("recalibrate", "batch_stats", "running_stats")}
    assert scores["recalibrate"] != scores["running_stats"]
    assert scores["batch_stats"] != scores["running_stats"]
    assert max(scores["recalibrate"]) > 40.0  # the brief training learned something (chance is 25%)


# -- (c) the supernet is left as it was -------------------------------------------------------------------
@pytest.mark.parametrize("policy", ["recalibrate", "batch_stats", "running_stats"])
@pytest.mark.parametrize("training", [True, False])
def test_supernet_state_unchanged_after_scoring(supernet, data, archs, policy, training):
    supernet.train(training)
    before = bn_snapshot(supernet)
    weights = copy.deepcopy(supernet.state_dict())
    evaluator = make_evaluator(supernet, data, bn_policy=policy)
    evaluator.score(archs[0])
    assert supernet.training is training
    assert all(m.training is training for m in supernet.modules())
    assert_same_bn(before, bn_snapshot(supernet))
    evaluator.score_many(archs)
    assert supernet.training is training
    assert all(m.training is training for m in supernet.modules())
    assert_same_bn(before, bn_snapshot(supernet))
    after = supernet.state_dict()
    assert all(torch.equal(weights[k], after[k]) for k in weights)


def test_state_restored_even_when_scoring_fails(supernet, data, space):
    before = bn_snapshot(supernet)
    supernet.train()
    evaluator = make_evaluator(supernet, data)
    broken = NB201Architecture({**space.parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"), "1<-0": "bogus"})
    with pytest.raises(Exception):
        evaluator.score(broken)
    assert supernet.training is True
    assert_same_bn(before, bn_snapshot(supernet))
    assert broken not in evaluator.cache


# -- (d) caching -------------------------------------------------------------------------------------------
def forwards_per_child(policy: str) -> int:
    valid_batches = -(-VALID_SIZE // BATCH_SIZE)
    return valid_batches + (K if policy == "recalibrate" else 0)


@pytest.mark.parametrize("policy", ["recalibrate", "batch_stats", "running_stats"])
def test_second_score_of_the_same_arch_does_not_run_the_supernet(supernet, data, archs, policy):
    evaluator = make_evaluator(supernet, data, bn_policy=policy)
    counter = ForwardCounter(supernet)
    first = evaluator.score(archs[0])
    assert counter.calls == forwards_per_child(policy)
    assert evaluator.cache == {archs[0]: first}
    assert evaluator.score(archs[0]) == first
    # an equal architecture built independently (another object, the base type) hits the cache too
    assert evaluator.score(Architecture(archs[0].to_dict())) == first
    assert counter.calls == forwards_per_child(policy)


def test_score_many_deduplicates_and_keeps_order(supernet, data, archs):
    evaluator = make_evaluator(supernet, data)
    counter = ForwardCounter(supernet)
    request = [archs[1], archs[0], archs[1], archs[2], archs[0], archs[1]]
    scores = evaluator.score_many(request)
    assert counter.calls == 3 * forwards_per_child("recalibrate")
    assert len(scores) == len(request)
    # Everything cached now: another call runs nothing.
    assert evaluator.score_many(request[::-1]) == scores[::-1]
    assert counter.calls == 3 * forwards_per_child("recalibrate")
    singles = {a: make_evaluator(supernet, data).score(a) for a in archs[:3]}
    assert scores == [singles[a] for a in request]
    assert set(evaluator.cache) == set(archs[:3])


def test_clear_forgets_the_cache(supernet, data, archs):
    evaluator = make_evaluator(supernet, data)
    first = evaluator.score(archs[0])
    evaluator.clear()
    assert evaluator.cache == {}
    counter = ForwardCounter(supernet)
    assert evaluator.score(archs[0]) == first
    assert counter.calls == forwards_per_child("recalibrate")


# -- (e) batch_stats and running_stats ---------------------------------------------------------------------
def test_batch_stats_equals_train_mode_evaluation(supernet, data, archs):
    evaluator = make_evaluator(supernet, data, bn_policy="batch_stats")
    assert evaluator.recalibration == []
    valid = data.valid.head(VALID_SIZE)
    for arch in archs:
        twin = copy.deepcopy(supernet).train()
        expected = accuracy(lambda x: twin(x, arch), valid)
        assert evaluator.score(arch) == expected, str(arch)


def test_batch_stats_never_moves_running_stats_while_scoring(supernet, data, archs):
    """Not only restored afterwards: during scoring the running statistics stay where they were."""
    before = [(m.running_mean.clone(), m.running_var.clone()) for m in norms(supernet)]
    seen = []

    def check(module, inputs, output):
        seen.append(all(torch.equal(m.running_mean, mean) and torch.equal(m.running_var, var)
                        for m, (mean, var) in zip(norms(supernet), before)))

    supernet.register_forward_hook(check)
    make_evaluator(supernet, data, bn_policy="batch_stats").score_many(archs)
    assert len(seen) == len(archs) * forwards_per_child("batch_stats")
    assert all(seen)


def test_running_stats_equals_plain_eval_mode(supernet, data, archs):
    supernet.train()
    evaluator = make_evaluator(supernet, data, bn_policy="running_stats")
    valid = data.valid.head(VALID_SIZE)
    for arch in archs:
        twin = copy.deepcopy(supernet).eval()
        expected = accuracy(lambda x: twin(x, arch), valid)
        assert evaluator.score(arch) == expected, str(arch)
    assert supernet.training


def test_batch_size_does_not_matter_for_running_stats(supernet, data, archs):
    one = make_evaluator(supernet, data, bn_policy="running_stats", batch_size=7).score_many(archs)
    two = make_evaluator(supernet, data, bn_policy="running_stats", batch_size=1000).score_many(archs)
    assert one == two


def test_scores_are_percentages_of_the_valid_head(supernet, data, archs):
    evaluator = make_evaluator(supernet, data, valid_size=50)
    for score in evaluator.score_many(archs):
        assert 0.0 <= score <= 100.0
        assert (score * 50 / 100.0) == pytest.approx(round(score * 50 / 100.0))  # k/50 correct


# -- (f) errors ---------------------------------------------------------------------------------------------
def test_unknown_policy_raises_config_error_naming_it(supernet, data):
    with pytest.raises(ConfigError, match=r"unknown bn_policy 'bogus'.*recalibrate.*batch_stats.*running_stats"):
        make_evaluator(supernet, data, bn_policy="bogus")


def test_too_few_recalibration_images_raises_config_error_with_the_count(supernet, data):
    with pytest.raises(ConfigError, match=r"needs 600 training images \(3 x 200\), the split has 512"):
        make_evaluator(supernet, data, recalibration_batches=3, recalibration_batch_size=200)


def test_recalibrate_without_train_data_or_batches_raises(supernet, data):
    with pytest.raises(ConfigError, match="bn_policy='recalibrate' needs train_data"):
        Evaluator(supernet, data.valid, None, progress=False)
    with pytest.raises(ConfigError, match="recalibration_batches >= 1"):
        make_evaluator(supernet, data, recalibration_batches=0)


def test_other_policies_need_no_train_data(supernet, data, archs):
    for policy in ("batch_stats", "running_stats"):
        evaluator = Evaluator(supernet, data.valid, None, bn_policy=policy, valid_size=VALID_SIZE,
                              batch_size=BATCH_SIZE, progress=False)
        assert 0.0 <= evaluator.score(archs[0]) <= 100.0


# -- (g) state -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("arch_type", [NB201Architecture, Architecture])
def test_state_dict_round_trips_the_cache(supernet, data, archs, arch_type):
    source = make_evaluator(supernet, data)
    scores = source.score_many(archs)
    state = source.state_dict()
    assert set(state["cache"]) == {a.to_json() for a in archs}
    target = make_evaluator(supernet, data)
    target.load_state_dict(state, arch_type=arch_type)
    assert target.cache == source.cache
    assert all(type(a) is arch_type for a in target.cache)
    counter = ForwardCounter(supernet)
    assert target.score_many(archs) == scores
    assert counter.calls == 0
    assert target.state_dict() == state


def test_state_dict_survives_torch_save(supernet, data, archs, tmp_path):
    source = make_evaluator(supernet, data)
    source.score_many(archs[:2])
    torch.save(source.state_dict(), tmp_path / "evaluator.pt")
    target = make_evaluator(supernet, data)
    target.load_state_dict(torch.load(tmp_path / "evaluator.pt"), arch_type=NB201Architecture)
    assert target.cache == source.cache


# -- the relaxed supernet (gradient-based searches) ---------------------------------------------------------
@pytest.mark.parametrize("policy", ["recalibrate", "batch_stats", "running_stats"])
def test_score_relaxed_is_the_relaxed_forward_under_the_policy_and_leaves_the_supernet_as_it_was(supernet, data,
                                                                                                 archs, policy):
    evaluator = make_evaluator(supernet, data, bn_policy=policy)
    decisions = supernet.relaxed_decisions()
    torch.manual_seed(0)
    weights = {d: torch.softmax(torch.randn(len(o)), 0) for d, o in decisions.items()}
    before = copy.deepcopy(supernet.state_dict())
    twin = copy.deepcopy(supernet)
    valid = data.valid.head(VALID_SIZE)
    if policy == "recalibrate":
        recalibrate(twin, recalibration_batches(data), lambda x: twin.forward_relaxed(x, weights))
    elif policy == "batch_stats":
        twin.train()
        for m in norms(twin):
            m.momentum = 0.0
    else:
        twin.eval()
    with torch.no_grad():
        expected = accuracy(lambda x: twin.forward_relaxed(x, weights), valid)
    assert evaluator.score_relaxed(weights) == expected
    for key, value in supernet.state_dict().items():  # running statistics restored
        assert torch.equal(value, before[key]), key
    # one-hot weights: the relaxed supernet is the child, so its score is the child's
    for arch in archs[:2]:
        one_hot = {d: F.one_hot(torch.tensor(decisions[d].index(arch[d])), len(decisions[d])).float()
                   for d in decisions}
        assert evaluator.score_relaxed(one_hot) == pytest.approx(evaluator.score(arch), abs=1e-9), str(arch)
