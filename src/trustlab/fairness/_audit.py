"""Audit a default learner and compare mitigations on one untouched test split."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from trustlab.datasets import DataSplit
from trustlab.fairness._metrics import PRIV, UNPRIV, evaluate, group_labels
from trustlab.fairness._mitigation import (
    MassagingClassifier,
    ReweighingClassifier,
    check_method,
)
from trustlab.learners import learner_name, make_learner


class Float64Proba(ClassifierMixin, BaseEstimator):
    """A fitted classifier whose ``predict_proba`` returns float64.

    fairlearn's ThresholdOptimizer writes probabilities into a float64 pandas
    Series; XGBoost returns float32, which pandas >= 3 refuses to upcast in place.
    """

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator

    def fit(self, X: Any, y: Any) -> Float64Proba:  # pragma: no cover - used prefit only
        self.estimator_ = clone(self.estimator).fit(X, y)
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return True

    @property
    def classes_(self) -> np.ndarray:
        return self.estimator.classes_

    def predict(self, X: Any) -> np.ndarray:
        return self.estimator.predict(X)

    def predict_proba(self, X: Any) -> np.ndarray:
        return np.asarray(self.estimator.predict_proba(X), dtype=np.float64)


def binary_groups(values: Any, privileged: Any) -> np.ndarray:
    """``"privileged"`` / ``"unprivileged"`` labels for fairlearn's group-aware methods."""
    return np.where(np.asarray(values).astype(str) == str(privileged), PRIV, UNPRIV)


def flat_block(evaluation: dict[str, Any]) -> dict[str, float]:
    """``overall`` and ``fairness`` of :func:`evaluate` merged into one flat dict."""
    return {**evaluation["overall"], **evaluation["fairness"]}


def evaluate_on(model: Any, part: Any, sensitive: str, **predict_kwargs: Any) -> dict[str, Any]:
    """Evaluate a fitted model on one part (train / val / test) of a split."""
    y_pred = model.predict(part.X, **predict_kwargs)
    groups = part.groups(sensitive)
    priv = part.privileged[sensitive]
    return evaluate(part.y, y_pred, sensitive_features=groups, privileged=priv,
                    group_names=group_labels(groups, priv))  # fmt: skip


def fit_baseline(split: DataSplit, learner: Any, *, seed: int, n_jobs: int | None = None) -> Any:
    """The default learner fit on the training part."""
    ds = split.train
    model = make_learner(learner, categorical=ds.categorical, numeric=ds.numeric,
                         random_state=seed, n_jobs=n_jobs)  # fmt: skip
    return model.fit(ds.X, ds.y)


def audit(split: DataSplit, *, learner: Any = "rf", sensitive: str | None = None,
          seed: int = 0, n_jobs: int | None = None) -> dict[str, Any]:  # fmt: skip
    """Fit ``learner`` on the training part and measure it on the test part.

    Returns
    -------
    dict
        The ``audit.json`` schema: ``dataset``, ``sensitive``, ``learner``,
        ``seed``, ``n_train``, ``n_test``, ``overall``, ``by_group``,
        ``fairness`` (and ``privileged``, ``fit_seconds``).
    """
    sensitive = split.train.resolve_sensitive(sensitive)
    t0 = time.perf_counter()
    model = fit_baseline(split, learner, seed=seed, n_jobs=n_jobs)
    fit_seconds = time.perf_counter() - t0
    result = evaluate_on(model, split.test, sensitive)
    return {
        "dataset": split.train.name,
        "sensitive": sensitive,
        "privileged": split.train.privileged[sensitive],
        "learner": learner_name(learner),
        "seed": seed,
        "n_train": len(split.train),
        "n_test": len(split.test),
        **result,
        "fit_seconds": fit_seconds,
    }


