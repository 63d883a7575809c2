"""Uniform single-path sampling (SPOS), optionally over functionally distinct children only."""

from __future__ import annotations

from nas.architecture import Architecture
from nas.errors import ConfigError
from nas.search_space import SearchSpace
from samplers.path.base import PathSampler

MAX_ENUMERATED = 1_000_000
"""The largest space whose architectures ``distinct`` / ``max_none`` enumerate (once, at construction)."""

NONE_OPTION = "none"
"""The option ``max_none`` counts: an op that contributes nothing (NAS-Bench-201's ``none`` edge)."""


class UniformPathSampler(PathSampler):
    """Each step trains ``num_paths`` children, each decision drawn uniformly and independently.

    Two switches restrict what trains (both off by default: plain SPOS):

    - ``distinct=True``: a functionally distinct class is drawn uniformly, then a uniform member of it.
      Classes are the architectures with equal ``space.canonical(arch)`` (on NAS-Bench-201: 5,772
      classes of the 15,625 cells); the class of children without a live input-to-output path (an
      empty ``space.live_decisions``) never trains. ``distinct="auto"`` (`nas run`'s default,
      ``path_sampler=distinct``) does so where the space defines canonical forms and has at most
      ``MAX_ENUMERATED`` architectures, and is plain uniform sampling elsewhere.
    - ``max_none=k``: only children with at most ``k`` decisions set to ``"none"``, still connected
      (uniform over them; with ``distinct``, classes keep only such members).

    Either switch enumerates the space once (at most ``MAX_ENUMERATED`` architectures). Draws stay a
    pure function of (seed, step).

    Example:
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> sampler = UniformPathSampler(NB201SearchSpace(), seed=0)
        >>> sampler.sample(7) == sampler.sample(7)       # a pure function of (seed, step)
        True
        >>> distinct = UniformPathSampler(NB201SearchSpace(), seed=0, distinct=True)
        >>> len(distinct.classes), distinct.sample(7) == distinct.sample(7)
        (5772, True)
    """

    def __init__(self, space: SearchSpace, seed: int = 0, num_paths: int = 1, distinct: bool | str = False,
                 max_none: int | None = None):
        super().__init__(space, seed)
        if num_paths < 1:
            raise ConfigError(f"num_paths must be at least 1, got {num_paths}")
        if max_none is not None and (isinstance(max_none, bool) or int(max_none) != max_none or max_none < 0):
            raise ConfigError(f"path_sampler.max_none must be null or an integer >= 0, got {max_none!r}")
        self.num_paths = int(num_paths)
        if distinct == "auto":
            distinct = has_canonical_forms(space) and space.size <= MAX_ENUMERATED
        elif not isinstance(distinct, bool):
            raise ConfigError(f"path_sampler.distinct must be true, false or auto, got {distinct!r}")
        self.distinct = distinct
        self.max_none = None if max_none is None else int(max_none)
        self.classes: list[tuple[Architecture, ...]] | None = None
        """The classes children are drawn from (each a tuple of its members); None: plain uniform."""
        if self.distinct or self.max_none is not None:
            self.classes = training_classes(space, self.distinct, self.max_none)

    def sample(self, step: int) -> list[Architecture]:
        rng = self.rng(step)
        if self.classes is None:
            return [self.space.sample(rng) for _ in range(self.num_paths)]
        out = []
        for _ in range(self.num_paths):
            members = self.classes[int(rng.integers(len(self.classes)))]
            out.append(members[int(rng.integers(len(members)))])
        return out


def has_canonical_forms(space: SearchSpace) -> bool:
    """Whether ``space`` says which of its architectures compute the same function (overrides ``canonical``)."""
    return type(space).canonical is not SearchSpace.canonical


def training_classes(space: SearchSpace, distinct: bool, max_none: int | None) -> list[tuple[Architecture, ...]]:
    """The connected architectures of ``space`` (at most ``max_none`` ``"none"`` choices), grouped by
    ``space.canonical`` when ``distinct`` (else one class per architecture), in enumeration order."""
    switches = ", ".join(s for s, on in (("distinct", distinct), ("max_none", max_none is not None)) if on)
    if space.size > MAX_ENUMERATED:
        raise ConfigError(f"path_sampler {switches} enumerates the search space, and {space.name!r} has "
                          f"{space.size:,} architectures (more than {MAX_ENUMERATED:,}): use the plain uniform "
                          "sampler (path_sampler.distinct=false path_sampler.max_none=null)")
    if max_none is not None and not any(NONE_OPTION in options for options in space.decisions.values()):
        raise ConfigError(f"path_sampler.max_none={max_none}: search space {space.name!r} has no {NONE_OPTION!r} "
                          "option to count; set path_sampler.max_none=null")
    groups: dict[object, list[Architecture]] = {}
    for arch in space.enumerate():
        if max_none is not None and _count_none(arch) > max_none:
            continue
        if not space.live_decisions(arch):  # no live input-to-output path: computes a constant
            continue
        groups.setdefault(space.canonical(arch) if distinct else arch, []).append(arch)
    if not groups:
        raise ConfigError(f"path_sampler {switches}: no connected architecture of {space.name!r} qualifies; "
                          "raise path_sampler.max_none")
    return [tuple(members) for members in groups.values()]


def _count_none(arch: Architecture) -> int:
    return sum(1 for option in arch.values() if option == NONE_OPTION)

