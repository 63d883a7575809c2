"""The samplers of the samplers issue inside the trainer: feedback equals hand computations."""

import copy
import functools
from collections import Counter

import pytest
import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from nas.cli.common import CONF_DIR
from nas.data import synthetic
from nas.errors import ConfigError
from nas.training import StepFeedback
from samplers import PADADataSampler, PADAPathSampler, StrictFairPathSampler, UniformDataSampler, UniformPathSampler
from search_spaces.nb201 import NB201SearchSpace
from tests.nas.training.helpers import one_shot_trainer

SPACE = NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
DATA = synthetic(train_size=128)


def trainer(tmp_path, path_sampler, data_sampler=None, **kwargs):
    torch.manual_seed(0)
    return one_shot_trainer(SPACE.build_supernet(), DATA.train, path_sampler,
                            data_sampler or UniformDataSampler(len(DATA.train)), tmp_path,
                            optimizer=functools.partial(torch.optim.SGD, lr=0.1, momentum=0.9), epochs=1,
                            batch_size=32, progress=False, tensorboard=False, checkpoint_every=0, **kwargs)


def test_path_importance_equals_hand_computed_gradient_norms(tmp_path):
    sampler = PADAPathSampler(SPACE, seed=0, update_every=10_000)
    t = trainer(tmp_path, sampler, grad_clip_norm=0.01)  # clipping must not change what the sampler sees
    x, y = DATA.train.x[:32], DATA.train.y[:32]
    arch = sampler.sample(0)[0]
    reference = copy.deepcopy(t.supernet).train()
    F.cross_entropy(reference(x, arch), y).backward()
    t.train_step(x, y, torch.arange(32))
    owned = reference.option_parameters()
    for (edge, op), params in owned.items():
        index = sampler.decisions[edge].index(op)
        grads = [p.grad for p in params if p.grad is not None]
        if arch[edge] == op and grads:
            expected = torch.sqrt(sum((g ** 2).sum() for g in grads)).item()
            assert sampler._sums[edge][index] == pytest.approx(expected, rel=1e-5)
            assert sampler._counts[edge][index] == 1
        else:
            assert sampler._counts[edge][index] == 0  # unsampled and parameter-free options report nothing


def test_strict_fair_runs_every_op_of_every_cell_exactly_once_per_step(tmp_path):
    t = trainer(tmp_path, StrictFairPathSampler(SPACE, seed=0))
    calls = Counter()
    for cell_index, layer in enumerate(t.supernet.layers):
        if hasattr(layer, "edges"):
            for edge, choice in layer.edges.items():
                for op, module in choice.ops.items():
                    module.register_forward_hook(lambda *a, key=(cell_index, edge, op): calls.update([key]))
    before = {n: p.detach().clone() for n, p in t.supernet.named_parameters()}
    t.train_step(DATA.train.x[:32], DATA.train.y[:32], torch.arange(32))
    cells = [i for i, layer in enumerate(t.supernet.layers) if hasattr(layer, "edges")]
    expected = {(c, e, op) for c in cells for e in SPACE.decisions for op in SPACE.decisions[e] if op != "none"}
    assert set(calls) == expected and set(calls.values()) == {1}
    moved = [n for n, p in t.supernet.named_parameters() if not torch.equal(before[n], p.detach())]
    assert all(any(n.startswith(f"layers.{c}.edges") for n in moved) for c in cells)  # one optimizer step for all


def test_data_scores_are_softmax_minus_onehot_norms_of_the_forward_pass(tmp_path):
    data_sampler = PADADataSampler(len(DATA.train))
    t = trainer(tmp_path, UniformPathSampler(SPACE, seed=0, num_paths=1), data_sampler)
    x, y, idx = DATA.train.x[:32], DATA.train.y[:32], torch.arange(32, 64)
    arch = t.method.path_sampler.sample(0)[0]
    with torch.no_grad():
        probs = copy.deepcopy(t.supernet).train()(x, arch).softmax(1)
    expected = (probs - F.one_hot(y, 4).float()).norm(dim=1)
    t.train_step(x, y, idx)
    assert torch.allclose(data_sampler.scores[idx].float(), expected, atol=1e-5)
    assert torch.equal(data_sampler.scores[:32], torch.ones(32, dtype=torch.float64))  # untouched


