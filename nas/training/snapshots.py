"""Snapshot ensemble: the supernet's weights at the end of the last epochs, kept to average scores over.

``SnapshotCallback(count)`` writes, through the run folder (``RunFolder.write_snapshot``, atomic), the
supernet's weights at the end of the last ``count - 1`` epochs that end before the final step; the
final weights themselves are the checkpoint's. ``load_snapshots`` reads them back for the evaluator
(``Evaluator(snapshots=count, snapshot_supernets=...)``), which scores a child as the mean over the
final weights and the snapshots. ``count`` is ``evaluator.snapshots`` of the config.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from nas.errors import ConfigError, RunFolderError
from nas.run_folder import RunFolder
from nas.training.budget import TrainingBudget
from nas.training.loop import TrainerCallback

if TYPE_CHECKING:
    from nas.training.loop import Trainer
    from supernets.base import Supernet


def snapshot_epochs(budget: TrainingBudget, count: int) -> list[int]:
    """The epochs (1-based) whose end a ``count``-snapshot ensemble keeps: the last ``count - 1`` epoch ends
    before the budget's final step (the final weights are the ensemble's last member).

    Example:
        >>> snapshot_epochs(TrainingBudget.of(epochs=30, steps_per_epoch=195), 3)
        [28, 29]
        >>> snapshot_epochs(TrainingBudget.of(epochs=8, steps_per_epoch=195, max_steps=1463), 3)  # cut in epoch 8
        [6, 7]
    """
    need = max(int(count) - 1, 0)
    ends = [e for e in range(1, budget.full_epochs + 1) if e * budget.steps_per_epoch < budget.total_steps]
    if need > len(ends):
        raise ConfigError(f"evaluator.snapshots={count} averages the final weights and the weights at the end of the "
                          f"{need} epochs before them, but the budget ({budget.total_steps} steps) has only "
                          f"{len(ends)} epoch ends before its last step: lower evaluator.snapshots or raise "
                          "trainer.epochs")
    return ends[len(ends) - need:]


class SnapshotCallback(TrainerCallback):
    """Keeps the supernet's weights at the end of each of the epochs ``snapshot_epochs(budget, count)``.

    Each snapshot is ``{"epoch", "step", "total_steps", "supernet"}`` in ``RunFolder.snapshot(epoch)``,
    written atomically. Resume needs no state of its own: a killed run retrains from its last
    checkpoint and rewrites any snapshot after it with the same weights (resume is exact).

    Example:
        >>> import functools, tempfile, torch
        >>> from nas.data import synthetic
        >>> from nas.training import OneShot, Optimization, Trainer
        >>> from samplers import UniformDataSampler, UniformPathSampler
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> data = synthetic(train_size=64)
        >>> space = NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
        >>> method = OneShot(space.build_supernet(), UniformPathSampler(space),
        ...                  Optimization(functools.partial(torch.optim.SGD, lr=0.1)))
        >>> folder = tempfile.mkdtemp()
        >>> trainer = Trainer(method, data.train, UniformDataSampler(len(data.train)), folder, epochs=4,
        ...                   batch_size=32, progress=False, tensorboard=False, callbacks=[SnapshotCallback(3)])
        >>> trainer.fit().step, RunFolder(folder).snapshot_epochs()
        (8, [2, 3])
        >>> len(load_snapshots(folder, space.build_supernet, 3))
        2
    """

    def __init__(self, count: int):
        if isinstance(count, bool) or int(count) != count or count < 0:
            raise ConfigError(f"evaluator.snapshots must be an integer >= 0, got {count!r}")
        self.count = int(count)
        self.epochs: frozenset[int] = frozenset()

    def set_budget(self, budget: TrainingBudget) -> None:
        super().set_budget(budget)
        self.epochs = frozenset(snapshot_epochs(budget, self.count))

    def on_epoch_end(self, trainer: Trainer) -> None:
        epoch = trainer.state.epoch  # the number of epochs finished
        if epoch in self.epochs and trainer.distributed.is_main:  # rank 0 writes, as it writes checkpoints
            trainer.folder.write_snapshot(epoch, {"epoch": epoch, "step": trainer.state.step,
                                                  "total_steps": trainer.total_steps,
                                                  "supernet": trainer.supernet.state_dict()})


def load_snapshots(folder: str | RunFolder, build_supernet: Callable[[], Supernet], count: int) -> list[Supernet]:
    """The ``count - 1`` snapshots of a finished run that a ``count``-snapshot ensemble averages with its final
    weights, oldest first, each loaded into a fresh ``build_supernet()`` (a few-shot split restored first).

    Refused, naming the fix, when the folder holds fewer (it was trained with a smaller
    ``evaluator.snapshots``) or when they are not the last epochs before the end of training.
    """
    from supernets.split import restore_split

    folder = folder if isinstance(folder, RunFolder) else RunFolder(folder)
    need = max(int(count) - 1, 0)
    if need == 0:
        return []
    have = folder.snapshot_epochs()
    if len(have) < need:
        raise RunFolderError(f"{folder.path} keeps {len(have)} snapshot(s) {have}, and evaluator.snapshots={count} "
                             f"needs {need} besides the final weights: train with evaluator.snapshots={count} "
                             "(a new run_dir), or lower evaluator.snapshots")
    chosen = have[-need:]
    supernets = []
    for epoch in chosen:
        snapshot = folder.read_snapshot(epoch)
        steps_per_epoch = int(snapshot["step"]) // epoch
        last_end = (int(snapshot["total_steps"]) - 1) // steps_per_epoch
        if chosen != list(range(last_end - need + 1, last_end + 1)):
            raise RunFolderError(f"{folder.path}'s snapshots {have} are not the last {need} epochs before the end of "
                                 f"training (epochs {last_end - need + 1}..{last_end}): delete them and retrain")
        supernet = restore_split(build_supernet(), snapshot["supernet"])
        supernet.load_state_dict(snapshot["supernet"])
        supernets.append(supernet)
    return supernets
