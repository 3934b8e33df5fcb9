"""Pre-processing repairs (massaging, reweighing) and fairlearn's in/post-processing.

All four are estimators in the scikit-learn mould: ``fit(X, y, *,
sensitive_features)``, ``predict(X)``. They wrap an unfitted learner and never
see the test split; :func:`run_mitigation` evaluates them against the baseline
on the same untouched test split.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.validation import check_is_fitted

from trustlab._errors import DataError, check_choice
from trustlab.learners import make_learner, supports_sample_weight


def _priv_mask(sensitive_features: Any, privileged: Any) -> np.ndarray:
    s = pd.Series(np.asarray(sensitive_features)).astype(str).to_numpy()
    mask = s == str(privileged)
    if mask.all() or not mask.any():
        raise DataError(f"massaging/reweighing need both groups; privileged value {privileged!r}")
    return mask


def massaging_count(y: Any, privileged_mask: Any) -> int:
    """Number of promotions (= demotions) that equalises the groups' positive rates.

    ``M = round((p_priv - p_unpriv) * n_priv * n_unpriv / n)`` (Kamiran & Calders,
    2012). Negative when the unprivileged group already has the higher rate.

    Parameters
    ----------
    y : array-like of 0/1
        Training labels.
    privileged_mask : array-like of bool
        True for the rows of the privileged group.

    Returns
    -------
    int
        ``M``, rounded half up.
    """
    y = np.asarray(y).astype(int)
    mask = np.asarray(privileged_mask, dtype=bool)
    n_priv, n_unpriv = int(mask.sum()), int((~mask).sum())
    disc = y[mask].mean() - y[~mask].mean()
    return int(math.floor(disc * n_priv * n_unpriv / len(y) + 0.5))


def massage_labels(y: Any, privileged_mask: Any, scores: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Relabel the training set by massaging.

    The ``M`` highest-scored negatives of the disadvantaged group are promoted
    to 1 and the ``M`` lowest-scored positives of the advantaged group demoted
    to 0 (:func:`massaging_count`); the dataset size is unchanged. If the
    unprivileged group is the advantaged one, the roles swap.

    Parameters
    ----------
    y : array-like of 0/1
        Training labels.
    privileged_mask : array-like of bool
        True for the rows of the privileged group.
    scores : array-like of float
        A ranking model's ``P(y=1 | x)`` for every row.

    Returns
    -------
    (y_new, promoted, demoted) : tuple of numpy.ndarray
        The new labels, and the sorted positions of the rows promoted to 1 and demoted to 0.
    """
    y = np.asarray(y).astype(int)
    mask = np.asarray(privileged_mask, dtype=bool)
    scores = np.asarray(scores, dtype=float)
    m = massaging_count(y, mask)
    low, high = (~mask, mask) if m >= 0 else (mask, ~mask)
    m = abs(m)
    cand_up = np.flatnonzero(low & (y == 0))
    cand_down = np.flatnonzero(high & (y == 1))
    m = min(m, len(cand_up), len(cand_down))
    # Stable sorts so ties break by position: deterministic.
    promoted = cand_up[np.argsort(-scores[cand_up], kind="stable")[:m]]
    demoted = cand_down[np.argsort(scores[cand_down], kind="stable")[:m]]
    y_new = y.copy()
    y_new[promoted] = 1
    y_new[demoted] = 0
    return y_new, np.sort(promoted), np.sort(demoted)


def reweighing_weights(y: Any, privileged_mask: Any) -> np.ndarray:
    """Kamiran & Calders reweighing: ``w(g, l) = P(g) P(l) / P(g, l)`` for every row.

    Parameters
    ----------
    y : array-like of 0/1
        Training labels.
    privileged_mask : array-like of bool
        True for the rows of the privileged group.

    Returns
    -------
    numpy.ndarray of float
        The weight of each row's (group, label) cell; rows in the same cell share a weight.
    """
    y = np.asarray(y).astype(int)
    mask = np.asarray(privileged_mask, dtype=bool)
    w = np.empty(len(y), dtype=float)
    for g in (True, False):
        for label in (0, 1):
            cell = (mask == g) & (y == label)
            if cell.any():
                w[cell] = (mask == g).mean() * (y == label).mean() / cell.mean()
    return w


class _Wrapper(ClassifierMixin, BaseEstimator):
    """Shared predict / predict_proba delegation to ``self.estimator_``."""

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict(X)

    def predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict_proba(X)


