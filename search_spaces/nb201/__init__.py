"""NAS-Bench-201: the cell space, its standalone networks, its shared-weight supernet and its ground truth."""

from search_spaces.nb201.architecture import EDGE_NAMES, EDGES, NB201Architecture
from search_spaces.nb201.benchmark import NB201_DATASETS, NB201Oracle
from search_spaces.nb201.network import NB201Config, NB201Network, NB201Supernet
from search_spaces.nb201.ops import OPS
from search_spaces.nb201.space import NB201SearchSpace

__all__ = [
    "EDGES",
    "EDGE_NAMES",
    "NB201_DATASETS",
    "NB201Architecture",
    "NB201Config",
    "NB201Network",
    "NB201Oracle",
    "NB201SearchSpace",
    "NB201Supernet",
    "OPS",
]
