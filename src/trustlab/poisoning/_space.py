"""The ``bands`` search space: 13 numbers -> plausible rows (``FairnessPoisoner(space="bands")``).

A point of the space describes a set ``h`` of added training rows:

====================  ==========  ==================================================
parameter             range       meaning
====================  ==========  ==================================================
``w_u0 w_u1 w_p0      [0, 1]      share of the rows given to each (group, label) cell:
w_p1``                            unprivileged/privileged x label 0/1 (normalised)
``fill``              [0.1, 1]    fraction of the budget used (fewer rows may be better)
``c_u0 ... c_p1``     [0, 1]      centre of the cell's score band: templates are real
                                  training rows of that group whose cross-fitted
                                  black-box score P(y=1|x) lies near the centre
``width``             [0.02, 0.5] half-width of every band (>= 10 templates always)
``mix``               [0, 1]      interpolation: a new row is ``a + lam (b - a)``
                                  between two templates of its band, lam ~ U(0, mix);
                                  the categoricals are all b's with probability lam,
                                  else all a's
``noise``             [0, 0.3]    Gaussian noise on numeric columns, in column stds
====================  ==========  ==================================================

A band holds rows of its group with *either* true label, and templates are
drawn with replacement; the ``boundary`` space (:mod:`trustlab.poisoning._boundary`)
keeps true labels apart and draws without replacement.

Every generated row is a plausible record: categorical values are copied from
real rows (so they are in the column's domain), numeric values are clipped to
the observed range and integer columns rounded, and labels are 0/1. Rows are
also consistent across columns:

* the categorical columns of a row come together from one real row (its
  sensitive value too), so their combination occurs in the data;
* a categorical column that bins a numeric one in the training rows (every
  category owns a disjoint interval of it: Adult's ``education`` of
  ``education-num``, COMPAS's ``age_cat`` of ``age``) is derived from the
  generated numeric value, not copied (see :func:`binned_columns`).

Copies of real rows (``mix = noise = 0``) are exactly those rows. Each cell
draws from its own child stream of the trial's generator, so changing one
cell's count leaves the other cells' rows as they were.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from trustlab._errors import DataError
from trustlab.poisoning._spaces import (
    SPACES,
    RowMaker,
    SearchSpace,
    SpaceContext,
    match_fill,
    split_counts,
)

CELLS = ("u0", "u1", "p0", "p1")  # (group, label): u = unprivileged, p = privileged
"""The bands space's cells, (group, new label): ``u`` = unprivileged, ``p`` = privileged."""
MIN_POOL = 10


