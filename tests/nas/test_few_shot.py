"""Few-shot schedule in the trainer: splits at the configured epochs, inherits optimizer state, resumes exactly."""

import functools
import json
import shutil

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from torch import nn

from nas.checkpoint import load_checkpoint
from nas.cli.common import CONF_DIR
from nas.data import synthetic
from nas.errors import ConfigError
from nas.few_shot import FewShotSchedule, inherit_optimizer
from nas.run_folder import RunFolder
from tests.spaces import DecisionsOnlySpace
from nas.training import TrainerCallback, TrainingBudget
from samplers import UniformDataSampler, UniformPathSampler
from search_spaces.nb201 import NB201SearchSpace
from supernets.split import SplitSupernet
from tests.nas.training.helpers import one_shot_trainer

SPACE = NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
DATA = synthetic(train_size=128)


def make(tmp_path, schedule=None, extra=(), **kwargs):
    torch.manual_seed(0)
    schedule = schedule or FewShotSchedule(SPACE, split_epochs=[1, 2], sub_supernets=4, gm_batches=1,
                                           gm_batch_size=16)
    options = dict(epochs=3, batch_size=32, progress=False, tensorboard=False, checkpoint_every=0)
    options.update(kwargs)
    return one_shot_trainer(SPACE.build_supernet(), DATA.train, UniformPathSampler(SPACE, seed=0),
                            UniformDataSampler(len(DATA.train), seed=0), tmp_path,
                            optimizer=functools.partial(torch.optim.SGD, lr=0.1, momentum=0.9, weight_decay=1e-4),
                            callbacks=[schedule, *extra], **options)


def test_inherited_optimizer_state_is_a_clone_of_the_parents():
    old = nn.Parameter(torch.ones(3))
    kept = nn.Parameter(torch.zeros(2))
    opt = torch.optim.SGD([old, kept], lr=0.1, momentum=0.9)
    old.grad, kept.grad = torch.ones(3), torch.ones(2)
    opt.step()
    a, b = nn.Parameter(old.detach().clone()), nn.Parameter(old.detach().clone())
    inherit_optimizer(opt, [a, kept, b], {a: old, b: old})
    assert opt.param_groups[0]["params"] == [a, kept, b] and old not in opt.state
    assert torch.equal(opt.state[a]["momentum_buffer"], torch.ones(3))
    assert opt.state[a]["momentum_buffer"].data_ptr() != opt.state[b]["momentum_buffer"].data_ptr()
    assert torch.equal(opt.state[kept]["momentum_buffer"], torch.ones(2))


def test_gm4_splits_twice_keeps_the_schedule_and_trains_every_sub_supernet(tmp_path):
    t = make(tmp_path)
    before_lr = []
    t.callbacks.append(type("Spy", (TrainerCallback,), {"on_epoch_end": lambda self, tr: before_lr.append(
        (tr.state.epoch, tr.method.scheduler.last_epoch, len(getattr(tr.supernet, "leaves", [0]))))})())
    t.fit()
    assert isinstance(t.supernet, SplitSupernet) and len(t.supernet.leaves) == 4
    assert before_lr == [(1, 4, 2), (2, 8, 4), (3, 12, 4)]  # the LR schedule continues across splits
    optimizer = t.method.optimizer
    assert {id(p) for p in t.supernet.parameters()} == {id(p) for p in optimizer.param_groups[0]["params"]}
    assert len(optimizer.state) > 0
    summary = (tmp_path / "few_shot.json").read_text()
    assert '"gm_scoring_seconds"' in summary and '"gm_fraction_of_training"' in summary
    from nas.pipeline import few_shot_lines

    [line] = few_shot_lines(tmp_path)                            # what report.md says about the split
    fraction = json.loads(summary)["gm_fraction_of_training"]
    assert "4 sub-supernets" in line and f"= {100 * fraction:.1f}% of supernet training" in line
    assert line.count("∈") >= 4 and few_shot_lines(tmp_path / "nothing") == []


