"""Group fairness metrics, thin over fairlearn's :class:`~fairlearn.metrics.MetricFrame`.

Sign convention: every *difference* is **privileged minus unprivileged**, so
the statistical parity difference is the Zemel metric
``P(y_hat=1 | privileged) - P(y_hat=1 | unprivileged)``. The disparate impact
ratio is ``P(y_hat=1 | unprivileged) / P(y_hat=1 | privileged)`` (1 is parity).
The equalized-odds difference is fairlearn's: the larger of the absolute TPR
and FPR gaps (never negative). A sensitive attribute may have more than two
values; every value other than ``privileged`` is the unprivileged group, and
:func:`evaluate` adds every value's own rates with the worst-pair gap.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    false_negative_rate,
    false_positive_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score, balanced_accuracy_score

from trustlab._errors import DataError, LearnerError

PRIV, UNPRIV = "privileged", "unprivileged"

MIN_GROUP_TEST_ROWS = 30
"""A group with fewer rows than this in the evaluated part gets a warning in the evaluation block.

Its rates are too noisy to compare.
"""
#: Rates compared between every pair of values of a many-valued attribute.
PAIR_RATES = ("selection_rate", "accuracy", "tpr", "fpr", "fnr")

FAIRNESS_KEYS = (
    "statistical_parity_difference",
    "disparate_impact",
    "equalized_odds_difference",
    "equal_opportunity_difference",
    "fpr_difference",
    "fnr_difference",
)
"""Names of the fairness block, in report order."""


def _binary_groups(sensitive_features: Any, privileged: Any) -> np.ndarray:
    s = pd.Series(np.asarray(sensitive_features)).astype(str)
    groups = np.where(s == str(privileged), PRIV, UNPRIV)
    return groups


def check_predictions(y_pred: Any) -> np.ndarray:
    """``y_pred`` as 0/1 integers; a :class:`LearnerError` if they are not the two labels.

    A regressor (``LinearRegression``) or a model trained on other labels
    would otherwise be measured as if it were a classifier.

    Parameters
    ----------
    y_pred : array-like
        Predictions of a model (flattened); booleans, or numbers that are all 0 or 1.

    Returns
    -------
    numpy.ndarray of int
        The predictions as 0/1 integers.

    Raises
    ------
    LearnerError
        If a prediction is not numeric or not 0 or 1.
    """
    raw = np.asarray(y_pred).ravel()
    if raw.dtype == bool:
        return raw.astype(int)
    try:
        num = raw.astype(float)
    except (TypeError, ValueError):
        raise LearnerError(f"the learner's predictions are not 0/1 labels (e.g. {raw[0]!r}); "
                           "use a binary classifier") from None  # fmt: skip
    bad = ~np.isin(num, (0.0, 1.0))
    if bad.any():
        raise LearnerError(f"the learner's predictions are not the two labels 0/1 (e.g. {raw[bad][0]!r}); "
                           "is it a regressor? use a binary classifier")  # fmt: skip
    return num.astype(int)


def _check(y_true: Any, y_pred: Any, sensitive_features: Any) -> tuple[np.ndarray, np.ndarray]:
    y_true = np.asarray(y_true).astype(int).ravel()
    y_pred = check_predictions(y_pred)
    n = len(np.asarray(sensitive_features))
    if not (len(y_true) == len(y_pred) == n):
        raise DataError(
            f"y_true, y_pred and sensitive_features differ in length ({len(y_true)}, {len(y_pred)}, {n})"
        )
    if n == 0:
        raise DataError("no rows to evaluate")
    return y_true, y_pred


def _safe(fn: Callable[..., float]) -> Callable[..., float]:
    """Wrap a rate so an empty denominator gives NaN instead of a warning or 0."""

    def wrapped(y_true: np.ndarray, y_pred: np.ndarray) -> float:
        y_true = np.asarray(y_true)
        if fn is true_positive_rate or fn is false_negative_rate:
            if (y_true == 1).sum() == 0:
                return float("nan")
        if fn is false_positive_rate and (y_true == 0).sum() == 0:
            return float("nan")
        return float(fn(y_true, y_pred))

    wrapped.__name__ = fn.__name__
    return wrapped


_RATES: dict[str, Callable[..., float]] = {
    "selection_rate": lambda yt, yp: float(np.mean(yp)),
    "accuracy": lambda yt, yp: float(accuracy_score(yt, yp)),
    "tpr": _safe(true_positive_rate),
    "fpr": _safe(false_positive_rate),
    "fnr": _safe(false_negative_rate),
}


def group_rates(y_true: Any, y_pred: Any, *, sensitive_features: Any, privileged: Any) -> pd.DataFrame:
    """Rates of the privileged and unprivileged groups.

    Parameters
    ----------
    y_true : array-like of 0/1
        True labels.
    y_pred : array-like of 0/1
        Predicted labels (checked with :func:`check_predictions`).
    sensitive_features : array-like
        Raw values of one sensitive attribute, one per row.
    privileged : object
        The privileged value (compared as text); all others form the unprivileged group.

    Returns
    -------
    pandas.DataFrame
        Index ``["privileged", "unprivileged"]``; columns ``n``, ``selection_rate``,
        ``accuracy``, ``tpr``, ``fpr``, ``fnr``. A group that is absent raises
        :class:`DataError`; a rate whose denominator is empty is NaN.

    Raises
    ------
    DataError
        If the lengths differ, there are no rows, or a group is empty.
    LearnerError
        If ``y_pred`` are not 0/1 labels.
    """
    y_true, y_pred = _check(y_true, y_pred, sensitive_features)
    groups = _binary_groups(sensitive_features, privileged)
    present = set(groups)
    if present != {PRIV, UNPRIV}:
        missing = ({PRIV, UNPRIV} - present).pop()
        raise DataError(
            f"the {missing} group is empty (privileged value {privileged!r}); "
            "fairness metrics need both groups"
        )
    mf = MetricFrame(metrics=_RATES, y_true=y_true, y_pred=y_pred, sensitive_features=groups)
    table = mf.by_group.copy()
    table.index = [str(i) for i in table.index]
    table.insert(0, "n", pd.Series(groups).value_counts().reindex(table.index).astype(int))
    return table.loc[[PRIV, UNPRIV]]


def _diff(table: pd.DataFrame, column: str) -> float:
    return float(table.loc[PRIV, column] - table.loc[UNPRIV, column])


def statistical_parity_difference(y_true: Any, y_pred: Any, *, sensitive_features: Any,
                                  privileged: Any) -> float:  # fmt: skip
    """``P(y_hat=1 | privileged) - P(y_hat=1 | unprivileged)`` (Zemel et al., 2013).

    Parameters
    ----------
    y_true : array-like of 0/1
        True labels.
    y_pred : array-like of 0/1
        Predicted labels (checked with :func:`check_predictions`).
    sensitive_features : array-like
        Raw values of one sensitive attribute, one per row.
    privileged : object
        The privileged value (compared as text); all others form the unprivileged group.

    Returns
    -------
    float
        The difference of the two groups' selection rates (0 is parity).

    Raises
    ------
    DataError
        If the lengths differ, there are no rows, or a group is empty.
    LearnerError
        If ``y_pred`` are not 0/1 labels.
    """
    t = group_rates(y_true, y_pred, sensitive_features=sensitive_features, privileged=privileged)
    return _diff(t, "selection_rate")


def disparate_impact(y_true: Any, y_pred: Any, *, sensitive_features: Any, privileged: Any) -> float:
    """``P(y_hat=1 | unprivileged) / P(y_hat=1 | privileged)``; NaN if the privileged rate is 0.

    Parameters
    ----------
    y_true : array-like of 0/1
        True labels.
    y_pred : array-like of 0/1
        Predicted labels (checked with :func:`check_predictions`).
    sensitive_features : array-like
        Raw values of one sensitive attribute, one per row.
    privileged : object
        The privileged value (compared as text); all others form the unprivileged group.

    Returns
    -------
    float
        The ratio of the two groups' selection rates (1 is parity).

    Raises
    ------
    DataError
        If the lengths differ, there are no rows, or a group is empty.
    LearnerError
        If ``y_pred`` are not 0/1 labels.
    """
    t = group_rates(y_true, y_pred, sensitive_features=sensitive_features, privileged=privileged)
    p = t.loc[PRIV, "selection_rate"]
    return float(t.loc[UNPRIV, "selection_rate"] / p) if p > 0 else float("nan")


def equal_opportunity_difference(y_true: Any, y_pred: Any, *, sensitive_features: Any,
                                 privileged: Any) -> float:  # fmt: skip
    """``TPR(privileged) - TPR(unprivileged)``.

    Parameters
    ----------
    y_true : array-like of 0/1
        True labels.
    y_pred : array-like of 0/1
        Predicted labels (checked with :func:`check_predictions`).
    sensitive_features : array-like
        Raw values of one sensitive attribute, one per row.
    privileged : object
        The privileged value (compared as text); all others form the unprivileged group.

    Returns
    -------
    float
        The true-positive-rate gap; NaN where a group has no positive row.

    Raises
    ------
    DataError
        If the lengths differ, there are no rows, or a group is empty.
    LearnerError
        If ``y_pred`` are not 0/1 labels.
    """
    t = group_rates(y_true, y_pred, sensitive_features=sensitive_features, privileged=privileged)
    return _diff(t, "tpr")


def fpr_difference(y_true: Any, y_pred: Any, *, sensitive_features: Any, privileged: Any) -> float:
    """``FPR(privileged) - FPR(unprivileged)``.

    Parameters
    ----------
    y_true : array-like of 0/1
        True labels.
    y_pred : array-like of 0/1
        Predicted labels (checked with :func:`check_predictions`).
    sensitive_features : array-like
        Raw values of one sensitive attribute, one per row.
    privileged : object
        The privileged value (compared as text); all others form the unprivileged group.

    Returns
    -------
    float
        The false-positive-rate gap; NaN where a group has no negative row.

    Raises
    ------
    DataError
        If the lengths differ, there are no rows, or a group is empty.
    LearnerError
        If ``y_pred`` are not 0/1 labels.
    """
    t = group_rates(y_true, y_pred, sensitive_features=sensitive_features, privileged=privileged)
    return _diff(t, "fpr")


def fnr_difference(y_true: Any, y_pred: Any, *, sensitive_features: Any, privileged: Any) -> float:
    """``FNR(privileged) - FNR(unprivileged)``.

    Parameters
    ----------
    y_true : array-like of 0/1
        True labels.
    y_pred : array-like of 0/1
        Predicted labels (checked with :func:`check_predictions`).
    sensitive_features : array-like
        Raw values of one sensitive attribute, one per row.
    privileged : object
        The privileged value (compared as text); all others form the unprivileged group.

    Returns
    -------
    float
        The false-negative-rate gap; NaN where a group has no positive row.

    Raises
    ------
    DataError
        If the lengths differ, there are no rows, or a group is empty.
    LearnerError
        If ``y_pred`` are not 0/1 labels.
    """
    t = group_rates(y_true, y_pred, sensitive_features=sensitive_features, privileged=privileged)
    return _diff(t, "fnr")


def equalized_odds_difference(y_true: Any, y_pred: Any, *, sensitive_features: Any,
                              privileged: Any) -> float:  # fmt: skip
    """``max(|TPR gap|, |FPR gap|)``, as fairlearn defines it (>= 0).

    Parameters
    ----------
    y_true : array-like of 0/1
        True labels.
    y_pred : array-like of 0/1
        Predicted labels (checked with :func:`check_predictions`).
    sensitive_features : array-like
        Raw values of one sensitive attribute, one per row.
    privileged : object
        The privileged value (compared as text); all others form the unprivileged group.

    Returns
    -------
    float
        The larger absolute gap, ignoring an undefined (NaN) one.

    Raises
    ------
    DataError
        If the lengths differ, there are no rows, or a group is empty.
    LearnerError
        If ``y_pred`` are not 0/1 labels.
    """
    t = group_rates(y_true, y_pred, sensitive_features=sensitive_features, privileged=privileged)
    return float(np.nanmax([abs(_diff(t, "tpr")), abs(_diff(t, "fpr"))]))


def fairness_block(table: pd.DataFrame) -> dict[str, float]:
    """The six fairness metrics from a :func:`group_rates` table.

    Parameters
    ----------
    table : pandas.DataFrame
        A :func:`group_rates` table (rows ``privileged`` and ``unprivileged``).

    Returns
    -------
    dict
        :data:`FAIRNESS_KEYS` -> value: the statistical parity, equal opportunity, FPR and FNR
        differences (privileged minus unprivileged), the disparate impact ratio (NaN when the
        privileged selection rate is 0) and the equalized-odds difference (NaN when both gaps
        are undefined).
    """
    p = table.loc[PRIV, "selection_rate"]
    gaps = [abs(_diff(table, "tpr")), abs(_diff(table, "fpr"))]
    return {
        "statistical_parity_difference": _diff(table, "selection_rate"),
        "disparate_impact": float(table.loc[UNPRIV, "selection_rate"] / p) if p > 0 else float("nan"),
        "equalized_odds_difference": float(np.nanmax(gaps)) if not np.all(np.isnan(gaps)) else float("nan"),
        "equal_opportunity_difference": _diff(table, "tpr"),
        "fpr_difference": _diff(table, "fpr"),
        "fnr_difference": _diff(table, "fnr"),
    }


def evaluate(y_true: Any, y_pred: Any, *, sensitive_features: Any, privileged: Any,
             group_names: dict[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    """Accuracy, balanced accuracy, per-group rates and the fairness block.

    Parameters
    ----------
    y_true, y_pred : array-like of 0/1
        True and predicted labels.
    sensitive_features : array-like
        Raw values of one sensitive attribute.
    privileged : value
        The privileged value; all others form the unprivileged group.
    group_names : dict, optional
        Display names for ``"privileged"`` / ``"unprivileged"`` in ``by_group``
        (default: see :func:`group_labels`).

    Returns
    -------
    dict
        ``{"overall": {accuracy, balanced_accuracy}, "by_group": {name: {n,
        selection_rate, accuracy, tpr, fpr, fnr}}, "fairness": {...}}``; with
        three or more values also ``groups`` (:func:`per_value_groups`: every
        value, the reference, the worst pair); ``warnings`` when a group has
        fewer than :data:`MIN_GROUP_TEST_ROWS` rows or an undefined rate.
    """
    y_true, y_pred = _check(y_true, y_pred, sensitive_features)
    table = group_rates(y_true, y_pred, sensitive_features=sensitive_features, privileged=privileged)
    names = group_names or group_labels(sensitive_features, privileged)
    by_group = {
        names[g]: {
            "n": int(table.loc[g, "n"]),
            "selection_rate": float(table.loc[g, "selection_rate"]),
            "accuracy": float(table.loc[g, "accuracy"]),
            "tpr": float(table.loc[g, "tpr"]),
            "fpr": float(table.loc[g, "fpr"]),
            "fnr": float(table.loc[g, "fnr"]),
        }
        for g in (PRIV, UNPRIV)
    }
    both = len(set(y_true)) == 2
    out: dict[str, Any] = {
        "overall": {
            "accuracy": float(accuracy_score(y_true, y_pred)),
            "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)) if both else float("nan"),
        },
        "by_group": by_group,
        "fairness": fairness_block(table),
    }
    values = pd.Series(np.asarray(sensitive_features)).astype(str).to_numpy()
    warnings = _group_warnings(by_group)
    if len(set(values)) >= 3:
        out["groups"] = per_value_groups(y_true, y_pred, values, privileged)
        warnings += [w for w in _group_warnings(out["groups"]["by_value"]) if w not in warnings]
    if warnings:
        out["warnings"] = warnings
    return out


def _rates(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    pos, neg = y_true == 1, y_true == 0
    nan = float("nan")
    return {
        "n": len(y_true),
        "selection_rate": float(y_pred.mean()) if len(y_true) else nan,
        "accuracy": float((y_pred == y_true).mean()) if len(y_true) else nan,
        "tpr": float(y_pred[pos].mean()) if pos.any() else nan,
        "fpr": float(y_pred[neg].mean()) if neg.any() else nan,
        "fnr": float(1 - y_pred[pos].mean()) if pos.any() else nan,
    }


def per_value_groups(y_true: Any, y_pred: Any, values: Any, privileged: Any) -> dict[str, Any]:
    """Every value of a many-valued attribute: its rates, and the worst pair per rate.

    Parameters
    ----------
    y_true : array-like of 0/1
        True labels.
    y_pred : array-like of 0/1
        Predicted labels (checked with :func:`check_predictions`).
    values : array-like
        Raw values of the sensitive attribute, one per row (compared as text).
    privileged : object
        The privileged value: the reference group.

    Returns
    -------
    dict
        ``reference`` (the privileged value), ``by_value`` {value: {n,
        selection_rate, accuracy, tpr, fpr, fnr}} (largest group first, the
        reference first of all) and ``worst_pair`` {rate: {gap, groups}}: the
        largest absolute gap between two values with the rate defined
        (``gap`` >= 0, ``groups`` [higher, lower]).

    Raises
    ------
    LearnerError
        If ``y_pred`` are not 0/1 labels.
    """
    y_true = np.asarray(y_true).astype(int).ravel()
    y_pred = check_predictions(y_pred)
    values = pd.Series(np.asarray(values)).astype(str)
    order = list(values.value_counts().index)
    ref = str(privileged)
    if ref in order:
        order = [ref] + [v for v in order if v != ref]
    v = values.to_numpy()
    by_value = {g: _rates(y_true[v == g], y_pred[v == g]) for g in order}
    worst: dict[str, Any] = {}
    for rate in PAIR_RATES:
        defined = {g: r[rate] for g, r in by_value.items() if np.isfinite(r[rate])}
        if len(defined) < 2:
            worst[rate] = {"gap": float("nan"), "groups": []}
            continue
        hi = max(defined, key=defined.__getitem__)
        lo = min(defined, key=defined.__getitem__)
        worst[rate] = {"gap": float(defined[hi] - defined[lo]), "groups": [hi, lo]}
    return {"reference": ref, "by_value": by_value, "worst_pair": worst}


def _group_warnings(groups: dict[str, dict[str, Any]]) -> list[str]:
    out = []
    for g, r in groups.items():
        if r["n"] < MIN_GROUP_TEST_ROWS:
            out.append(f"group {g!r} has {r['n']} rows here (fewer than {MIN_GROUP_TEST_ROWS}): "
                       "its rates are unreliable")  # fmt: skip
        undefined = [k for k in ("tpr", "fpr") if not np.isfinite(r[k])]
        if undefined and r["n"]:
            out.append(f"group {g!r} has no {'positive' if 'tpr' in undefined else 'negative'} rows "
                       f"here: its {'/'.join(u.upper() for u in undefined)} is undefined (n/a)")  # fmt: skip
    return out


def group_labels(sensitive_features: Any, privileged: Any) -> dict[str, str]:
    """Display names of the two groups.

    The values themselves for a binary attribute (``Male`` / ``Female``), else the privileged
    value and ``not`` it (``White`` / ``not White``).

    Parameters
    ----------
    sensitive_features : array-like
        Raw values of the sensitive attribute.
    privileged : object
        The privileged value.

    Returns
    -------
    dict
        ``{"privileged": name, "unprivileged": name}``.
    """
    values = sorted(set(pd.Series(np.asarray(sensitive_features)).astype(str)))
    priv = str(privileged)
    others = [v for v in values if v != priv]
    unpriv = others[0] if len(others) == 1 else f"not {priv}"
    return {PRIV: priv, UNPRIV: unpriv}


def bootstrap_ci(
    metric: Callable[..., float],
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any,
    privileged: Any,
    n_boot: int = 1000,
    confidence: float = 0.95,
    random_state: int | None = 0,
) -> tuple[float, float, float]:
    """Percentile bootstrap confidence interval of a group metric.

    Resamples rows with replacement within each group (so both groups are
    always present) and recomputes ``metric``.

    Parameters
    ----------
    metric : callable
        A group metric with the signature of :func:`statistical_parity_difference`.
    y_true : array-like of 0/1
        True labels.
    y_pred : array-like of 0/1
        Predicted labels.
    sensitive_features : array-like
        Raw values of one sensitive attribute, one per row.
    privileged : object
        The privileged value; all others form the unprivileged group.
    n_boot : int, default 1000
        Number of bootstrap resamples.
    confidence : float, default 0.95
        Coverage of the interval, in (0, 1).
    random_state : int or None, default 0
        Seed of the resampling.

    Returns
    -------
    (estimate, low, high) : tuple of float
        The metric on all rows, and the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2``
        quantiles of the resampled values (NaNs ignored).

    Raises
    ------
    DataError
        If ``confidence`` is outside (0, 1), the lengths differ or there are no rows.
    LearnerError
        If ``y_pred`` are not 0/1 labels.
    """
    if not 0 < confidence < 1:
        raise DataError(f"confidence must be in (0, 1), got {confidence}")
    y_true, y_pred = _check(y_true, y_pred, sensitive_features)
    s = np.asarray(pd.Series(np.asarray(sensitive_features)).astype(str))
    est = metric(y_true, y_pred, sensitive_features=s, privileged=privileged)
    rng = np.random.default_rng(random_state)
    groups = _binary_groups(s, privileged)
    idx_by_group = [np.flatnonzero(groups == g) for g in (PRIV, UNPRIV)]
    stats = np.empty(n_boot)
    for b in range(n_boot):
        idx = np.concatenate([rng.choice(ix, size=len(ix), replace=True) for ix in idx_by_group])
        stats[b] = metric(y_true[idx], y_pred[idx], sensitive_features=s[idx], privileged=privileged)
    alpha = (1 - confidence) / 2
    low, high = np.nanquantile(stats, [alpha, 1 - alpha])
    return float(est), float(low), float(high)
