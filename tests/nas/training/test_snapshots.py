"""Snapshot ensemble: which epochs are kept, what a snapshot holds, resume after a kill, and the averaged score."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

from nas.checkpoint import load_checkpoint
from nas.data import synthetic
from nas.errors import ConfigError, RunFolderError
from nas.evaluator import Evaluator
from nas.run_folder import RunFolder
from nas.training import SnapshotCallback, TrainerCallback, TrainingBudget, load_snapshots, snapshot_epochs
from samplers import UniformDataSampler, UniformPathSampler
from search_spaces.nb201 import NB201SearchSpace
from tests.nas.training.helpers import KillAt, one_shot_trainer

SPACE = NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
DATA = synthetic(train_size=128, valid_size=128)
EPOCHS, STEPS_PER_EPOCH = 5, 4  # 128 images / batch 32


class RecordEpochEnds(TrainerCallback):
    """The supernet's weights at the end of every epoch, in memory."""

    def __init__(self):
        self.weights: dict[int, dict[str, torch.Tensor]] = {}

    def on_epoch_end(self, trainer):
        self.weights[trainer.state.epoch] = {k: v.clone() for k, v in trainer.supernet.state_dict().items()}


def make_trainer(folder, callbacks=(), **loop):
    torch.manual_seed(0)
    options = dict(epochs=EPOCHS, batch_size=32, progress=False, tensorboard=False, checkpoint_every=3)
    options.update(loop)
    return one_shot_trainer(SPACE.build_supernet(), DATA.train, UniformPathSampler(SPACE, seed=0),
                            UniformDataSampler(len(DATA.train), seed=0), folder,
                            optimizer=functools.partial(torch.optim.SGD, lr=0.1, momentum=0.9),
                            callbacks=callbacks, **options)


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# -- which epochs --------------------------------------------------------------------------------------------------
def test_snapshot_epochs_are_the_last_epoch_ends_before_the_final_step():
    budget = TrainingBudget.of(EPOCHS, STEPS_PER_EPOCH)
    assert snapshot_epochs(budget, 0) == snapshot_epochs(budget, 1) == []
    assert snapshot_epochs(budget, 3) == [3, 4]
    assert snapshot_epochs(budget, 5) == [1, 2, 3, 4]
    cut = TrainingBudget.of(EPOCHS, STEPS_PER_EPOCH, max_steps=18)  # stops in epoch 5: ends of 1..4 come before
    assert snapshot_epochs(cut, 3) == [3, 4]
    assert snapshot_epochs(TrainingBudget.of(EPOCHS, STEPS_PER_EPOCH, max_steps=16), 3) == [2, 3]


def test_more_snapshots_than_epochs_is_refused():
    with pytest.raises(ConfigError, match=r"evaluator.snapshots=6 .* only 4 epoch ends before its last step"):
        snapshot_epochs(TrainingBudget.of(EPOCHS, STEPS_PER_EPOCH), 6)
    with pytest.raises(ConfigError, match="only 4 epoch ends"):
        make_trainer("unused", [SnapshotCallback(6)])  # refused when the trainer is built, before any step


# -- what is written ------------------------------------------------------------------------------------------------
def test_the_callback_keeps_the_weights_of_the_last_epochs(tmp_path):
    record = RecordEpochEnds()
    trainer = make_trainer(tmp_path, [record, SnapshotCallback(3)])
    trainer.fit()
    folder = RunFolder(tmp_path)
    assert folder.snapshot_epochs() == [3, 4]
    for epoch in (3, 4):
        snapshot = folder.read_snapshot(epoch)
        assert (snapshot["epoch"], snapshot["step"], snapshot["total_steps"]) == (epoch, 4 * epoch, 20)
        assert same(snapshot["supernet"], record.weights[epoch])
    assert not same(record.weights[4], trainer.supernet.state_dict())  # the final weights are the checkpoint's
    assert [p.name for p in folder.checkpoint.parent.iterdir() if p.name.startswith(".")] == []  # no temporaries


def test_a_killed_run_resumed_keeps_the_same_snapshots(tmp_path):
    make_trainer(tmp_path / "straight", [SnapshotCallback(3)]).fit()
    # killed after epoch 3's snapshot (step 12) and before the next checkpoint (step 15): nothing saved on the way
    with pytest.raises(RuntimeError, match="killed"):
        make_trainer(tmp_path / "killed", [SnapshotCallback(3), KillAt(14)]).fit()
    killed = RunFolder(tmp_path / "killed")
    assert killed.snapshot_epochs() == [3]
    first_epoch3 = killed.read_snapshot(3)["supernet"]
    make_trainer(tmp_path / "killed", [SnapshotCallback(3)]).fit()  # resumes from step 12, rewrites epoch 3's
    straight = RunFolder(tmp_path / "straight")
    assert killed.snapshot_epochs() == straight.snapshot_epochs() == [3, 4]
    for epoch in (3, 4):
        assert same(killed.read_snapshot(epoch)["supernet"], straight.read_snapshot(epoch)["supernet"])
    assert same(first_epoch3, straight.read_snapshot(3)["supernet"])
    assert same(load_checkpoint(killed.checkpoint)["supernet"], load_checkpoint(straight.checkpoint)["supernet"])


# -- scoring ----------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("snapshots")
    trainer = make_trainer(folder, [SnapshotCallback(3)])
    trainer.fit()
    return folder, trainer.supernet


def evaluator(supernet, **kwargs) -> Evaluator:
    return Evaluator(supernet, DATA.valid, DATA.train, valid_size=None, recalibration_batches=2,
                     recalibration_batch_size=32, progress=False, **kwargs)


def test_one_snapshot_is_the_plain_score(trained):
    folder, supernet = trained
    archs = [SPACE.sample(np.random.default_rng(i)) for i in range(6)]
    assert load_snapshots(folder, SPACE.build_supernet, 1) == []
    assert evaluator(supernet, snapshots=1).score_many(archs) == evaluator(supernet).score_many(archs)


def test_the_ensemble_score_is_the_mean_over_final_weights_and_snapshots(trained):
    folder, supernet = trained
    archs = [SPACE.sample(np.random.default_rng(i)) for i in range(6)]
    snapshots = load_snapshots(folder, SPACE.build_supernet, 3)
    assert len(snapshots) == 2
    assert same(snapshots[0].state_dict(), RunFolder(folder).read_snapshot(3)["supernet"])  # oldest first
    ensemble = evaluator(supernet, snapshots=3, snapshot_supernets=snapshots).score_many(archs)
    members = [evaluator(net).score_many(archs) for net in (supernet, *snapshots)]
    assert ensemble == pytest.approx([sum(s) / 3 for s in zip(*members)], abs=1e-12)
    assert members[0] != members[1]  # the snapshots are other weights: the mean is not the plain score
    two = evaluator(supernet, snapshots=2, snapshot_supernets=load_snapshots(folder, SPACE.build_supernet, 2))
    assert two.score_many(archs) == pytest.approx([(a + c) / 2 for a, _, c in zip(*members)], abs=1e-12)


def test_asking_for_more_snapshots_than_the_run_kept_is_refused(trained):
    folder, _ = trained
    with pytest.raises(RunFolderError, match=r"keeps 2 snapshot\(s\) \[3, 4\], and evaluator.snapshots=4 needs 3"):
        load_snapshots(folder, SPACE.build_supernet, 4)


def test_the_evaluator_needs_one_supernet_per_snapshot(trained):
    _, supernet = trained
    with pytest.raises(ConfigError, match="evaluator.snapshots=3 averages the final weights and 2 earlier"):
        evaluator(supernet, snapshots=3)
