"""The seam for search spaces: how a low-dimensional point becomes added rows.

A search space is one class (a subclass of :class:`SearchSpace`, or any object
with the same methods) and one entry in :data:`SPACES`. The poisoner calls:

1. ``prepare(context)`` once, with a :class:`SpaceContext` (the training rows,
   their cross-fitted black-box scores, the group of every row, the budget,
   the metric and which group its rate favours);
2. ``bounds()`` for the parameters the optimiser searches (name -> (low, high));
3. ``rows(params, rng)`` for every trial: the added rows in the training
   schema, their 0/1 labels, and (optionally) their sensitive values;
4. ``warm_starts()`` for the points enqueued before the search;
5. ``match_rows(params, n_rows)`` to make the matched random control add as
   many rows as the chosen point.

``name`` and ``version`` are stored with a study, so a study created by
another space, or by another version of the same space, is never resumed.
The shared :class:`RowMaker` turns parent rows into plausible records.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from trustlab._errors import ConfigError, DataError
from trustlab.fairness import FairnessMetric


@dataclass
class SpaceContext:
    """What a space may use to generate rows (the training part only, never the test part).

    Parameters
    ----------
    X : DataFrame
        Training features in the raw schema (0..n-1 index).
    y : ndarray of int
        Training labels, 0/1.
    sensitive : ndarray of str
        Raw sensitive value of every training row.
    privileged_mask : ndarray of bool
        ``sensitive == privileged`` (every other value is unprivileged).
    scores : ndarray of float
        Cross-fitted black-box ``P(y=1|x)`` of every training row (a model that
        did not see the row).
    categorical, numeric, integer : list of str
        Column kinds (integer columns are a subset of the numeric ones).
    n_rows : int
        The budget: the most rows a point may add.
    metric : FairnessMetric
        The metric the search minimises (:func:`trustlab.fairness.get_metric`).
    direction : int
        ``+1`` when the privileged group has the higher rate the metric compares
        on validation (:meth:`FairnessMetric.direction`), else ``-1``.
    seed : int
        The poisoner's random state (0 when it has none), for anything a space draws.
    """

    X: pd.DataFrame
    y: np.ndarray
    sensitive: np.ndarray
    privileged_mask: np.ndarray
    scores: np.ndarray
    categorical: list[str]
    numeric: list[str]
    integer: list[str]
    n_rows: int
    metric: FairnessMetric
    direction: int = 1
    seed: int = 0

    @property
    def high_low(self) -> tuple[np.ndarray, np.ndarray]:
        """Masks of the group with the higher and the lower rate (the one to lift)."""
        priv = np.asarray(self.privileged_mask, dtype=bool)
        return (priv, ~priv) if self.direction >= 0 else (~priv, priv)


class SearchSpace(ABC):
    """A low-dimensional description of added training rows (the optimiser's space).

    Subclasses set ``name`` and ``version`` and implement :meth:`prepare`,
    :meth:`bounds` and :meth:`rows`; :meth:`warm_starts`, :meth:`sample`,
    :meth:`match_rows` and :meth:`supports` have defaults. Register a new
    space with ``SPACES["name"] = MySpace`` or pass an instance to
    :class:`~trustlab.poisoning.FairnessPoisoner`.
    """

    name: ClassVar[str] = "space"
    version: ClassVar[str] = "1"

    def supports(self, metric: FairnessMetric) -> bool:
        """Whether the space can serve ``metric`` (default: every registered metric)."""
        return True

    @abstractmethod
    def prepare(self, context: SpaceContext) -> None:
        """Build what generation needs from the training rows (called once per fit)."""

    @abstractmethod
    def bounds(self) -> dict[str, tuple[float, float]]:
        """Every parameter's ``(low, high)``; the optimiser samples floats in between."""

    @abstractmethod
    def rows(self, params: dict[str, float], rng: np.random.Generator) -> tuple[Any, ...]:
        """The rows a point describes: ``(X_rows, labels)`` or ``(X_rows, labels, sensitive)``.

        ``rng`` is a fresh generator seeded by the poisoner for every call, so
        the same point always gives the same rows.
        """

    def warm_starts(self) -> list[dict[str, float]]:
        """Points enqueued before the search (each costs one black-box training)."""
        return []

    def sample(self, rng: np.random.Generator) -> dict[str, float]:
        """A uniformly random point (the random control before :meth:`match_rows`)."""
        return {k: float(rng.uniform(lo, hi)) for k, (lo, hi) in self.bounds().items()}

    def match_rows(self, params: dict[str, float], n_rows: int) -> dict[str, float]:
        """``params`` changed so that it adds ``n_rows`` rows (default: unchanged)."""
        return dict(params)

    def describe(self) -> dict[str, Any]:
        """Name, version and bounds (stored with a study and in the summary)."""
        return {"name": self.name, "version": str(self.version),
                "bounds": {k: list(v) for k, v in self.bounds().items()}}  # fmt: skip


SPACES: dict[str, type[SearchSpace]] = {}
"""Name -> space class; ``FairnessPoisoner(space="name")`` builds ``SPACES[name]()``."""

_REQUIRED = ("prepare", "bounds", "rows")


def get_space(space: str | Any) -> Any:
    """A fresh space for a registered name, or the given instance after checking its methods.

    Parameters
    ----------
    space : str or space object
        A key of :data:`SPACES`, or an instance with ``prepare``, ``bounds`` and ``rows``
        methods and ``name`` and ``version`` attributes.

    Returns
    -------
    space object
        A new instance of the registered class, or ``space`` itself.

    Raises
    ------
    ConfigError
        Unknown name, a class instead of an instance, or an object without
        ``prepare``, ``bounds`` or ``rows`` (or without ``name``/``version``).
    """
    if isinstance(space, str):
        if space not in SPACES:
            raise ConfigError(f"unknown space {space!r}; choose from {', '.join(SPACES)}")
        return SPACES[space]()
    if isinstance(space, type):
        raise ConfigError(f"space {space.__name__} is a class; pass an instance (e.g. {space.__name__}())")
    missing = [m for m in _REQUIRED if not callable(getattr(space, m, None))]
    if missing:
        raise ConfigError(f"space {type(space).__name__} lacks {', '.join(m + '()' for m in missing)}")
    for attr in ("name", "version"):
        if not isinstance(getattr(space, attr, None), str | int):
            raise ConfigError(f"space {type(space).__name__} has no {attr} (a string stored with the study)")
    return space


def space_rows(space: Any, params: dict[str, float], rng: np.random.Generator, *,
               columns: list[str]) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:  # fmt: skip
    """Call ``space.rows`` and normalise its answer to ``(X_rows, labels, sensitive)``.

    Raises
    ------
    DataError
        If the rows do not have the training columns or the labels do not match them in number.
    """
    out = space.rows(params, rng)
    if not isinstance(out, tuple) or len(out) not in (2, 3):
        raise DataError(f"space {space.name!r}: rows() must return (X_rows, labels[, sensitive])")
    X_rows, labels = out[0], np.asarray(out[1]).astype(int).ravel()
    sens = np.asarray(out[2]).astype(str) if len(out) == 3 else np.full(len(labels), "unknown")
    if not isinstance(X_rows, pd.DataFrame) or list(X_rows.columns) != list(columns):
        raise DataError(f"space {space.name!r}: rows() must return a DataFrame with the training columns")
    if not (len(X_rows) == len(labels) == len(sens)):
        raise DataError(f"space {space.name!r}: rows, labels and sensitive values differ in number")
    return X_rows.reset_index(drop=True), labels, sens


class RowMaker:
    """Turns parent rows into plausible, consistent records (shared by the built-in spaces).

    A new row is ``a + lam (b - a)`` on the numeric columns plus Gaussian
    noise (in column standard deviations), clipped to the observed range with
    integer columns rounded; its categoricals (and sensitive value) all come
    from one parent (``b`` with probability ``lam``, else ``a``), so their
    combination occurs in the data; a categorical column that bins a numeric
    one (:func:`~trustlab.poisoning.binned_columns`) is derived from the new
    number. With ``lam = noise = 0`` a row is exactly its parent ``a``.

    Parameters
    ----------
    context : SpaceContext
        The training rows, their sensitive values and column kinds the rows are made from.
    """

    def __init__(self, context: SpaceContext) -> None:
        from trustlab.poisoning._space import binned_columns

        self.X, self.sensitive = context.X, np.asarray(context.sensitive)
        self.categorical, self.numeric = list(context.categorical), list(context.numeric)
        num = self.X[self.numeric].to_numpy(dtype=float) if self.numeric else np.empty((len(self.X), 0))
        self._num = num
        self._lo = np.nanmin(num, axis=0) if num.size else np.array([])
        self._hi = np.nanmax(num, axis=0) if num.size else np.array([])
        std = np.nanstd(num, axis=0) if num.size else np.array([])
        self._std = np.where(std > 0, std, 1.0)
        self._is_int = np.array([c in context.integer for c in self.numeric], dtype=bool)
        # a column holding the sensitive value is never re-derived: the parent decides the group
        sens = self.sensitive.astype(str)
        self._bins = {c: v for c, v in binned_columns(self.X, self.categorical, self.numeric).items()
                      if not (self.X[c].astype(str).to_numpy() == sens).all()}  # fmt: skip

    def make(self, a: np.ndarray, b: np.ndarray, lam: np.ndarray, noise: float,
             rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:  # fmt: skip
        """Rows from parents ``a`` and ``b`` (training positions) and weights ``lam``; and their sensitive values."""
        k = len(a)
        parent = np.where(rng.random(k) < lam, b, a)
        rows = self.X.iloc[parent].reset_index(drop=True).copy()
        if self.numeric and (np.any(lam > 0) or noise > 0):
            num = self._num[a] + lam[:, None] * (self._num[b] - self._num[a])
            num = num + noise * self._std * rng.standard_normal(num.shape)
            num = np.clip(num, self._lo, self._hi)
            num[:, self._is_int] = np.round(num[:, self._is_int])
            for j, col in enumerate(self.numeric):
                rows[col] = num[:, j].astype(self.X[col].dtype, copy=False)
            for col, (source, bins) in self._bins.items():
                rows[col] = bins.derive(rows[source].to_numpy(dtype=float), rows[col].to_numpy(dtype=object))
        return rows, self.sensitive[parent]

    def finish(self, parts: list[pd.DataFrame], labels: list[np.ndarray],
               sens: list[np.ndarray]) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:  # fmt: skip
        """Concatenate the cells' rows in the training schema (an empty frame when there are none)."""
        if not parts:
            empty = self.X.iloc[:0].copy()
            return empty, np.zeros(0, dtype=int), np.zeros(0, dtype=str)
        X_rows = pd.concat(parts, ignore_index=True)[list(self.X.columns)]
        for col in self.categorical:
            X_rows[col] = X_rows[col].astype(self.X[col].dtype)
        return X_rows, np.concatenate(labels).astype(int), np.concatenate(sens)


def split_counts(weights: np.ndarray, total: int) -> np.ndarray:
    """``total`` rows split in proportion to ``weights`` (largest remainder; equal if all are 0).

    Parameters
    ----------
    weights : numpy.ndarray of float
        Non-negative weights, one per cell.
    total : int
        Number of rows to split.

    Returns
    -------
    numpy.ndarray of int
        Rows per cell, summing to ``total``.
    """
    w = np.asarray(weights, dtype=float)
    w = np.ones(len(w)) / len(w) if w.sum() <= 1e-12 else w / w.sum()
    raw = w * total
    k = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - k), kind="stable")[: total - k.sum()]:
        k[i] += 1
    return k


