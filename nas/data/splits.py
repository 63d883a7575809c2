"""In-memory image splits: tensors, not per-image Python transforms."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.data import Dataset


class TensorSplit(Dataset):
    """One split held as two tensors: images ``x`` (N, C, H, W) float32 and labels ``y`` (N,) int64.

    Example:
        >>> split = TensorSplit(torch.zeros(5, 1, 4, 4), torch.arange(5))
        >>> len(split.head(3)), split[4][1].item()
        (3, 4)
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor):
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"images and labels differ in length: {x.shape[0]} vs {y.shape[0]}")
        self.x = x.contiguous()
        self.y = y.long().contiguous()

    def __len__(self) -> int:
        return self.x.shape[0]

    def __getitem__(self, index):
        return self.x[index], self.y[index]

    def head(self, n: int | None) -> "TensorSplit":
        """The first ``n`` examples (all when ``n`` is None or larger than the split)."""
        if n is None or n >= len(self):
            return self
        return TensorSplit(self.x[:n], self.y[:n])

    def to(self, device: torch.device | str) -> "TensorSplit":
        return TensorSplit(self.x.to(device), self.y.to(device))


@dataclass(frozen=True)
class ImageDataset:
    """Train, valid and test splits of one image-classification dataset, plus its shape."""

    name: str
    train: TensorSplit
    valid: TensorSplit
    test: TensorSplit
    num_classes: int

    @property
    def channels(self) -> int:
        return int(self.train.x.shape[1])

    @property
    def image_size(self) -> int:
        return int(self.train.x.shape[-1])

    def summary(self) -> str:
        return (
            f"{self.name}: train {len(self.train):,} / valid {len(self.valid):,} / test {len(self.test):,} images, "
            f"{self.channels}x{self.image_size}x{self.image_size}, {self.num_classes} classes"
        )


def check_shape(name: str, dataset: ImageDataset, channels: int | None, num_classes: int | None) -> ImageDataset:
    """Fail clearly when a config's declared shape disagrees with the data."""
    from nas.errors import ConfigError

    if channels is not None and channels != dataset.channels:
        raise ConfigError(f"dataset {name!r} has {dataset.channels} channels, the config says {channels}")
    if num_classes is not None and num_classes != dataset.num_classes:
        raise ConfigError(f"dataset {name!r} has {dataset.num_classes} classes, the config says {num_classes}")
    return dataset
