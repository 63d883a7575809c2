"""The any-time record: the argmax architecture every `every` epochs and at the end, its file, and exact resume."""

from __future__ import annotations

import functools

import pytest
import torch

from nas.data import synthetic
from nas.errors import ConfigError
from nas.run_folder import RunFolder
from nas.training import AnytimeRecord, Bilevel, OneShot, Optimization, Trainer, TrainerCallback
from samplers import UniformDataSampler, UniformPathSampler
from search_spaces.nb201 import NB201SearchSpace
from tests.nas.training.helpers import KillAt

SPACE = NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
DATA = synthetic(train_size=128, valid_size=64)
STEPS_PER_EPOCH = 4  # 128 images: 64 train the weights, 64 the architecture; batch 16


class ArgmaxAtEpochEnds(TrainerCallback):
    """The method's argmax architecture at every epoch end, in memory (what the record must hold)."""

    def __init__(self):
        self.archs: dict[int, str] = {}

    def on_epoch_end(self, trainer):
        self.archs[trainer.state.epoch] = str(trainer.method.found_architecture())


def bilevel_trainer(folder, callbacks, epochs=5, **loop) -> Trainer:
    torch.manual_seed(0)
    sgd = functools.partial(torch.optim.SGD, lr=0.1, momentum=0.9)
    adam = functools.partial(torch.optim.Adam, lr=0.05)  # large: the argmax changes within a few steps
    method = Bilevel(SPACE.build_supernet(), Optimization(sgd), Optimization(adam), seed=0)
    train = method.bind_data(DATA.train)
    return Trainer(method, train, UniformDataSampler(len(train), seed=0), folder, epochs=epochs, batch_size=16,
                   progress=False, tensorboard=False, checkpoint_every=3, callbacks=callbacks, **loop)


def points(folder) -> list[tuple[int, int, str | None, bool]]:
    return [(p.epoch, p.step, p.arch, p.final) for p in RunFolder(folder).read_anytime()]


def test_records_the_argmax_of_every_epoch_and_the_end(tmp_path):
    truth = ArgmaxAtEpochEnds()
    trainer = bilevel_trainer(tmp_path, [AnytimeRecord(every=1), truth])
    trainer.fit()
    recorded = points(tmp_path)
    assert [(e, s) for e, s, _, _ in recorded] == [(e, e * STEPS_PER_EPOCH) for e in range(1, 6)]
    assert [a for _, _, a, _ in recorded] == [truth.archs[e] for e in range(1, 6)]
    assert len(set(truth.archs.values())) > 1  # the argmax moved: the record follows it, epoch by epoch
    assert [f for *_, f in recorded] == [False] * 4 + [True]
    assert recorded[-1][2] == str(trainer.method.found_architecture())
    first = RunFolder(tmp_path).read_anytime()[0]
    assert first.peak_memory_mib["rss"] > 0 and 0 < first.seconds


def test_every_k_epochs_and_a_budget_cut_inside_an_epoch(tmp_path):
    bilevel_trainer(tmp_path / "every2", [AnytimeRecord(every=2)]).fit()
    assert [(e, s, f) for e, s, _, f in points(tmp_path / "every2")] == [(2, 8, False), (4, 16, False), (5, 20, True)]
    bilevel_trainer(tmp_path / "cut", [AnytimeRecord(every=1)], max_steps=10).fit()  # stops in epoch 3
    assert [(e, s, f) for e, s, _, f in points(tmp_path / "cut")] == [(1, 4, False), (2, 8, False), (2, 10, True)]


def test_a_killed_run_resumes_to_exactly_the_same_record(tmp_path):
    bilevel_trainer(tmp_path / "straight", [AnytimeRecord()]).fit()
    with pytest.raises(RuntimeError, match="killed at step 14"):  # last checkpoint at step 12, epoch 3 recorded
        bilevel_trainer(tmp_path / "killed", [AnytimeRecord(), KillAt(14)]).fit()
    assert [e for e, *_ in points(tmp_path / "killed")] == [1, 2, 3]
    resumed = AnytimeRecord()
    bilevel_trainer(tmp_path / "killed", [resumed]).fit()
    assert points(tmp_path / "killed") == points(tmp_path / "straight")
    assert [p.epoch for p in resumed.points] == [1, 2, 3, 4, 5]  # its state came back from the checkpoint


def test_a_resumed_run_drops_points_recorded_after_its_checkpoint(tmp_path):
    """Killed after epoch 2's point (step 8) but before a checkpoint holds it (the last one: step 6): the resumed
    run's file starts from the checkpoint's points and records epoch 2 again, to the same architecture."""
    bilevel_trainer(tmp_path / "straight", [AnytimeRecord()]).fit()
    with pytest.raises(RuntimeError):
        bilevel_trainer(tmp_path / "killed", [AnytimeRecord(), KillAt(9)]).fit()
    assert [e for e, *_ in points(tmp_path / "killed")] == [1, 2]

    class Stop(TrainerCallback):
        def on_train_start(self, trainer):
            raise RuntimeError("stopped after loading the checkpoint")

    with pytest.raises(RuntimeError, match="stopped after loading"):
        bilevel_trainer(tmp_path / "killed", [AnytimeRecord(), Stop()]).fit()
    assert [e for e, *_ in points(tmp_path / "killed")] == [1]  # the checkpoint (step 6) holds epoch 1's point only
    bilevel_trainer(tmp_path / "killed", [AnytimeRecord()]).fit()
    assert points(tmp_path / "killed") == points(tmp_path / "straight")


def test_which_runs_record_and_bad_values():
    bilevel = Bilevel(SPACE.build_supernet(), Optimization(functools.partial(torch.optim.SGD, lr=0.1)),
                      Optimization(functools.partial(torch.optim.Adam, lr=0.01)))
    one_shot = OneShot(SPACE.build_supernet(), UniformPathSampler(SPACE),
                       Optimization(functools.partial(torch.optim.SGD, lr=0.1)))
    assert AnytimeRecord().wanted(bilevel) and not AnytimeRecord(every=0).wanted(bilevel)
    assert not AnytimeRecord().wanted(one_shot) and AnytimeRecord(all_methods=True).wanted(one_shot)
    with pytest.raises(ConfigError, match="anytime.every must be an integer >= 0"):
        AnytimeRecord(every=-1)


def test_a_one_shot_run_with_all_methods_records_cost_and_memory_only(tmp_path):
    torch.manual_seed(0)
    method = OneShot(SPACE.build_supernet(), UniformPathSampler(SPACE, seed=0),
                     Optimization(functools.partial(torch.optim.SGD, lr=0.1)))
    Trainer(method, DATA.train, UniformDataSampler(len(DATA.train), seed=0), tmp_path, epochs=2, batch_size=32,
            progress=False, tensorboard=False, callbacks=[AnytimeRecord(all_methods=True)]).fit()
    recorded = RunFolder(tmp_path).read_anytime()
    assert [(p.epoch, p.arch, p.final) for p in recorded] == [(1, None, False), (2, None, True)]
    assert all(p.peak_memory_mib["rss"] > 0 for p in recorded)


def test_docstring_example():
    import doctest

    import nas.training.anytime

    result = doctest.testmod(nas.training.anytime, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0
