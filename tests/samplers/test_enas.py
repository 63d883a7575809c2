"""ENASPathSampler and its LSTMController: the REINFORCE gradient against a hand computation, learning a toy
reward, the memory buffer, purity of sampling and exact state round trips."""

from __future__ import annotations

import math

import pytest
import torch

from nas.errors import ConfigError
from samplers import ENASPathSampler, LSTMController, UniformPathSampler
from search_spaces.nb201 import NB201SearchSpace

SPACE = NB201SearchSpace()


def _gradient_of_one_update(sampler, archs, rewards):
    """The head biases' gradients of one reinforce() step (the optimizer step is skipped) and each head's input."""
    captured = {}

    def keep(k):
        def hook(module, inputs, out):
            captured.setdefault(k, out.detach())  # returns None: the output is left as it is
        return hook

    hooks = [head.register_forward_hook(keep(k)) for k, head in enumerate(sampler.controller.heads)]
    sampler.optimizer.step = lambda: None
    sampler.reinforce(archs, rewards)
    for hook in hooks:
        hook.remove()
    return [head.bias.grad.clone() for head in sampler.controller.heads], captured


def test_reinforce_gradient_equals_the_hand_computation():
    temperature, weight = 2.0, 0.1
    sampler = ENASPathSampler(SPACE, seed=1, temperature=temperature, tanh_constant=None, entropy_weight=weight,
                              baseline_decay=0.5)
    sampler.baseline = 0.3
    archs, rewards = sampler.propose(0, 3), [1.0, 0.0, 0.5]
    grads, logits = _gradient_of_one_update(sampler, archs, rewards)
    baseline = 0.5 * 0.3 + 0.5 * 0.5  # the moving average, updated before the advantage is taken
    assert sampler.baseline == pytest.approx(baseline)
    choices = sampler.to_choices(archs)
    for k, grad in enumerate(grads):
        p = torch.softmax(logits[k] / temperature, dim=-1)                 # (batch, options)
        onehot = torch.nn.functional.one_hot(choices[:, k], p.shape[1]).float()
        advantage = torch.tensor(rewards)[:, None] - baseline
        entropy = -(p * p.log()).sum(-1, keepdim=True)
        # L = -mean(A log p_a) - w mean(H);  dlog p_a / dz = onehot - p;  dH / dz = -p (log p + H);  z = head / T
        hand = (-advantage * (onehot - p) + weight * p * (p.log() + entropy)).mean(0) / temperature
        assert torch.allclose(grad, hand, atol=1e-6), (k, grad, hand)


def test_the_default_squashing_is_differentiated_through():
    """With ENAS' tanh squashing, logits = c tanh(z / T): the gradient carries the factor c (1 - tanh^2) / T."""
    sampler = ENASPathSampler(SPACE, seed=2, temperature=5.0, tanh_constant=2.5, entropy_weight=0.0)
    sampler.baseline = 0.0
    archs = sampler.propose(0, 2)
    grads, logits = _gradient_of_one_update(sampler, archs, [1.0, -1.0])
    choices = sampler.to_choices(archs)
    for k, grad in enumerate(grads):
        t = torch.tanh(logits[k] / 5.0)
        p = torch.softmax(2.5 * t, dim=-1)
        onehot = torch.nn.functional.one_hot(choices[:, k], p.shape[1]).float()
        hand = (-torch.tensor([[1.0], [-1.0]]) * (onehot - p) * 2.5 * (1 - t**2) / 5.0).mean(0)
        assert torch.allclose(grad, hand, atol=1e-6)


def _first_decision_probabilities(controller):
    """The exact distribution of the first decision: the heads' softmax at the LSTM's first step."""
    with torch.no_grad():
        x = controller.start
        for cell in controller.cells:
            x = cell(x)[0]
        return torch.softmax(controller.logits(x, 0), -1)[0]


@pytest.mark.parametrize("buffer_size", [0, 64])
def test_the_controller_moves_toward_a_rewarded_option(buffer_size):
    first, rewarded = next(iter(SPACE.decisions)), "nor_conv_3x3"
    index = list(SPACE.decisions[first]).index(rewarded)
    sampler = ENASPathSampler(SPACE, seed=0, lr=0.05, buffer_size=buffer_size, buffer_batch=8)
    before = float(_first_decision_probabilities(sampler.controller)[index])
    assert abs(before - 0.2) < 0.02  # temperature 5 and tanh: nearly uniform at the start
    for update in range(60):
        archs = sampler.propose(update, 4)
        sampler.reinforce(archs, [float(a[first] == rewarded) for a in archs])
    after = float(_first_decision_probabilities(sampler.controller)[index])
    assert after > 0.6, (before, after)
    drawn = sampler.propose(10_000, 500)  # and the sampler draws it that often
    assert abs(sum(a[first] == rewarded for a in drawn) / 500 - after) < 0.07
    assert len(sampler.buffer) == (64 if buffer_size else 0)


