"""Datasets: built-in offline tabular data, user CSV files, synthetic data, splits."""

from __future__ import annotations

from collections.abc import Callable

from trustlab._errors import DataError
from trustlab.datasets._dataset import (
    INTERSECTION_SEP,
    MIN_GROUP_ROWS,
    MIN_SPLIT_ROWS,
    Dataset,
    DataSplit,
    check_splittable,
    split_dataset,
)
from trustlab.datasets._images import (
    IMAGE_DATASETS,
    ImageDataset,
    ImageSplit,
    load_digits8,
    load_idx,
    load_images,
    load_mnist5k,
    split_images,
)
from trustlab.datasets._tabular import (
    column_kinds,
    load_adult,
    load_compas,
    load_csv,
    load_frame,
    load_german,
    load_openml,
    make_synthetic,
    read_csv_header,
)

TABULAR: dict[str, Callable[[], Dataset]] = {
    "adult": load_adult,
    "compas": load_compas,
    "german": load_german,
    "synthetic": make_synthetic,
}
"""Built-in tabular datasets by name: name -> loader without arguments."""


def load_builtin(name: str) -> Dataset:
    """Load a built-in tabular dataset by name (``adult``, ``compas``, ``german``, ``synthetic``).

    Parameters
    ----------
    name : str
        A key of :data:`TABULAR`.

    Returns
    -------
    Dataset
        The dataset, as its loader returns it (``synthetic`` with its default settings).

    Raises
    ------
    DataError
        If ``name`` is not a built-in dataset.
    DataNotInstalledError
        If the dataset's files are not installed.
    """
    try:
        loader = TABULAR[name]
    except KeyError:
        raise DataError(
            f"unknown dataset {name!r}; choose from {', '.join(TABULAR)}"
        ) from None
    return loader()


__all__ = [
    "INTERSECTION_SEP",
    "MIN_GROUP_ROWS",
    "MIN_SPLIT_ROWS",
    "IMAGE_DATASETS",
    "ImageDataset",
    "ImageSplit",
    "load_digits8",
    "load_idx",
    "load_images",
    "load_mnist5k",
    "split_images",
    "TABULAR",
    "DataSplit",
    "column_kinds",
    "Dataset",
    "load_adult",
    "load_builtin",
    "load_compas",
    "load_csv",
    "load_frame",
    "load_german",
    "load_openml",
    "make_synthetic",
    "read_csv_header",
    "check_splittable",
    "split_dataset",
]