def _final(trainer):
    return {k: v.clone() for k, v in trainer.supernet.state_dict().items() if torch.is_tensor(v)}


@pytest.mark.parametrize("stop_at", [4, 6])  # at the end of the first split epoch (before the split), after it
def test_resume_from_a_checkpoint_around_a_split_equals_the_uninterrupted_run(tmp_path, stop_at):
    straight = make(tmp_path / "a", checkpoint_every=1)
    saved = {}
    original = straight.save_checkpoint

    def save_and_copy():
        path = original()
        if straight.state.step == stop_at:
            shutil.copytree(tmp_path / "a", tmp_path / "b")
            saved["history"] = len(straight.callbacks[0].history)
        return path

    straight.save_checkpoint = save_and_copy
    straight.fit()
    assert saved["history"] == (0 if stop_at == 4 else 1)
    assert load_checkpoint(RunFolder(tmp_path / "b").checkpoint)["train_state"]["step"] == stop_at
    resumed = make(tmp_path / "b", checkpoint_every=1)
    assert resumed.fit().step == straight.state.step == 12
    assert resumed.supernet.constraints == straight.supernet.constraints
    a, b = _final(straight), _final(resumed)
    assert a.keys() == b.keys()
    assert max(float((a[k].double() - b[k].double()).abs().max()) for k in a) <= 1e-6
    sa, sb = straight.method.optimizer.state_dict()["state"], resumed.method.optimizer.state_dict()["state"]
    assert all(torch.allclose(sa[i]["momentum_buffer"], sb[i]["momentum_buffer"], atol=1e-6) for i in sa)


class Stop(Exception):
    """Raised by ``StopAtEpochEnd`` to look at a run right after the split."""


class StopAtEpochEnd(TrainerCallback):
    def on_epoch_end(self, trainer):
        raise Stop


def test_restart_reinitialises_the_sub_supernets_and_their_optimizer_state(tmp_path):
    def run(folder, restart):
        schedule = FewShotSchedule(SPACE, method="exhaustive", split_epochs=[1], sub_supernets=5, decision="1<-0",
                                   restart=restart)
        t = make(tmp_path / folder, schedule, extra=[StopAtEpochEnd()], epochs=2)  # stop right after the split
        with pytest.raises(Stop):
            t.fit()
        assert t.state.step == 4
        return t

    inherited, restarted = run("a", False), run("b", True)
    for t in (inherited, restarted):
        assert [c["1<-0"] for c in t.supernet.constraints] == [(o,) for o in SPACE.decisions["1<-0"]]
    stems = [leaf.stem[0].weight for leaf in inherited.supernet.leaves]
    assert all(torch.equal(w, stems[0]) for w in stems)  # copies of the trained parent
    momenta = [inherited.method.optimizer.state[leaf.stem[0].weight]["momentum_buffer"]
               for leaf in inherited.supernet.leaves]
    assert all(torch.equal(m, momenta[0]) for m in momenta) and len({m.data_ptr() for m in momenta}) == 5
    assert not any(torch.equal(leaf.stem[0].weight, stems[0]) for leaf in restarted.supernet.leaves)
    assert len(restarted.method.optimizer.state) == 0


def Toy() -> DecisionsOnlySpace:
    return DecisionsOnlySpace({"fixed": ("a",), "pair": ("x", "y")})


@pytest.mark.parametrize("kwargs, message", [
    (dict(decision="fixed"), "'fixed' has a single option"),
    (dict(split_epochs=[1, 2], sub_supernets=4), "4 sub-supernets is more than the 2 architectures"),
    (dict(sub_supernets=8), "1 split epochs make 2 sub-supernets, not sub_supernets=8"),
    (dict(method="exhaustive", decision="pair", sub_supernets=3), "decision 'pair' makes one sub-supernet per option"),
    (dict(split_epochs=[5]), r"split epochs \[5\] must lie in \[1, 4\]: .*\(the budget is 50 steps of 10 per epoch"),
    (dict(split_epochs=[0]), "must be at least 1"),
    (dict(decision="depth"), "'depth' is not a decision of toy"),
])
def test_bad_schedules_are_clear_config_errors(kwargs, message):
    options = dict(split_epochs=[1], sub_supernets=2)
    options.update(kwargs)
    with pytest.raises(ConfigError, match=message):
        FewShotSchedule(Toy(), **options).set_budget(TrainingBudget.of(epochs=5, steps_per_epoch=10))


