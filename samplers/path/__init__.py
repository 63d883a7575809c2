from samplers.path.base import PathFeedback, PathSampler
from samplers.path.uniform import UniformPathSampler

__all__ = ["PathFeedback", "PathSampler", "UniformPathSampler"]