class MassagingClassifier(_Wrapper):
    """Train ``estimator`` on labels repaired by massaging (Kamiran & Calders, 2012).

    Parameters
    ----------
    estimator : estimator
        The (unfitted) learner trained on the massaged labels.
    privileged : value
        Privileged value of the sensitive attribute.
    ranker : estimator, optional
        Scoring model whose ``predict_proba`` ranks the candidates; defaults to
        a logistic-regression clone of ``estimator``'s preprocessing. It is
        fit on the training data with its true labels.

    Attributes
    ----------
    estimator_ : fitted estimator
    n_relabelled_ : int
        Rows whose label changed (promotions + demotions).
    promoted_, demoted_ : ndarray
        Positions of the promoted / demoted rows.
    """

    def __init__(self, estimator: Any, *, privileged: Any, ranker: Any = None) -> None:
        self.estimator = estimator
        self.privileged = privileged
        self.ranker = ranker

    def fit(self, X: pd.DataFrame, y: Any, *, sensitive_features: Any) -> MassagingClassifier:
        mask = _priv_mask(sensitive_features, self.privileged)
        ranker = clone(self.ranker) if self.ranker is not None else _default_ranker(self.estimator)
        ranker.fit(X, y)
        scores = ranker.predict_proba(X)[:, 1]
        y_new, self.promoted_, self.demoted_ = massage_labels(y, mask, scores)
        self.n_relabelled_ = len(self.promoted_) + len(self.demoted_)
        self.estimator_ = clone(self.estimator).fit(X, y_new)
        self.classes_ = np.array([0, 1])
        return self


def _default_ranker(estimator: Any) -> Any:
    prep = getattr(estimator, "named_steps", {}).get("prep")
    if prep is None:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(max_iter=1000)
    cat = prep.transformers[0][2]
    num = prep.transformers[1][2]
    return make_learner("logreg", categorical=cat, numeric=num)


class ReweighingClassifier(_Wrapper):
    """Train ``estimator`` with reweighing weights (Kamiran & Calders, 2012).

    Weights go to ``fit(sample_weight=...)`` where the learner takes them;
    otherwise the training set is resampled with replacement in proportion to
    the weights (same size), which has the same expectation.

    Parameters
    ----------
    estimator : estimator
        The (unfitted) learner trained with the weights.
    privileged : object
        Privileged value of the sensitive attribute (compared as text).
    random_state : int or None, default 0
        Seed of the resampling (used only when the learner takes no ``sample_weight``).

    Attributes
    ----------
    weights_ : ndarray
        Per-row weights.
    cell_weights_ : dict
        ``{"privileged|1": w, ...}``.
    resampled_ : bool
        Whether resampling was used instead of ``sample_weight``.
    """

    def __init__(self, estimator: Any, *, privileged: Any, random_state: int | None = 0) -> None:
        self.estimator = estimator
        self.privileged = privileged
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y: Any, *, sensitive_features: Any) -> ReweighingClassifier:
        mask = _priv_mask(sensitive_features, self.privileged)
        y = np.asarray(y).astype(int)
        self.weights_ = reweighing_weights(y, mask)
        self.cell_weights_ = {
            f"{'privileged' if g else 'unprivileged'}|{label}": float(self.weights_[(mask == g) & (y == label)][0])
            for g in (True, False)
            for label in (0, 1)
            if ((mask == g) & (y == label)).any()
        }
        est = clone(self.estimator)
        self.resampled_ = not supports_sample_weight(est)
        if self.resampled_:
            rng = np.random.default_rng(self.random_state)
            idx = rng.choice(len(y), size=len(y), replace=True, p=self.weights_ / self.weights_.sum())
            self.estimator_ = est.fit(X.iloc[idx], y[idx])
        else:
            self.estimator_ = est.fit(X, y, sample_weight=self.weights_)
        self.classes_ = np.array([0, 1])
        return self


METHODS = ("massaging", "reweighing", "exponentiated-gradient", "threshold-optimizer")
"""The mitigation methods of :func:`run_mitigation` (``--method``)."""


def check_method(method: str) -> str:
    """Validate a mitigation method name.

    Parameters
    ----------
    method : str
        The name; one of :data:`METHODS`.

    Returns
    -------
    str
        ``method``, unchanged.

    Raises
    ------
    ConfigError
        If ``method`` is not one of :data:`METHODS`.
    """
    check_choice("mitigation method", method, METHODS)
    return method
