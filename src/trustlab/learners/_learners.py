"""Default learners by name and the one preprocessing pipeline wrapped around them.

Every learner is a library default: only ``random_state`` (for repeatability)
and ``n_jobs`` (which changes speed, not the model) are ever set. A user's own
estimator is given as ``"module:Class"`` and built with its defaults.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone, is_regressor
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.validation import has_fit_parameter

from trustlab._errors import LearnerError


def _rf(**kw: Any) -> BaseEstimator:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(**kw)


def _gb(**kw: Any) -> BaseEstimator:
    from sklearn.ensemble import GradientBoostingClassifier

    kw.pop("n_jobs", None)
    return GradientBoostingClassifier(**kw)


def _hgb(**kw: Any) -> BaseEstimator:
    from sklearn.ensemble import HistGradientBoostingClassifier

    kw.pop("n_jobs", None)
    return HistGradientBoostingClassifier(**kw)


def _xgb(**kw: Any) -> BaseEstimator:
    from xgboost import XGBClassifier

    return XGBClassifier(**kw)


def _lgbm(**kw: Any) -> BaseEstimator:
    from lightgbm import LGBMClassifier

    return LGBMClassifier(verbose=-1, **kw)


def _logreg(**kw: Any) -> BaseEstimator:
    from sklearn.linear_model import LogisticRegression

    kw.pop("n_jobs", None)
    return LogisticRegression(max_iter=1000, **kw)


def _mlp(**kw: Any) -> BaseEstimator:
    from sklearn.neural_network import MLPClassifier

    kw.pop("n_jobs", None)
    return MLPClassifier(**kw)


LEARNERS: dict[str, Callable[..., BaseEstimator]] = {
    "rf": _rf,
    "gb": _gb,
    "hgb": _hgb,
    "xgb": _xgb,
    "lgbm": _lgbm,
    "logreg": _logreg,
    "mlp": _mlp,
}
"""Built-in learner names -> factories taking ``random_state`` and ``n_jobs``.

