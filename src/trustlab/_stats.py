"""Confidence intervals for results over seeds."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats


def mean_ci(values: Any, *, confidence: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of the Student-t confidence interval.

    ``mean ± half`` is the ``confidence`` interval of the mean over the
    values (seeds), assuming they are i.i.d. draws. NaNs are dropped; with
    fewer than two values the half-width is NaN.

    Parameters
    ----------
    values : array-like of float
        One number per seed (non-finite values are dropped).
    confidence : float, default 0.95
        Two-sided confidence level of the interval.

    Returns
    -------
    tuple of (float, float)
        The mean (NaN when no finite value is left) and the half-width
        ``t_{(1+confidence)/2, n-1} * sd / sqrt(n)``.
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return float("nan"), float("nan")
    if len(x) < 2:
        return float(x.mean()), float("nan")
    half = stats.t.ppf(0.5 + confidence / 2, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
    return float(x.mean()), float(half)


def fmt_ci(values: Any, *, digits: int = 3, confidence: float = 0.95) -> str:
    """``"0.123 ± 0.004"``: :func:`mean_ci` formatted for a table cell.

    Parameters
    ----------
    values : array-like of float
        One number per seed.
    digits : int, default 3
        Decimals of the mean and the half-width.
    confidence : float, default 0.95
        Two-sided confidence level of the interval.

    Returns
    -------
    str
        ``"mean ± half"``; only the mean with one value; ``"n/a"`` with none.
    """
    m, h = mean_ci(values, confidence=confidence)
    if not np.isfinite(m):
        return "n/a"
    if not np.isfinite(h):
        return f"{m:.{digits}f}"
    return f"{m:.{digits}f} ± {h:.{digits}f}"
