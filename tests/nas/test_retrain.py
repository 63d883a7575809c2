"""Retraining: a killed or interrupted retrain resumes from its checkpoint to the weights of an unstopped one."""

from __future__ import annotations

import doctest

import pytest
import torch

import nas.retrain
from nas.benchmarks import StandaloneRecipe
from nas.checkpoint import load_checkpoint
from nas.data import synthetic
from nas.errors import CheckpointError
from nas.retrain import Retraining, retrain_fingerprint
from search_spaces.nb201 import NB201SearchSpace

SPACE = NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
DATA = synthetic(train_size=192, valid_size=64, test_size=64)
RECIPE = StandaloneRecipe(train_size=192, epochs=3, batch_size=64)  # 9 steps
ARCH = SPACE.parse("|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|nor_conv_3x3~1|skip_connect~2|")


def job(path, every: int = 2, fingerprint: str = "a", tensorboard=None) -> Retraining:
    return Retraining(lambda: SPACE.build_model(ARCH), DATA, RECIPE, 3, path / "checkpoint.pt", fingerprint,
                      checkpoint_every=every, tensorboard=tensorboard, progress=False)


class Killed(Exception):
    """Stands for SIGKILL: nothing is saved on the way out."""


def stop_at(training, step: int, error: type[BaseException]):
    run = training.run

    def stopping(until=None, on_step=None):
        def hook(result):
            on_step(result)
            if result.step == step:
                raise error
        run(until, hook)
    training.run = stopping


@pytest.mark.parametrize("how, step, resumes_at", [(KeyboardInterrupt, 5, 5), (Killed, 5, 4)])
def test_a_stopped_retrain_resumes_to_the_weights_of_an_unstopped_one(tmp_path, how, step, resumes_at):
    whole = job(tmp_path / "whole")
    expected = whole.fit()
    stopped = job(tmp_path / "stopped")
    stop_at(stopped.training, step, how)
    with pytest.raises(how):
        stopped.fit()
    assert load_checkpoint(tmp_path / "stopped" / "checkpoint.pt")["training"]["step"] == resumes_at
    resumed = job(tmp_path / "stopped")
    result = resumed.fit()
    assert {k: v for k, v in result.items() if k != "seconds"} == {k: v for k, v in expected.items()
                                                                    if k != "seconds"}
    for (name, a), b in zip(whole.training.model.state_dict().items(),
                            resumed.training.model.state_dict().values()):
        assert torch.equal(a, b), name
    assert result["steps"] == 9 and 0.0 <= result["accuracy"] <= 100.0


def test_a_finished_retrain_is_not_trained_again_and_another_jobs_checkpoint_is_refused(tmp_path):
    first = job(tmp_path, tensorboard=tmp_path / "tb").fit()
    assert any((tmp_path / "tb").iterdir())
    again = job(tmp_path)
    again.training.run = lambda *a, **k: pytest.fail("a finished retrain trained again")
    assert again.fit()["accuracy"] == first["accuracy"]
    with pytest.raises(CheckpointError, match="belongs to another retraining"):
        job(tmp_path, fingerprint="b").fit()


def test_the_fingerprint_tells_children_recipes_seeds_and_inits_apart():
    base = dict(arch="a", init="scratch", recipe={"epochs": 1}, space={"name": "s"}, dataset="d", seed=0, source="x")
    prints = {retrain_fingerprint(**base)}
    for change in ({"arch": "b"}, {"recipe": {"epochs": 2}}, {"seed": 1}, {"init": "inherited"}):
        prints.add(retrain_fingerprint(**{**base, **change}))
    assert len(prints) == 5
    assert retrain_fingerprint(**{**base, "source": "y"}) == retrain_fingerprint(**base)  # scratch: no supernet


def test_doctests():
    assert doctest.testmod(nas.retrain).failed == 0
