"""The ``counterfactual`` search space: real rows with the group swapped, label kept.

The "ideal world" augmentation of Sharma et al. (AIES 2020, "Data augmentation
for discrimination prevention and bias disambiguation"): a copy of a real
row in which the sensitive attribute, and the columns that encode it, take
the other group's values, while every other feature and the label stay. It
needs the sensitive attribute as a feature column.

Columns that encode the group are found in the training rows: a categorical
value held (almost) only by one group (at least ``EXCLUSIVE`` of its rows,
and at least ``MIN_COUNT`` rows) is exclusive to it. Exclusive values of the
two groups are paired by frequency rank (Adult: ``relationship`` Husband ↔
Wife); an exclusive value without a partner becomes the other group's most
frequent value of that column. For an attribute with more than two values,
an unprivileged row becomes privileged, and a privileged row takes the most
frequent unprivileged value.

Four cells (direction-relative as in the ``boundary`` space; each an ordered
list of real rows nearest the decision boundary first):

=====================  ================================================
cell                   rows (added with their own label)
=====================  ================================================
``high_pos_to_low``    positives of the high group, recoded to the low group
``low_neg_to_high``    negatives of the low group, recoded to the high group
``high_neg_to_low``    negatives of the high group, recoded to the low group
``low_pos_to_high``    positives of the low group, recoded to the high group
=====================  ================================================

Parameters (9): ``fill`` in [0.02, 1] (share of the budget used), ``w_<cell>``
in [0, 1] (weights), ``o_<cell>`` in [0, 0.8] (offset into the cell's list).
Rows are drawn without replacement, as in the ``boundary`` space.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from trustlab._errors import DataError
from trustlab.poisoning._spaces import (
    SPACES,
    SearchSpace,
    SpaceContext,
    fill_counts,
    match_fill,
    window,
)

COUNTERFACTUAL_CELLS: dict[str, tuple[str, int]] = {
    "high_pos_to_low": ("high", 1),
    "low_neg_to_high": ("low", 0),
    "high_neg_to_low": ("high", 0),
    "low_pos_to_high": ("low", 1),
}
"""The counterfactual space's cells: name -> (group the rows come from, their true label).