class BandsSpace(SearchSpace):
    """Score bands per (group, label) cell, templates drawn with replacement (13 parameters).

    The cells are named by group and *new* label (``u1``: unprivileged rows
    added with label 1); their templates are real rows of that group whose
    cross-fitted score lies within ``width`` of the cell's centre. See the
    module docstring for the parameters.
    """

    name = "bands"
    #: 3: rows through the SearchSpace protocol (child streams of the trial's generator).
    version = "3"

    BOUNDS: dict[str, tuple[float, float]] = {
        **{f"w_{c}": (0.0, 1.0) for c in CELLS},
        "fill": (0.1, 1.0),
        **{f"c_{c}": (0.0, 1.0) for c in CELLS},
        "width": (0.02, 0.5),
        "mix": (0.0, 1.0),
        "noise": (0.0, 0.3),
    }

    def prepare(self, context: SpaceContext) -> None:
        """Index the two groups and build the row maker."""
        self.context_ = context
        priv = np.asarray(context.privileged_mask, dtype=bool)
        self._groups = {"u": np.flatnonzero(~priv), "p": np.flatnonzero(priv)}
        if min(len(v) for v in self._groups.values()) == 0:
            raise DataError("both groups must be present in the training rows")
        self._scores = np.asarray(context.scores, dtype=float)
        self._maker = RowMaker(context)

    def bounds(self) -> dict[str, tuple[float, float]]:
        """The 13 parameters of the module docstring."""
        return dict(self.BOUNDS)

    def warm_starts(self) -> list[dict[str, float]]:
        """A three-point design: lift the group with the lower rate, damp the other.

        The points use the whole budget with real (uninterpolated) templates,
        and place the bands at the boundary (0.5), and further into the other
        class (0.35 / 0.65 and 0.25 / 0.75): the lower the score of a
        relabelled template, the more it moves the learner, and the more
        accuracy it costs.
        """
        return heuristic(self.context_.direction)

    def counts(self, params: dict[str, float]) -> dict[str, int]:
        """Rows per cell: ``round(fill * budget)`` split by the weights (largest remainder)."""
        total = max(1, int(round(params["fill"] * self.context_.n_rows)))
        k = split_counts(np.array([params[f"w_{c}"] for c in CELLS]), total)
        return dict(zip(CELLS, k.tolist(), strict=True))

    def match_rows(self, params: dict[str, float], n_rows: int) -> dict[str, float]:
        """The same point with ``fill`` set so that it adds ``n_rows`` rows."""
        return match_fill(params, n_rows, self.context_.n_rows, self.BOUNDS["fill"])

    def _pool(self, group: str, centre: float, width: float) -> np.ndarray:
        idx = self._groups[group]
        dist = np.abs(self._scores[idx] - centre)
        inside = idx[dist <= width]
        if len(inside) >= MIN_POOL:
            return inside
        return idx[np.argsort(dist, kind="stable")[:MIN_POOL]]

    def rows(self, params: dict[str, float], rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        """The rows a point describes: features, labels 0/1 and sensitive values."""
        missing = set(self.BOUNDS) - set(params)
        if missing:
            raise DataError(f"parameters missing: {sorted(missing)}")
        streams = rng.spawn(len(CELLS))
        parts, labels, sens = [], [], []
        for i, (cell, k) in enumerate(self.counts(params).items()):
            if k == 0:
                continue
            r = streams[i]
            pool = self._pool(cell[0], params[f"c_{cell}"], params["width"])
            a = r.choice(pool, size=k, replace=True)
            b = r.choice(pool, size=k, replace=True)
            lam = r.uniform(0.0, params["mix"], size=k)
            rows, s = self._maker.make(a, b, lam, params["noise"], r)
            parts.append(rows)
            labels.append(np.full(k, int(cell[1])))
            sens.append(s)
        return self._maker.finish(parts, labels, sens)


def heuristic(direction: int) -> list[dict[str, float]]:
    """The bands space's three-point warm-start design for a gap of sign ``direction``."""
    up, down = ("u1", "p0") if direction >= 0 else ("p1", "u0")
    points = []
    for centre, width in ((0.5, 0.15), (0.35, 0.1), (0.25, 0.15)):
        p = {f"w_{c}": 0.0 for c in CELLS}
        p.update({f"w_{up}": 1.0, f"w_{down}": 1.0, "fill": 1.0, "width": width, "mix": 0.0, "noise": 0.0})
        p.update({f"c_{c}": 0.5 for c in CELLS})
        p[f"c_{up}"], p[f"c_{down}"] = centre, 1.0 - centre
        points.append(p)
    return points


SPACES["bands"] = BandsSpace


@dataclass(frozen=True)
class Bins:
    """Disjoint intervals ``[lo, hi]`` of a numeric column, one per category of a categorical one.

    Parameters
    ----------
    lo : numpy.ndarray of float
        Lower ends of the intervals, in increasing order.
    hi : numpy.ndarray of float
        Upper ends, one per interval.
    labels : numpy.ndarray of object
        The category of each interval.
    """

    lo: np.ndarray
    hi: np.ndarray
    labels: np.ndarray

    def derive(self, values: np.ndarray, fallback: np.ndarray) -> np.ndarray:
        """The category of every value: its interval's, or the nearer neighbour's in a gap.

        ``fallback`` is kept where the value is missing.
        """
        i = np.clip(np.searchsorted(self.lo, values, side="right") - 1, 0, len(self.lo) - 1)
        nxt = np.minimum(i + 1, len(self.lo) - 1)
        in_gap = values > self.hi[i]
        closer_next = (self.lo[nxt] - values) < (values - self.hi[i])
        i = np.where(in_gap & closer_next, nxt, i)
        out = self.labels[i].astype(object)
        missing = np.isnan(values)
        out[missing] = fallback[missing]
        return out


def binned_columns(X: pd.DataFrame, categorical: list[str], numeric: list[str]) -> dict[str, tuple[str, Bins]]:
    """Categorical columns that bin a numeric one in ``X``: ``{categorical: (numeric, Bins)}``.

    A categorical column (with at least two categories) bins a numeric
    column when the ranges of the numeric column within its categories are
    pairwise disjoint, as with Adult's ``education`` and ``education-num`` or
    COMPAS's ``age_cat`` and ``age``. The relation holds for every real row,
    so deriving the category of a generated row from its numeric value keeps
    the row consistent. The first such numeric column is used.

    Parameters
    ----------
    X : pandas.DataFrame
        Training rows in the raw schema.
    categorical : list of str
        Categorical columns.
    numeric : list of str
        Numeric columns.

    Returns
    -------
    dict
        Categorical column -> (the numeric column it bins, its :class:`Bins`).
    """
    out: dict[str, tuple[str, Bins]] = {}
    for cat in categorical:
        for num in numeric:
            ranges = X.groupby(X[cat].astype(object), sort=False)[num].agg(["min", "max"]).dropna().sort_values("min")
            if len(ranges) < 2:
                continue
            lo, hi = ranges["min"].to_numpy(dtype=float), ranges["max"].to_numpy(dtype=float)
            if np.all(hi[:-1] < lo[1:]):
                out[cat] = (num, Bins(lo=lo, hi=hi, labels=ranges.index.to_numpy(dtype=object)))
                break
    return out


def check_plausible(rows: pd.DataFrame, labels: Any, reference: pd.DataFrame, *,
                    categorical: list[str], numeric: list[str], integer: list[str]) -> None:  # fmt: skip
    """Raise :class:`DataError` if any generated row is not a plausible record.

    Plausible: same columns as ``reference``; categorical values from the
    column's observed domain; numeric values within the observed range;
    integer columns whole; labels 0/1.

    Parameters
    ----------
    rows : pandas.DataFrame
        The generated rows.
    labels : array-like
        Their labels.
    reference : pandas.DataFrame
        The real (training) rows whose columns, domains and ranges are the reference.
    categorical : list of str
        Categorical columns.
    numeric : list of str
        Numeric columns.
    integer : list of str
        The numeric columns that hold whole numbers.
    """
    if list(rows.columns) != list(reference.columns):
        raise DataError("generated rows do not have the training columns")
    labels = np.asarray(labels)
    if not np.isin(labels, [0, 1]).all():
        raise DataError("generated labels are not binary")
    for col in categorical:
        bad = ~rows[col].isin(set(reference[col].dropna()))
        if bad.any():
            raise DataError(f"column {col!r}: value {rows.loc[bad, col].iloc[0]!r} is outside the domain")
    for col in numeric:
        lo, hi = reference[col].min(), reference[col].max()
        v = rows[col].to_numpy(dtype=float)
        if np.any(v < lo - 1e-9) or np.any(v > hi + 1e-9) or np.isnan(v).any():
            raise DataError(f"column {col!r}: values outside the observed range [{lo}, {hi}]")
        if col in integer and not np.all(v == np.round(v)):
            raise DataError(f"column {col!r}: integer column holds fractions")