def test_the_split_epochs_follow_the_budget_in_steps():
    """A split at the end of epoch 3 needs steps after step 30: 5 epochs do, max_steps=30 does not."""
    schedule = FewShotSchedule(Toy(), split_epochs=[3], sub_supernets=2)
    schedule.set_budget(TrainingBudget.of(epochs=5, steps_per_epoch=10))
    schedule.set_budget(TrainingBudget.of(epochs=5, steps_per_epoch=10, max_steps=31))
    assert schedule.budget.total_steps == 31
    with pytest.raises(ConfigError, match=r"must lie in \[1, 2\].*the budget is 30 steps of 10 per epoch"):
        schedule.set_budget(TrainingBudget.of(epochs=5, steps_per_epoch=10, max_steps=30))


def test_the_trainer_refuses_a_split_after_max_steps_before_training(tmp_path):
    schedule = FewShotSchedule(SPACE, split_epochs=[2], sub_supernets=2, gm_batches=1, gm_batch_size=16)
    make(tmp_path / "ok", schedule, epochs=3, max_steps=9)  # 4 steps per epoch: the split after step 8 has 1 left
    with pytest.raises(ConfigError, match=r"split epochs \[2\] must lie in \[1, 1\]"):
        make(tmp_path / "cut", schedule, epochs=3, max_steps=8)
    assert not (tmp_path / "cut").exists()


def test_entangled_supernets_are_refused_up_front():
    from search_spaces.elastic_conv import ElasticConvSearchSpace

    space = ElasticConvSearchSpace(in_channels=1, num_classes=4, input_size=8)
    with pytest.raises(ConfigError, match="weight-entangled.*few_shot=none"):
        FewShotSchedule(space, split_epochs=[1], supernet=space.build_supernet())


@pytest.mark.parametrize("experiment, leaves", [("gm2", 2), ("gm4", 4), ("fewshot_exhaustive", 5)])
def test_experiments_compose_at_the_spos_budget(experiment, leaves):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3", job_name="t"):
        cfg = compose("run", overrides=[f"experiment={experiment}"])
        spos = compose("run", overrides=["experiment=spos"])
        plain = compose("run")
    assert plain.few_shot is None and spos.few_shot is None
    assert cfg.trainer.epochs == spos.trainer.epochs == 30
    schedule = instantiate(cfg.few_shot, space=SPACE)
    assert schedule.split_epochs[0] == 10 and schedule.expected_leaves == leaves
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3", job_name="t"):
        board = compose("leaderboard")
    assert list(board.rows[experiment]) == [f"experiment={experiment}"]


def test_nas_train_with_a_split_then_load_the_trained_split_supernet(tmp_path):
    from nas.pipeline import load_trained_supernet, setup, train_stage

    overrides = ["preset=smoke", "few_shot=exhaustive", "few_shot.decision='1<-0'",
                 "few_shot.split_epochs=[1]", "trainer.epochs=2", "trainer.batch_size=128",
                 "progress=false", "trainer.tensorboard=false", "search_space.C=4"]
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3", job_name="t"):
        cfg = compose("train", overrides=overrides)
    data, space = setup(cfg)
    trainer = train_stage(cfg, tmp_path, data, space)
    assert len(trainer.supernet.leaves) == 5
    loaded = load_trained_supernet(tmp_path, space)
    assert isinstance(loaded, SplitSupernet) and loaded.constraints == trainer.supernet.constraints
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in trainer.supernet.state_dict().items()
               if torch.is_tensor(v))


@pytest.mark.parametrize("name", ["nas.few_shot", "supernets.split", "supernets.gradient_matching"])
def test_docstring_examples(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0
