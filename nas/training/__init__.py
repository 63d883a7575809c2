"""Supernet training: one loop (``Trainer``) for every training method (``TrainingMethod``).

``Trainer`` owns the loop, the budget, checkpoints and exact resume, signals, logging and progress;
a method says what one step does (``OneShot``: a path sampler picks children, the weights train).
Under torchrun the loop runs on every rank (``Distributed``: sharded batches, one gradient all-reduce
per step, global feedback, a cross-rank check of the children).
Path samplers, data samplers and callbacks hear the same hooks (``TrainingHooks``): the budget once
(``TrainingBudget``) and every step's ``StepFeedback``, restricted to what they declare in ``needs``.
See docs/architecture.md, "Training methods".
"""

from nas.training.anytime import AnytimeRecord
from nas.training.architecture_search import ArchitectureSearch
from nas.training.bilevel import Bilevel
from nas.training.budget import TrainingBudget
from nas.training.controller import ControllerTraining
from nas.training.distributed import Distributed, DistributedExecution
from nas.training.execution import Execution, resolve_device
from nas.training.feedback import MEASUREMENTS, StepFeedback
from nas.training.hooks import TrainingHooks
from nas.training.loop import Trainer, TrainerCallback, TrainState
from nas.training.method import Batch, StepOutput, TrainingMethod
from nas.training.one_shot import OneShot
from nas.training.rarts import RARTS
from nas.training.optimization import Optimization, cosine_schedule
from nas.training.snapshots import SnapshotCallback, load_snapshots, snapshot_epochs

__all__ = [
    "MEASUREMENTS",
    "AnytimeRecord",
    "ArchitectureSearch",
    "Batch",
    "Bilevel",
    "ControllerTraining",
    "Distributed",
    "DistributedExecution",
    "Execution",
    "OneShot",
    "Optimization",
    "RARTS",
    "StepFeedback",
    "SnapshotCallback",
    "StepOutput",
    "TrainState",
    "Trainer",
    "TrainerCallback",
    "TrainingBudget",
    "TrainingHooks",
    "TrainingMethod",
    "cosine_schedule",
    "load_snapshots",
    "resolve_device",
    "snapshot_epochs",
]
