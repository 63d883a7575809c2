"""A tiny, learnable, generated image dataset for tests and smoke runs."""

from __future__ import annotations

import torch

from nas.data.splits import ImageDataset, TensorSplit, check_shape


def synthetic(
    train_size: int = 512,
    valid_size: int = 256,
    test_size: int = 256,
    image_size: int = 8,
    channels: int = 1,
    num_classes: int = 4,
    noise: float = 1.0,
    seed: int = 0,
) -> ImageDataset:
    """Class-conditional images: a fixed random pattern per class plus Gaussian noise.

    The same ``seed`` always gives the same tensors, so tests can compare runs exactly.

    Example:
        >>> data = synthetic(train_size=32, valid_size=8, test_size=8)
        >>> data.train.x.shape, data.num_classes
        (torch.Size([32, 1, 8, 8]), 4)
    """
    generator = torch.Generator().manual_seed(seed)
    patterns = torch.randn(num_classes, channels, image_size, image_size, generator=generator)

    def split(n: int) -> TensorSplit:
        y = torch.randint(num_classes, (n,), generator=generator)
        x = patterns[y] + noise * torch.randn(n, channels, image_size, image_size, generator=generator)
        return TensorSplit(x, y)

    data = ImageDataset("synthetic", split(train_size), split(valid_size), split(test_size), num_classes)
    return check_shape("synthetic", data, channels, num_classes)
