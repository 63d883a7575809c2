"""OptunaSearch: an Optuna study over the space's decisions (TPE, NSGA-II, or any sampler by name)."""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import optuna
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState

from nas.architecture import Architecture
from nas.errors import ConfigError, InvalidArchitectureError
from nas.search_space import SearchSpace
from nas.searchers.base import SearchExhausted, Searcher, Trial
from nas.searchers.constraints import Constraints
from nas.searchers.optuna_sampler import make_sampler
from nas.searchers.optuna_storage import TrialHeartbeat, check_workers, heartbeat_enabled, open_storage

COST_OBJECTIVES = ("params", "flops", "latency")
COST_KEYS = {"params": "params", "flops": "flops", "latency": "latency_ms", "latency_ms": "latency_ms"}
"""cost_objective -> its key in ``space.cost(arch)`` (latency needs ``space.latency``: ``nas.latency``)."""


class OptunaSearch(Searcher):
    """Any Optuna sampler as an ask-and-tell searcher; each decision is a categorical parameter.

    ``sampler`` names a class of ``optuna.samplers`` (``TPESampler``, ``NSGAIISampler``,
    ``RandomSampler``, ``CmaEsSampler``, ...) built with ``sampler_kwargs`` and the seed, or is a
    sampler instance. ``cost_objective`` (``"params"``, ``"flops"`` or ``"latency"``) makes the study
    multi-objective: maximize the score, minimize the cost from ``space.cost(arch)`` (``latency_ms``, with a
    latency model in ``space.latency``); ``self.cost_objective`` is that cost's key.

    ``storage`` (a journal file path, or a database URL such as ``sqlite:///study.db``) lets
    several processes search one study (``study_name``, loaded if it exists): start each worker
    with its own seed. Architectures already scored — by this searcher or, with a storage, by any
    worker — are told to the study with their known score (trial attribute ``cached``) and never
    scored again; with heartbeats, a proposal that another worker is scoring at that moment is told as PRUNED
    (trial attribute ``running_elsewhere``). ``workers`` says how many processes share the storage: more
    than one on SQLite is refused (use a journal file or PostgreSQL). On a journal file or a database
    (``postgresql://user@host:port/db``) each asked trial beats every ``heartbeat_seconds`` (``None``: off);
    one whose worker died is failed after ``grace_seconds`` by the next worker that asks (its first ask at
    start-up included), and retried ``retries`` times at most as a new trial with its parameters.
    Infeasible proposals under ``constraints`` are told as PRUNED, never scored; after
    ``repair_attempts`` of them in a row a uniform feasible architecture is enqueued.

    Example:
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> searcher = OptunaSearch(NB201SearchSpace(), seed=0, sampler="TPESampler")
        >>> history = searcher.search(lambda arch: float(str(arch).count("nor_conv_3x3")), budget=30)
        >>> len(history), len(searcher.study.trials) >= 30
        (30, True)
        >>> arch = searcher.ask()                      # or own the loop
        >>> searcher.tell(arch, 1.0).number
        30
    """

    def __init__(self, space: SearchSpace, seed: int = 0,
                 constraints: Constraints | Mapping[str, Any] | None = None,
                 sampler: str | optuna.samplers.BaseSampler = "TPESampler",
                 sampler_kwargs: Mapping[str, Any] | None = None, cost_objective: str | None = None,
                 storage: str | Path | None = None, study_name: str = "nas-search", repair_attempts: int = 100,
                 workers: int = 1, heartbeat_seconds: int | None = 60, grace_seconds: int | None = None,
                 retries: int | None = 2):
        if cost_objective not in (None, *COST_KEYS):
            raise ConfigError(f"cost_objective must be one of {list(COST_OBJECTIVES)} or null, got {cost_objective!r}")
        if cost_objective in ("latency", "latency_ms") and space.latency is None:
            raise ConfigError("cost_objective=latency needs a latency model: add latency=table latency.path=<file of "
                              "`nas latency build`>, or latency=measured")
        check_workers(storage, int(workers))
        super().__init__(space, seed, constraints)
        self.cost_objective = COST_KEYS[cost_objective] if cost_objective is not None else None
        self.repair_attempts = int(repair_attempts)
        self.storage = None if storage is None else str(storage)
        self._distributions = {name: CategoricalDistribution(tuple(options))
                               for name, options in space.decisions.items()}
        directions = ["maximize"] + (["minimize"] if cost_objective else [])
        if optuna.logging.get_verbosity() == optuna.logging.INFO:
            optuna.logging.set_verbosity(optuna.logging.WARNING)  # one INFO line per trial otherwise
        self.study = optuna.create_study(
            storage=open_storage(self.storage, heartbeat_seconds, grace_seconds, retries),
            sampler=make_sampler(sampler, space, self.seed, sampler_kwargs),
            study_name=study_name, directions=directions, load_if_exists=True)
        self._check_study(directions)
        self._pending: dict[Architecture, list[optuna.Trial]] = {}
        self._study_scores: dict[Architecture, float] = {}
        self._synced: set[int] = set()
        self._heartbeats: dict[int, TrialHeartbeat] = {}

    def _check_study(self, directions: list[str]) -> None:
        found = [d.name.lower() for d in self.study.directions]
        where = f"Optuna study {self.study.study_name!r} in {self.storage}"
        if found != directions:
            raise ConfigError(f"{where} optimizes {found}, this searcher {directions}: use another "
                              "searcher.study_name or storage")
        signature = json.dumps({"space": self.space.spec(),
                                "decisions": {n: list(d.choices) for n, d in self._distributions.items()}},
                               sort_keys=True, default=str)
        saved = self.study.user_attrs.get("nas_search_space")
        if saved is None:
            self.study.set_user_attr("nas_search_space", signature)
        elif saved != signature:
            raise ConfigError(f"{where} searches another search space ({saved[:200]}): use another "
                              "searcher.study_name or storage")

    # -- ask ----------------------------------------------------------------------------------------
    def ask(self) -> Architecture:
        for _ in range(self.repair_attempts):
            trial = self._ask()
            arch = self.space.make(trial.params)
            if self.is_feasible(arch):
                if self._running_elsewhere(trial):
                    trial.set_user_attr("running_elsewhere", True)  # another worker scores it right now
                    self.study.tell(trial, state=TrialState.PRUNED)
                    continue
                return self._hold(arch, trial)
            trial.set_user_attr("infeasible", "; ".join(self.constraints.violations(self.space.cost(arch))))
            self.study.tell(trial, state=TrialState.PRUNED)
        for _ in range(10):  # the sampler keeps proposing infeasible ones: enqueue a uniform feasible one
            self.study.enqueue_trial(self._params(self.sample_new()))
            trial = self._ask()
            arch = self.space.make(trial.params)
            if self.is_feasible(arch):
                return self._hold(arch, trial)
            self.study.tell(trial, state=TrialState.PRUNED)  # another worker took the enqueued one
        raise SearchExhausted(f"{type(self.study.sampler).__name__} proposes no feasible architecture")

    def _ask(self) -> optuna.Trial:
        """The study's next trial; with heartbeats, the trials of dead workers are failed (and retried) first."""
        if not heartbeat_enabled(self.study._storage):
            return self.study.ask(self._distributions)
        with warnings.catch_warnings():  # heartbeats are experimental, and meant for Study.optimize: we beat
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
            optuna.storages.fail_stale_trials(self.study)
            return self.study.ask(self._distributions)

    def _running_elsewhere(self, trial: optuna.Trial) -> bool:
        """Whether another worker's RUNNING trial has ``trial``'s parameters (a storage with heartbeats only).

        Each worker writes its trial's parameters before it checks, so of two workers that propose one
        architecture at once at least one sees the other's trial: the two never both score it. Only with
        heartbeats: there a dead worker's RUNNING trial is failed and retried, not left to block its architecture.
        """
        if not heartbeat_enabled(self.study._storage):
            return False
        mine = {t._trial_id for queue in self._pending.values() for t in queue} | {trial._trial_id}
        return any(other._trial_id not in mine and other.params == trial.params
                   for other in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))

    def _hold(self, arch: Architecture, trial: optuna.Trial) -> Architecture:
        self._pending.setdefault(arch, []).append(trial)
        if heartbeat_enabled(self.study._storage):
            self._heartbeats[trial._trial_id] = TrialHeartbeat(self.study._storage, trial._trial_id)
        return arch

    def _params(self, arch: Architecture) -> dict[str, Any]:
        return {name: arch[name] for name in self._distributions}

    # -- tell ----------------------------------------------------------------------------------------
    def tell(self, arch: Architecture, score: float) -> Trial:
        arch = self.space.validate(arch)
        new = arch not in self._seen
        trial = super().tell(arch, score)
        self._complete(arch, trial.score, cached=not new)
        return trial

    def _reuse_score(self, arch: Architecture, score: float) -> None:
        self._complete(arch, score, cached=True)

    def _complete(self, arch: Architecture, score: float, cached: bool) -> None:
        """Finish the Optuna trial that proposed ``arch``; one that was never asked is added as a trial."""
        values = [float(score)]
        if self.cost_objective is not None:
            values.append(float(self.space.cost(arch)[self.cost_objective]))
        queue = self._pending.get(arch)
        if queue:
            trial = queue.pop(0)
            if not queue:
                del self._pending[arch]
            if cached:
                trial.set_user_attr("cached", True)
            self.study.tell(trial, values)
            beat = self._heartbeats.pop(trial._trial_id, None)
            if beat is not None:
                beat.stop()
        elif arch not in self._study_scores:
            self.study.add_trial(optuna.trial.create_trial(
                params=self._params(arch), distributions=self._distributions, values=values))
        self._study_scores[arch] = float(score)

    def cached_score(self, arch: Architecture) -> float | None:
        known = super().cached_score(arch)
        if known is None and self.storage is not None:
            self._sync()  # other workers may have scored it
            known = self._study_scores.get(arch)
        return known

    def _sync(self) -> None:
        """Learn the scores of the study's completed trials (all workers) not read yet."""
        for trial in self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            if trial.number in self._synced:
                continue
            self._synced.add(trial.number)
            try:
                arch = self.space.make(trial.params)
            except InvalidArchitectureError:
                continue
            self._study_scores.setdefault(arch, float(trial.values[0]))

    # -- state ------------------------------------------------------------------------------------------
    def _save_due(self, unsaved: int, saved: int, seconds: float) -> bool:
        """With a storage, after every trial: the study holds each trial at once, and a resumed searcher
        would take the trials that its saved history lacks for another worker's."""
        return self.storage is not None or super()._save_due(unsaved, saved, seconds)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the history; trials the study lacks (an in-memory study) are added to it.

        The sampler's own RNG restarts from the seed, so the continuation is valid but not
        bit-identical to an uninterrupted run.
        """
        if self.storage is not None:
            self._sync()
        self._pending.clear()
        for beat in self._heartbeats.values():
            beat.stop()
        self._heartbeats.clear()
        super().load_state_dict(state)
