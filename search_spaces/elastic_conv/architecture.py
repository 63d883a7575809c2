"""Decisions of the elastic conv space, and the concrete layer plan of one child."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from nas.architecture import Architecture, Option
from nas.errors import InvalidArchitectureError
from search_spaces.elastic_conv.config import ElasticConvConfig

WIDTH = "width"
"""Decision name of the global width multiplier."""


def depth_name(stage: int) -> str:
    """``"stage1.depth"`` for ``stage=0``: decision names count stages from 1, blocks from 0."""
    return f"stage{stage + 1}.depth"


def kernel_name(stage: int, block: int) -> str:
    return f"stage{stage + 1}.block{block}.kernel"


def expand_name(stage: int, block: int) -> str:
    return f"stage{stage + 1}.block{block}.expand"


_BLOCK = re.compile(r"^k(\d+)e(\d+)$")
_STAGE_KEYS = re.compile(r"^stage(\d+)\.depth$")


class ElasticConvArchitecture(Architecture):
    """A child of the elastic conv space; ``str()`` is compact: the width, then per stage its
    depth and every block's kernel and expand ratio (inactive blocks included, so that it
    round-trips). The generic ``name=option;...`` form parses too.

    Example:
        >>> arch = ElasticConvArchitecture.from_string("w0.75|d2:k7e3,k5e2|d1:k3e4,k3e2")
        >>> arch["width"], arch["stage1.depth"], arch["stage1.block1.kernel"], arch["stage2.block0.expand"]
        (0.75, 2, 5, 4)
        >>> str(arch)
        'w0.75|d2:k7e3,k5e2|d1:k3e4,k3e2'
    """

    __slots__ = ()

    def __str__(self) -> str:
        shape = _shape(self)
        if shape is None:
            return super().__str__()
        stages, depth = shape
        parts = [f"w{json.dumps(self[WIDTH])}"]
        for stage in range(stages):
            blocks = ",".join(f"k{self[kernel_name(stage, b)]}e{self[expand_name(stage, b)]}" for b in range(depth))
            parts.append(f"d{self[depth_name(stage)]}:{blocks}")
        return "|".join(parts)

    @classmethod
    def from_string(cls, text: str) -> "ElasticConvArchitecture":
        if not isinstance(text, str) or not text.startswith("w") or "=" in text:
            return cls(Architecture.from_string(text))
        hint = "expected e.g. 'w1.0|d2:k7e3,k5e2,k3e4|d1:k3e4,k3e2,k5e2' (width, then per stage depth:blocks)"
        head, *stages = text.strip().split("|")
        try:
            choices: dict[str, Option] = {WIDTH: json.loads(head[1:])}
            for stage, part in enumerate(stages):
                depth, sep, blocks = part.partition(":")
                if not sep or not depth.startswith("d"):
                    raise ValueError(part)
                choices[depth_name(stage)] = int(depth[1:])
                for b, block in enumerate(blocks.split(",")):
                    match = _BLOCK.match(block)
                    if match is None:
                        raise ValueError(block)
                    choices[kernel_name(stage, b)] = int(match.group(1))
                    choices[expand_name(stage, b)] = int(match.group(2))
        except ValueError as exc:
            raise InvalidArchitectureError(f"malformed elastic conv architecture {text!r} at {exc}; {hint}") from None
        if not stages:
            raise InvalidArchitectureError(f"malformed elastic conv architecture {text!r}: no stages; {hint}")
        return cls(choices)


def _shape(arch: Architecture) -> tuple[int, int] | None:
    """(stages, blocks per stage) when ``arch`` has exactly the decisions of such a space."""
    stages = sum(1 for name in arch if _STAGE_KEYS.match(name))
    if stages == 0:
        return None
    depth = sum(1 for name in arch if name.startswith("stage1.block") and name.endswith(".kernel"))
    expected = {WIDTH} | {depth_name(s) for s in range(stages)}
    expected |= {f(s, b) for s in range(stages) for b in range(depth) for f in (kernel_name, expand_name)}
    return (stages, depth) if set(arch) == expected else None


def decisions(config: ElasticConvConfig) -> dict[str, tuple[Option, ...]]:
    """Decision name -> options (ascending): per stage its depth, then per block kernel and expand
    ratio, then the global width. Blocks beyond a stage's depth are inactive: their decisions
    exist in every architecture but do not change the network."""
    out: dict[str, tuple[Option, ...]] = {}
    for stage in range(config.num_stages):
        out[depth_name(stage)] = config.depths
        for block in range(config.max_depth):
            out[kernel_name(stage, block)] = config.kernel_sizes
            out[expand_name(stage, block)] = config.expand_ratios
    out[WIDTH] = config.width_multipliers
    return out


def conv_size(size: int, stride: int) -> int:
    """Spatial output size of a ``k x k`` convolution with padding ``k // 2`` (odd ``k``)."""
    return (size - 1) // stride + 1


@dataclass(frozen=True)
class BlockPlan:
    """One active inverted-residual block: channels, kernel, stride, spatial sizes."""

    stage: int
    index: int
    in_channels: int
    mid_channels: int
    out_channels: int
    kernel_size: int
    expand_ratio: int
    stride: int
    in_size: int
    out_size: int

    @property
    def residual(self) -> bool:
        return self.stride == 1 and self.in_channels == self.out_channels


@dataclass(frozen=True)
class ConvPlan:
    """Every active layer of one child, in order; what params, FLOPs and models are built from."""

    stem_channels: int
    stem_size: int
    blocks: tuple[BlockPlan, ...]
    head_channels: int | None
    features: int
    final_size: int


def plan(config: ElasticConvConfig, arch: Architecture) -> ConvPlan:
    """The concrete layers of (a validated) ``arch``."""
    stem, stage_channels, head = config.channels(arch[WIDTH])
    size = conv_size(config.input_size, config.stem_stride)
    stem_size, channels, blocks = size, stem, []
    for stage, (out_channels, stride) in enumerate(zip(stage_channels, config.stage_strides)):
        for block in range(int(arch[depth_name(stage)])):
            s = stride if block == 0 else 1
            expand = int(arch[expand_name(stage, block)])
            out_size = conv_size(size, s)
            blocks.append(BlockPlan(stage, block, channels, channels * expand, out_channels,
                                    int(arch[kernel_name(stage, block)]), expand, s, size, out_size))
            channels, size = out_channels, out_size
    return ConvPlan(stem, stem_size, tuple(blocks), head, head if head is not None else channels, size)
