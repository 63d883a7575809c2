"""ElasticConvConfig: the size of the elastic MobileNet-style space (stages, channels, options)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from nas.errors import ConfigError

ACTIVATIONS = ("relu", "relu6", "hswish")


def scaled_channels(channels: int, multiplier: float, divisor: int) -> int:
    """``channels * multiplier`` rounded to a multiple of ``divisor`` (MobileNet's rule: never below
    ``divisor``, never more than 10% below the exact value)."""
    exact = channels * multiplier
    rounded = max(divisor, int(exact + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * exact:
        rounded += divisor
    return rounded


def _ascending(name: str, values: Sequence, kind: type, positive: bool = True) -> tuple:
    values = tuple(values)
    if not values or any(not isinstance(v, kind) or isinstance(v, bool) for v in values):
        raise ConfigError(f"elastic conv {name} must be a non-empty list of {kind.__name__}s, got {list(values)}")
    if positive and any(v <= 0 for v in values):
        raise ConfigError(f"elastic conv {name} must be positive, got {list(values)}")
    if list(values) != sorted(set(values)):
        raise ConfigError(f"elastic conv {name} must be distinct and ascending (smallest child first), "
                          f"got {list(values)}")
    return values


@dataclass(frozen=True)
class ElasticConvConfig:
    """Skeleton and options of the elastic conv space.

    Stem Conv3x3(``stem_stride``)-BN-act; stages of inverted-residual blocks (1x1 expand, kxk
    depthwise, 1x1 project; residual when the shape allows) at ``stage_channels`` with the first
    block of stage ``i`` at stride ``stage_strides[i]``; an optional 1x1 head conv to
    ``head_channels``; global average pooling and a linear classifier. A child picks each stage's
    depth from ``depths``, each block's kernel from ``kernel_sizes`` and expand ratio from
    ``expand_ratios``, and one global width multiplier from ``width_multipliers`` that scales the
    stem, stage and head channels (rounded to multiples of ``channel_divisor``). All option lists
    are ascending: the last option of every decision is the largest child.
    """

    in_channels: int = 3
    num_classes: int = 10
    input_size: int = 32
    stem_channels: int = 16
    stem_stride: int = 1
    stage_channels: tuple[int, ...] = (16, 24, 32)
    stage_strides: tuple[int, ...] = (1, 2, 2)
    depths: tuple[int, ...] = (1, 2, 3)
    kernel_sizes: tuple[int, ...] = (3, 5, 7)
    expand_ratios: tuple[int, ...] = (2, 3, 4)
    width_multipliers: tuple[float, ...] = (0.75, 1.0)
    head_channels: int | None = None
    channel_divisor: int = 4
    activation: str = "relu6"
    kernel_transform: bool = False
    _widths: dict = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 - frozen dataclass
        for name in ("in_channels", "num_classes", "input_size", "stem_channels", "stem_stride", "channel_divisor"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"elastic conv {name} must be a positive integer, got {value!r}")
        set_("stage_channels", _positive_ints("stage_channels", self.stage_channels))
        set_("stage_strides", _positive_ints("stage_strides", self.stage_strides))
        if len(self.stage_channels) != len(self.stage_strides):
            raise ConfigError(f"elastic conv needs one stride per stage: {len(self.stage_channels)} stage_channels, "
                              f"{len(self.stage_strides)} stage_strides")
        set_("depths", _ascending("depths", self.depths, int))
        set_("kernel_sizes", _ascending("kernel_sizes", self.kernel_sizes, int))
        if any(k % 2 == 0 for k in self.kernel_sizes):
            raise ConfigError(f"elastic conv kernel_sizes must be odd (a centre crop needs a centre), "
                              f"got {list(self.kernel_sizes)}")
        set_("expand_ratios", _ascending("expand_ratios", self.expand_ratios, int))
        widths = tuple(self.width_multipliers)
        if all(isinstance(w, (int, float)) and not isinstance(w, bool) for w in widths):
            widths = tuple(float(w) for w in widths)  # options are floats, also when written as 1
        set_("width_multipliers", _ascending("width_multipliers", widths, float))
        if self.head_channels is not None and (not isinstance(self.head_channels, int) or self.head_channels < 1):
            raise ConfigError(f"elastic conv head_channels must be a positive integer or null, "
                              f"got {self.head_channels!r}")
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"elastic conv activation must be one of {list(ACTIVATIONS)}, got {self.activation!r}")
        set_("kernel_transform", bool(self.kernel_transform))
        set_("_widths", {w: self._channels_at(w) for w in self.width_multipliers})

    def _channels_at(self, multiplier: float) -> tuple[int, tuple[int, ...], int | None]:
        d = self.channel_divisor
        head = None if self.head_channels is None else scaled_channels(self.head_channels, multiplier, d)
        return (scaled_channels(self.stem_channels, multiplier, d),
                tuple(scaled_channels(c, multiplier, d) for c in self.stage_channels), head)

    def channels(self, multiplier: float) -> tuple[int, tuple[int, ...], int | None]:
        """(stem, per-stage, head) channels at width ``multiplier`` (one of ``width_multipliers``)."""
        return self._widths[multiplier]

    @property
    def max_channels(self) -> tuple[int, tuple[int, ...], int | None]:
        """The stored (largest) channels: at the largest width multiplier."""
        return self._widths[self.width_multipliers[-1]]

    @property
    def num_stages(self) -> int:
        return len(self.stage_channels)

    @property
    def max_depth(self) -> int:
        return self.depths[-1]

    def as_dict(self) -> dict:
        """The settings, JSON-ready (``spec()`` of the space)."""
        names = [f for f in self.__dataclass_fields__ if not f.startswith("_")]
        return {n: list(v) if isinstance(v, tuple) else v for n in names for v in [getattr(self, n)]}


def _positive_ints(name: str, values: Sequence) -> tuple[int, ...]:
    """A non-empty tuple of positive ints in any order (stage settings, not options)."""
    values = tuple(values)
    if not values or any(not isinstance(v, int) or isinstance(v, bool) or v < 1 for v in values):
        raise ConfigError(f"elastic conv {name} must be a non-empty list of positive integers, got {list(values)}")
    return values
