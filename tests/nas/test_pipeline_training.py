"""The training stage of the pipeline: what the training fingerprint hashes, and how `train_stage` wires the loop,
the method, the samplers and the few-shot callback to one budget."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir

from nas.cli.common import CONF_DIR
from nas.pipeline import setup, train_stage, training_fingerprint
from nas.training import OneShot, TrainingBudget


def config(*overrides: str):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3", job_name="t"):
        return compose("train", overrides=["preset=smoke", *overrides])


BASE = training_fingerprint(config())


@pytest.mark.parametrize("override", ["progress=false", "trainer.log_every=7", "trainer.checkpoint_every=9",
                                      "trainer.tensorboard=false", "trainer.device=cpu", "trainer.amp=false",
                                      "few_shot=none", "distillation=none"])
def test_cosmetic_keys_and_defaults_keep_the_fingerprint(override):
    assert training_fingerprint(config(override)) == BASE


@pytest.mark.parametrize("overrides", [
    ["trainer.epochs=3"], ["trainer.max_steps=5"], ["seed=1"], ["trainer.method.child_loss=mean"],
    ["trainer.method.optimization.optimizer.lr=0.1"], ["trainer.method.optimization.warmup_steps=2"],
    ["trainer.method.loss.label_smoothing=0.1"], ["path_sampler=sandwich", "distillation=kl"],
    ["few_shot=gm2"], ["data_sampler=pada"],
])
def test_what_decides_the_weights_changes_the_fingerprint(overrides):
    assert training_fingerprint(config(*overrides)) != BASE


def test_kl_and_alpha_distillation_hash_apart():
    kl = training_fingerprint(config("path_sampler=sandwich", "distillation=kl"))
    alpha = training_fingerprint(config("path_sampler=sandwich", "distillation=alpha"))
    beta = training_fingerprint(config("path_sampler=sandwich", "distillation=alpha",
                                       "trainer.method.distillation.beta=3"))
    assert len({kl, alpha, beta}) == 3


def test_train_stage_hands_one_budget_in_steps_to_samplers_callback_and_method(tmp_path):
    """8 steps per epoch (512 examples / 64), 3 epochs cut at max_steps=10: everybody learns 10 steps."""
    cfg = config("data_sampler=pada", "few_shot=exhaustive", "few_shot.decision='1<-0'", "few_shot.split_epochs=[1]",
                 "trainer.epochs=3", "trainer.max_steps=10", "progress=false", "trainer.tensorboard=false",
                 "search_space.C=4")
    data, space = setup(cfg)
    trainer = train_stage(cfg, tmp_path, data, space)
    expected = TrainingBudget(total_steps=10, steps_per_epoch=8)
    [split] = trainer.callbacks
    assert trainer.state.step == 10 and trainer.budget == expected
    assert trainer.data_sampler.budget == split.budget == trainer.method.path_sampler.budget == expected
    assert isinstance(trainer.method, OneShot) and len(trainer.supernet.leaves) == 5  # split after step 8
    assert trainer.method.scheduler.last_epoch == 10  # the cosine schedule spans the cut budget