def test_the_buffer_adds_the_replay_term():
    plain = ENASPathSampler(SPACE, seed=3, buffer_size=0)
    buffered = ENASPathSampler(SPACE, seed=3, buffer_size=16, buffer_batch=4)
    assert all(torch.equal(a, b) for a, b in zip(plain.controller.parameters(), buffered.controller.parameters()))
    first = plain.propose(0, 4)
    for sampler in (plain, buffered):
        sampler.reinforce(first, [1.0, 0.0, 0.0, 1.0])  # empty buffer: the same update
    assert all(torch.equal(a, b) for a, b in zip(plain.controller.parameters(), buffered.controller.parameters()))
    assert [a for a, _ in buffered.buffer] == first
    second = plain.propose(1, 4)
    for sampler in (plain, buffered):
        sampler.reinforce(second, [0.0, 1.0, 1.0, 0.0])
    with torch.no_grad():
        diff = max(float((a - b).abs().max()) for a, b in zip(plain.controller.parameters(),
                                                                 buffered.controller.parameters()))
    assert diff > 1e-6  # the replayed architectures moved the buffered controller further


def test_sampling_is_a_pure_function_of_seed_step_and_weights():
    a, b = ENASPathSampler(SPACE, seed=5), ENASPathSampler(SPACE, seed=5)
    assert [a.sample(s) for s in range(20)] == [b.sample(s) for s in reversed(range(20))][::-1]
    assert len({a.sample(s)[0] for s in range(20)}) >= 18
    assert ENASPathSampler(SPACE, seed=6).sample(0) != a.sample(0) or ENASPathSampler(SPACE, seed=6).sample(1) != a.sample(1)
    assert a.propose(0, 3) != [a.sample(0)[0]] * 3  # the controller phase draws from its own stream


def test_state_dict_round_trip_continues_exactly():
    source = ENASPathSampler(SPACE, seed=7, lr=0.01, buffer_size=8, buffer_batch=2)
    for update in range(5):
        archs = source.propose(update, 2)
        source.reinforce(archs, [0.1 * update, 0.5])
    target = ENASPathSampler(SPACE, seed=0, lr=0.01, buffer_size=8, buffer_batch=2)
    target.load_state_dict(source.state_dict())
    assert [target.sample(s) for s in range(5)] == [source.sample(s) for s in range(5)]
    assert target.baseline == source.baseline and list(target.buffer) == list(source.buffer)
    archs = source.propose(9, 2)
    assert source.reinforce(archs, [1.0, 0.0]) == target.reinforce(archs, [1.0, 0.0])
    assert all(torch.equal(a, b) for a, b in zip(source.controller.parameters(), target.controller.parameters()))


def test_hidden_states_and_mode():
    sampler = ENASPathSampler(SPACE, seed=0, hidden_size=16)
    archs = sampler.propose(0, 5)
    states = sampler.hidden_states(archs)
    assert tuple(states.shape) == (5, 16)
    assert torch.allclose(states[2], sampler.hidden_states([archs[2]])[0], atol=1e-6)
    assert SPACE.validate(sampler.mode()) == sampler.mode()


def test_controller_log_prob_of_a_one_decision_space_is_a_softmax():
    controller = LSTMController({"op": ["a", "b", "c"]}, hidden_size=4, temperature=1.0, tanh_constant=None)
    rollout = controller(choices=torch.tensor([[0], [1], [2]]))
    assert math.isclose(float(rollout.log_prob.detach().exp().sum()), 1.0, rel_tol=1e-6)


@pytest.mark.parametrize("kwargs, fragment", [
    ({"lr": 0.0}, "lr > 0"),
    ({"baseline_decay": 1.0}, r"baseline_decay in \[0, 1\)"),
    ({"buffer_size": -1}, "buffer_size must be >= 0"),
    ({"num_paths": 0}, "num_paths must be at least 1"),
    ({"temperature": 0.0}, "temperature and tanh_constant must be > 0"),
])
def test_bad_options(kwargs, fragment):
    with pytest.raises(ConfigError, match=fragment):
        ENASPathSampler(SPACE, **kwargs)


def test_plain_one_shot_training_refuses_a_learned_sampler():
    import functools

    from nas.training import ControllerTraining, OneShot, Optimization

    tiny = NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
    optimization = Optimization(functools.partial(torch.optim.SGD, lr=0.1))
    with pytest.raises(ConfigError, match="would leave it untrained: use method=enas"):
        OneShot(tiny.build_supernet(), ENASPathSampler(tiny), optimization)
    with pytest.raises(ConfigError, match="UniformPathSampler is not one: use path_sampler=enas"):
        ControllerTraining(tiny.build_supernet(), UniformPathSampler(tiny), optimization)
