"""The hooks every training participant shares: the budget once, the feedback every step.

Path samplers, data samplers and trainer callbacks all derive from ``TrainingHooks`` (in the spirit
of Optuna's ``before_trial``/``after_trial``): the trainer tells each of them the budget with
``set_budget`` before the first step, and hands each of them the step's ``StepFeedback`` (only the
measurements it declared in ``needs``) through ``observe``. Trainer callbacks
(``nas.training.loop.TrainerCallback``) also get the loop's events.
"""

from __future__ import annotations

from typing import ClassVar

from nas.training.budget import TrainingBudget
from nas.training.feedback import StepFeedback


class TrainingHooks:
    """Base of everything that hears about training: ``needs``, ``set_budget``, ``observe``.

    ``needs`` names the measurements of ``nas.training.feedback.MEASUREMENTS`` this participant uses;
    ``budget`` is ``None`` until the trainer calls ``set_budget``.

    Example:
        >>> class Counter(TrainingHooks):
        ...     needs = frozenset({"losses"})
        ...     seen = 0
        ...     def observe(self, feedback):
        ...         self.seen += len(feedback.losses)
        >>> counter = Counter()
        >>> counter.set_budget(TrainingBudget(10, 5))
        >>> counter.observe(StepFeedback(0, [], losses=[1.0, 2.0]))
        >>> counter.budget.epochs, counter.seen
        (2, 2)
    """

    needs: ClassVar[frozenset[str]] = frozenset()
    budget: TrainingBudget | None = None

    def set_budget(self, budget: TrainingBudget) -> None:
        """Told once by the trainer, before the first step; schedules read their progress from it."""
        self.budget = budget

    def observe(self, feedback: StepFeedback) -> None:
        """What the trainer measured in one step (only what ``needs`` declares); the default ignores it."""