def test_importance_weights_scale_the_label_loss(tmp_path, monkeypatch):
    plain = trainer(tmp_path / "a", UniformPathSampler(SPACE, seed=0))
    loss_plain = plain.train_step(DATA.train.x[:32], DATA.train.y[:32], torch.arange(32)).loss
    weighted = trainer(tmp_path / "b", UniformPathSampler(SPACE, seed=0))
    monkeypatch.setattr(weighted.data_sampler, "loss_weights", lambda idx: torch.full((len(idx),), 3.0))
    loss_weighted = weighted.train_step(DATA.train.x[:32], DATA.train.y[:32], torch.arange(32)).loss
    assert loss_weighted == pytest.approx(3 * loss_plain, rel=1e-5)


def test_path_importance_on_an_entangled_supernet_is_a_clear_error(tmp_path):
    from search_spaces.elastic_conv import ElasticConvSearchSpace

    space = ElasticConvSearchSpace(in_channels=1, num_classes=4, input_size=8)
    with pytest.raises(ConfigError, match="PADAPathSampler needs the gradient norm of every option's own parameters.*"
                                          "which parameters belong to which option"):
        one_shot_trainer(space.build_supernet(), DATA.train, PADAPathSampler(space),
                         UniformDataSampler(len(DATA.train)), tmp_path, epochs=1, batch_size=32, progress=False)


@pytest.mark.parametrize("overrides", [["path_sampler=strict_fair"], ["path_sampler=cost_bucket"],
                                       ["path_sampler=pada"], ["data_sampler=pada"],
                                       ["experiment=pada", "preset=smoke"]])
def test_configs_compose_and_train_a_few_steps(tmp_path, overrides):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3", job_name="t"):
        cfg = compose("run", overrides=["preset=smoke", *overrides, "trainer.epochs=1", "trainer.batch_size=64"])
    data = instantiate(cfg.dataset)
    space = instantiate(cfg.search_space)
    method = instantiate(cfg.trainer.method, supernet=space.build_supernet(),
                         path_sampler=instantiate(cfg.path_sampler, space=space))
    t = instantiate(cfg.trainer, method=method, train_data=data.train,
                    data_sampler=instantiate(cfg.data_sampler, num_examples=len(data.train)),
                    output_dir=str(tmp_path), progress=False, tensorboard=False)
    assert t.fit().step == len(data.train) // 64



class Spy(UniformDataSampler):
    """A uniform data sampler that declares what PA&DA data sampling needs and keeps what it receives."""

    needs = frozenset({"logits"})

    def __init__(self, n):
        super().__init__(n)
        self.received: list[StepFeedback] = []

    def observe(self, feedback):
        self.received.append(feedback)


def test_both_sampler_kinds_receive_only_what_they_declared(tmp_path):
    """PA&DA paths declare option_grad_norms, the data spy logits: each gets its own, not the other's."""
    paths, data = PADAPathSampler(SPACE, seed=0, update_every=10_000), Spy(len(DATA.train))
    t = trainer(tmp_path, paths, data)
    received = []
    paths.observe = received.append
    output = t.train_step(DATA.train.x[:32], DATA.train.y[:32], torch.arange(32))
    [path_feedback], [data_feedback] = received, data.received
    assert path_feedback.option_grad_norms and path_feedback.logits is None and path_feedback.losses is None
    assert data_feedback.option_grad_norms is None and data_feedback.losses is None
    assert len(data_feedback.logits) == 1 and data_feedback.logits[0].shape == (32, 4)
    assert output.feedback.option_grad_norms == path_feedback.option_grad_norms  # measured once, for both
    assert t.needs == frozenset({"option_grad_norms", "logits"})
