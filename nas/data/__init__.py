"""Datasets as in-memory tensor splits (train / valid / test)."""

from nas.data._cifar import cifar
from nas.data._fashion_mnist import fashion_mnist, locate_fashion_mnist
from nas.data.splits import ImageDataset, TensorSplit
from nas.data._synthetic import synthetic

__all__ = ["ImageDataset", "TensorSplit", "cifar", "fashion_mnist", "locate_fashion_mnist", "synthetic"]
