"""A training method written beside OneShot gets the loop for free: budget, feedback hooks, checkpoints, exact
resume. The method here trains one fixed child with Adam and has a participant of its own."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from nas.data import synthetic
from nas.training import Batch, StepFeedback, StepOutput, Trainer, TrainingBudget, TrainingHooks, TrainingMethod
from samplers import UniformDataSampler
from search_spaces.nb201 import NB201SearchSpace

SPACE = NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
DATA = synthetic(train_size=96)


class LossLog(TrainingHooks):
    """The method's own participant: it asks for the per-child losses."""

    needs = frozenset({"losses"})

    def __init__(self):
        self.losses: list[float] = []

    def observe(self, feedback: StepFeedback) -> None:
        self.losses += feedback.losses


class FixedChild(TrainingMethod):
    """Trains the largest child only, with Adam at a constant rate: a sibling of OneShot in a dozen lines."""

    def __init__(self, supernet):
        self.supernet, self.arch, self.log = supernet, SPACE.largest(), LossLog()

    def setup(self, budget, execution, participants) -> None:
        self.budget, self.execution = budget, execution
        self.optimizer = torch.optim.Adam(self.supernet.parameters(), lr=0.01)

    def participants(self) -> list[TrainingHooks]:
        return [self.log]

    def training_step(self, step: int, batch: Batch, needs: frozenset[str]) -> StepOutput:
        self.supernet.train()
        self.optimizer.zero_grad(set_to_none=True)
        logits = self.supernet(batch.x, self.arch)
        loss = F.cross_entropy(logits, batch.y)
        self.execution.backward(loss)
        self.execution.step(self.optimizer)
        feedback = StepFeedback(step, [self.arch], batch.indices, batch.y,
                                losses=[float(loss.detach())] if "losses" in needs else None)
        accuracy = float((logits.argmax(1) == batch.y).float().mean())
        return StepOutput(float(loss.detach()), accuracy, self.optimizer.param_groups[0]["lr"], feedback)

    def state_dict(self) -> dict[str, Any]:
        return {"supernet": self.supernet.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.supernet.load_state_dict(state["supernet"])
        self.optimizer.load_state_dict(state["optimizer"])


def trainer(folder, **kwargs) -> Trainer:
    torch.manual_seed(0)
    return Trainer(FixedChild(SPACE.build_supernet()), DATA.train, UniformDataSampler(len(DATA.train)), folder,
                   epochs=3, batch_size=32, progress=False, tensorboard=False, checkpoint_every=0, **kwargs)


def test_a_new_method_hears_the_budget_and_feeds_its_participants(tmp_path):
    t = trainer(tmp_path)
    assert t.method.budget == t.method.log.budget == TrainingBudget(9, 3)
    t.fit()
    assert len(t.method.log.losses) == 9 and all(loss > 0 for loss in t.method.log.losses)
    assert t.needs == frozenset({"losses"})


def test_a_new_method_resumes_exactly_through_the_loop(tmp_path):
    straight = trainer(tmp_path / "a")
    straight.fit()
    trainer(tmp_path / "b", max_steps=4).fit()          # stops after 4 steps, mid-epoch, and checkpoints
    resumed = trainer(tmp_path / "b")                   # same folder, the full budget: resumes at step 4
    resumed.fit()
    assert resumed.state.step == straight.state.step == 9 and resumed.state.batch_in_epoch == 0
    a, b = straight.supernet.state_dict(), resumed.supernet.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
