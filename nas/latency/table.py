"""LatencyTable: a per-layer latency lookup table, built once per device, that predicts a child's latency.

As once-for-all does for its spaces, a child's latency is predicted as the sum of the measured latencies of the
layers it is made of (:mod:`nas.latency.layers`), plus one ``network overhead`` entry: the median, over a few
calibration children, of what a whole forward pass costs beyond its layers (additions between layers, the
pooling of the head, Python dispatch). Building measures every distinct layer of the space once: layers are
collected from children drawn uniformly (and the smallest and largest) until ``patience`` draws in a row bring
no new one. ``predict`` never runs the child: it builds it, records its layers on a single input, and sums.

This module owns the table's JSON file (``save`` / ``load``).
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nas.architecture import Architecture
from nas.atomic import write_text_atomic
from nas.errors import ConfigError
from nas.latency.layers import Layer, decompose
from nas.latency.meter import LatencyMeter, input_shape_of
from nas.search_space import SearchSpace

OVERHEAD = "network overhead"
"""The entry every prediction adds once: what a whole network costs beyond the sum of its layers."""

FORMAT = 1


def device_name(device: str = "cpu") -> str:
    """What the table was measured on: the CPU model (or CUDA device name), for the file and its check."""
    if torch.device(device).type == "cuda":
        return torch.cuda.get_device_name(torch.device(device))
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


class LatencyTable:
    """Layer key -> milliseconds, for one search space and one :class:`LatencyMeter` setting on one device.

    ``predict(arch)`` (also ``table(arch)``) is ``sum(entries[k] for k, _ in breakdown(arch))``: the child's
    layers and the ``network overhead`` entry. A child with a layer the table lacks is a ConfigError (rebuild
    with a larger ``patience``).

    Example:
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> space = NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
        >>> table = LatencyTable.build(space, LatencyMeter(warmup=1, repeats=3), patience=20, calibration=2,
        ...                            progress=False)
        >>> arch = space.sample(np.random.default_rng(0))
        >>> table.predict(arch) == sum(table.entries[key] for key, _ in table.breakdown(arch))
        True
    """

    def __init__(self, space: SearchSpace, entries: dict[str, float], meter: LatencyMeter,
                 input_shape: Sequence[int], meta: dict[str, Any] | None = None):
        if OVERHEAD not in entries:
            raise ConfigError(f"a latency table needs its {OVERHEAD!r} entry")
        self.space, self.entries, self.meter = space, dict(entries), meter
        self.input_shape = tuple(int(d) for d in input_shape)
        self.meta = dict(meta or {})
        self._keys: dict[Architecture, list[str]] = {}

    def __len__(self) -> int:
        return len(self.entries)

    # -- prediction --------------------------------------------------------------------------------------------
    def layers(self, arch: Architecture) -> list[Layer]:
        """The layer calls of ``arch``'s standalone network, in order."""
        model = self.space.build_model(self.space.validate(arch))
        return decompose(model, torch.zeros(1, *self.input_shape))

    def keys(self, arch: Architecture) -> list[str]:
        arch = self.space.validate(arch)
        if arch not in self._keys:
            self._keys[arch] = [layer.key for layer in self.layers(arch)]
        return self._keys[arch]

    def breakdown(self, arch: Architecture) -> list[tuple[str, float]]:
        """(entry, ms) for every layer call of ``arch`` and the network overhead: the terms of its prediction."""
        keys = self.keys(arch)
        missing = [k for k in keys if k not in self.entries]
        if missing:
            raise ConfigError(f"the latency table has no entry for {len(missing)} layer(s) of {arch} (e.g. "
                              f"{missing[0]}): rebuild it with a larger latency.patience (nas latency build)")
        return [(k, self.entries[k]) for k in keys] + [(OVERHEAD, self.entries[OVERHEAD])]

    def predict(self, arch: Architecture) -> float:
        """Predicted latency of ``arch`` in milliseconds: the sum of its entries."""
        return float(sum(ms for _, ms in self.breakdown(arch)))

    __call__ = predict

    # -- building ------------------------------------------------------------------------------------------------
    @classmethod
    def build(cls, space: SearchSpace, meter: LatencyMeter, patience: int = 200, max_samples: int = 20_000,
              calibration: int = 10, seed: int = 0, input_shape: Sequence[int] | None = None,
              progress: bool = True) -> LatencyTable:
        """Measure every distinct layer of ``space`` once with ``meter``, and the network overhead."""
        from nas.progress import progress_bar

        started = time.perf_counter()
        shape = tuple(input_shape) if input_shape is not None else input_shape_of(space)
        example = torch.zeros(1, *shape)
        rng = np.random.default_rng(seed)
        found: dict[str, Layer] = {}
        drawn, quiet = 0, 0
        candidates: list[Architecture] = [space.smallest(), space.largest()]
        while quiet < patience and drawn < max_samples:
            arch = candidates.pop() if candidates else space.sample(rng)
            drawn += 1
            new = 0
            for layer in decompose(space.build_model(space.validate(arch)), example):
                if layer.key not in found:
                    found[layer.key] = layer
                    new += 1
            quiet = 0 if new else quiet + 1
        entries: dict[str, float] = {}
        with progress_bar(len(found), "measuring layers", unit="layer", enabled=progress) as bar:
            for key, layer in found.items():
                module = layer.module.eval().to(meter.device)
                inputs = layer.inputs(meter.batch_size, meter.device)
                entries[key] = meter.time(lambda: module(*inputs))
                bar.update(1)
        table = cls(space, {**entries, OVERHEAD: 0.0}, meter, shape)
        whole = meter.measure_model
        overheads = []
        for _ in range(int(calibration)):
            arch = space.sample(rng)
            overheads.append(whole(space.build_model(arch), shape) - table.predict(arch))
        table.entries[OVERHEAD] = float(statistics.median(overheads)) if overheads else 0.0
        table.meta = {"format": FORMAT, "space": space.spec(), "meter": meter.settings(), "input_shape": list(shape),
                      "device_name": device_name(meter.device), "torch": torch.__version__,
                      "children_drawn": drawn, "layers": len(found), "calibration_children": int(calibration),
                      "build_seconds": round(time.perf_counter() - started, 1)}
        return table

    # -- the file ------------------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        path = Path(path)
        write_text_atomic(path, json.dumps({**self.meta, "entries": self.entries}, indent=1) + "\n")
        return path

    @classmethod
    def load(cls, space: SearchSpace, path: str | Path, warn: Callable[[str], None] = print) -> LatencyTable:
        """The table in ``path``, refused (ConfigError) when it was built for another space."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"latency table {path} does not exist: build it on this machine with `nas latency "
                              f"build search_space=<space> output={path}`")
        try:
            record = json.loads(path.read_text())
            entries = {str(k): float(v) for k, v in record["entries"].items()}
            meter, shape = LatencyMeter(**record["meter"]), record["input_shape"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"latency table {path} is unreadable ({type(exc).__name__}: {exc}): rebuild it with "
                              "`nas latency build`") from None
        if record.get("space") != json.loads(json.dumps(space.spec())):
            raise ConfigError(f"latency table {path} was built for search space {record.get('space')}, not "
                              f"{space.spec()}: build one for this space (nas latency build search_space=...)")
        here = device_name(meter.device)
        if record.get("device_name") != here:
            warn(f"note: latency table {path} was measured on {record.get('device_name')!r}, this machine is "
                 f"{here!r}: its predictions are that machine's")
        meta = {k: v for k, v in record.items() if k != "entries"}
        return cls(space, entries, meter, shape, meta)
