"""Latency as a cost: measured per child (:class:`MeasuredLatency`) or predicted from a per-layer lookup table
built once per device (:class:`LatencyTable`, `nas latency build`). A search space given one as its
``latency`` reports ``latency_ms`` in ``space.cost(arch)``, which searchers constrain (``max_latency_ms``) and
trade off (``cost_objective=latency``)."""

from nas.latency.attach import attach_latency, needs_latency
from nas.latency.layers import Layer, decompose, layer_modules
from nas.latency.measured import MeasuredLatency
from nas.latency.meter import LatencyMeter, input_shape_of
from nas.latency.table import OVERHEAD, LatencyTable

__all__ = ["LatencyMeter", "LatencyTable", "Layer", "MeasuredLatency", "OVERHEAD", "attach_latency", "decompose",
           "input_shape_of", "layer_modules", "needs_latency"]
