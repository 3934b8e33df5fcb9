"""Audit a default learner and compare mitigations on one untouched test split."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from trustlab._errors import LearnerError, TrustlabError
from trustlab.datasets import DataSplit
from trustlab.fairness._metrics import PRIV, UNPRIV, check_predictions, evaluate, group_labels
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
    Pass it as ``ThresholdOptimizer(estimator=Float64Proba(model), prefit=True)``.

    Parameters
    ----------
    estimator : fitted classifier
        The model whose predictions and probabilities are passed through.
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
    """``"privileged"`` / ``"unprivileged"`` labels for fairlearn's group-aware methods.

    Parameters
    ----------
    values : array-like
        Raw values of the sensitive attribute.
    privileged : object
        The privileged value (compared as text).

    Returns
    -------
    numpy.ndarray of str
        ``"privileged"`` where the value equals ``privileged``, else ``"unprivileged"``.
    """
    return np.where(np.asarray(values).astype(str) == str(privileged), PRIV, UNPRIV)


def flat_block(evaluation: dict[str, Any]) -> dict[str, float]:
    """``overall`` and ``fairness`` of :func:`evaluate` merged into one flat dict.

    Parameters
    ----------
    evaluation : dict
        A block returned by :func:`evaluate` (or :func:`evaluate_on`).

    Returns
    -------
    dict
        Accuracy, balanced accuracy and the fairness metrics, keyed by name.
    """
    return {**evaluation["overall"], **evaluation["fairness"]}


def evaluate_on(model: Any, part: Any, sensitive: str, **predict_kwargs: Any) -> dict[str, Any]:
    """Evaluate a fitted model on one part (train / val / test) of a split.

    Parameters
    ----------
    model : fitted classifier
        A model with ``predict``.
    part : Dataset
        The part of the split to predict and measure on.
    sensitive : str
        The sensitive attribute whose groups are compared.
    **predict_kwargs
        Passed to ``model.predict`` (e.g. the sensitive features of a post-processor).

    Returns
    -------
    dict
        The :func:`evaluate` block: ``overall``, ``by_group``, ``fairness`` (and ``groups`` /
        ``warnings`` when present).

    Raises
    ------
    DataError
        If a group is empty in this part.
    LearnerError
        If the model's predictions are not 0/1 labels.
    """
    y_pred = model.predict(part.X, **predict_kwargs)
    groups = part.groups(sensitive)
    priv = part.privileged[sensitive]
    return evaluate(part.y, y_pred, sensitive_features=groups, privileged=priv,
                    group_names=group_labels(groups, priv))  # fmt: skip


def fit_baseline(split: DataSplit, learner: Any, *, seed: int, n_jobs: int | None = None) -> Any:
    """The default learner fit on the training part.

    Parameters
    ----------
    split : DataSplit
        The split; only its training part is used.
    learner : str or estimator
        A learner spec for :func:`~trustlab.learners.make_learner`.
    seed : int
        The learner's random state.
    n_jobs : int, optional
        Threads of the learner.

    Returns
    -------
    LearnerPipeline
        The preprocessing and learner, fitted on the training part.

    Raises
    ------
    LearnerError
        One line if the learner cannot be fit or cannot predict on this data
        (a user's ``module:Class`` that is not a working classifier).
    """
    ds = split.train
    model = make_learner(learner, categorical=ds.categorical, numeric=ds.numeric,
                         random_state=seed, n_jobs=n_jobs)  # fmt: skip
    try:
        model.fit(ds.X, ds.y)
        check_predictions(model.predict(ds.X.iloc[:5]))
    except TrustlabError:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's learner failed: say so in one line
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise LearnerError(f"learner {learner_name(learner)!r} failed on the training data: "
                           f"{type(exc).__name__}: {first}") from exc  # fmt: skip
    return model


def audit(split: DataSplit, *, learner: Any = "rf", sensitive: str | None = None,
          seed: int = 0, n_jobs: int | None = None) -> dict[str, Any]:  # fmt: skip
    """Fit ``learner`` on the training part and measure it on the test part.

    Parameters
    ----------
    split : DataSplit
        Train / validation / test parts of one dataset.
    learner : str or estimator, default "rf"
        A learner spec for :func:`~trustlab.learners.make_learner`.
    sensitive : str, optional
        The sensitive attribute (default: the dataset's first).
    seed : int, default 0
        The learner's random state.
    n_jobs : int, optional
        Threads of the learner.

    Returns
    -------
    dict
        The ``audit.json`` schema: ``dataset``, ``sensitive``, ``learner``,
        ``seed``, ``n_train``, ``n_test``, ``overall``, ``by_group``,
        ``fairness`` (test split; and ``groups``/``warnings`` when present),
        ``validation`` (the same block on the validation split),
        ``privileged``, ``fit_seconds``.

    Raises
    ------
    DataError
        If ``sensitive`` is not a sensitive attribute of the dataset, or a group is empty.
    LearnerError
        If the learner cannot be fit or does not predict 0/1 labels.
    """
    sensitive = split.train.resolve_sensitive(sensitive)
    t0 = time.perf_counter()
    model = fit_baseline(split, learner, seed=seed, n_jobs=n_jobs)
    fit_seconds = time.perf_counter() - t0
    result = evaluate_on(model, split.test, sensitive)
    result["validation"] = evaluate_on(model, split.val, sensitive)
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


class CountingEstimator(ClassifierMixin, BaseEstimator):
    """Wrap an estimator so each ``fit`` reports to a callback (progress of a reduction).

    fairlearn's ExponentiatedGradient clones and fits its estimator dozens of
    times without a progress hook; the callback is looked up by ``key`` in a
    registry (clones share the key; a callable would be deep-copied).

    Parameters
    ----------
    estimator : estimator, optional
        The estimator cloned and fitted by each ``fit``.
    key : str, default ""
        Key of the callback in the class's registry, called after every ``fit``.
    """

    _callbacks: dict[str, Callable[[], None]] = {}

    def __init__(self, estimator: Any = None, key: str = "") -> None:
        self.estimator = estimator
        self.key = key

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> CountingEstimator:
        kw = {} if sample_weight is None else {"sample_weight": sample_weight}
        self.estimator_ = clone(self.estimator).fit(X, y, **kw)
        self.classes_ = getattr(self.estimator_, "classes_", np.array([0, 1]))
        callback = self._callbacks.get(self.key)
        if callback is not None:
            callback()
        return self

    def predict(self, X: Any) -> np.ndarray:
        return self.estimator_.predict(X)

    def predict_proba(self, X: Any) -> np.ndarray:
        return self.estimator_.predict_proba(X)


EG_MAX_ITER = 50
"""ExponentiatedGradient's iteration limit (fairlearn's default); each iteration fits one model."""


def run_mitigation(
    method: str,
    split: DataSplit,
    *,
    learner: Any = "rf",
    sensitive: str | None = None,
    seed: int = 0,
    n_jobs: int | None = None,
    baseline: Any = None,
    progress: Callable[[int, int], None] | None = None,
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
        Train / validation / test parts of one dataset.
    learner : str or estimator
        A learner spec for :func:`~trustlab.learners.make_learner`.
    sensitive : str, optional
        The sensitive attribute (default: the dataset's first).
    seed : int
        Random state of the learners and the methods.
    n_jobs : int, optional
        Threads of the learners.
    baseline : fitted model, optional
        Reuse an already fitted baseline (the benchmark fits it once per seed).
    progress : callable, optional
        ``progress(done, total)`` after each model the method trains (total is
        an upper bound for ExponentiatedGradient).

    Returns
    -------
    dict
        ``method``, ``baseline`` and ``mitigated`` blocks on the test split
        (``overall``, ``fairness``, ``by_group``), ``validation`` (the same two
        blocks on the validation split), ``changes`` (what the method changed),
        ``trainings`` (models trained, the baseline included when fitted here),
        ``fit_seconds``.
    """
    check_method(method)
    tr = split.train
    sensitive = tr.resolve_sensitive(sensitive)
    priv = tr.privileged[sensitive]
    trainings = 0
    if baseline is None:
        baseline = fit_baseline(split, learner, seed=seed, n_jobs=n_jobs)
        trainings += 1
    est = make_learner(learner, categorical=tr.categorical, numeric=tr.numeric,
                       random_state=seed, n_jobs=n_jobs)  # fmt: skip
    t0 = time.perf_counter()
    changes: dict[str, Any]
    predict_kw: Callable[[Any], dict[str, Any]] = lambda part: {}  # noqa: E731
    if method == "massaging":
        model = MassagingClassifier(est, privileged=priv).fit(tr.X, tr.y, sensitive_features=tr.groups(sensitive))
        changes = {
            "rows_relabelled": int(model.n_relabelled_),
            "promoted": len(model.promoted_),
            "demoted": len(model.demoted_),
        }
        trainings += 2  # the ranker and the model on the massaged labels
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
        trainings += 1
    elif method == "exponentiated-gradient":
        from fairlearn.reductions import DemographicParity, ExponentiatedGradient

        key = f"eg-{id(split)}-{time.perf_counter_ns()}"
        fits = [0]

        def tick() -> None:
            fits[0] += 1
            if progress is not None:
                progress(fits[0], max(EG_MAX_ITER + 1, fits[0]))

        CountingEstimator._callbacks[key] = tick
        try:
            model = ExponentiatedGradient(CountingEstimator(est, key), constraints=DemographicParity(),
                                          max_iter=EG_MAX_ITER)  # fmt: skip
            model.fit(tr.X, tr.y, sensitive_features=binary_groups(tr.groups(sensitive), priv))
        finally:
            CountingEstimator._callbacks.pop(key, None)
        changes = {"predictors": len(model.predictors_), "constraint": "demographic_parity"}
        trainings += fits[0]
        predict_kw = lambda part: {"random_state": seed}  # noqa: E731
    else:  # threshold-optimizer
        from fairlearn.postprocessing import ThresholdOptimizer

        model = ThresholdOptimizer(estimator=Float64Proba(baseline), constraints="demographic_parity",
                                   prefit=True, predict_method="predict_proba")  # fmt: skip
        va = split.val
        model.fit(va.X, va.y, sensitive_features=binary_groups(va.groups(sensitive), priv))
        changes = {"fit_on": "validation", "constraint": "demographic_parity"}
        predict_kw = lambda part: {"sensitive_features": binary_groups(part.groups(sensitive), priv),  # noqa: E731
                                   "random_state": seed}  # fmt: skip
    return {
        "method": method,
        "dataset": tr.name,
        "sensitive": sensitive,
        "privileged": priv,
        "learner": learner_name(learner),
        "seed": seed,
        "n_train": len(tr),
        "n_test": len(split.test),
        "baseline": evaluate_on(baseline, split.test, sensitive),
        "mitigated": evaluate_on(model, split.test, sensitive, **predict_kw(split.test)),
        "validation": {
            "baseline": evaluate_on(baseline, split.val, sensitive),
            "mitigated": evaluate_on(model, split.val, sensitive, **predict_kw(split.val)),
        },
        "changes": changes,
        "trainings": trainings,
        "fit_seconds": time.perf_counter() - t0,
    }


def _document(command: str, split: DataSplit, sensitive: str, learner: Any, seed: int,
              arms: dict[str, Any], t0: float, trainings: int, **extra: Any) -> dict[str, Any]:  # fmt: skip
    from trustlab.results import label_info, result_document

    return result_document(
        command,
        seed=seed,
        **label_info(split.train, sensitive),
        data={"dataset": split.train.name, "sensitive": sensitive, "n_train": len(split.train),
              "n_val": len(split.val), "n_test": len(split.test)},  # fmt: skip
        cost={"wall_seconds": time.perf_counter() - t0, "trainings": trainings},
        learner=learner_name(learner),
        arms=arms,
        **extra,
    )


def audit_document(split: DataSplit, *, learner: Any = "rf", sensitive: str | None = None,
                   seed: int = 0, n_jobs: int | None = None) -> dict[str, Any]:  # fmt: skip
    """:func:`audit` as a result document (``trustlab.results``): one ``baseline`` arm.

    The arm holds the validation and test evaluation blocks; ``details`` the fitting time.

    Parameters
    ----------
    split : DataSplit
        Train / validation / test parts of one dataset.
    learner : str or estimator, default "rf"
        A learner spec for :func:`~trustlab.learners.make_learner`.
    sensitive : str, optional
        The sensitive attribute (default: the dataset's first).
    seed : int, default 0
        The learner's random state.
    n_jobs : int, optional
        Threads of the learner.

    Returns
    -------
    dict
        A result document of command ``audit`` (see :func:`trustlab.results.result_document`).

    Raises
    ------
    DataError
        If ``sensitive`` is not a sensitive attribute of the dataset, or a group is empty.
    LearnerError
        If the learner cannot be fit or does not predict 0/1 labels.
    """
    t0 = time.perf_counter()
    sensitive = split.train.resolve_sensitive(sensitive)
    res = audit(split, learner=learner, sensitive=sensitive, seed=seed, n_jobs=n_jobs)
    test = {k: res[k] for k in ("overall", "fairness", "by_group", "groups", "warnings") if k in res}
    return _document("audit", split, sensitive, learner, seed,
                     {"baseline": {"validation": res["validation"], "test": test}}, t0, 1,
                     details={"fit_seconds": res["fit_seconds"]})  # fmt: skip


def mitigation_document(method: str, split: DataSplit, *, learner: Any = "rf", sensitive: str | None = None,
                        seed: int = 0, n_jobs: int | None = None,
                        progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:  # fmt: skip
    """:func:`run_mitigation` as a result document: arms ``baseline`` and ``intervention``.

    ``details`` holds the method, what it changed and its fitting time.

    Parameters
    ----------
    method : str
        One of :data:`METHODS` (see :func:`run_mitigation`).
    split : DataSplit
        Train / validation / test parts of one dataset.
    learner : str or estimator, default "rf"
        A learner spec for :func:`~trustlab.learners.make_learner`.
    sensitive : str, optional
        The sensitive attribute (default: the dataset's first).
    seed : int, default 0
        The learner's random state.
    n_jobs : int, optional
        Threads of the learner.
    progress : callable, optional
        ``progress(done, total)`` after each model the method trains.

    Returns
    -------
    dict
        A result document of command ``mitigate`` (see :func:`trustlab.results.result_document`).

    Raises
    ------
    ConfigError
        If ``method`` is unknown.
    DataError
        If ``sensitive`` is not a sensitive attribute of the dataset, or a group is empty.
    LearnerError
        If the learner cannot be fit or does not predict 0/1 labels.
    """
    t0 = time.perf_counter()
    sensitive = split.train.resolve_sensitive(sensitive)
    res = run_mitigation(method, split, learner=learner, sensitive=sensitive, seed=seed, n_jobs=n_jobs,
                         progress=progress)  # fmt: skip
    arms = {
        "baseline": {"validation": res["validation"]["baseline"], "test": res["baseline"]},
        "intervention": {"validation": res["validation"]["mitigated"], "test": res["mitigated"]},
    }
    return _document("mitigate", split, sensitive, learner, seed, arms, t0, res["trainings"], method=method,
                     details={"method": method, "changes": res["changes"],
                              "fit_seconds": res["fit_seconds"]})  # fmt: skip
