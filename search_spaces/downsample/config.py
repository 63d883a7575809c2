"""DownsampleConfig: the skeleton and the options of the downsampling space."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from nas.architecture import Option
from nas.errors import ConfigError

POOLS = ("stride", "avg", "max")


@dataclass(frozen=True)
class DownsampleConfig:
    """Sizes and options; ``__post_init__`` refuses a skeleton that cannot run, naming the fix.

    Example:
        >>> cfg = DownsampleConfig(1, 10, 16, 4, (4, 8, 16), 3, (0, 1, 2, 3), (4, 5, 6, 7, 8), ("stride",))
        >>> cfg.widths
        (4, 4, 4, 8, 8, 8, 16, 16, 16)
        >>> DownsampleConfig(1, 10, 18, 4, (4, 8, 16), 3, (0, 1), (4, 5), ("stride",))
        Traceback (most recent call last):
        ...
        nas.errors.ConfigError: downsample space: input_size=18 must be divisible by 4 (it is halved twice); resize the dataset
    """

    in_channels: int
    num_classes: int
    input_size: int
    stem_channels: int
    stage_widths: tuple[int, ...]
    blocks_per_stage: int
    first_positions: tuple[int, ...]
    second_positions: tuple[int, ...]
    pools: tuple[str, ...]

    position_decisions = ("down1", "down2")

    def __post_init__(self) -> None:
        blocks = len(self.stage_widths) * self.blocks_per_stage
        if min(self.in_channels, self.num_classes, self.input_size, self.stem_channels, self.blocks_per_stage) < 1 \
                or not self.stage_widths or min(self.stage_widths) < 1:
            raise ConfigError(f"downsample space: sizes must be positive, got {self.as_dict()}")
        if not self.first_positions or not self.second_positions or not self.pools:
            raise ConfigError("downsample space: first_positions, second_positions and pools each need an option")
        for name in ("first_positions", "second_positions"):
            positions = getattr(self, name)
            if len(set(positions)) != len(positions) or min(positions) < 0 or max(positions) >= blocks:
                raise ConfigError(f"downsample space: {name}={list(positions)} must be distinct block indices in "
                                  f"[0, {blocks - 1}] ({len(self.stage_widths)} stages x {self.blocks_per_stage} blocks)")
        if max(self.first_positions) >= min(self.second_positions):
            raise ConfigError(f"downsample space: every first position {list(self.first_positions)} must come before "
                              f"every second position {list(self.second_positions)}, so that the two halvings never "
                              "fall on one block")
        unknown = [p for p in self.pools if p not in POOLS]
        if unknown or len(set(self.pools)) != len(self.pools):
            raise ConfigError(f"downsample space: pools={list(self.pools)} must be distinct names of {list(POOLS)}")
        if self.input_size % 4:
            raise ConfigError(f"downsample space: input_size={self.input_size} must be divisible by 4 (it is halved "
                              "twice); resize the dataset")

    @property
    def widths(self) -> tuple[int, ...]:
        """Output channels of every block, in order."""
        return tuple(w for w in self.stage_widths for _ in range(self.blocks_per_stage))

    def decisions(self) -> dict[str, tuple[Option, ...]]:
        return {"down1": tuple(self.first_positions), "down2": tuple(self.second_positions), "pool": tuple(self.pools)}

    def as_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
