"""Ramp: the weight of importance against uniform sampling as training progresses."""

from __future__ import annotations

import math
from dataclasses import dataclass

from nas.errors import ConfigError


@dataclass(frozen=True)
class Ramp:
    """``weight(progress)`` for progress in [0, 1]: ``start`` until ``begin``, then ``shape`` to ``end`` at
    ``finish``, then ``end``. Shapes: ``linear``, ``cosine`` (smooth), ``constant`` (always ``end``).

    Example:
        >>> Ramp(0.0, 1.0).weight(0.5)
        0.5
        >>> round(Ramp(0.0, 0.8, begin=0.2, finish=0.6).weight(0.4), 6)
        0.4
    """

    start: float = 0.0
    end: float = 1.0
    begin: float = 0.0
    finish: float = 1.0
    shape: str = "linear"

    def __post_init__(self) -> None:
        if self.shape not in ("linear", "cosine", "constant"):
            raise ConfigError(f"ramp shape must be linear, cosine or constant, got {self.shape!r}")
        if not (0.0 <= self.start <= 1.0 and 0.0 <= self.end <= 1.0):
            raise ConfigError(f"ramp weights must be in [0, 1], got start={self.start}, end={self.end}")
        if not 0.0 <= self.begin < self.finish <= 1.0 and self.shape != "constant":
            raise ConfigError(f"ramp needs 0 <= begin < finish <= 1, got begin={self.begin}, finish={self.finish}")

    def weight(self, progress: float) -> float:
        if self.shape == "constant":
            return self.end
        t = min(max((progress - self.begin) / (self.finish - self.begin), 0.0), 1.0)
        if self.shape == "cosine":
            t = 0.5 - 0.5 * math.cos(math.pi * t)
        return self.start + (self.end - self.start) * t
