"""MeasuredLatency: a child's latency measured directly: its standalone network, timed on this machine."""

from __future__ import annotations

from collections.abc import Sequence

from nas.architecture import Architecture
from nas.latency.meter import LatencyMeter, input_shape_of
from nas.search_space import SearchSpace


class MeasuredLatency:
    """``latency(arch)``: milliseconds of a forward pass of ``space.build_model(arch)``, cached per architecture.

    Warm-up, median of repeats, batch size, threads and device come from the :class:`LatencyMeter` settings.
    Exact for this machine at this moment, and costly (``warmup + repeats`` forward passes per child); the
    lookup table (:class:`nas.latency.LatencyTable`) predicts it without running the child.

    Example:
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> space = NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
        >>> latency = MeasuredLatency(space, warmup=1, repeats=3)
        >>> arch = space.sample(__import__("numpy").random.default_rng(0))
        >>> latency(arch) > 0 and arch in latency.cache
        True
    """

    def __init__(self, space: SearchSpace, batch_size: int = 1, threads: int = 1, warmup: int = 5,
                 repeats: int = 20, device: str = "cpu", input_shape: Sequence[int] | None = None,
                 statistic: str = "median"):
        self.space = space
        self.meter = LatencyMeter(int(batch_size), int(threads), int(warmup), int(repeats), str(device),
                                  str(statistic))
        self.input_shape = tuple(input_shape) if input_shape is not None else input_shape_of(space)
        self.cache: dict[Architecture, float] = {}

    def __call__(self, arch: Architecture) -> float:
        arch = self.space.validate(arch)
        if arch not in self.cache:
            self.cache[arch] = self.meter.measure_model(self.space.build_model(arch), self.input_shape)
        return self.cache[arch]
