"""Datasets: synthetic data, Fashion-MNIST as FMNIST-201 defines it, and their errors."""

from __future__ import annotations

import gzip
import importlib
import types
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nas.data import ImageDataset, TensorSplit, fashion_mnist, locate_fashion_mnist, synthetic
from nas.data._fashion_mnist import read_idx
from nas.data.splits import check_shape
from nas.errors import ConfigError, DatasetNotFoundError

# nas.data re-exports the *function* fashion_mnist under the submodule's name, so
# The loader lives in the private module nas.data._fashion_mnist (nas.data.fashion_mnist is the function).
fm = importlib.import_module("nas.data._fashion_mnist")

REAL_DIR = Path("/usr/share/datasets/fashion-mnist")
needs_fmnist = pytest.mark.skipif(
    not all((REAL_DIR / name).is_file() for name in fm.FILES.values()),
    reason=f"Fashion-MNIST not installed in {REAL_DIR} (apt-get install dataset-fashion-mnist)",
)


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file of unsigned bytes, written independently of the reader under test."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_fake_fmnist(folder: Path, n_train: int = 12, n_test: int = 5) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for key, array in arrays.items():
        (folder / fm.FILES[key]).write_bytes(gzip.compress(idx_bytes(array)))
    return arrays


@pytest.fixture
def no_debian_dir(monkeypatch, tmp_path):
    """Hide the system copy so that only the folders a test creates are searched."""
    monkeypatch.setattr(fm, "DEBIAN_DIR", tmp_path / "no-such-debian-dir")


@pytest.fixture(scope="module")
def fmnist16(tmp_path_factory) -> ImageDataset:
    empty = tmp_path_factory.mktemp("empty-root")  # nothing there: the Debian copy is used
    return fashion_mnist(image_size=16, root=str(empty), download=False)


def test_fashion_mnist_module_is_importable_by_dotted_name():
    import nas.data._fashion_mnist as module

    assert isinstance(module, types.ModuleType) and module.DEBIAN_DIR.name == "fashion-mnist"


# -- synthetic --------------------------------------------------------------------------------------
def test_synthetic_shapes():
    data = synthetic(train_size=40, valid_size=12, test_size=8, image_size=6, channels=3, num_classes=5)
    assert data.train.x.shape == (40, 3, 6, 6)
    assert data.valid.x.shape == (12, 3, 6, 6)
    assert data.test.x.shape == (8, 3, 6, 6)
    assert data.train.x.dtype == torch.float32 and data.train.y.dtype == torch.long
    assert data.train.y.shape == (40,)
    assert int(data.train.y.min()) >= 0 and int(data.train.y.max()) <= 4
    assert (data.channels, data.image_size, data.num_classes) == (3, 6, 5)
    assert data.summary() == "synthetic: train 40 / valid 12 / test 8 images, 3x6x6, 5 classes"


def test_synthetic_is_deterministic_by_seed():
    a, b, c = synthetic(seed=3), synthetic(seed=3), synthetic(seed=4)
    for split in ("train", "valid", "test"):
        assert torch.equal(getattr(a, split).x, getattr(b, split).x)
        assert torch.equal(getattr(a, split).y, getattr(b, split).y)
    assert not torch.equal(a.train.x, c.train.x)
    assert not torch.equal(a.train.x, a.valid.x[: len(a.train.x)])


def test_synthetic_classes_are_separable():
    data = synthetic(train_size=400, noise=0.5, seed=0)
    means = torch.stack([data.train.x[data.train.y == k].mean(0) for k in range(data.num_classes)])
    dist = ((data.test.x[:, None] - means[None]) ** 2).flatten(2).sum(-1)
    accuracy = (dist.argmin(1) == data.test.y).float().mean().item()
    assert accuracy > 0.9


