"""BalancedMixtureSchedule in the training loop: K = 1 trains exactly the plain supernet, K > 1 keeps the balance
and learns from every step, and a run resumed from a checkpoint equals the uninterrupted run exactly."""

from __future__ import annotations

import doctest
import functools
import shutil

import pytest
import torch

import nas.balanced_mixture as module
from nas.balanced_mixture import BalancedMixtureSchedule
from nas.checkpoint import load_checkpoint
from nas.data import synthetic
from nas.errors import ConfigError
from nas.run_folder import RunFolder
from nas.training import OneShot, Optimization, Trainer
from samplers import UniformDataSampler, UniformPathSampler
from search_spaces.downsample import DownsampleSearchSpace
from supernets.balanced_mixture import BalancedMixtureSupernet

SPACE = DownsampleSearchSpace(input_size=8, num_classes=4, stem_channels=4, stage_widths=[4, 8], blocks_per_stage=2,
                              first_positions=[0, 1], second_positions=[2, 3], pools=["stride", "avg"])
DATA = synthetic(train_size=128)


def make(out, supernets: int | None, max_steps: int = 12, **kwargs) -> Trainer:
    torch.manual_seed(0)
    method = OneShot(SPACE.build_supernet(), UniformPathSampler(SPACE, seed=0),
                     Optimization(functools.partial(torch.optim.SGD, lr=0.1, momentum=0.9, weight_decay=5e-4)))
    callbacks = [BalancedMixtureSchedule(SPACE, supernets=supernets, seed=0)] if supernets else []
    return Trainer(method, DATA.train, UniformDataSampler(len(DATA.train), seed=0), out, epochs=3, batch_size=32,
                   max_steps=max_steps, progress=False, tensorboard=False, callbacks=callbacks, **kwargs)


def test_one_supernet_trains_exactly_the_plain_supernet(tmp_path):
    plain, single = make(tmp_path / "plain", None), make(tmp_path / "single", 1)
    plain.fit(), single.fit()
    assert isinstance(single.supernet, BalancedMixtureSupernet) and len(single.supernet.members) == 1
    a, b = plain.supernet.state_dict(), single.supernet.state_dict()
    assert all(torch.equal(value, b[f"members.0.{key}"]) for key, value in a.items())
    summary = RunFolder(tmp_path / "single").read_balanced_mixture()             # a trivial assignment file
    assert summary.supernets == 1 and summary.counts == [SPACE.size] and summary.trained == [12]
    assert set(summary.assignment().values()) == {0} and len(summary.configurations) == SPACE.size
    assert all(row.probabilities == [1.0] for row in summary.configurations)
    assert RunFolder(tmp_path / "plain").read_balanced_mixture() is None


def test_k_supernets_share_the_steps_and_keep_the_balance(tmp_path):
    trainer = make(tmp_path / "bmos", 4, max_steps=12)
    trainer.fit()
    mixture = trainer.supernet
    assert isinstance(mixture, BalancedMixtureSupernet) and len(mixture.members) == 4
    assert int(mixture.assignment.count.sum()) == 12                  # one child per step, each observed once
    assert mixture.assignment.counts() == [2, 2, 2, 2]                # 8 configurations, 4 supernets
    trained = [int(c) for c in mixture.assignment.count.sum(0)]
    assert sum(trained) == 12 and sum(1 for steps in trained if steps) >= 2
    torch.manual_seed(0)
    initial = BalancedMixtureSchedule(SPACE, supernets=4, seed=0).build(SPACE.build_supernet())
    for before, after, steps in zip(initial.members, mixture.members, trained):  # only chosen members train
        changed = any(not torch.equal(p, q) for p, q in zip(before.parameters(), after.parameters()))
        assert changed == (steps > 0)
    assert mixture.eval()(DATA.valid.x[:8], SPACE.largest()).shape == (8, 4)


def test_members_start_independent_or_as_copies():
    plain = SPACE.build_supernet()
    independent = BalancedMixtureSchedule(SPACE, supernets=2, seed=0).build(plain)
    first, second = (dict(m.named_parameters()) for m in independent.members)
    assert any(not torch.equal(first[k], second[k]) for k in first)
    again = BalancedMixtureSchedule(SPACE, supernets=2, seed=0).build(SPACE.build_supernet())
    assert all(torch.equal(p, q) for p, q in zip(again.members[1].parameters(), independent.members[1].parameters()))
    copies = BalancedMixtureSchedule(SPACE, supernets=2, init="copy").build(SPACE.build_supernet())
    assert all(torch.equal(p, q) for p, q in zip(copies.members[0].parameters(), copies.members[1].parameters()))


