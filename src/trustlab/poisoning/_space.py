"""The search space of the constructive poisoner: 13 numbers -> plausible rows.

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

Copies of real rows (``mix = noise = 0``) are exactly those rows. Rows are a
deterministic function of the parameters and the seed, and each cell draws
from its own stream, so changing one cell's count leaves the other cells' rows
as they were.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from trustlab._errors import DataError

CELLS = ("u0", "u1", "p0", "p1")  # (group, label): u = unprivileged, p = privileged
MIN_POOL = 10
#: Changes whenever the same point would generate other rows (a stored study of another version
#: is not resumed). 2: categoricals from one parent, binned columns derived, one stream per cell.
SPACE_VERSION = 2

#: name -> (low, high) of every parameter.
BOUNDS: dict[str, tuple[float, float]] = {
    **{f"w_{c}": (0.0, 1.0) for c in CELLS},
    "fill": (0.1, 1.0),
    **{f"c_{c}": (0.0, 1.0) for c in CELLS},
    "width": (0.02, 0.5),
    "mix": (0.0, 1.0),
    "noise": (0.0, 0.3),
}


@dataclass
class PoisonSpace:
    """Generator of candidate rows from a low-dimensional parameter vector.

    Parameters
    ----------
    X : DataFrame
        Training features (the rows templates are drawn from).
    privileged_mask : ndarray of bool
        Group of every training row.
    sensitive : ndarray
        Raw sensitive value of every training row (copied to generated rows).
    scores : ndarray of float
        Cross-fitted black-box ``P(y=1|x)`` of every training row.
    categorical, numeric, integer : list of str
        Column kinds.
    n_rows : int
        The budget: the most rows a point may add.
    seed : int
        Seed of the generator.
    """

    X: pd.DataFrame
    privileged_mask: np.ndarray
    sensitive: np.ndarray
    scores: np.ndarray
    categorical: list[str]
    numeric: list[str]
    integer: list[str]
    n_rows: int
    seed: int = 0

    def __post_init__(self) -> None:
        num = self.X[self.numeric].to_numpy(dtype=float) if self.numeric else np.empty((len(self.X), 0))
        self._num = num
        self._lo = np.nanmin(num, axis=0) if num.size else np.array([])
        self._hi = np.nanmax(num, axis=0) if num.size else np.array([])
        std = np.nanstd(num, axis=0) if num.size else np.array([])
        self._std = np.where(std > 0, std, 1.0)
        self._is_int = np.array([c in self.integer for c in self.numeric], dtype=bool)
        # a column holding the sensitive value is never re-derived: the cell decides the group
        sens = np.asarray(self.sensitive).astype(str)
        self._bins = {c: v for c, v in binned_columns(self.X, self.categorical, self.numeric).items()
                      if not (self.X[c].astype(str).to_numpy() == sens).all()}  # fmt: skip
        self._groups = {"u": np.flatnonzero(~self.privileged_mask), "p": np.flatnonzero(self.privileged_mask)}
        if min(len(v) for v in self._groups.values()) == 0:
            raise DataError("both groups must be present in the training rows")

    # -- the space ---------------------------------------------------------------------------
    @staticmethod
    def suggest(trial: Any) -> dict[str, float]:
        """Draw a point through an optuna trial."""
        return {k: trial.suggest_float(k, lo, hi) for k, (lo, hi) in BOUNDS.items()}

    @staticmethod
    def sample(rng: np.random.Generator) -> dict[str, float]:
        """A uniformly random point (the random control)."""
        return {k: float(rng.uniform(lo, hi)) for k, (lo, hi) in BOUNDS.items()}

    @staticmethod
    def heuristic(direction: int) -> list[dict[str, float]]:
        """A three-point warm-start design: lift the disadvantaged group, damp the advantaged one.

        ``direction`` is the sign of the privileged-minus-unprivileged gap of
        the target metric on validation (``+1``: the privileged group is
        favoured). The points use the whole budget with real (uninterpolated)
        templates, and place the bands at the boundary (0.5), and further into
        the other class (0.35 / 0.65 and 0.25 / 0.75): the lower the score of
        a relabelled template, the more it moves the learner, and the more
        accuracy it costs. Each point is one black-box training of the budget.
        """
        up, down = ("u1", "p0") if direction >= 0 else ("p1", "u0")
        points = []
        for centre, width in ((0.5, 0.15), (0.35, 0.1), (0.25, 0.15)):
            p = {f"w_{c}": 0.0 for c in CELLS}
            p.update({f"w_{up}": 1.0, f"w_{down}": 1.0, "fill": 1.0, "width": width, "mix": 0.0, "noise": 0.0})
            p.update({f"c_{c}": 0.5 for c in CELLS})
            p[f"c_{up}"], p[f"c_{down}"] = centre, 1.0 - centre
            points.append(p)
        return points

    # -- generation --------------------------------------------------------------------------
    def counts(self, params: dict[str, float]) -> dict[str, int]:
        """Rows per cell: ``round(fill * budget)`` split by the weights (largest remainder)."""
        total = max(1, int(round(params["fill"] * self.n_rows)))
        w = np.array([params[f"w_{c}"] for c in CELLS], dtype=float)
        w = np.ones(4) / 4 if w.sum() <= 1e-12 else w / w.sum()
        raw = w * total
        k = np.floor(raw).astype(int)
        for i in np.argsort(-(raw - k), kind="stable")[: total - k.sum()]:
            k[i] += 1
        return dict(zip(CELLS, k.tolist(), strict=True))

    def _pool(self, group: str, centre: float, width: float) -> np.ndarray:
        idx = self._groups[group]
        dist = np.abs(self.scores[idx] - centre)
        inside = idx[dist <= width]
        if len(inside) >= MIN_POOL:
            return inside
        return idx[np.argsort(dist, kind="stable")[:MIN_POOL]]

    def generate(self, params: dict[str, float]) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        """The rows a point describes.

        Returns
        -------
        (X_rows, y_rows, sensitive_rows)
            Features in the original schema, labels 0/1, and sensitive values.
        """
        missing = set(BOUNDS) - set(params)
        if missing:
            raise DataError(f"parameters missing: {sorted(missing)}")
        parts, labels, sens = [], [], []
        for i, (cell, k) in enumerate(self.counts(params).items()):
            if k == 0:
                continue
            rng = np.random.default_rng([self.seed, i])
            pool = self._pool(cell[0], params[f"c_{cell}"], params["width"])
            a = rng.choice(pool, size=k, replace=True)
            b = rng.choice(pool, size=k, replace=True)
            lam = rng.uniform(0.0, params["mix"], size=k)
            # the categoricals (and the sensitive value) come together from one parent
            parent = np.where(rng.random(k) < lam, b, a)
            rows = self.X.iloc[parent].reset_index(drop=True).copy()
            if self.numeric:
                num = self._num[a] + lam[:, None] * (self._num[b] - self._num[a])
                num = num + params["noise"] * self._std * rng.standard_normal(num.shape)
                num = np.clip(num, self._lo, self._hi)
                num[:, self._is_int] = np.round(num[:, self._is_int])
                for j, col in enumerate(self.numeric):
                    rows[col] = num[:, j].astype(self.X[col].dtype, copy=False)
                for col, (source, bins) in self._bins.items():
                    rows[col] = bins.derive(rows[source].to_numpy(dtype=float), rows[col].to_numpy(dtype=object))
            parts.append(rows)
            labels.append(np.full(k, int(cell[1])))
            sens.append(self.sensitive[parent])
        X_rows = pd.concat(parts, ignore_index=True)[list(self.X.columns)]
        for col in self.categorical:
            X_rows[col] = X_rows[col].astype(self.X[col].dtype)
        return X_rows, np.concatenate(labels), np.concatenate(sens)


@dataclass(frozen=True)
class Bins:
    """Disjoint intervals ``[lo, hi]`` of a numeric column, one per category of a categorical one."""

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
