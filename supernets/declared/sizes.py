"""Sizes of a declared network: a fixed integer, one elastic decision, or a value derived from decisions."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Union

from nas.architecture import Option
from nas.errors import ConfigError

Choose = Callable[[str], Option]
"""Reads the option a decision takes in the architecture being run or exported."""


class Size:
    """An integer size of a layer (features, channels, kernel, heads, depth) that may depend on decisions.

    ``resolve(choose)`` is the size for the architecture ``choose`` reads from; ``values()`` every size it
    can take (the stored weight is the largest). Arithmetic with ints and other sizes, and ``map``, derive
    new sizes: ``width * 4``, ``Elastic("width", (0.5, 1.0)).map(lambda w: int(64 * w))``.

    Example:
        >>> width = Elastic("width", (8, 16))
        >>> hidden = width * 4
        >>> hidden.values(), hidden.resolve({"width": 8}.__getitem__)
        ((32, 64), 32)
    """

    def decision_options(self) -> dict[str, tuple[Option, ...]]:
        """The decisions this size reads, with their options."""
        raise NotImplementedError

    def resolve(self, choose: Choose) -> Option:
        raise NotImplementedError

    def values(self) -> tuple:
        """Every value the size takes over the options of its decisions, ascending and distinct."""
        names = list(self.decision_options())
        combos = itertools.product(*self.decision_options().values())
        return tuple(sorted({self.resolve(dict(zip(names, combo)).__getitem__) for combo in combos}))

    @property
    def largest(self) -> Option:
        return self.values()[-1]

    def map(self, fn: Callable[[Option], Option]) -> "Derived":
        return Derived(fn, (self,))

    def __mul__(self, other: "int | Size") -> "Derived":
        return Derived(lambda a, b: a * b, (self, as_size(other)))

    __rmul__ = __mul__

    def __add__(self, other: "int | Size") -> "Derived":
        return Derived(lambda a, b: a + b, (self, as_size(other)))

    __radd__ = __add__

    def __floordiv__(self, other: "int | Size") -> "Derived":
        return Derived(lambda a, b: a // b, (self, as_size(other)))


class Fixed(Size):
    """A size that depends on no decision."""

    def __init__(self, value: int):
        self.value = value

    def decision_options(self) -> dict[str, tuple[Option, ...]]:
        return {}

    def resolve(self, choose: Choose) -> Option:
        return self.value

    def values(self) -> tuple:
        return (self.value,)

    def __repr__(self) -> str:
        return repr(self.value)


class Elastic(Size):
    """An entangled decision: one stored weight at the largest option, smaller options are slices of it.

    The options are numbers; used directly as a layer size they must be positive integers (derive other
    sizes from them with arithmetic or ``map``). Pass the same object (or the same name and options) to
    every layer that depends on the decision.

    Example:
        >>> Elastic("hidden", (32, 64, 128)).values()
        (32, 64, 128)
    """

    def __init__(self, decision: str, options: Sequence[Option]):
        options = tuple(options)
        if not isinstance(decision, str) or not decision:
            raise ConfigError(f"an Elastic decision needs a non-empty name, got {decision!r}")
        if not options or any(isinstance(o, bool) or not isinstance(o, (int, float)) for o in options):
            raise ConfigError(f"Elastic decision {decision!r} needs a non-empty list of numbers as options, "
                              f"got {list(options)}; a choice among modules or names is a Choice")
        if len(set(options)) != len(options):
            raise ConfigError(f"Elastic decision {decision!r} has repeated options {list(options)}")
        self.decision, self.options = decision, options

    def decision_options(self) -> dict[str, tuple[Option, ...]]:
        return {self.decision: self.options}

    def resolve(self, choose: Choose) -> Option:
        return choose(self.decision)

    def values(self) -> tuple:
        return tuple(sorted(self.options))

    def __repr__(self) -> str:
        return f"Elastic({self.decision!r}, {self.options})"


class Derived(Size):
    """``fn`` of other sizes (arithmetic on sizes and ``Size.map`` build these)."""

    def __init__(self, fn: Callable[..., Option], parents: Sequence[Size]):
        self.fn, self.parents = fn, tuple(parents)

    def decision_options(self) -> dict[str, tuple[Option, ...]]:
        merged: dict[str, tuple[Option, ...]] = {}
        for parent in self.parents:
            merged.update(parent.decision_options())
        return merged

    def resolve(self, choose: Choose) -> Option:
        return self.fn(*(p.resolve(choose) for p in self.parents))

    def __repr__(self) -> str:
        return f"Derived({', '.join(map(repr, self.parents))})"


SizeLike = Union[int, Size]


def as_size(value: SizeLike) -> Size:
    """``value`` as a :class:`Size` (ints become :class:`Fixed`)."""
    if isinstance(value, Size):
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"a layer size must be an int or a supernets.declared size (Elastic, ...), got {value!r}")
    return Fixed(value)


def check_sizes(layer: str, what: str, size: Size, odd: bool = False) -> Size:
    """``size`` if every value it takes is a positive integer (odd, for kernels), else a ConfigError."""
    values = size.values()
    bad = [v for v in values if isinstance(v, bool) or not isinstance(v, int) or v < 1 or (odd and v % 2 == 0)]
    if bad:
        kind = "odd positive integers" if odd else "positive integers"
        raise ConfigError(f"{layer} {what} {size!r} takes the values {list(values)}, which must be {kind}; "
                          "derive integer sizes from other options with arithmetic or .map()")
    return size


def resolved_decisions(sizes: Mapping[str, Size]) -> dict[str, tuple[Option, ...]]:
    """The decisions that any of ``sizes`` reads."""
    merged: dict[str, tuple[Option, ...]] = {}
    for size in sizes.values():
        merged.update(size.decision_options())
    return merged