def run_mitigation(
    method: str,
    split: DataSplit,
    *,
    learner: Any = "rf",
    sensitive: str | None = None,
    seed: int = 0,
    n_jobs: int | None = None,
    baseline: Any = None,
) -> dict[str, Any]:
    """Baseline vs one mitigation, both measured on the untouched test split.

    Parameters
    ----------
    method : {"massaging", "reweighing", "exponentiated-gradient", "threshold-optimizer"}
        Massaging and reweighing repair the training data; fairlearn's
        ExponentiatedGradient (demographic parity) retrains with reductions;
        ThresholdOptimizer (demographic parity) post-processes the baseline
        with group-specific thresholds fit on the **validation** part (the
        training part's scores are overfit for tree ensembles).
    split : DataSplit
    learner : str or estimator
    sensitive : str, optional
    seed : int
    n_jobs : int, optional
    baseline : fitted model, optional
        Reuse an already fitted baseline (the benchmark fits it once per seed).

    Returns
    -------
    dict
        ``method``, ``baseline`` and ``mitigated`` blocks (``overall``,
        ``fairness``, ``by_group``), ``changes`` (what the method changed),
        ``fit_seconds``.
    """
    check_method(method)
    tr = split.train
    sensitive = tr.resolve_sensitive(sensitive)
    priv = tr.privileged[sensitive]
    if baseline is None:
        baseline = fit_baseline(split, learner, seed=seed, n_jobs=n_jobs)
    base_eval = evaluate_on(baseline, split.test, sensitive)
    est = make_learner(learner, categorical=tr.categorical, numeric=tr.numeric,
                       random_state=seed, n_jobs=n_jobs)  # fmt: skip
    t0 = time.perf_counter()
    changes: dict[str, Any]
    if method == "massaging":
        model = MassagingClassifier(est, privileged=priv).fit(tr.X, tr.y, sensitive_features=tr.groups(sensitive))
        changes = {
            "rows_relabelled": int(model.n_relabelled_),
            "promoted": len(model.promoted_),
            "demoted": len(model.demoted_),
        }
        mitigated = evaluate_on(model, split.test, sensitive)
    elif method == "reweighing":
        model = ReweighingClassifier(est, privileged=priv, random_state=seed).fit(
            tr.X, tr.y, sensitive_features=tr.groups(sensitive)
        )
        changes = {
            "weight_min": float(model.weights_.min()),
            "weight_max": float(model.weights_.max()),
            "cell_weights": model.cell_weights_,
            "resampled": bool(model.resampled_),
        }
        mitigated = evaluate_on(model, split.test, sensitive)
    elif method == "exponentiated-gradient":
        from fairlearn.reductions import DemographicParity, ExponentiatedGradient

        model = ExponentiatedGradient(est, constraints=DemographicParity())
        model.fit(tr.X, tr.y, sensitive_features=binary_groups(tr.groups(sensitive), priv))
        changes = {"predictors": len(model.predictors_), "constraint": "demographic_parity"}
        mitigated = evaluate_on(model, split.test, sensitive, random_state=seed)
    else:  # threshold-optimizer
        from fairlearn.postprocessing import ThresholdOptimizer

        model = ThresholdOptimizer(estimator=Float64Proba(baseline), constraints="demographic_parity",
                                   prefit=True, predict_method="predict_proba")  # fmt: skip
        va = split.val
        model.fit(va.X, va.y, sensitive_features=binary_groups(va.groups(sensitive), priv))
        changes = {"fit_on": "validation", "constraint": "demographic_parity"}
        groups = binary_groups(split.test.groups(sensitive), priv)
        mitigated = evaluate_on(model, split.test, sensitive, sensitive_features=groups,
                                random_state=seed)  # fmt: skip
    return {
        "method": method,
        "dataset": tr.name,
        "sensitive": sensitive,
        "privileged": priv,
        "learner": learner_name(learner),
        "seed": seed,
        "n_train": len(tr),
        "n_test": len(split.test),
        "baseline": base_eval,
        "mitigated": mitigated,
        "changes": changes,
        "fit_seconds": time.perf_counter() - t0,
    }

