"""ArchitectureEncoder: a fixed numeric vector of an architecture, the input of the router."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping, Sequence

import torch

from nas.architecture import Architecture, Option
from nas.errors import ConfigError, InvalidArchitectureError

ActiveDecisions = Callable[[Architecture], Collection[str]]
"""The decisions an architecture uses (e.g. the layers within its depth)."""


class ArchitectureEncoder:
    """One number per decision of a space: the chosen option divided by the decision's largest option
    (so every entry lies in ``(0, 1]``), and 0 for a decision the architecture does not use.

    ``active(arch)`` names the decisions ``arch`` uses (default: all). Zeroing the others makes
    architectures that differ only in unused decisions (layers beyond the depth) identical to the
    router, so they get the same weights: the same network. Options must be numbers (the elastic
    spaces' sizes, ratios and multipliers). Encodings are cached per (architecture, device, dtype),
    the ``cache_size`` most recently used ones.

    Example:
        >>> encoder = ArchitectureEncoder({"depth": (1, 2), "layer0.width": (8, 16), "layer1.width": (8, 16)},
        ...                               active=lambda a: ["depth"] + [f"layer{i}.width" for i in range(a["depth"])])
        >>> encoder(Architecture({"depth": 1, "layer0.width": 8, "layer1.width": 16}))
        tensor([0.5000, 0.5000, 0.0000])
        >>> encoder.size
        3
    """

    def __init__(self, decisions: Mapping[str, Sequence[Option]], active: ActiveDecisions | None = None,
                 cache_size: int = 4096):
        self.names = tuple(decisions)
        self.scales: dict[str, float] = {}
        for name, options in decisions.items():
            if not options or any(isinstance(o, bool) or not isinstance(o, (int, float)) or o <= 0 for o in options):
                raise ConfigError(f"a Mixture-of-Supernets router encodes architectures by their numeric options; "
                                  f"decision {name!r} has options {list(options)}: use it on a weight-entangled "
                                  f"space whose options are sizes (search_space=elastic_conv | elastic_vit)")
            self.scales[name] = float(max(options))
        self.active = active
        self.cache_size = int(cache_size)
        self._cache: OrderedDict[tuple, torch.Tensor] = OrderedDict()

    @property
    def size(self) -> int:
        """Length of the encoding (the number of decisions)."""
        return len(self.names)

    def values(self, arch: Architecture) -> list[float]:
        """The encoding of ``arch`` as plain floats."""
        used = self.active(arch) if self.active is not None else self.names
        try:
            return [float(arch[name]) / self.scales[name] if name in used else 0.0 for name in self.names]
        except KeyError as exc:
            raise InvalidArchitectureError(f"the Mixture-of-Supernets router cannot encode {arch}: it has no "
                                           f"decision {exc.args[0]!r}; its decisions are {list(self.names)}") from None

    def __call__(self, arch: Architecture, device: torch.device | str | None = None,
                 dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """The encoding of ``arch``, a ``(size,)`` tensor on ``device``."""
        key = (arch, None if device is None else torch.device(device), dtype)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        with torch.inference_mode(False):  # a cached encoding made while evaluating must serve training too
            encoded = torch.tensor(self.values(arch), dtype=dtype, device=device)
        self._cache[key] = encoded
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return encoded

    def __getstate__(self) -> dict:  # copies and pickles carry no cached tensors
        return {**self.__dict__, "_cache": OrderedDict()}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(decisions={self.size})"