def fill_counts(params: dict[str, float], cells: list[str] | tuple[str, ...], usable: np.ndarray,
                n_rows: int) -> dict[str, int]:  # fmt: skip
    """Rows per cell: ``round(fill * n_rows)`` (at least 1) split by the weights ``w_<cell>``.

    A cell that is not ``usable`` gets weight 0; if every usable weight is 0
    the usable cells share the rows equally.
    """
    usable = np.asarray(usable, dtype=bool)
    w = np.array([params.get(f"w_{c}", 0.0) for c in cells], dtype=float) * usable
    if w.sum() <= 1e-12:
        w = usable.astype(float)
    total = max(1, int(round(params["fill"] * n_rows)))
    return dict(zip(cells, split_counts(w, total).tolist(), strict=True))


def window(ordered: np.ndarray, k: int, offset: float) -> np.ndarray:
    """``k`` entries of ``ordered`` from ``offset`` (a fraction of its length) on, without replacement.

    The window slides back when it would run past the end; only a ``k`` larger
    than the whole list repeats entries.
    """
    if k <= 0 or len(ordered) == 0:
        return np.zeros(0, dtype=int)
    if k >= len(ordered):
        return np.resize(ordered, k)
    start = min(int(np.floor(offset * len(ordered))), len(ordered) - k)
    return ordered[start : start + k]


def match_fill(params: dict[str, float], n_rows: int, budget: int, bounds: tuple[float, float]) -> dict[str, float]:
    """``params`` with ``fill`` set (within ``bounds``) so that it adds ``n_rows`` of a ``budget``."""
    lo, hi = bounds
    return {**params, "fill": float(np.clip(n_rows / max(1, budget), lo, hi))}
