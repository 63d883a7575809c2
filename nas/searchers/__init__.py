"""Searchers rank children against an objective (supernet evaluator, benchmark oracle, any callable)."""

from nas.searchers.base import History, Objective, Searcher, Trial
from nas.searchers.random_search import RandomSearch

__all__ = ["History", "Objective", "RandomSearch", "Searcher", "Trial"]
