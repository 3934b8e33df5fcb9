"""The :class:`Dataset` value and the one split function used everywhere."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from trustlab._errors import DataError

MIN_GROUP_ROWS = 10
"""Fewest rows the privileged and the unprivileged group may have in a dataset.

An attribute with a smaller group is refused as too small to measure.
"""
MIN_SPLIT_ROWS = 40
"""Fewest rows a dataset needs to be split into train / validation / test."""
INTERSECTION_SEP = " & "
"""Joins the values of an intersectional group (``"Male & White"``)."""


@dataclass(frozen=True)
class Dataset:
    """A tabular classification dataset with sensitive attributes.

    Parameters
    ----------
    name : str
        Short name (``"adult"``, ``"compas"``, a file stem ...).
    X : pandas.DataFrame
        Features with their original column names and categorical values.
        Sensitive attributes may or may not be among them (they are in
        Adult, COMPAS and German; not in the synthetic set).
    y : pandas.Series
        Binary label, integers 0/1, aligned with ``X``.
    sensitive : pandas.DataFrame
        One column per sensitive attribute, values as strings, aligned with ``X``.
    privileged : dict
        Attribute name -> privileged value. Every other value of that
        attribute is the unprivileged group.
    categorical, numeric, integer : list of str
        Column kinds of ``X``. ``integer`` is the subset of ``numeric`` whose
        values are whole numbers (generated rows must keep them whole).
    target : str
        Name of the label column in the source data.
    positive_label : str
        What ``y == 1`` means, e.g. ``">50K"``.
    description : str
        One line saying where the data come from.
    label_values : tuple
        The source's own label values for ``y == 0`` and ``y == 1`` (e.g.
        ``("<=50K", ">50K")``, ``("rejected", "granted")``);
        :meth:`decode_labels` maps 0/1 back to them.
    rules : dict
        Why the labels and groups are what they are: ``"positive"`` and
        ``"privileged:<attribute>"`` -> one sentence (given by the user, a
        dataset default, or the rule that chose it).

    Raises
    ------
    DataError
        If ``X``, ``y`` and ``sensitive`` differ in their number of rows.
    """

    name: str
    X: pd.DataFrame
    y: pd.Series
    sensitive: pd.DataFrame
    privileged: dict[str, Any]
    categorical: list[str] = field(default_factory=list)
    numeric: list[str] = field(default_factory=list)
    integer: list[str] = field(default_factory=list)
    target: str = "y"
    positive_label: str = "1"
    description: str = ""
    label_values: tuple[Any, Any] = (0, 1)
    rules: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.X) != len(self.y) or len(self.X) != len(self.sensitive):
            raise DataError("X, y and sensitive must have the same number of rows")

    def __len__(self) -> int:
        return len(self.X)

    @property
    def sensitive_names(self) -> list[str]:
        """Names of the sensitive attributes."""
        return list(self.sensitive.columns)

    def resolve_sensitive(self, name: str | None) -> str:
        """Return a valid sensitive attribute name (the first one if ``None``)."""
        if name is None:
            return self.sensitive_names[0]
        if name not in self.sensitive.columns:
            raise DataError(
                f"dataset {self.name!r} has no sensitive attribute {name!r}; "
                f"choose from {', '.join(self.sensitive_names)}"
            )
        return name

    def groups(self, name: str | None = None) -> pd.Series:
        """Values of one sensitive attribute (strings)."""
        return self.sensitive[self.resolve_sensitive(name)]

    @property
    def negative_label(self) -> str:
        """The source's label value for ``y == 0``, as text."""
        return str(self.label_values[0])

    def decode_labels(self, y: Any) -> np.ndarray:
        """Map 0/1 labels back to the source's own values (``label_values``)."""
        y = np.asarray(y).astype(int)
        if len(y) and not np.isin(y, (0, 1)).all():
            raise DataError("labels to decode must be 0 or 1")
        values = np.array(list(self.label_values), dtype=object)
        return values[y]

    def group_counts(self, name: str | None = None) -> dict[str, int]:
        """Rows per value of one sensitive attribute, largest first."""
        counts = self.groups(name).value_counts()
        return {str(k): int(v) for k, v in counts.items()}

    def check_groups(self, name: str | None = None, *, min_rows: int = MIN_GROUP_ROWS) -> None:
        """Refuse an attribute whose privileged or unprivileged side is too small to measure.

        Raises
        ------
        DataError
            If either side has fewer than ``min_rows`` rows in the whole dataset.
        """
        name = self.resolve_sensitive(name)
        mask = self.privileged_mask(name)
        priv = self.privileged[name]
        for side, n in ((f"the privileged group {priv!r}", int(mask.sum())),
                        (f"the unprivileged group (not {priv!r})", int((~mask).sum()))):  # fmt: skip
            if n < min_rows:
                raise DataError(f"{side} of {name!r} has {n} rows; at least {min_rows} are needed "
                                "to measure it (choose another attribute or --privileged)")  # fmt: skip

    def with_privileged(self, name: str, value: Any) -> Dataset:
        """The same data with ``value`` as the privileged group of attribute ``name``."""
        name = self.resolve_sensitive(name)
        present = set(self.sensitive[name].astype(str))
        if str(value) not in present:
            raise DataError(f"privileged value {value!r} does not occur in {name!r}; values are "
                            f"{', '.join(sorted(present)[:10])}")  # fmt: skip
        return replace(self, privileged={**self.privileged, name: str(value)},
                       rules={**self.rules, f"privileged:{name}": "given (--privileged)"})  # fmt: skip

    def with_intersection(self, names: list[str], privileged: str | None = None) -> tuple[Dataset, str]:
        """Add one sensitive attribute whose groups are the combinations of ``names``.

        The new attribute is called ``"a,b"`` and its values ``"x & y"``. Its
        privileged group is ``privileged`` (``"x & y"`` or ``"x,y"``), else the
        combination of each attribute's privileged value when it occurs, else
        the most frequent combination.

        Returns
        -------
        (Dataset, str)
            The dataset with the new attribute, and the attribute's name.
        """
        names = [self.resolve_sensitive(n) for n in names]
        if len(names) < 2 or len(set(names)) != len(names):
            raise DataError("an intersection needs two or more different sensitive attributes")
        key = ",".join(names)
        values = self.sensitive[names[0]].astype(str)
        for n in names[1:]:
            values = values + INTERSECTION_SEP + self.sensitive[n].astype(str)
        present = set(values)
        if privileged is not None:
            parts = [p.strip() for p in str(privileged).split(",")]
            priv = INTERSECTION_SEP.join(parts) if len(parts) == len(names) else str(privileged)
            if priv not in present:
                raise DataError(f"privileged value {privileged!r} does not occur in {key!r}; values "
                                f"look like {sorted(present)[0]!r}")  # fmt: skip
            rule = "given (--privileged)"
        else:
            combo = INTERSECTION_SEP.join(str(self.privileged[n]) for n in names)
            if combo in present:
                priv, rule = combo, "not given: the combination of each attribute's privileged value"
            else:
                priv = values.value_counts().index[0]
                rule = "not given: the most frequent combination"
        sensitive = self.sensitive.copy()
        sensitive[key] = values.to_numpy()
        return replace(self, sensitive=sensitive, privileged={**self.privileged, key: priv},
                       rules={**self.rules, f"privileged:{key}": rule}), key  # fmt: skip

    def privileged_mask(self, name: str | None = None) -> np.ndarray:
        """Boolean array: ``True`` where the row belongs to the privileged group."""
        name = self.resolve_sensitive(name)
        return (self.sensitive[name] == self.privileged[name]).to_numpy()

    def subset(self, index: np.ndarray) -> Dataset:
        """Rows at integer positions ``index``, with a fresh 0..n-1 index."""
        index = np.asarray(index)
        return replace(
            self,
            X=self.X.iloc[index].reset_index(drop=True),
            y=self.y.iloc[index].reset_index(drop=True),
            sensitive=self.sensitive.iloc[index].reset_index(drop=True),
        )

    def summary(self) -> dict[str, Any]:
        """Row count, feature counts, base rate and group shares."""
        out: dict[str, Any] = {
            "name": self.name,
            "rows": len(self),
            "features": self.X.shape[1],
            "categorical": len(self.categorical),
            "numeric": len(self.numeric),
            "positive_rate": float(self.y.mean()) if len(self) else float("nan"),
            "positive_label": self.positive_label,
            "sensitive": {},
        }
        for name in self.sensitive_names:
            out["sensitive"][name] = {
                "privileged": self.privileged[name],
                "privileged_share": float(self.privileged_mask(name).mean()),
            }
        return out


