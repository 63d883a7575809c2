"""Searchers rank children against an objective (supernet evaluator, benchmark oracle, any callable)."""

from nas.searchers.base import History, Objective, SearchExhausted, Searcher, Trial
from nas.searchers.constrained_evolution import ConstrainedEvolution
from nas.searchers.constraints import Constraints
from nas.searchers.evolution import RegularizedEvolution
from nas.searchers.optuna_sampler import make_sampler, sampler_names
from nas.searchers.optuna_search import OptunaSearch
from nas.searchers.optuna_storage import open_storage
from nas.searchers.pareto import pareto_front
from nas.searchers.random_search import RandomSearch

__all__ = [
    "ConstrainedEvolution",
    "Constraints",
    "History",
    "Objective",
    "OptunaSearch",
    "RandomSearch",
    "RegularizedEvolution",
    "SearchExhausted",
    "Searcher",
    "Trial",
    "make_sampler",
    "open_storage",
    "pareto_front",
    "sampler_names",
]