def test_the_run_folder_gets_the_assignment_that_scoring_uses(tmp_path):
    from nas.pipeline import load_trained_supernet

    trainer = make(tmp_path, 3, max_steps=12)
    trainer.fit()
    mixture, summary = trainer.supernet, RunFolder(tmp_path).read_balanced_mixture()
    assert summary.supernets == 3 and summary.train_steps == 12
    assert summary.settings == {"temperature": 0.05, "decay": 0.9, "relative": True, "baseline_decay": 0.98,
                                "tolerance": 0.01, "init": "independent", "seed": 0}
    archs = [SPACE.make(arch) for arch in mixture.architectures]
    assert [row.arch for row in summary.configurations] == [str(arch) for arch in archs]
    assert [row.supernet for row in summary.configurations] == mixture.assignment.assignment().tolist()
    loaded = load_trained_supernet(tmp_path, SPACE).eval()                     # what the evaluator scores with
    assert summary.assignment() == {str(arch): loaded.route(arch) for arch in archs}
    assert sorted(summary.counts) == [2, 3, 3] and sum(summary.counts) == SPACE.size   # floor / ceil of 8 / 3
    assert summary.counts == mixture.assignment.counts()
    assert summary.trained == mixture.assignment.count.sum(0).tolist() and sum(summary.trained) == 12
    assert [row.loss for row in summary.configurations] == mixture.assignment.estimates().tolist()
    assert [row.steps for row in summary.configurations] == mixture.assignment.count.tolist()
    assert all(abs(sum(row.probabilities) - 1) < 1e-9 for row in summary.configurations)
    assert summary.baseline == float(mixture.assignment.baseline) != 0.0


def test_the_report_shows_the_assignment(tmp_path):
    from hydra import compose, initialize_config_dir

    from nas.cli.common import CONF_DIR
    from nas.pipeline import RunResult, balanced_mixture_lines, write_run_report
    from nas.searchers.base import Trial

    make(tmp_path, 2, max_steps=6).fit()
    summary = RunFolder(tmp_path).read_balanced_mixture()
    [line], section = balanced_mixture_lines(tmp_path)
    assert line.startswith(f"- balanced mixture (few_shot=bmos): 2 supernets, configurations per supernet "
                           f"{summary.counts}, child steps per supernet {summary.trained}")
    table = [row for row in section if row.startswith("| `")]
    assert len(table) == SPACE.size
    for row in summary.configurations:                            # configuration -> supernet, every loss, bold: its own
        [cells] = [t.split(" | ") for t in table if t.startswith(f"| `{row.arch}` |")]
        assert int(cells[1]) == row.supernet and cells[2 + row.supernet] == f"**{row.loss[row.supernet]:+.4f}**"
        assert cells[3 - row.supernet] == f"{row.loss[1 - row.supernet]:+.4f}"
    assert [int(t.split(" | ")[1]) for t in table] == sorted(s.supernet for s in summary.configurations)
    assert balanced_mixture_lines(tmp_path / "nothing") == ([], [])
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3", job_name="t"):
        cfg = compose("run", overrides=["preset=smoke", "few_shot=bmos"])
    trials = [Trial(i, SPACE.make(arch), 50.0 + i, SPACE.cost(SPACE.make(arch)))
              for i, arch in enumerate(SPACE.enumerate())]
    report = write_run_report(cfg, RunResult(tmp_path, trials), SPACE).read_text()
    assert line in report and "## Balanced mixture: configuration → supernet" in report
    assert all(row in report for row in table)


@pytest.mark.parametrize("stop_at", [3, 8])
def test_resume_from_a_checkpoint_equals_the_uninterrupted_run(tmp_path, stop_at):
    straight = make(tmp_path / "a", 2, checkpoint_every=1)
    original = straight.save_checkpoint

    def save_and_copy(*args, **kwargs):
        path = original(*args, **kwargs)
        if straight.state.step == stop_at and not (tmp_path / "b").exists():
            shutil.copytree(tmp_path / "a", tmp_path / "b")
        return path

    straight.save_checkpoint = save_and_copy
    straight.fit()
    assert load_checkpoint(RunFolder(tmp_path / "b").checkpoint)["train_state"]["step"] == stop_at
    resumed = make(tmp_path / "b", 2, checkpoint_every=1)
    assert resumed.fit().step == straight.state.step == 12
    a, b = straight.supernet.state_dict(), resumed.supernet.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a if k != "_extra_state")
    assert a["_extra_state"] == b["_extra_state"]
    assert torch.equal(straight.supernet.assignment.loss, resumed.supernet.assignment.loss)
    first, second = (RunFolder(tmp_path / name).balanced_mixture.read_bytes() for name in "ab")
    assert first == second                                           # the same assignment file, byte for byte


def test_a_finished_folder_gets_its_assignment_file_from_the_checkpoint(tmp_path):
    make(tmp_path, 2).fit()
    folder = RunFolder(tmp_path)
    written = folder.balanced_mixture.read_bytes()
    folder.balanced_mixture.unlink()
    again = make(tmp_path, 2)
    [schedule] = again.callbacks
    again.fit()                                                      # finished: nothing trained, no on_train_end
    assert not folder.balanced_mixture.exists()
    schedule.write_summary(again)                                    # what nas.pipeline.train_stage does after fit()
    assert folder.balanced_mixture.read_bytes() == written


def test_config_errors():
    with pytest.raises(ConfigError, match=r"few_shot.supernets=9 must lie in \[1, 8\]"):
        BalancedMixtureSchedule(SPACE, supernets=9)
    with pytest.raises(ConfigError, match="few_shot.init must be one of"):
        BalancedMixtureSchedule(SPACE, init="zeros")
    from search_spaces.nb201 import NB201SearchSpace
    with pytest.raises(ConfigError, match="more than 5,000"):
        BalancedMixtureSchedule(NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8))


def test_docstring_examples():
    assert doctest.testmod(module).failed == 0
