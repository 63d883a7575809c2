"""CIFAR-10 / CIFAR-100 through torchvision, held in memory as normalised tensors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from nas.data._fashion_mnist import default_root
from nas.data.splits import ImageDataset, TensorSplit, check_shape
from nas.errors import ConfigError, DatasetNotFoundError

_STATS = {
    10: ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    100: ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}


def cifar(
    num_classes: int = 10,
    valid_size: int = 5_000,
    root: str | None = None,
    download: bool = True,
    channels: int | None = None,
) -> ImageDataset:
    """CIFAR-10 or CIFAR-100: *train* = first 50,000 - ``valid_size`` training images, *valid* = the rest,
    *test* = the official test set. No augmentation (tensors in memory).

    Example:
        >>> data = cifar(10)            # doctest: +SKIP
        >>> data.summary()              # doctest: +SKIP
        'cifar10: train 45,000 / valid 5,000 / test 10,000 images, 3x32x32, 10 classes'
    """
    if num_classes not in _STATS:
        raise ConfigError(f"CIFAR has 10 or 100 classes, got num_classes={num_classes}")
    if not 0 < valid_size < 50_000:
        raise ConfigError(f"CIFAR valid_size must be between 1 and 49,999, got {valid_size}")
    from torchvision import datasets

    cls = datasets.CIFAR10 if num_classes == 10 else datasets.CIFAR100
    folder = Path(root).expanduser() if root else default_root()
    try:
        train = cls(str(folder), train=True, download=download)
        test = cls(str(folder), train=False, download=download)
    except Exception as exc:
        raise DatasetNotFoundError(
            f"CIFAR-{num_classes} is not in {folder} and could not be downloaded ({type(exc).__name__}: {exc}). "
            f"Fix: run once on a machine with internet, or copy torchvision's CIFAR folder into {folder} "
            f"(dataset.root=... or NAS_DATA=...)."
        ) from None
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in _STATS[num_classes])

    def tensors(ds) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.from_numpy(np.asarray(ds.data)).permute(0, 3, 1, 2).float().div_(255.0)
        return ((x - mean) / std).contiguous(), torch.tensor(ds.targets, dtype=torch.long)

    train_x, train_y = tensors(train)
    test_x, test_y = tensors(test)
    cut = len(train_x) - valid_size
    data = ImageDataset(
        name=f"cifar{num_classes}",
        train=TensorSplit(train_x[:cut], train_y[:cut]),
        valid=TensorSplit(train_x[cut:], train_y[cut:]),
        test=TensorSplit(test_x, test_y),
        num_classes=num_classes,
    )
    return check_shape(f"cifar{num_classes}", data, channels, num_classes)