The group is ``"low"`` or ``"high"``; each cell's rows are recoded to the other group and
added with their own label (e.g. ``high_pos_to_low``: positives of the high group, added as
members of the low group).
"""
EXCLUSIVE = 0.98
MIN_COUNT = 20


class CounterfactualSpace(SearchSpace):
    """Real rows with the sensitive attribute (and the columns that encode it) swapped (9 parameters).

    Attributes
    ----------
    sensitive_column_ : str
        The feature column that holds the sensitive attribute.
    recode_ : dict
        ``{"to_privileged" | "to_unprivileged": {column: {value: new value}}}``.
    """

    name = "counterfactual"
    version = "1"

    BOUNDS: dict[str, tuple[float, float]] = {
        "fill": (0.02, 1.0),
        **{f"w_{c}": (0.0, 1.0) for c in COUNTERFACTUAL_CELLS},
        **{f"o_{c}": (0.0, 0.8) for c in COUNTERFACTUAL_CELLS},
    }

    def prepare(self, context: SpaceContext) -> None:
        """Find the sensitive column and the encoding columns; order every cell's rows."""
        self.context_ = context
        X, sens = context.X, np.asarray(context.sensitive).astype(str)
        cols = [c for c in X.columns if (X[c].astype(str).to_numpy() == sens).all()]
        if not cols:
            raise DataError("the counterfactual space needs the sensitive attribute as a feature column")
        self.sensitive_column_ = cols[0]
        priv = np.asarray(context.privileged_mask, dtype=bool)
        if priv.all() or not priv.any():
            raise DataError("both groups must be present in the training rows")
        s_col = X[self.sensitive_column_]
        self._priv_value = s_col[priv].iloc[0]
        self._unpriv_value = s_col[~priv].value_counts().index[0]
        self.recode_ = {"to_privileged": {}, "to_unprivileged": {}}
        for col in context.categorical:
            if col == self.sensitive_column_:
                continue
            to_p, to_u = _pair_exclusive(X[col], priv)
            if to_p:
                self.recode_["to_privileged"][col] = to_p
            if to_u:
                self.recode_["to_unprivileged"][col] = to_u
        high, low = context.high_low
        groups = {"low": low, "high": high}
        y = np.asarray(context.y).astype(int)
        dist = np.abs(np.asarray(context.scores, dtype=float) - 0.5)
        self.lists_: dict[str, np.ndarray] = {}
        for cell, (group, label) in COUNTERFACTUAL_CELLS.items():
            idx = np.flatnonzero(groups[group] & (y == label))
            self.lists_[cell] = idx[np.argsort(dist[idx], kind="stable")]
        self._low_is_priv = context.direction < 0

    def bounds(self) -> dict[str, tuple[float, float]]:
        """The 9 parameters of the module docstring."""
        return dict(self.BOUNDS)

    def counts(self, params: dict[str, float]) -> dict[str, int]:
        """Rows per cell: ``round(fill * budget)`` (at least 1) split by the weights (empty cells get none)."""
        usable = np.array([len(self.lists_[c]) > 0 for c in COUNTERFACTUAL_CELLS])
        return fill_counts(params, tuple(COUNTERFACTUAL_CELLS), usable, self.context_.n_rows)

    def _recode(self, rows: pd.DataFrame, to_low: bool) -> pd.DataFrame:
        to_priv = to_low == self._low_is_priv
        rows = rows.copy()
        rows[self.sensitive_column_] = self._priv_value if to_priv else self._unpriv_value
        for col, mapping in self.recode_["to_privileged" if to_priv else "to_unprivileged"].items():
            rows[col] = rows[col].map(lambda v, m=mapping: m.get(v, v))
        return rows

    def rows(self, params: dict[str, float], rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        """The rows a point describes: recoded copies, their own labels, their new sensitive values."""
        missing = set(self.BOUNDS) - set(params)
        if missing:
            raise DataError(f"parameters missing: {sorted(missing)}")
        X = self.context_.X
        parts, labels = [], []
        for cell, k in self.counts(params).items():
            if k == 0:
                continue
            idx = window(self.lists_[cell], k, params[f"o_{cell}"])
            parts.append(self._recode(X.iloc[idx].reset_index(drop=True), to_low=cell.endswith("_to_low")))
            labels.append(np.full(k, COUNTERFACTUAL_CELLS[cell][1]))
        out = pd.concat(parts, ignore_index=True)[list(X.columns)]
        for col in self.context_.categorical:
            out[col] = out[col].astype(X[col].dtype)
        return out, np.concatenate(labels).astype(int), out[self.sensitive_column_].astype(str).to_numpy()

    def warm_starts(self) -> list[dict[str, float]]:
        """Lift the low group's rate (its recoded positives, the high group's recoded negatives), and all four cells."""
        base = {k: 0.0 for k in self.BOUNDS}
        pair = {"w_high_pos_to_low": 1.0, "w_low_neg_to_high": 1.0}
        return [{**base, "fill": 1.0, **pair}, {**base, "fill": 0.4, **pair},
                {**base, "fill": 1.0, **{f"w_{c}": 1.0 for c in COUNTERFACTUAL_CELLS}}]  # fmt: skip

    def match_rows(self, params: dict[str, float], n_rows: int) -> dict[str, float]:
        """The same point with ``fill`` set so that it adds ``n_rows`` rows."""
        return match_fill(params, n_rows, self.context_.n_rows, self.BOUNDS["fill"])


def _pair_exclusive(column: pd.Series, priv: np.ndarray) -> tuple[dict, dict]:
    """``(to_privileged, to_unprivileged)`` maps of a column's group-exclusive values."""
    values = column.astype(object)
    table = pd.crosstab(values, priv)
    if True not in table.columns or False not in table.columns:
        return {}, {}
    n = table.sum(axis=1)
    share_priv = table[True] / n
    only_p = table.index[(share_priv >= EXCLUSIVE) & (n >= MIN_COUNT)]
    only_u = table.index[(share_priv <= 1 - EXCLUSIVE) & (n >= MIN_COUNT)]
    only_p = sorted(only_p, key=lambda v: -n[v])
    only_u = sorted(only_u, key=lambda v: -n[v])
    if not only_p and not only_u:
        return {}, {}
    top_p = values[priv].value_counts().index[0]
    top_u = values[~priv].value_counts().index[0]
    to_u = {v: (only_u[i] if i < len(only_u) else top_u) for i, v in enumerate(only_p)}
    to_p = {v: (only_p[i] if i < len(only_p) else top_p) for i, v in enumerate(only_u)}
    return to_p, to_u


SPACES["counterfactual"] = CounterfactualSpace