``rf``, ``gb``, ``hgb``, ``xgb``, ``lgbm``, ``logreg``, ``mlp``. ``logreg`` raises
``max_iter`` to 1000 so the default solver converges on one-hot data; everything else is
the library default.
"""


def _import_estimator(spec: str) -> type:
    module_name, _, class_name = spec.partition(":")
    if not module_name or not class_name:
        raise LearnerError(f"learner {spec!r} must be a built-in name or 'module:Class'")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise LearnerError(f"cannot import module {module_name!r} for learner {spec!r}: {exc}") from None
    cls = getattr(module, class_name, None)
    if cls is None:
        raise LearnerError(f"module {module_name!r} has no attribute {class_name!r}")
    if not inspect.isclass(cls):
        raise LearnerError(f"{spec!r} is not a class")
    for method in ("fit", "predict"):
        if not callable(getattr(cls, method, None)):
            raise LearnerError(f"{spec!r} has no {method}() method; it is not an estimator")
    return cls


def make_estimator(spec: str | BaseEstimator, *, random_state: int | None = 0,
                   n_jobs: int | None = None) -> BaseEstimator:  # fmt: skip
    """Build a bare estimator (no preprocessing) from a name, spec or instance.

    Parameters
    ----------
    spec : str or estimator
        A built-in name (``rf``, ``gb``, ``hgb``, ``xgb``, ``lgbm``, ``logreg``,
        ``mlp``), ``"module:Class"`` for any sklearn-style estimator, or an
        estimator instance (cloned).
    random_state : int, optional
        Set where the estimator accepts it.
    n_jobs : int, optional
        Threads, where the estimator accepts it (does not change the model).

    Returns
    -------
    sklearn.base.BaseEstimator
        A new, unfitted estimator (a clone of an instance).

    Raises
    ------
    LearnerError
        An unknown name, a ``module:Class`` that cannot be imported or built, an object without
        ``fit`` / ``predict``, one that cannot be cloned, is not a scikit-learn estimator or is
        a regressor.
    """
    if not isinstance(spec, str):
        if not (hasattr(spec, "fit") and hasattr(spec, "predict")):
            raise LearnerError(f"{type(spec).__name__} has no fit/predict; it is not an estimator")
        _refuse_regressor(spec, type(spec).__name__)
        try:
            return clone(spec)
        except TypeError as exc:
            raise LearnerError(f"{type(spec).__name__} cannot be cloned: {exc}".splitlines()[0]) from None
    kwargs: dict[str, Any] = {}
    if spec in LEARNERS:
        if random_state is not None:
            kwargs["random_state"] = random_state
        if n_jobs is not None:
            kwargs["n_jobs"] = n_jobs
        return LEARNERS[spec](**kwargs)
    if ":" not in spec:
        raise LearnerError(
            f"unknown learner {spec!r}; choose from {', '.join(LEARNERS)} or give 'module:Class'"
        )
    cls = _import_estimator(spec)
    try:
        est = cls()
    except Exception as exc:
        raise LearnerError(f"cannot build {spec!r} with its defaults: {exc}") from None
    params = est.get_params() if hasattr(est, "get_params") else {}
    extra = {}
    if random_state is not None and "random_state" in params:
        extra["random_state"] = random_state
    if n_jobs is not None and "n_jobs" in params:
        extra["n_jobs"] = n_jobs
    if extra:
        est.set_params(**extra)
    return _refuse_regressor(est, spec)


def _refuse_regressor(est: Any, name: str) -> Any:
    """Refuse an estimator that declares itself a regressor (its predictions are not labels),
    or one scikit-learn cannot use (no estimator tags: it does not inherit ``BaseEstimator``)."""
    from sklearn.utils import get_tags

    try:
        get_tags(est)
    except Exception:  # noqa: BLE001 - any failure means sklearn's pipeline will fail later
        raise LearnerError(f"{name!r} is not a scikit-learn estimator; derive it from "
                           "sklearn.base.BaseEstimator and ClassifierMixin") from None  # fmt: skip
    try:
        kind = is_regressor(est) or getattr(est, "_estimator_type", None) == "regressor"
    except Exception:  # noqa: BLE001 - a foreign estimator without sklearn tags
        kind = False
    if kind:
        raise LearnerError(f"{name!r} is a regressor, not a classifier; choose a binary classifier")
    return est


class LearnerPipeline(Pipeline):
    """A :class:`~sklearn.pipeline.Pipeline` whose ``fit`` accepts ``sample_weight``.

    The weight is routed to the final estimator, so fairlearn's reductions and
    reweighing can use the pipeline like any estimator that takes weights.
    """

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None, **params: Any) -> LearnerPipeline:
        if sample_weight is not None:
            params[f"{self.steps[-1][0]}__sample_weight"] = np.asarray(sample_weight)
        return super().fit(X, y, **params)


def make_preprocessor(categorical: list[str], numeric: list[str]) -> ColumnTransformer:
    """One-hot encode categoricals, impute and scale numerics.

    Scaling is a monotone map, so it changes nothing for tree learners and is
    what linear models and networks need: one pipeline serves every learner.
    Categories unseen at fit time are encoded as all zeros.

    Parameters
    ----------
    categorical : list of str
        Columns one-hot encoded after imputing their most frequent value.
    numeric : list of str
        Columns imputed with their median, then standardised.

    Returns
    -------
    sklearn.compose.ColumnTransformer
        Unfitted; other columns are dropped and output feature names are not prefixed.
    """
    return ColumnTransformer(
        [
            (
                "cat",
                Pipeline([
                    ("impute", SimpleImputer(strategy="most_frequent")),
                    ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
                ]),
                list(categorical),
            ),
            (
                "num",
                Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]),
                list(numeric),
            ),
        ],
        remainder="drop",
        verbose_feature_names_out=False,
    )


def make_learner(
    spec: str | BaseEstimator,
    *,
    categorical: list[str],
    numeric: list[str],
    random_state: int | None = 0,
    n_jobs: int | None = None,
) -> LearnerPipeline:
    """Preprocessing + estimator, fit on the raw DataFrame of a :class:`Dataset`.

    Parameters
    ----------
    spec : str or estimator
        See :func:`make_estimator`.
    categorical, numeric : list of str
        Column kinds (``Dataset.categorical`` / ``Dataset.numeric``).
    random_state, n_jobs : int, optional
        See :func:`make_estimator`.

    Returns
    -------
    LearnerPipeline
        Unfitted; ``clone`` it freely.
    """
    est = make_estimator(spec, random_state=random_state, n_jobs=n_jobs)
    return LearnerPipeline([("prep", make_preprocessor(categorical, numeric)), ("model", est)])


def supports_sample_weight(learner: BaseEstimator) -> bool:
    """Whether the (final) estimator's ``fit`` takes ``sample_weight``.

    Parameters
    ----------
    learner : estimator or sklearn.pipeline.Pipeline
        An estimator, or a pipeline whose last step is checked.

    Returns
    -------
    bool
        True if that estimator's ``fit`` has a ``sample_weight`` parameter.
    """
    est = learner.steps[-1][1] if isinstance(learner, Pipeline) else learner
    return has_fit_parameter(est, "sample_weight")


def learner_name(spec: str | BaseEstimator) -> str:
    """A short printable name for a learner spec.

    Parameters
    ----------
    spec : str or estimator
        A learner spec (see :func:`make_estimator`).

    Returns
    -------
    str
        The spec itself for a string, else the estimator's class name.
    """
    return spec if isinstance(spec, str) else type(spec).__name__

