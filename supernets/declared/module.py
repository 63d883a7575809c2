"""DeclaredModule: a place in a network that depends on decisions, and the architecture it reads them from."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from torch import nn

from nas.architecture import Option
from nas.errors import InvalidArchitectureError
from supernets.declared.sizes import Choose, Size


class ArchitectureContext:
    """The architecture a supernet is running now; every declared place of the supernet reads from it.

    ``reads`` collects the decisions read while it is set (probes use it to find decisions the network
    never reads).
    """

    def __init__(self) -> None:
        self.arch: Mapping[str, Option] | None = None
        self.reads: set[str] | None = None

    def choose(self, decision: str) -> Option:
        if self.arch is None:
            raise InvalidArchitectureError(
                f"a declared layer read decision {decision!r} outside a supernet forward: run the network as "
                "supernet(x, arch), or export a child with supernet.subnet(arch)")
        if self.reads is not None:
            self.reads.add(decision)
        try:
            return self.arch[decision]
        except KeyError:
            raise InvalidArchitectureError(f"the architecture has no decision {decision!r}, which the network "
                                           f"reads; decisions given: {list(self.arch)}") from None

    @contextmanager
    def running(self, arch: Mapping[str, Option]) -> Iterator[None]:
        previous, self.arch = self.arch, arch
        try:
            yield
        finally:
            self.arch = previous


@dataclass(frozen=True)
class Condition:
    """When a nested place runs: decision ``==`` option (a Choice) or decision ``>=`` value (a Repeat's depth)."""

    decision: str
    option: Option
    at_least: bool = False

    def holds(self, arch: Mapping[str, Option]) -> bool:
        value = arch[self.decision]
        return value >= self.option if self.at_least else value == self.option


class DeclaredModule(nn.Module):
    """Base of the places that depend on decisions: module choices, elastic layers, elastic depth.

    A declared module reads its decisions from the supernet's :class:`ArchitectureContext` (bound by
    ``DeclaredSupernet``), and knows, for any architecture: which of its children run (``active_children``),
    the plain module it becomes (``export``), and its own parameter count (``own_params``).
    """

    def __init__(self) -> None:
        super().__init__()
        self._context: ArchitectureContext | None = None

    def bind(self, context: ArchitectureContext) -> None:
        self._context = context

    def choose(self, decision: str) -> Option:
        if self._context is None:
            raise InvalidArchitectureError(
                f"{type(self).__name__} read decision {decision!r} outside a supernet: build the network "
                "into a supernets.declared.DeclaredSupernet (DeclaredSearchSpace.build_supernet does) and run "
                "supernet(x, arch)")
        return self._context.choose(decision)

    def resolve(self, size: Size) -> Option:
        return size.resolve(self.choose)

    def decision_options(self) -> dict[str, tuple[Option, ...]]:
        """The decisions this place reads itself (not those of its children), with their options."""
        raise NotImplementedError

    def guarded_children(self) -> Iterator[tuple[str, nn.Module, Condition | None]]:
        """(path, nested module, the condition under which it runs) for the modules the author nested in
        this place (a Choice's options, a Repeat's blocks). Elastic layers nest none: their stored weights
        are their own."""
        return iter(())

    def active_children(self, choose: Choose) -> list[nn.Module]:
        """The nested modules that run in the architecture ``choose`` reads from."""
        return []

    @property
    def entangled(self) -> bool:
        """Whether this place's options are slices of one stored weight (elastic sizes, depth)."""
        return False

    def positions(self, output) -> int:
        """Output positions of one call (tokens, pixels) per example, from its output; MACs scale with them."""
        return 0

    def export(self, choose: Choose, export_child, fresh: bool) -> nn.Module:
        """The plain module this place is in that architecture (``export_child`` exports nested modules);
        ``fresh``: newly initialised weights of that size instead of copies of the stored ones."""
        raise NotImplementedError

    def own_params(self, choose: Choose) -> int:
        """Parameters of this place itself in that architecture (its children are counted apart)."""
        return 0

    def own_macs(self, choose: Choose, positions: tuple[int, ...]) -> int:
        """Multiply-accumulates of this place itself, given the output positions of each of its calls."""
        return 0
