"""Path samplers (which children train) and data samplers (which examples)."""

from samplers.data import DataSampler, UniformDataSampler
from samplers.path import PathFeedback, PathSampler, SandwichPathSampler, UniformPathSampler

__all__ = [
    "DataSampler",
    "PathFeedback",
    "PathSampler",
    "SandwichPathSampler",
    "UniformDataSampler",
    "UniformPathSampler",
]