@dataclass(frozen=True)
class DataSplit:
    """Train / validation / test parts of one dataset for one seed.

    Parameters
    ----------
    train : Dataset
        The training part.
    val : Dataset
        The validation part (model selection, calibration, searches).
    test : Dataset
        The test part, measured once at the end.
    seed : int
        The seed the split was drawn with.
    """

    train: Dataset
    val: Dataset
    test: Dataset
    seed: int

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


def check_splittable(ds: Dataset) -> None:
    """Refuse a dataset too small to split into train / validation / test (one clear line).

    Parameters
    ----------
    ds : Dataset
        The dataset to check.

    Raises
    ------
    DataError
        Fewer than :data:`MIN_SPLIT_ROWS` rows, or fewer than 5 rows of a label.
    """
    n = len(ds)
    if n < MIN_SPLIT_ROWS:
        raise DataError(f"dataset {ds.name!r} has {n} rows; at least {MIN_SPLIT_ROWS} are needed to "
                        "split into train / validation / test")  # fmt: skip
    counts = np.bincount(ds.y.to_numpy().astype(int), minlength=2)
    if counts.min() < 5:
        raise DataError(f"dataset {ds.name!r} has {counts.min()} rows of label "
                        f"{ds.label_values[int(counts.argmin())]!r}; at least 5 of each label are needed")  # fmt: skip


