"""The sandwich rule (BigNAS, once-for-all): largest, smallest and n random children per step."""

from __future__ import annotations

import math

import numpy as np

from nas.architecture import Architecture
from nas.errors import ConfigError
from nas.search_space import SearchSpace
from samplers.path.base import PathSampler

ORDER_CHECK_SAMPLES = 64
"""Children drawn (fixed seed) to check that largest()/smallest() bound the space's costs."""


class SandwichPathSampler(PathSampler):
    """Each step trains the largest child, the smallest child and ``num_random`` uniform ones.

    The largest child comes first and is the teacher of the others when the trainer distills
    (``teacher_first``). With ``delay_fraction > 0`` (delayed shrinking, DεpS) only the largest
    child trains during the first ``ceil(delay_fraction * total_steps)`` steps of the trainer's
    budget (``set_budget``, called by the trainer before the first step).

    The space must say which children are its largest and smallest (``largest()``,
    ``smallest()``) and those must bound its parameter counts: checked on construction on
    ``ORDER_CHECK_SAMPLES`` children, so that the rule is never applied to a space where it
    has no meaning. NAS-Bench-201 qualifies (largest: every edge ``nor_conv_3x3``; smallest: every
    edge ``skip_connect``), as do the weight-entangled spaces; a space whose ``largest()`` /
    ``smallest()`` do not bound its children's parameter counts is refused with a ConfigError.

    Example:
        >>> from search_spaces.elastic_vit import ElasticViTSearchSpace
        >>> space = ElasticViTSearchSpace(in_channels=1, input_size=16)
        >>> sampler = SandwichPathSampler(space, seed=0, num_random=2)
        >>> children = sampler.sample(3)
        >>> len(children), children[0] == space.largest(), children[1] == space.smallest()
        (4, True, True)
    """

    teacher_first = True

    def __init__(self, space: SearchSpace, seed: int = 0, num_random: int = 2, delay_fraction: float = 0.0):
        super().__init__(space, seed)
        if not isinstance(num_random, int) or isinstance(num_random, bool) or num_random < 0:
            raise ConfigError(f"num_random must be a non-negative integer, got {num_random!r}")
        if not 0.0 <= float(delay_fraction) < 1.0:
            raise ConfigError(f"delay_fraction must be in [0, 1), got {delay_fraction!r}")
        self.num_random = num_random
        self.delay_fraction = float(delay_fraction)
        self.largest, self.smallest = _extremes(space)

    @property
    def delay_steps(self) -> int:
        """Steps at the start that train the largest child only."""
        if self.delay_fraction == 0.0:
            return 0
        if self.budget is None:
            raise ConfigError(
                f"delay_fraction={self.delay_fraction} needs the training budget: call "
                "set_budget(budget) before sampling (the Trainer does before the first step)")
        return math.ceil(self.delay_fraction * self.budget.total_steps)

    def sample(self, step: int) -> list[Architecture]:
        if step < self.delay_steps:
            return [self.largest]
        rng = self.rng(step)
        return [self.largest, self.smallest, *(self.space.sample(rng) for _ in range(self.num_random))]


def _extremes(space: SearchSpace) -> tuple[Architecture, Architecture]:
    """``space``'s (largest, smallest) children, checked to bound the costs of sampled children."""
    name = getattr(space, "name", type(space).__name__)
    try:
        largest, smallest = space.validate(space.largest()), space.validate(space.smallest())
    except (AttributeError, NotImplementedError) as exc:
        raise ConfigError(
            f"the sandwich sampler needs largest() and smallest() children, and search space {name!r} has none "
            f"({exc}); use path_sampler=uniform") from None
    high, low = space.params(largest), space.params(smallest)
    rng = np.random.default_rng(0)
    for _ in range(ORDER_CHECK_SAMPLES):
        arch = space.sample(rng)
        params = space.params(arch)
        if not low <= params <= high:
            raise ConfigError(
                f"the sandwich sampler needs a search space whose largest()/smallest() children are its biggest "
                f"and smallest; in {name!r} the child {arch} has {params:,} parameters, outside "
                f"[{low:,}, {high:,}] of smallest()/largest(): its options have no size order (the rule suits "
                f"weight-entangled spaces such as elastic_conv and elastic_vit); use path_sampler=uniform")
    return largest, smallest
