"""Balanced Mixture of SuperNets as a trainer callback: K supernets from the first step, a learned assignment.

The sibling of ``nas.few_shot.FewShotSchedule`` (same config group, ``few_shot=bmos``): where a few-shot split
partitions the space by a decision's options at a split epoch, the balanced mixture assigns every architecture
to one of K supernets by what training measures, from step 0 on (``supernets.balanced_mixture``).

Budget: the run keeps the trainer's budget (the same steps as a one-shot run): every step trains the children the
path sampler picks, each on the one supernet the assignment draws for it, so each supernet sees about 1/K of the
steps. The assignment costs no forward pass (it reads the step's training losses).
"""

from __future__ import annotations

import copy
import sys
from typing import Any

import torch

from nas.errors import ConfigError
from nas.few_shot import inherit_optimizer
from nas.run_folder import AssignedConfiguration, BalancedMixtureSummary, RunFolder
from nas.search_space import SearchSpace
from nas.training.feedback import StepFeedback
from nas.training.loop import Trainer, TrainerCallback
from supernets.balanced_mixture import BalancedMixtureSupernet
from supernets.base import Supernet
from supernets.split import SplitSupernet

MAX_ARCHITECTURES = 5_000
INITS = ("independent", "copy")


class BalancedMixtureSchedule(TrainerCallback):
    """Trains ``supernets`` supernets of ``space`` with a learned, balanced architecture-to-supernet assignment.

    At the start of training the space's supernet becomes member 0 of a ``BalancedMixtureSupernet`` over every
    architecture of ``space`` (``space.enumerate()``; at most ``MAX_ARCHITECTURES``); members 1..K-1 are copies
    re-initialised from ``seed`` (``init="independent"``, the paper's independently initialised models) or exact
    copies (``init="copy"``). Each step, every child trains on the member its balanced soft assignment draws
    (``temperature``: how sharply lower losses pull; ``tolerance``: how close to N/K every supernet's expected
    share must be), and the step's losses update the assignment (``decay``: moving average; ``relative``: of each
    loss minus the moving average of all losses, ``baseline_decay``, so that early and late losses compare). Scoring uses the
    hard balanced assignment: ``floor(N/K)`` or ``ceil(N/K)`` architectures per supernet. The assignment lives in
    the supernet's ``state_dict()`` (the checkpoint's ``supernet``), so resume is exact and ``nas search``
    scores with it; on resume this callback rebuilds the structure before the weights load. At the end of training
    the run folder gets ``balanced_mixture.json`` (``nas.run_folder.BalancedMixtureSummary``: every configuration's
    supernet, its estimated losses and soft assignment, the child steps per supernet), which `nas run`'s report
    shows. ``supernets=1`` is the single supernet, step for step (no random number is drawn).

    Example:
        >>> from nas.training.budget import TrainingBudget
        >>> from search_spaces.downsample import DownsampleSearchSpace
        >>> space = DownsampleSearchSpace(input_size=8, stem_channels=4, stage_widths=[4, 8], blocks_per_stage=2,
        ...                               first_positions=[0, 1], second_positions=[2, 3])
        >>> schedule = BalancedMixtureSchedule(space, supernets=2)
        >>> mixture = schedule.build(space.build_supernet())
        >>> len(mixture.members), mixture.assignment.counts()
        (2, [2, 2])
    """

    needs = frozenset({"losses"})

    def __init__(self, space: SearchSpace, supernets: int = 2, temperature: float = 0.05, decay: float = 0.9,
                 tolerance: float = 0.01, relative: bool = True, baseline_decay: float = 0.98,
                 init: str = "independent", seed: int = 0, supernet: Supernet | None = None):
        if space.size > MAX_ARCHITECTURES:
            raise ConfigError(f"a balanced mixture keeps a loss per (architecture, supernet): {space.name} has "
                              f"{space.size:,} architectures, more than {MAX_ARCHITECTURES:,}; use few_shot=gm2 or "
                              "exhaustive on this space")
        if not 1 <= int(supernets) <= space.size:
            raise ConfigError(f"few_shot.supernets={supernets} must lie in [1, {space.size}] (the architectures of "
                              f"{space.name})")
        if init not in INITS:
            raise ConfigError(f"few_shot.init must be one of {INITS}, got {init!r}")
        if supernet is not None and isinstance(supernet, (SplitSupernet, BalancedMixtureSupernet)):
            raise ConfigError(f"a balanced mixture is built over the space's own supernet, not a "
                              f"{type(supernet).__name__}")
        self.space, self.supernets, self.init, self.seed = space, int(supernets), init, int(seed)
        self.temperature, self.decay, self.tolerance = float(temperature), float(decay), float(tolerance)
        self.relative, self.baseline_decay = bool(relative), float(baseline_decay)
        self.architectures = list(space.enumerate())
        self.mixture: BalancedMixtureSupernet | None = None

    def build(self, supernet: Supernet) -> BalancedMixtureSupernet:
        """The mixture over ``supernet`` (member 0) and K-1 more (re-initialised from ``seed``, or copies)."""
        members = [supernet]
        for k in range(1, self.supernets):
            member = copy.deepcopy(supernet)
            if self.init == "independent":
                with torch.random.fork_rng(devices=[]):  # the global RNG stream stays the one-shot run's
                    torch.manual_seed(self.seed * 1_000 + k)
                    for module in member.modules():
                        if module is not member and hasattr(module, "reset_parameters"):
                            module.reset_parameters()
            members.append(member)
        mixture = BalancedMixtureSupernet(members, self.architectures, self.seed, self.temperature, self.decay,
                                          self.tolerance, self.relative, self.baseline_decay)
        return mixture.train(supernet.training)

    # -- the trainer's events -------------------------------------------------------------------------
    def _install(self, trainer: Trainer) -> None:
        if isinstance(trainer.supernet, BalancedMixtureSupernet):
            self.mixture = trainer.supernet
            return
        if isinstance(trainer.supernet, SplitSupernet):
            raise ConfigError("a balanced mixture cannot be combined with a few-shot split")
        self.mixture = self.build(trainer.supernet)
        trainer.method.set_supernet(self.mixture)
        inherit_optimizer(trainer.method.optimizer, list(self.mixture.parameters()), {})

    def on_resume(self, trainer: Trainer) -> None:
        """Rebuild the mixture (structure only) before the trainer loads its weights and assignment."""
        self._install(trainer)

    def on_train_start(self, trainer: Trainer) -> None:
        self._install(trainer)
        self.mixture.step = trainer.state.step

    def observe(self, feedback: StepFeedback) -> None:
        """Each child's training loss, on the member it trained on, into the assignment."""
        if self.mixture is None or feedback.losses is None:
            return
        for arch, loss in zip(feedback.archs, feedback.losses):
            index = self.mixture.index(arch)
            self.mixture.assignment.observe(index, self.mixture.assignment.sample(index, feedback.step,
                                                                                  self.mixture.seed), loss)

    def on_step_end(self, trainer: Trainer) -> None:
        self.mixture.step = trainer.state.step  # the step the next forward passes belong to

    def on_train_end(self, trainer: Trainer) -> None:
        if not trainer.distributed.is_main:
            return
        self.write_summary(trainer)
        if self.supernets > 1:
            summary = self.mixture.summary()
            print(f"balanced mixture: {summary['supernets']} supernets, architectures per supernet "
                  f"{summary['counts']}, child steps per supernet {summary['trained']} "
                  f"(assignment: {RunFolder(trainer.output_dir).balanced_mixture})", file=sys.stderr)

    def assignment_summary(self, train_steps: int) -> BalancedMixtureSummary:
        """The mixture's assignment as ``balanced_mixture.json`` holds it: every configuration's supernet in the
        hard balanced assignment (what scoring uses), its estimated losses, soft assignment and child steps."""
        assignment = self.mixture.assignment
        hard, losses = assignment.assignment().tolist(), assignment.estimates().tolist()
        probabilities, steps = assignment.probabilities().tolist(), assignment.count.cpu().tolist()
        rows = [AssignedConfiguration(str(self.space.make(arch)), int(hard[i]), losses[i], probabilities[i], steps[i])
                for i, arch in enumerate(self.mixture.architectures)]
        settings = {"temperature": assignment.temperature, "decay": assignment.decay,
                    "relative": assignment.relative, "baseline_decay": assignment.baseline_decay,
                    "tolerance": assignment.tolerance, "init": self.init, "seed": self.mixture.seed}
        return BalancedMixtureSummary(len(self.mixture.members), settings, int(train_steps),
                                      float(assignment.baseline), assignment.counts(),
                                      [int(t) for t in assignment.count.sum(0).tolist()], rows)

    def write_summary(self, trainer: Trainer) -> None:
        """Write ``balanced_mixture.json`` into the trainer's run folder (rank 0; the same file for a resumed run
        as for an uninterrupted one: it holds no time). ``nas.pipeline.train_stage`` calls it after ``fit()`` as
        well, so a folder whose training had finished gets the file from its checkpoint."""
        if trainer.distributed.is_main and self.mixture is not None:
            RunFolder(trainer.output_dir).write_balanced_mixture(self.assignment_summary(trainer.state.step))

    def state_dict(self) -> dict[str, Any]:
        return {}  # the assignment is the supernet's (its buffers and extra state)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass
