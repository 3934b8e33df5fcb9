"""The ``boundary`` search space (the default): real rows nearest the decision boundary.

Four cells, each an ordered list of real training rows of one group and one
*true* label, nearest the decision boundary first (``|score - 0.5|``
ascending, by the cross-fitted black-box score ``P(y=1|x)``). "Low" is the
group with the lower rate the metric compares (the one to lift), "high" the
other (see :meth:`~trustlab.fairness.FairnessMetric.direction`):

=================  =====================================  ===========
cell               rows                                   added label
=================  =====================================  ===========
``flip_low_neg``   negatives of the low group             1 (flipped)
``flip_high_pos``  positives of the high group            0 (flipped)
``dup_low_pos``    positives of the low group             1 (copies)
``dup_high_neg``   negatives of the high group            0 (copies)
=================  =====================================  ===========

Parameters (up to 11; by default 5: ``fill`` and the weight and offset of each of the metric's
two cells, see :class:`BoundarySpace`):

=======================  ===========  ==========================================
parameter                range        meaning
=======================  ===========  ==========================================
``fill``                 [0.02, 1]    fraction of the budget used (fewer rows may be
                                      better, and a random point explores it evenly)
``w_<cell>``             [0, 1]       the cell's weight: its count is
                                      ``round(fill * budget)`` split by the weights
``o_<cell>``             [0, 0.8]     offset into the cell's list, as a fraction of
                                      its length: 0 starts at the boundary
``mix``                  [0, 1]       near-copies: a row moves ``lam ~ U(0, mix)`` of
                                      the way towards another row of its cell (its
                                      categoricals come from that row with
                                      probability ``lam``)
``noise``                [0, 0.3]     Gaussian noise on numeric columns (in stds)
=======================  ===========  ==========================================

A cell's rows are a window of its list starting at the offset, drawn
**without replacement** (the window slides back when it would run past the
end; only a count larger than the whole list repeats rows). With
``mix = noise = 0`` every added row is an exact copy of a real row with its
true or its flipped label. "Clone-massage" (flipped copies of the low group's
negatives and the high group's positives nearest the boundary) is the point
``fill = 1``, ``w_flip_low_neg = w_flip_high_pos = 1``, the other weights and all
offsets 0, ``mix = noise = 0``.
Plausibility and cross-column consistency are those of
:class:`~trustlab.poisoning.RowMaker`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from trustlab._errors import ConfigError, DataError
from trustlab.poisoning._spaces import (
    SPACES,
    RowMaker,
    SearchSpace,
    SpaceContext,
    fill_counts,
    match_fill,
    window,
)

BOUNDARY_CELLS: dict[str, tuple[str, int, int]] = {
    "flip_low_neg": ("low", 0, 1),
    "flip_high_pos": ("high", 1, 0),
    "dup_low_pos": ("low", 1, 1),
    "dup_high_neg": ("high", 0, 0),
}
"""The boundary space's cells: name -> (group, true label of its rows, label of the added rows).

The group is ``"low"`` or ``"high"`` (the group with the lower or higher rate the metric
compares); ``flip_*`` cells add copies of rows with the other label, ``dup_*`` cells add
copies with their own label.
"""
MAX_OFFSET = 0.8


class BoundarySpace(SearchSpace):
    """Flipped and duplicated real rows nearest the decision boundary (up to 11 parameters).

    See the module docstring for the cells and parameters.

    Parameters
    ----------
    cells : "metric", "all" or sequence of str, default="metric"
        The cells the search may use. ``"metric"``: the two that move the
        metric's rate (statistical parity and disparate impact: both flipped
        cells, i.e. clone-massage; FPR: the low group's flipped negatives and
        the high group's copied negatives; TPR/FNR: the low group's copied
        positives and the high group's flipped positives; equalized odds: all
        four). Fewer parameters make a short search far more effective.
    near_copies : bool, default=False
        Search ``mix`` and ``noise`` too (rows need not be exact copies; the
        data owner sees fewer duplicates, at some cost in effect).

    Attributes
    ----------
    lists_ : dict of str -> ndarray
        Every cell's training positions, nearest the boundary first.
    cells_ : tuple of str
        The cells in use.
    """

    name = "boundary"
    #: 2: only the metric's cells by default, exact copies by default.
    version = "2"

    def __init__(self, *, cells: Any = "metric", near_copies: bool = False) -> None:
        self.cells = cells
        self.near_copies = near_copies

    BOUNDS: dict[str, tuple[float, float]] = {
        "fill": (0.02, 1.0),
        **{f"w_{c}": (0.0, 1.0) for c in BOUNDARY_CELLS},
        **{f"o_{c}": (0.0, MAX_OFFSET) for c in BOUNDARY_CELLS},
        "mix": (0.0, 1.0),
        "noise": (0.0, 0.3),
    }

    def prepare(self, context: SpaceContext) -> None:
        """Order every cell's rows by distance to the boundary."""
        self.context_ = context
        high, low = context.high_low
        y = np.asarray(context.y).astype(int)
        dist = np.abs(np.asarray(context.scores, dtype=float) - 0.5)
        groups = {"low": low, "high": high}
        self.lists_: dict[str, np.ndarray] = {}
        for cell, (group, label, _) in BOUNDARY_CELLS.items():
            idx = np.flatnonzero(groups[group] & (y == label))
            self.lists_[cell] = idx[np.argsort(dist[idx], kind="stable")]
        if not len(self.lists_["flip_low_neg"]) + len(self.lists_["dup_low_pos"]):
            raise DataError("the group to lift has no training rows")
        self.cells_ = metric_cells(context.metric) if isinstance(self.cells, str) and self.cells == "metric" else (
            tuple(BOUNDARY_CELLS) if isinstance(self.cells, str) and self.cells == "all" else tuple(self.cells))
        unknown = set(self.cells_) - set(BOUNDARY_CELLS)
        if unknown or not self.cells_:
            raise ConfigError(f"boundary space: unknown cells {sorted(unknown)}; choose from {', '.join(BOUNDARY_CELLS)}")
        self._maker = RowMaker(context)

    def bounds(self) -> dict[str, tuple[float, float]]:
        """``fill``, the weight and offset of every cell in use, and ``mix``/``noise`` with near copies."""
        keep = {"fill", *(f"w_{c}" for c in self.cells_), *(f"o_{c}" for c in self.cells_)}
        if self.near_copies:
            keep |= {"mix", "noise"}
        return {k: v for k, v in self.BOUNDS.items() if k in keep}

    def _full(self, params: dict[str, float]) -> dict[str, float]:
        """Every parameter: the unused ones at 0 (no rows in an unused cell, exact copies)."""
        return {**{k: 0.0 for k in self.BOUNDS}, **params}

    def describe(self) -> dict[str, Any]:
        """Name, version, bounds, the cells in use and whether near copies are searched."""
        return {**super().describe(), "cells": list(self.cells_), "near_copies": self.near_copies}

    def counts(self, params: dict[str, float]) -> dict[str, int]:
        """Rows per cell: ``round(fill * budget)`` (at least 1) split by the weights.

        A cell with no rows gets weight 0 (if every usable weight is 0 the
        usable cells share the rows equally).
        """
        usable = np.array([len(self.lists_[c]) > 0 and c in self.cells_ for c in BOUNDARY_CELLS])
        return fill_counts(self._full(params), tuple(BOUNDARY_CELLS), usable, self.context_.n_rows)

    def window(self, cell: str, k: int, offset: float) -> np.ndarray:
        """``k`` positions of the cell's list from ``offset`` on, without replacement where possible."""
        return window(self.lists_[cell], k, offset)

    def rows(self, params: dict[str, float], rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        """The rows a point describes: features, labels 0/1 and sensitive values."""
        missing = set(self.bounds()) - set(params)
        if missing:
            raise DataError(f"parameters missing: {sorted(missing)}")
        params = self._full(params)
        streams = rng.spawn(len(BOUNDARY_CELLS))
        parts, labels, sens = [], [], []
        for i, (cell, k) in enumerate(self.counts(params).items()):
            if k == 0:
                continue
            r = streams[i]
            a = self.window(cell, k, params[f"o_{cell}"])
            lam = r.uniform(0.0, params["mix"], size=k) if params["mix"] > 0 else np.zeros(k)
            b = r.choice(self.lists_[cell], size=k, replace=True) if params["mix"] > 0 else a
            rows, s = self._maker.make(a, b, lam, params["noise"], r)
            parts.append(rows)
            labels.append(np.full(k, BOUNDARY_CELLS[cell][2]))
            sens.append(s)
        return self._maker.finish(parts, labels, sens)

    def warm_starts(self) -> list[dict[str, float]]:
        """The cells in use at the boundary with the whole, 60% and 30% of the budget.

        With the metric's cells the first point is clone-massage for statistical
        parity (flipped copies of the low group's negatives and of the high
        group's positives nearest the boundary); with all four cells the points
        are the counterparts of the ``bands`` space's warm start at the
        boundary. Three fills, because the accuracy allowance usually binds
        somewhere along the budget.
        """
        base = {k: 0.0 for k in self.bounds()}
        return [{**base, "fill": fill, **{f"w_{c}": 1.0 for c in self.cells_}} for fill in (1.0, 0.6, 0.3)]

    def match_rows(self, params: dict[str, float], n_rows: int) -> dict[str, float]:
        """The same point with ``fill`` set so that it adds ``n_rows`` rows."""
        return match_fill(params, n_rows, self.context_.n_rows, self.BOUNDS["fill"])


def metric_cells(metric: Any) -> tuple[str, ...]:
    """The two cells that move the metric's rate (all four for equalized odds)."""
    if metric.kind == "max_abs":
        return tuple(BOUNDARY_CELLS)
    if metric.label_side == 0:
        return ("flip_low_neg", "dup_high_neg")
    if metric.label_side == 1:
        return ("dup_low_pos", "flip_high_pos")
    return ("flip_low_neg", "flip_high_pos")


SPACES["boundary"] = BoundarySpace
