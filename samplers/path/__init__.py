from samplers.path.base import PathFeedback, PathSampler
from samplers.path.sandwich import SandwichPathSampler
from samplers.path.uniform import UniformPathSampler

__all__ = ["PathFeedback", "PathSampler", "SandwichPathSampler", "UniformPathSampler"]
