"""Pareto front of score (maximize) against a cost (minimize): the one place it is computed.

The run folder writes it (``nas.run_folder.RunFolder.write_pareto_front``) and the plots draw it.
"""

from __future__ import annotations

from collections.abc import Sequence

from nas.searchers.base import Trial


def pareto_front(trials: Sequence[Trial], cost: str = "params") -> list[Trial]:
    """The trials no other trial beats on both score and ``cost``, from cheapest to most expensive.

    Example:
        >>> from nas.architecture import Architecture
        >>> t = [Trial(i, Architecture({"w": i}), s, {"params": p}) for i, (s, p) in
        ...      enumerate([(90.0, 10), (80.0, 5), (85.0, 20), (95.0, 30), (95.0, 40)])]
        >>> [x.number for x in pareto_front(t)]
        [1, 0, 3]
    """
    front: list[Trial] = []
    best = float("-inf")
    for trial in sorted(trials, key=lambda t: (t.cost[cost], -t.score, t.number)):
        if trial.score > best:
            front.append(trial)
            best = trial.score
    return front