def _strata(ds: Dataset, sensitive: str) -> np.ndarray:
    key = ds.y.astype(str).to_numpy() + "|" + ds.groups(sensitive).astype(str).to_numpy()
    return key


def split_dataset(
    ds: Dataset,
    *,
    seed: int = 0,
    sizes: tuple[float, float, float] = (0.56, 0.14, 0.30),
    sensitive: str | None = None,
) -> DataSplit:
    """Split into train / validation / test, stratified on label x group.

    Parameters
    ----------
    ds : Dataset
        The data.
    seed : int
        Random seed; the same seed always gives the same split.
    sizes : tuple of three floats
        Shares of train, validation and test; must be positive and sum to 1.
    sensitive : str, optional
        Attribute whose groups are crossed with the label for stratification
        (default: the dataset's first sensitive attribute).

    Returns
    -------
    DataSplit
        The three parts, each a :class:`Dataset` with its rows in their original order.
    """
    sizes = tuple(float(s) for s in sizes)
    if len(sizes) != 3 or min(sizes) <= 0 or abs(sum(sizes) - 1.0) > 1e-6:
        raise DataError(f"split sizes must be three positive shares summing to 1, got {sizes}")
    check_splittable(ds)
    n = len(ds)
    sensitive = ds.resolve_sensitive(sensitive)
    strata = _strata(ds, sensitive)
    _, counts = np.unique(strata, return_counts=True)
    stratify = strata if counts.min() >= 3 else ds.y.to_numpy()
    idx = np.arange(n)
    rest, test = train_test_split(
        idx, test_size=sizes[2], random_state=seed, stratify=stratify
    )
    val_share = sizes[1] / (sizes[0] + sizes[1])
    strat_rest = stratify[rest]
    _, counts = np.unique(strat_rest, return_counts=True)
    train, val = train_test_split(
        rest,
        test_size=val_share,
        random_state=seed + 1,
        stratify=strat_rest if counts.min() >= 2 else None,
    )
    return DataSplit(
        train=ds.subset(np.sort(train)),
        val=ds.subset(np.sort(val)),
        test=ds.subset(np.sort(test)),
        seed=seed,
    )
