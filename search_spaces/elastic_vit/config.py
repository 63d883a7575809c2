"""ElasticViTConfig: the size of the elastic transformer space (patches, options, head dim)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from nas.errors import ConfigError


def _options(name: str, values: Sequence, kinds: tuple[type, ...]) -> tuple:
    values = tuple(values)
    if not values or any(not isinstance(v, kinds) or isinstance(v, bool) or v <= 0 for v in values):
        raise ConfigError(f"elastic ViT {name} must be a non-empty list of positive numbers, got {list(values)}")
    if list(values) != sorted(set(values)):
        raise ConfigError(f"elastic ViT {name} must be distinct and ascending (smallest child first), "
                          f"got {list(values)}")
    return values


@dataclass(frozen=True)
class ElasticViTConfig:
    """Skeleton and options of the elastic ViT space (AutoFormer-style).

    Non-overlapping ``patch_size`` patches are embedded by a strided convolution, a class token
    and learned position embeddings are added, then ``depth`` pre-norm transformer layers
    (LayerNorm-attention, LayerNorm-MLP, both residual), a final LayerNorm and a linear
    classifier on the class token. A child picks ``depth`` from ``depths``, one embedding dim from
    ``embed_dims`` for the whole network, and per layer its head count from ``num_heads`` and MLP
    ratio from ``mlp_ratios``. The head dim is fixed (``head_dim``); as in AutoFormer the attention
    width ``heads * head_dim`` is independent of the embedding dim, so heads need not divide it.
    """

    in_channels: int = 3
    num_classes: int = 10
    input_size: int = 32
    patch_size: int = 4
    embed_dims: tuple[int, ...] = (48, 64)
    depths: tuple[int, ...] = (2, 3, 4)
    num_heads: tuple[int, ...] = (2, 3, 4)
    mlp_ratios: tuple[float, ...] = (2, 3, 4)
    head_dim: int = 16

    def __post_init__(self) -> None:
        for name in ("in_channels", "num_classes", "input_size", "patch_size", "head_dim"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"elastic ViT {name} must be a positive integer, got {value!r}")
        if self.input_size % self.patch_size:
            raise ConfigError(f"elastic ViT input_size {self.input_size} must be divisible by patch_size "
                              f"{self.patch_size}")
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 - frozen dataclass
        set_("embed_dims", _options("embed_dims", self.embed_dims, (int,)))
        set_("depths", _options("depths", self.depths, (int,)))
        set_("num_heads", _options("num_heads", self.num_heads, (int,)))
        set_("mlp_ratios", _options("mlp_ratios", self.mlp_ratios, (int, float)))

    @property
    def num_patches(self) -> int:
        return (self.input_size // self.patch_size) ** 2

    @property
    def tokens(self) -> int:
        """Patches plus the class token."""
        return self.num_patches + 1

    @property
    def max_depth(self) -> int:
        return self.depths[-1]

    @property
    def max_embed(self) -> int:
        return self.embed_dims[-1]

    @property
    def max_heads(self) -> int:
        return self.num_heads[-1]

    @property
    def max_hidden(self) -> int:
        return hidden_features(self.max_embed, self.mlp_ratios[-1])

    def as_dict(self) -> dict:
        """The settings, JSON-ready (``spec()`` of the space)."""
        return {n: list(v) if isinstance(v, tuple) else v
                for n in self.__dataclass_fields__ for v in [getattr(self, n)]}


def hidden_features(embed_dim: int, mlp_ratio: float) -> int:
    """The MLP's hidden width: ``round(embed_dim * mlp_ratio)``."""
    return int(round(embed_dim * mlp_ratio))
