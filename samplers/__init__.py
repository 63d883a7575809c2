"""Path samplers (which children train) and data samplers (which examples): every public name, once.

Configs point at these names (``_target_: samplers.UniformPathSampler``).
"""

from samplers.data.base import DataSampler
from samplers.data.pada import PADADataSampler
from samplers.data.uniform import UniformDataSampler
from samplers.path.base import PathSampler
from samplers.path.arch_generator import ArchitectureGenerator
from samplers.path.complexity_bins import ComplexityBins
from samplers.path.controller import LSTMController
from samplers.path.cost_bucket import CostBucketPathSampler
from samplers.path.enas import ENASPathSampler
from samplers.path.pada import PADAPathSampler
from samplers.path.sandwich import SandwichPathSampler
from samplers.path.shiftnas import ShiftNASPathSampler
from samplers.path.strict_fair import StrictFairPathSampler
from samplers.path.uniform import UniformPathSampler
from samplers.ramp import Ramp
from samplers.shrinking import ShrinkingRamp

__all__ = [
    "ArchitectureGenerator",
    "ComplexityBins",
    "CostBucketPathSampler",
    "DataSampler",
    "ENASPathSampler",
    "LSTMController",
    "PADADataSampler",
    "PADAPathSampler",
    "PathSampler",
    "Ramp",
    "SandwichPathSampler",
    "ShiftNASPathSampler",
    "ShrinkingRamp",
    "StrictFairPathSampler",
    "UniformDataSampler",
    "UniformPathSampler",
]
