from samplers.data.base import DataSampler
from samplers.data.uniform import UniformDataSampler

__all__ = ["DataSampler", "UniformDataSampler"]
