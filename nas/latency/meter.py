"""LatencyMeter: wall-clock time of a forward pass, measured the way deployment runs it.

Warm-up runs first (allocator, kernel selection, caches), then ``repeats`` timed runs; the result is their
median in milliseconds (or their minimum, ``statistic="min"``: on a machine shared with other jobs the median
includes the time other processes took the core; the minimum estimates the uncontended latency), with ``torch.inference_mode`` and ``threads`` CPU threads (restored afterwards). On
CUDA every run is synchronised before the clock is read.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from nas.errors import ConfigError
from nas.search_space import SearchSpace

STATISTICS: dict[str, Callable[[list[float]], float]] = {"median": statistics.median, "min": min}
"""What a latency is, of the timed repeats."""


@dataclass(frozen=True)
class LatencyMeter:
    """How a latency is measured: batch size, CPU threads, warm-up runs, timed repeats, device, and which
    statistic of the repeats (``median``, or ``min``).

    Example:
        >>> meter = LatencyMeter(batch_size=2, threads=1, warmup=2, repeats=5)
        >>> ms = meter.measure_model(torch.nn.Conv2d(1, 4, 3), (1, 8, 8))
        >>> 0.0 < ms < 1000.0
        True
    """

    batch_size: int = 1
    threads: int = 1
    warmup: int = 5
    repeats: int = 20
    device: str = "cpu"
    statistic: str = "median"

    def __post_init__(self) -> None:
        if self.statistic not in STATISTICS:
            raise ConfigError(f"latency statistic must be one of {list(STATISTICS)}, got {self.statistic!r}")
        for name in ("batch_size", "threads", "repeats"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"latency {name} must be >= 1, got {getattr(self, name)}")
        if int(self.warmup) < 0:
            raise ConfigError(f"latency warmup must be >= 0, got {self.warmup}")

    def settings(self) -> dict[str, Any]:
        return asdict(self)

    @contextmanager
    def _threads(self):
        before = torch.get_num_threads()
        torch.set_num_threads(int(self.threads))
        try:
            yield
        finally:
            torch.set_num_threads(before)

    def time(self, run: Callable[[], Any]) -> float:
        """The median (or min) of ``repeats`` timed calls of ``run`` after ``warmup`` untimed ones, in milliseconds."""
        device = torch.device(self.device)
        sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
        samples = []
        with self._threads(), torch.inference_mode():
            for _ in range(int(self.warmup)):
                run()
            sync()
            for _ in range(int(self.repeats)):
                started = time.perf_counter()
                run()
                sync()
                samples.append(time.perf_counter() - started)
        return 1000.0 * STATISTICS[self.statistic](samples)

    def measure_model(self, model: nn.Module, input_shape: Sequence[int]) -> float:
        """Latency (ms) of ``model`` in eval mode on a batch of ``batch_size`` random inputs of ``input_shape``."""
        model = model.eval().to(self.device)
        x = torch.randn(int(self.batch_size), *input_shape, device=self.device)
        return self.time(lambda: model(x))


def input_shape_of(space: SearchSpace) -> tuple[int, int, int]:
    """(channels, height, width) of the images a space's networks take, from its ``spec()``."""
    spec = space.spec()
    try:
        return int(spec["in_channels"]), int(spec["input_size"]), int(spec["input_size"])
    except KeyError:
        raise ConfigError(f"search space {space.name!r} does not say its input size (spec() has no in_channels / "
                          "input_size): set latency.input_shape=[C,H,W]") from None
