"""Search spaces for tests that need only decisions: no supernet, no model, zero costs."""

from __future__ import annotations

from nas.search_space import SearchSpace


class DecisionsOnlySpace(SearchSpace):
    """A space of ``decisions`` alone (enumeration, sampling, canonical forms); building anything raises.

    Example:
        >>> DecisionsOnlySpace({"a": (1, 2)}).size
        2
    """

    def __init__(self, decisions: dict, name: str = "toy"):
        self._decisions = {key: tuple(options) for key, options in decisions.items()}
        self.name = name

    @property
    def decisions(self):
        return self._decisions

    def build_supernet(self):
        raise NotImplementedError

    def build_model(self, arch):
        raise NotImplementedError

    def params(self, arch):
        return 0

    def flops(self, arch):
        return 0
