"""Searchers rank children against an objective (supernet evaluator, benchmark oracle, any callable)."""

from nas.searchers.base import History, Objective, SearchExhausted, Searcher, Trial
from nas.searchers.constrained_evolution import ConstrainedEvolution
from nas.searchers.constraints import Constraints
from nas.searchers.controller import ControllerSearch
from nas.searchers.epnas import EPNAS, sample_unique, sampling_probabilities
from nas.searchers.evolution import RegularizedEvolution
from nas.searchers.optuna_sampler import make_sampler, sampler_names
from nas.searchers.optuna_search import OptunaSearch
from nas.searchers.optuna_storage import open_storage
from nas.searchers.pareto import pareto_front
from nas.searchers.random_search import RandomSearch
from nas.searchers.surrogate import MLPSurrogate, RidgeSurrogate, Surrogate

__all__ = [
    "ConstrainedEvolution",
    "Constraints",
    "ControllerSearch",
    "EPNAS",
    "History",
    "MLPSurrogate",
    "Objective",
    "OptunaSearch",
    "RandomSearch",
    "RidgeSurrogate",
    "RegularizedEvolution",
    "SearchExhausted",
    "Searcher",
    "Surrogate",
    "Trial",
    "make_sampler",
    "open_storage",
    "pareto_front",
    "sample_unique",
    "sampling_probabilities",
    "sampler_names",
]
