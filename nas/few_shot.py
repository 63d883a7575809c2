"""Few-shot schedule: a trainer callback that splits the supernet at configured epochs.

Budget: the run keeps the trainer's budget (the same steps as a one-shot run; ``set_budget`` checks
that the split epochs end before it does). Every step trains the children the path sampler picks,
each on the one sub-supernet that owns it, so after a split each sub-supernet sees only its share of
the steps. Gradient-matching scoring is extra work outside the step budget; its seconds are measured
and written to ``few_shot.json``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from nas.architecture import Architecture, Option
from nas.errors import ConfigError
from nas.run_folder import FewShotSummary, RunFolder
from nas.search_space import SearchSpace
from nas.training.budget import TrainingBudget
from nas.training.loop import Trainer, TrainerCallback
from supernets.base import Supernet
from supernets.gradient_matching import score_decision
from supernets.split import ParentMap, SplitSupernet, split_supernet

METHODS = ("gradient_matching", "exhaustive")


def inherit_optimizer(optimizer: torch.optim.Optimizer, params: Sequence[nn.Parameter], parents: ParentMap
                      ) -> torch.optim.Optimizer:
    """Point ``optimizer`` at ``params`` (the new supernet's, in order); each parameter joins its parent's
    param group and starts from a clone of its parent's state (momentum buffers, step counts).

    The optimizer object is kept (and with it the LR scheduler's binding and step count); a parameter
    without a parent joins the first group with no state. Parameters kept as they are keep their state.

    Example:
        >>> old = nn.Parameter(torch.ones(2))
        >>> opt = torch.optim.SGD([old], lr=0.1, momentum=0.9)
        >>> old.grad = torch.ones(2); opt.step()
        >>> new = nn.Parameter(old.detach().clone())
        >>> _ = inherit_optimizer(opt, [new], {new: old})
        >>> opt.state[new]["momentum_buffer"].tolist(), opt.param_groups[0]["params"] == [new]
        ([1.0, 1.0], True)
    """
    group_of = {id(p): i for i, group in enumerate(optimizer.param_groups) for p in group["params"]}
    old_state = optimizer.state
    new_groups: list[list[nn.Parameter]] = [[] for _ in optimizer.param_groups]
    new_state: dict[nn.Parameter, dict[str, Any]] = {}
    for param in params:
        source = parents.get(param, param)
        new_groups[group_of.get(id(source), 0)].append(param)
        if source in old_state:
            new_state[param] = {k: v.clone() if torch.is_tensor(v) else v for k, v in old_state[source].items()}
    for group, members in zip(optimizer.param_groups, new_groups):
        group["params"] = members
    optimizer.state.clear()
    optimizer.state.update(new_state)
    return optimizer


class FewShotSchedule(TrainerCallback):
    """Splits the supernet into sub-supernets at the end of the epochs in ``split_epochs``.

    ``method="gradient_matching"`` (GM-NAS): at each split epoch every current sub-supernet is split
    in two on its own best decision (largest gradient-matching cut, scored on that sub-supernet's
    weights, or ``decision`` when set), so ``sub_supernets == 2 ** len(split_epochs)``.
    ``method="exhaustive"`` (few-shot NAS): one split, one sub-supernet per option of ``decision``
    (``null``: the decision with the largest gradient-matching cut). Sub-supernets inherit the
    parent's weights and optimizer state; ``restart=true`` re-initialises them (and their optimizer
    state) after the last split instead. The split history is this callback's state: on resume it
    re-applies the splits (structure only) before the trainer loads the weights. The trainer's budget
    (``set_budget``) must leave steps after the last split epoch. Configured by the ``few_shot`` config
    group (``few_shot=gm2 | gm4 | exhaustive``; ``none`` trains one-shot).

    Example:
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> space = NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
        >>> schedule = FewShotSchedule(space, method="exhaustive", split_epochs=[1], sub_supernets=5, decision="1<-0")
        >>> schedule.set_budget(TrainingBudget(total_steps=20, steps_per_epoch=10))   # 2 epochs: split after the 1st
        >>> schedule.expected_leaves
        5
    """

    def __init__(self, space: SearchSpace, method: str = "gradient_matching", split_epochs: Sequence[int] = (10,),
                 sub_supernets: int | None = 2, decision: str | None = None, gm_batches: int = 4,
                 gm_batch_size: int = 256, restart: bool = False, seed: int = 0, supernet: Supernet | None = None):
        if method not in METHODS:
            raise ConfigError(f"few_shot.method must be one of {METHODS}, got {method!r}")
        self.space, self.method, self.decision = space, method, decision
        self.split_epochs = sorted(int(e) for e in split_epochs)
        self.gm_batches, self.gm_batch_size = int(gm_batches), int(gm_batch_size)
        self.restart, self.seed = bool(restart), int(seed)
        decisions = space.decisions
        if supernet is not None:
            self._check_supernet(supernet)
        if not self.split_epochs or len(set(self.split_epochs)) != len(self.split_epochs):
            raise ConfigError(f"few_shot.split_epochs must list distinct epochs, got {list(split_epochs)}")
        if self.split_epochs[0] < 1:
            raise ConfigError(f"split epochs {self.split_epochs} must be at least 1: the split happens at the end "
                              "of that epoch, after one-shot warm-up")
        if decision is not None and decision not in decisions:
            raise ConfigError(f"few_shot.decision={decision!r} is not a decision of {space.name}: "
                              f"choose one of {list(decisions)} or null (largest gradient-matching score)")
        if decision is not None and len(decisions[decision]) < 2:
            raise ConfigError(f"decision {decision!r} has a single option {list(decisions[decision])}: there is "
                              "nothing to split; choose a decision with several options")
        if method == "exhaustive":
            if len(self.split_epochs) != 1:
                raise ConfigError(f"the exhaustive split happens once; got split_epochs={self.split_epochs}")
            if decision is not None and sub_supernets not in (None, len(decisions[decision])):
                raise ConfigError(f"an exhaustive split of decision {decision!r} makes one sub-supernet per option "
                                  f"({len(decisions[decision])}), not sub_supernets={sub_supernets}: set "
                                  f"sub_supernets: {len(decisions[decision])} (or null)")
            if decision is None and sub_supernets is not None:
                sizes = {len(o) for o in decisions.values() if len(o) > 1}
                if sizes != {sub_supernets}:
                    raise ConfigError(f"an exhaustive split makes one sub-supernet per option of the chosen decision "
                                      f"({sorted(sizes)} in {space.name}), not sub_supernets={sub_supernets}: "
                                      "set sub_supernets: null, or name the decision")
            sizes = sorted({len(o) for o in decisions.values() if len(o) > 1})
            self.expected_leaves = len(decisions[decision]) if decision else (sizes[0] if len(sizes) == 1 else None)
        else:
            rounds = len(self.split_epochs)
            if sub_supernets != 2**rounds:
                raise ConfigError(f"gradient matching splits every sub-supernet in two at each split epoch: "
                                  f"{rounds} split epochs make {2**rounds} sub-supernets, not sub_supernets="
                                  f"{sub_supernets}; list {max(1, int(np.log2(max(sub_supernets or 2, 2))))} split "
                                  "epochs or change sub_supernets")
            if sub_supernets > space.size:
                raise ConfigError(f"{sub_supernets} sub-supernets is more than the {space.size} architectures of "
                                  f"{space.name}: use fewer")
            self.expected_leaves = sub_supernets
        self.history: list[dict[str, Any]] = []  # one entry per split applied, in order
        self.gm_seconds = 0.0
        self.split_seconds = 0.0

    def set_budget(self, budget: TrainingBudget) -> None:
        """Check that every split epoch ends before the budget does, with steps left for the sub-supernets."""
        super().set_budget(budget)
        last = (budget.total_steps - 1) // budget.steps_per_epoch  # the last epoch after which steps remain
        if self.split_epochs[-1] > last:
            raise ConfigError(
                f"split epochs {self.split_epochs} must lie in [1, {last}]: the split happens at the end of that "
                f"epoch and the sub-supernets need steps after it (the budget is {budget.total_steps} steps of "
                f"{budget.steps_per_epoch} per epoch); raise trainer.epochs / trainer.max_steps or split earlier")

    # -- state ------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"history": json.loads(json.dumps(self.history)), "gm_seconds": self.gm_seconds,
                "split_seconds": self.split_seconds}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history = list(state["history"])
        self.gm_seconds = float(state["gm_seconds"])
        self.split_seconds = float(state["split_seconds"])

    def on_resume(self, trainer: Trainer) -> None:
        """Re-apply the recorded splits to the trainer's fresh supernet (weights are loaded next)."""
        if isinstance(trainer.supernet, SplitSupernet) or not self.history:
            return
        supernet: Supernet = trainer.supernet
        for entry in self.history:
            supernet, _ = split_supernet(supernet, entry["decision"], entry["groups"], entry["leaf"])
        trainer.method.set_supernet(supernet)
        inherit_optimizer(trainer.method.optimizer, list(supernet.parameters()), {})

    # -- the schedule -----------------------------------------------------------------------------
    def on_epoch_end(self, trainer: Trainer) -> None:
        epoch = trainer.state.epoch
        done = {entry["epoch"] for entry in self.history}
        in_clock = self.gm_seconds + self.split_seconds  # earlier splits ran before the last step's clock reading
        if epoch in self.split_epochs and epoch not in done:
            self._split_round(trainer, epoch)
        self._write_summary(trainer, max(trainer.state.seconds - in_clock, 1e-9))

    @staticmethod
    def _check_supernet(supernet: Supernet) -> None:
        if supernet.kind != "shared":
            raise ConfigError(
                f"few-shot splitting needs a shared-weight supernet (one module per option); {type(supernet).__name__} "
                "is weight-entangled, where options are slices of one tensor, so 'the shared parameters' of gradient "
                "matching are not defined: use few_shot=none with this search space")

    def _split_round(self, trainer: Trainer, epoch: int) -> None:
        supernet = trainer.supernet
        self._check_supernet(supernet)
        leaves = list(supernet.leaves) if isinstance(supernet, SplitSupernet) else [supernet]
        constraints = list(supernet.constraints) if isinstance(supernet, SplitSupernet) else [{}]
        rnd = sum(1 for _ in {e["epoch"] for e in self.history})
        plans: list[tuple[int, str, list[list[Option]], list[dict]]] = []
        started = time.perf_counter()
        if trainer.distributed.is_main:
            for k, (leaf, constraint) in enumerate(zip(leaves, constraints)):
                plans.append((k, *self._plan(trainer, leaf, constraint, seed=[self.seed, rnd, k])))
        plans = trainer.distributed.broadcast_object(plans)  # rank 0 decides the split, every rank applies it
        self.gm_seconds += time.perf_counter() - started
        started = time.perf_counter()
        for k, decision, groups, scores in reversed(plans):  # right to left: indices of the rest stay valid
            supernet, parents = split_supernet(supernet, decision, groups, k)
            trainer.method.set_supernet(supernet)
            inherit_optimizer(trainer.method.optimizer, list(supernet.parameters()), parents)
            self.history.append({"epoch": epoch, "leaf": k, "decision": decision, "groups": groups,
                                 "scores": scores})
        if self.restart and epoch == self.split_epochs[-1]:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.seed)
                for module in supernet.modules():
                    if module is not supernet and hasattr(module, "reset_parameters"):
                        module.reset_parameters()
            trainer.method.optimizer.state.clear()
        self.split_seconds += time.perf_counter() - started
        for k, decision, groups, _ in plans if trainer.distributed.is_main else ():
            print(f"few-shot split at epoch {epoch}: sub-supernet {k} on {decision!r} into {groups}",
                  file=sys.stderr)

    def _plan(self, trainer: Trainer, leaf: Supernet, constraint: dict, seed: list[int]
              ) -> tuple[str, list[list[Option]], list[dict]]:
        """(decision, groups, scores as JSON) of one sub-supernet's split."""
        owned = {d: list(constraint.get(d, opts)) for d, opts in self.space.decisions.items()}
        if self.method == "exhaustive" and self.decision is not None:
            return self.decision, [[o] for o in owned[self.decision]], []
        candidates = [self.decision] if self.decision is not None else [d for d, o in owned.items() if len(o) > 1]
        if not candidates or len(owned[candidates[0]]) < 2:
            raise ConfigError(f"sub-supernet {seed[-1]} owns a single option of every candidate decision "
                              f"({ {d: owned[d] for d in candidates} }): no further split is possible; use fewer "
                              "sub-supernets or split epochs")
        batches, rest = self._scoring_inputs(trainer, owned, seed)
        scores = [score_decision(leaf, d, owned[d], batches, rest, self.space.make) for d in candidates]
        best = max(scores, key=lambda s: s.cut)  # first of equal scores: decision order
        groups = [[o] for o in owned[best.decision]] if self.method == "exhaustive" else [list(g) for g in best.groups]
        return best.decision, groups, [s.to_json() for s in scores]

    def _scoring_inputs(self, trainer: Trainer, owned: dict[str, list[Option]], seed: list[int]
                        ) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], list[Architecture]]:
        """``gm_batches`` training batches and, per batch, a uniform architecture within ``owned``;
        drawn from their own generators (a function of the seed), never from the global RNG."""
        rng = np.random.default_rng(seed)
        data = trainer.train_data
        size = min(self.gm_batch_size, len(data))
        order = torch.from_numpy(rng.permutation(len(data)))
        batches = []
        for b in range(self.gm_batches):
            idx = order[(b * size) % len(data):][:size]
            x, y = data.x[idx], data.y[idx]
            batches.append((x.to(trainer.device), y.to(trainer.device)))
        rest = [self.space.make({d: opts[int(rng.integers(len(opts)))] for d, opts in owned.items()})
                for _ in batches]
        return batches, rest

    def _write_summary(self, trainer: Trainer, train_seconds: float) -> None:
        if not trainer.distributed.is_main:
            return
        split = isinstance(trainer.supernet, SplitSupernet)
        RunFolder(trainer.output_dir).write_few_shot(FewShotSummary(
            method=self.method, split_epochs=self.split_epochs, restart=self.restart,
            sub_supernets=len(trainer.supernet.leaves) if split else 1,
            partition=trainer.supernet.constraints if split else [{}],
            gm_scoring_seconds=self.gm_seconds, split_seconds=self.split_seconds, training_seconds=train_seconds,
            gm_fraction_of_training=self.gm_seconds / train_seconds, epoch=trainer.state.epoch, history=self.history,
        ))
        if trainer.state.step >= trainer.total_steps:
            print(f"few-shot: gradient-matching scoring {self.gm_seconds:.1f} s, supernet training "
                  f"{train_seconds:.1f} s ({100 * self.gm_seconds / train_seconds:.1f}% of training)", file=sys.stderr)
