"""Exceptions of the framework: each names the problem and the fix."""


class NASError(Exception):
    """Base class of every error this framework raises on purpose."""


class InvalidArchitectureError(NASError, ValueError):
    """An architecture (object or string) that does not belong to its search space."""


class ConfigError(NASError, ValueError):
    """Options that cannot work together, or a value outside what a component accepts."""


class DatasetNotFoundError(NASError, FileNotFoundError):
    """Dataset files are missing and cannot be downloaded."""


class CheckpointError(NASError, RuntimeError):
    """A checkpoint that cannot be read, or that belongs to another run."""


class RegistryError(NASError, KeyError):
    """An unknown name in a registry (search spaces)."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class LockedError(NASError, RuntimeError):
    """Another process holds the lock of a folder or file that this command needs to itself."""


class RunFolderError(NASError):
    """A run-folder file that is missing or unreadable, or a folder that belongs to another configuration."""


class DivergenceError(NASError, RuntimeError):
    """The ranks of a distributed run no longer train the same children (a cross-rank check failed)."""