def test_tensor_split_basics():
    split = TensorSplit(torch.zeros(5, 1, 4, 4), torch.arange(5, dtype=torch.int32))
    assert split.y.dtype == torch.long
    assert len(split.head(3)) == 3 and split.head(None) is split and split.head(9) is split
    assert split[4][1].item() == 4
    with pytest.raises(ValueError, match="5 vs 4"):
        TensorSplit(torch.zeros(5, 1, 4, 4), torch.arange(4))


def test_check_shape_mismatch_raises():
    data = synthetic(train_size=8, valid_size=4, test_size=4, channels=1, num_classes=4)
    assert check_shape("synthetic", data, 1, 4) is data
    assert check_shape("synthetic", data, None, None) is data
    with pytest.raises(ConfigError, match="1 channels, the config says 3"):
        check_shape("synthetic", data, 3, None)
    with pytest.raises(ConfigError, match="4 classes, the config says 10"):
        check_shape("synthetic", data, None, 10)


# -- Fashion-MNIST files and errors --------------------------------------------------------------
def test_read_idx_reads_gzipped_and_plain(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a.gz").write_bytes(gzip.compress(idx_bytes(array)))
    (tmp_path / "a.idx").write_bytes(idx_bytes(array))
    assert np.array_equal(read_idx(tmp_path / "a.gz"), array)
    assert np.array_equal(read_idx(tmp_path / "a.idx"), array)


@pytest.mark.parametrize("gzipped", [True, False])
def test_truncated_idx_body_raises_clear_error(tmp_path, gzipped):
    data = idx_bytes(np.zeros((10, 28, 28), dtype=np.uint8))[:-100]
    path = tmp_path / ("cut.gz" if gzipped else "cut.idx")
    path.write_bytes(gzip.compress(data) if gzipped else data)
    with pytest.raises(DatasetNotFoundError) as info:
        read_idx(path)
    message = str(info.value)
    assert str(path) in message and "truncated" in message and "7740 of 7840" in message


def test_wrong_magic_raises_clear_error(tmp_path):
    path = tmp_path / "text.gz"
    path.write_bytes(gzip.compress(b"<html>not found</html>"))
    with pytest.raises(DatasetNotFoundError, match="not an IDX file"):
        read_idx(path)


@pytest.mark.parametrize("cut", ["gzip stream", "idx header"])
def test_cut_download_raises_dataset_error_naming_the_file(tmp_path, cut):
    data = idx_bytes(np.zeros((10, 28, 28), dtype=np.uint8))
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    if cut == "gzip stream":
        packed = gzip.compress(data)
        path.write_bytes(packed[: len(packed) // 2])
    else:
        path.write_bytes(gzip.compress(data[:10]))
    with pytest.raises(DatasetNotFoundError) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_missing_files_without_download_raise(tmp_path, no_debian_dir):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetNotFoundError) as info:
        fashion_mnist(root=str(empty), download=False)
    message = str(info.value)
    assert "dataset-fashion-mnist" in message
    assert str(empty) in message and "download=false" in message
    assert "train-images-idx3-ubyte.gz" in message
    assert isinstance(info.value, FileNotFoundError)


def test_locate_searches_root_subfolders(tmp_path, no_debian_dir):
    write_fake_fmnist(tmp_path / "FashionMNIST" / "raw")
    assert locate_fashion_mnist(tmp_path, download=False) == tmp_path / "FashionMNIST" / "raw"
    write_fake_fmnist(tmp_path / "fashion-mnist")
    assert locate_fashion_mnist(tmp_path, download=False) == tmp_path / "fashion-mnist"
    write_fake_fmnist(tmp_path)
    assert locate_fashion_mnist(tmp_path, download=False) == tmp_path


def test_fashion_mnist_pipeline_on_fake_files(tmp_path, no_debian_dir):
    arrays = write_fake_fmnist(tmp_path, n_train=12, n_test=5)
    data = fashion_mnist(image_size=8, root=str(tmp_path), download=False)
    assert data.train.x.shape == (12, 1, 8, 8)  # fewer than 50,000: all of them are train
    assert len(data.valid) == 0 and len(data.test) == 5
    assert torch.equal(data.test.y, torch.from_numpy(arrays["test_labels"].astype(np.int64)))
    x = (torch.from_numpy(arrays["test_images"]).float()[:, None] / 255 - 0.2860) / 0.3530
    expected = F.interpolate(x, size=8, mode="bilinear", antialias=True)
    torch.testing.assert_close(data.test.x, expected, atol=1e-6, rtol=0)
    with pytest.raises(ConfigError, match="1 channels, the config says 3"):
        fashion_mnist(image_size=8, root=str(tmp_path), download=False, channels=3)
    with pytest.raises(ConfigError, match="10 classes, the config says 100"):
        fashion_mnist(image_size=8, root=str(tmp_path), download=False, num_classes=100)


@pytest.mark.parametrize("size", [3, 29, 32])
def test_image_size_out_of_range_raises(size):
    with pytest.raises(ConfigError, match=str(size)):
        fashion_mnist(image_size=size, download=False)


# -- the real Fashion-MNIST -------------------------------------------------------------------------
@needs_fmnist
def test_fashion_mnist_splits_and_shapes(fmnist16):
    data = fmnist16
    assert (len(data.train), len(data.valid), len(data.test)) == (50_000, 10_000, 10_000)
    for split in (data.train, data.valid, data.test):
        assert split.x.shape[1:] == (1, 16, 16)
        assert split.x.dtype == torch.float32
        assert sorted(split.y.unique().tolist()) == list(range(10))
    assert data.num_classes == 10 and data.name == "fashion_mnist16"


@needs_fmnist
def test_fashion_mnist_matches_manual_pipeline(fmnist16):
    def raw(name: str) -> np.ndarray:  # independent of read_idx
        with gzip.open(REAL_DIR / name, "rb") as handle:
            data = handle.read()
        return np.frombuffer(data, dtype=np.uint8, offset=16 if "images" in name else 8)

    images = raw(fm.FILES["train_images"]).reshape(60_000, 28, 28)
    labels = raw(fm.FILES["train_labels"])
    test_images = raw(fm.FILES["test_images"]).reshape(10_000, 28, 28)

    def manual(image: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(image.astype(np.float32))[None, None] / 255.0
        x = (x - 0.2860) / 0.3530
        return F.interpolate(x, size=16, mode="bilinear", antialias=True)[0]

    torch.testing.assert_close(fmnist16.train[0][0], manual(images[0]), atol=1e-6, rtol=0)
    torch.testing.assert_close(fmnist16.train[49_999][0], manual(images[49_999]), atol=1e-6, rtol=0)
    torch.testing.assert_close(fmnist16.valid[0][0], manual(images[50_000]), atol=1e-6, rtol=0)
    torch.testing.assert_close(fmnist16.test[9_999][0], manual(test_images[9_999]), atol=1e-6, rtol=0)
    assert torch.equal(fmnist16.train.y, torch.from_numpy(labels[:50_000].astype(np.int64)))
    assert torch.equal(fmnist16.valid.y, torch.from_numpy(labels[50_000:].astype(np.int64)))
    assert np.array_equal(read_idx(REAL_DIR / fm.FILES["train_labels"]), labels)


@needs_fmnist
def test_fashion_mnist_28_keeps_originals_and_is_normalised(tmp_path):
    data = fashion_mnist(image_size=28, root=str(tmp_path), download=False)
    assert data.train.x.shape == (50_000, 1, 28, 28) and data.name == "fashion_mnist28"
    all_train = torch.cat([data.train.x, data.valid.x])
    # mean 0.2860 / std 0.3530 are the statistics of the 60,000 official training images
    assert abs(all_train.mean().item()) < 0.005
    assert abs(all_train.std().item() - 1) < 0.005
    first = read_idx(REAL_DIR / fm.FILES["train_images"])[0]
    expected = (torch.from_numpy(first.astype(np.float32)) / 255.0 - 0.2860) / 0.3530
    torch.testing.assert_close(data.train.x[0, 0], expected, atol=1e-6, rtol=0)
