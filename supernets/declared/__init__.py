"""Declared search spaces: write the network once, mark what depends on a decision, get the supernet.

Two kinds of declared choice:

- ``Choice(decision, {option: module})``: shared weights, one module per option (SPOS, NAS-Bench-201);
- ``Elastic(decision, options)`` as a size of ``Linear``, ``Conv2d``, ``DepthwiseConv2d``, ``BatchNorm2d``,
  ``LayerNorm``, ``SelfAttention`` (features, channels, kernel, heads) or as the depth of ``Repeat``:
  entangled weights, one stored weight at the largest size, smaller options are slices (once-for-all,
  BigNAS, AutoFormer).

``DeclaredSearchSpace`` derives from the network the decisions, the supernet, standalone children, analytic
parameter counts and FLOPs, ``largest()``/``smallest()``, and checks of the declaration.
"""

from supernets.declared.child import count_params, export_module
from supernets.declared.choice import Choice
from supernets.declared.layers import BatchNorm2d, Conv2d, DepthwiseConv2d, LayerNorm, Linear, SelfAttention
from supernets.declared.macs import measure_macs
from supernets.declared.module import DeclaredModule
from supernets.declared.repeat import Repeat
from supernets.declared.sizes import Elastic, Size
from supernets.declared.space import DeclaredSearchSpace
from supernets.declared.supernet import DeclaredSupernet

__all__ = [
    "BatchNorm2d",
    "Choice",
    "Conv2d",
    "DeclaredModule",
    "DeclaredSearchSpace",
    "DeclaredSupernet",
    "DepthwiseConv2d",
    "Elastic",
    "LayerNorm",
    "Linear",
    "Repeat",
    "SelfAttention",
    "Size",
    "count_params",
    "export_module",
    "measure_macs",
]
