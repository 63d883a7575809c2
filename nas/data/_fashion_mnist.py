"""Fashion-MNIST with FMNIST-201's splits and preprocessing (BENCHMARK.md section 2)."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from nas.data.splits import ImageDataset, TensorSplit, check_shape
from nas.errors import DatasetNotFoundError

MEAN, STD = 0.2860, 0.3530
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
TRAIN_SIZE = 50_000  # train = first 50,000 of the official training set; valid = its last 10,000


def default_root() -> Path:
    return Path(os.environ.get("NAS_DATA", Path.home() / ".cache" / "nas" / "data"))


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (optionally gzipped): magic, dims, then unsigned bytes."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            data = handle.read()
    except (OSError, EOFError) as exc:
        raise DatasetNotFoundError(
            f"{path} is damaged ({type(exc).__name__}: {exc}): delete it and install or download it again"
        ) from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08 or len(data) < 4 + 4 * data[3]:
        raise DatasetNotFoundError(f"{path} is not an IDX file of unsigned bytes: delete it and download again")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise DatasetNotFoundError(f"{path} is truncated ({body.size} of {int(np.prod(dims))} values): delete it")
    return body.reshape(dims)


def _find_files(candidates: list[Path]) -> Path | None:
    for folder in candidates:
        if all((folder / name).is_file() for name in FILES.values()):
            return folder
    return None


def locate_fashion_mnist(root: str | Path | None = None, download: bool = True) -> Path:
    """The folder holding the four ``*-ubyte.gz`` files: ``root``, Debian's, or a fresh download."""
    root = Path(root).expanduser() if root else default_root()
    candidates = [root, root / "fashion-mnist", root / "FashionMNIST" / "raw", DEBIAN_DIR]
    found = _find_files(candidates)
    if found is not None:
        return found
    problem = "download=false"
    if download:
        try:
            from torchvision.datasets import FashionMNIST

            FashionMNIST(str(root), train=True, download=True)
            FashionMNIST(str(root), train=False, download=True)
        except Exception as exc:  # no network, proxy, disk...
            problem = f"download failed: {type(exc).__name__}: {exc}"
        found = _find_files(candidates)
        if found is not None:
            return found
    raise DatasetNotFoundError(
        f"Fashion-MNIST files ({', '.join(FILES.values())}) not found in any of "
        f"{[str(c) for c in candidates]} ({problem}). Fix: install the Debian package "
        f"(apt-get install dataset-fashion-mnist), or put the four files in {root} "
        f"(dataset.root=... or NAS_DATA=...), or allow the torchvision download on a machine with internet."
    )


def preprocess(images: np.ndarray, image_size: int) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float32 (N, 1, S, S): normalise, then bilinear antialiased resize."""
    x = torch.from_numpy(images.copy()).float().div_(255.0).unsqueeze(1)
    x = (x - MEAN) / STD
    if image_size != x.shape[-1]:
        x = F.interpolate(x, size=image_size, mode="bilinear", antialias=True, align_corners=False)
    return x.contiguous()


def fashion_mnist(
    image_size: int = 16,
    root: str | None = None,
    download: bool = True,
    channels: int | None = None,
    num_classes: int | None = None,
) -> ImageDataset:
    """Fashion-MNIST as FMNIST-201 defines it.

    *train* = the first 50,000 official training images, *valid* = the last 10,000 of them,
    *test* = the official 10,000 test images; normalised (mean 0.2860, std 0.3530) and resized
    to ``image_size`` (16 for FMNIST-201, 28 keeps the originals). Files come from ``root``,
    then the Debian package ``dataset-fashion-mnist``, then torchvision's downloader.

    Example:
        >>> data = fashion_mnist(image_size=16)     # doctest: +SKIP
        >>> data.train.x.shape, len(data.valid)     # doctest: +SKIP
        (torch.Size([50000, 1, 16, 16]), 10000)
    """
    if image_size < 4 or image_size > 28:
        from nas.errors import ConfigError

        raise ConfigError(f"Fashion-MNIST image_size must be between 4 and 28, got {image_size}")
    folder = locate_fashion_mnist(root, download)
    train_x = preprocess(read_idx(folder / FILES["train_images"]), image_size)
    train_y = torch.from_numpy(read_idx(folder / FILES["train_labels"]).astype(np.int64))
    test_x = preprocess(read_idx(folder / FILES["test_images"]), image_size)
    test_y = torch.from_numpy(read_idx(folder / FILES["test_labels"]).astype(np.int64))
    data = ImageDataset(
        name=f"fashion_mnist{image_size}",
        train=TensorSplit(train_x[:TRAIN_SIZE], train_y[:TRAIN_SIZE]),
        valid=TensorSplit(train_x[TRAIN_SIZE:], train_y[TRAIN_SIZE:]),
        test=TensorSplit(test_x, test_y),
        num_classes=10,
    )
    return check_shape("fashion_mnist", data, channels, num_classes)
