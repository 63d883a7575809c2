"""Any-time record of a search: the architecture a gradient-based method would return, every few epochs.

``AnytimeRecord(every)`` is a trainer callback. For a method that finds its architecture itself
(``TrainingMethod.found_architecture()`` is not None: DARTS, GDAS, DrNAS, RARTS, TangleNAS) it records, at the end
of every ``every``-th epoch and at the last step, the argmax architecture with the training seconds and the peak
memory so far, into the run folder's ``anytime.json`` (``RunFolder.write_anytime``, atomic). The search board
(`nas searchboard`) looks each recorded architecture up in the ground truth: the any-time curve.
``all_methods=true`` also records methods that find no architecture (cost and memory only: the board's SPOS and
random-search rows). ``every=0`` records nothing.

Resume is exact: the points are the callback's state, saved in every checkpoint; a resumed run rewrites the
file from them, and the steps it trains again record the same architectures (the architecture parameters resume
exactly).
"""

from __future__ import annotations

import resource
import sys
from typing import TYPE_CHECKING, Any

import torch

from nas.errors import ConfigError
from nas.run_folder import AnytimePoint
from nas.training.loop import TrainerCallback

if TYPE_CHECKING:
    from nas.training.loop import Trainer
    from nas.training.method import TrainingMethod


def peak_memory_mib(device: torch.device) -> dict[str, float]:
    """``rss``: the process's peak resident memory; ``cuda``: the peak memory allocated on the GPU (on CUDA)."""
    scale = 1.0 if sys.platform == "darwin" else 1024.0  # ru_maxrss is bytes on macOS, KiB on Linux
    peak = {"rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20}
    if device.type == "cuda":
        peak["cuda"] = torch.cuda.max_memory_allocated(device) / 2**20
    return peak


class AnytimeRecord(TrainerCallback):
    """Records the method's argmax architecture every ``every`` epochs and at the end (see the module docstring).

    Example:
        >>> import functools, tempfile, torch
        >>> from nas.data import synthetic
        >>> from nas.run_folder import RunFolder
        >>> from nas.training import Bilevel, Optimization, Trainer
        >>> from samplers import UniformDataSampler
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> data = synthetic(train_size=128)
        >>> space = NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
        >>> sgd, adam = functools.partial(torch.optim.SGD, lr=0.1), functools.partial(torch.optim.Adam, lr=0.01)
        >>> method = Bilevel(space.build_supernet(), Optimization(sgd), Optimization(adam))
        >>> train = method.bind_data(data.train)
        >>> folder = tempfile.mkdtemp()
        >>> record = AnytimeRecord(every=1)
        >>> record.wanted(method)
        True
        >>> trainer = Trainer(method, train, UniformDataSampler(len(train)), folder, epochs=3, batch_size=32,
        ...                   progress=False, tensorboard=False, callbacks=[record])
        >>> trainer.fit().step
        6
        >>> [(p.epoch, p.step, p.final) for p in RunFolder(folder).read_anytime()]
        [(1, 2, False), (2, 4, False), (3, 6, True)]
        >>> RunFolder(folder).read_anytime()[-1].arch == str(method.found_architecture())
        True
    """

    def __init__(self, every: int = 1, all_methods: bool = False):
        if isinstance(every, bool) or int(every) != every or every < 0:
            raise ConfigError(f"anytime.every must be an integer >= 0 (epochs between records; 0: none), got {every!r}")
        self.every = int(every)
        self.all_methods = bool(all_methods)
        self.points: list[AnytimePoint] = []

    def wanted(self, method: TrainingMethod) -> bool:
        """Whether this run records anything: ``every`` > 0, and a method that finds its architecture itself
        (or ``all_methods``)."""
        return self.every > 0 and (self.all_methods or method.found_architecture() is not None)

    # -- the loop's events ---------------------------------------------------------------------------------------
    def on_train_start(self, trainer: Trainer) -> None:
        if trainer.distributed.is_main:  # a resumed run: the file holds exactly the checkpoint's points
            trainer.folder.write_anytime(self.points)

    def on_epoch_end(self, trainer: Trainer) -> None:
        epoch = trainer.state.epoch  # epochs finished
        if epoch % self.every == 0 or trainer.state.step >= trainer.total_steps:
            self._record(trainer)

    def on_train_end(self, trainer: Trainer) -> None:
        self._record(trainer)  # a budget cut inside an epoch (trainer.max_steps), or the last epoch's point marked

    def _record(self, trainer: Trainer) -> None:
        step = trainer.state.step
        arch = trainer.method.found_architecture()
        point = AnytimePoint(trainer.state.epoch, step, round(float(trainer.state.seconds), 3),
                             None if arch is None else str(arch), peak_memory_mib(trainer.device),
                             final=step >= trainer.total_steps)
        self.points = [p for p in self.points if p.step < step] + [point]  # a step is recorded once
        if trainer.distributed.is_main:
            trainer.folder.write_anytime(self.points)

    # -- state ---------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"points": [p.to_json() for p in self.points]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.points = [AnytimePoint.from_json(p) for p in state.get("points", [])]
