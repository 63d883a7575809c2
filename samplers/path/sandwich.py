"""The sandwich rule (BigNAS, once-for-all): largest, smallest and n random children per step."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nas.architecture import Architecture
from nas.errors import ConfigError
from nas.search_space import SearchSpace
from nas.training.budget import TrainingBudget
from samplers.path.base import PathSampler
from samplers.shrinking import ShrinkingRamp

ORDER_CHECK_SAMPLES = 64
"""Children drawn (fixed seed) to check that largest()/smallest() bound the space's costs."""


class SandwichPathSampler(PathSampler):
    """Each step trains the largest child, the smallest child and ``num_random`` uniform ones.

    The largest child comes first and is the teacher of the others when the trainer distills
    (``teacher_first``). With ``delay_fraction > 0`` (delayed shrinking, DεpS) only the largest
    child trains during the first ``ceil(delay_fraction * total_steps)`` steps of the trainer's
    budget (``set_budget``, called by the trainer before the first step): the teacher phase.
    With ``ramp_epochs = W > 0`` (DεpS's ε-shrinking) the subnets' losses are then scaled by a factor
    rising linearly from 0 at the hand-over to 1 after ``W`` epochs (``samplers.ShrinkingRamp``, a
    function of the global step: resume-safe), times their multipliers ``subnet_scales`` (one number for
    every subnet, or one per subnet: the smallest, then the ``num_random`` random ones); the largest
    child's loss is never scaled. Steps whose subnet factor is 0 train the largest child alone.
    ``ramp_epochs=0`` and ``subnet_scales=1`` is plain delayed shrinking, step for step.

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

    def __init__(self, space: SearchSpace, seed: int = 0, num_random: int = 2, delay_fraction: float = 0.0,
                 ramp_epochs: float = 0.0, subnet_scales: float | Sequence[float] = 1.0):
        super().__init__(space, seed)
        if not isinstance(num_random, int) or isinstance(num_random, bool) or num_random < 0:
            raise ConfigError(f"num_random must be a non-negative integer, got {num_random!r}")
        if not 0.0 <= float(delay_fraction) < 1.0:
            raise ConfigError(f"delay_fraction must be in [0, 1), got {delay_fraction!r}")
        if not float(ramp_epochs) >= 0.0:
            raise ConfigError(f"ramp_epochs must be >= 0 (epochs over which the subnets' gradient scale rises), "
                              f"got {ramp_epochs!r}")
        scales = [float(subnet_scales)] * (1 + num_random) if isinstance(subnet_scales, (int, float)) \
            else [float(v) for v in subnet_scales]
        if len(scales) != 1 + num_random or any(not v >= 0.0 for v in scales):
            raise ConfigError(f"subnet_scales must be one number >= 0 or {1 + num_random} of them (the smallest "
                              f"child, then the {num_random} random ones), got {subnet_scales!r}")
        self.num_random = num_random
        self.delay_fraction = float(delay_fraction)
        self.ramp_epochs = float(ramp_epochs)
        self.subnet_scales = scales
        self.largest, self.smallest = _extremes(space)

    @property
    def shrinking(self) -> ShrinkingRamp:
        """The teacher phase and the ramp over the trainer's budget (plain sandwich: neither)."""
        if self.delay_fraction == 0.0 and self.ramp_epochs == 0.0:
            return ShrinkingRamp()
        if self.budget is None:
            ramp = f" with ramp_epochs={self.ramp_epochs}" if self.ramp_epochs else ""
            raise ConfigError(
                f"delay_fraction={self.delay_fraction}{ramp} needs the training budget: call set_budget(budget) "
                "before sampling (the Trainer does before the first step)")
        return ShrinkingRamp.of(self.budget, self.delay_fraction, self.ramp_epochs)

    def set_budget(self, budget: TrainingBudget) -> None:
        super().set_budget(budget)
        self.shrinking  # noqa: B018 - a ramp that ends after training is refused before the first step

    @property
    def delay_steps(self) -> int:
        """Steps at the start that train the largest child only."""
        return self.shrinking.delay_steps

    def sample(self, step: int) -> list[Architecture]:
        if self.shrinking.factor(step) == 0.0:
            return [self.largest]
        rng = self.rng(step)
        return [self.largest, self.smallest, *(self.space.sample(rng) for _ in range(self.num_random))]

    def loss_scales(self, step: int) -> list[float] | None:
        factor = self.shrinking.factor(step)
        if factor == 0.0:
            return None  # the largest child alone, unscaled
        if factor == 1.0 and all(v == 1.0 for v in self.subnet_scales):
            return None
        return [1.0, *(factor * v for v in self.subnet_scales)]


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
