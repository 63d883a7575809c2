"""Weight-sharing neural architecture search: the framework core."""

from nas.architecture import Architecture, Option
from nas.errors import (
    CheckpointError,
    ConfigError,
    DatasetNotFoundError,
    InvalidArchitectureError,
    NASError,
    RegistryError,
)
from nas.search_space import SearchSpace

__all__ = [
    "Architecture",
    "CheckpointError",
    "ConfigError",
    "DatasetNotFoundError",
    "InvalidArchitectureError",
    "NASError",
    "Option",
    "RegistryError",
    "SearchSpace",
]
__version__ = "0.1.0"
