"""Validation at the poisoners' boundary: options, budget, and the training/validation inputs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from trustlab._errors import ConfigError, DataError, check_choice
from trustlab.fairness import get_metric

SAMPLERS = ("tpe", "gp", "random", "cmaes")
"""The optuna samplers of the black-box search (``sampler=``): TPE, Gaussian process, random, CMA-ES."""
OBJECTIVES = ("constrained", "pareto")
"""The search objectives (``objective=``).

``constrained``: minimise unfairness under the accuracy-loss allowance; ``pareto``: optimise
(unfairness, accuracy) jointly.
"""
ACCURACY_BOUNDS = ("upper", "mean")
"""What the accuracy constraint bounds (``accuracy_bound=``).

``upper``: the one-sided upper confidence limit of the paired validation accuracy loss
(robust to validation noise); ``mean``: its point estimate.
"""


def check_search_options(*, metric: Any = "statistical_parity", space: Any = "boundary", sampler: str = "tpe",
                         objective: str = "constrained", n_trials: Any = 60, max_accuracy_loss: float = 0.01,
                         accuracy_bound: str = "upper", confidence: float = 0.8, n_jobs: int = 1) -> None:  # fmt: skip
    """Refuse a bad black-box search option with one line, before any data is loaded.

    Parameters
    ----------
    metric : str or FairnessMetric, default "statistical_parity"
        The fairness metric (:func:`~trustlab.fairness.get_metric`).
    space : str or space object, default "boundary"
        A registered space name or a space instance (:func:`get_space`).
    sampler : str, default "tpe"
        One of :data:`SAMPLERS`.
    objective : str, default "constrained"
        One of :data:`OBJECTIVES`.
    n_trials : int, default 60
        Number of trials (positive).
    max_accuracy_loss : float, default 0.01
        Allowed validation-accuracy loss, in [0, 1).
    accuracy_bound : str, default "upper"
        One of :data:`ACCURACY_BOUNDS`.
    confidence : float, default 0.8
        Confidence of the accuracy-loss bound, in [0.5, 1).
    n_jobs : int, default 1
        Parallel trials (positive).

    Raises
    ------
    ConfigError
        Unknown metric, space, sampler, objective or accuracy bound; a space
        instance without the protocol's methods or unable to serve the metric;
        cmaes with the pareto objective; a non-positive trial count or
        ``n_jobs``; an allowance outside [0, 1); a confidence outside [0.5, 1).
    """
    from trustlab.poisoning._spaces import get_space

    m = get_metric(metric)
    sp = get_space(space)
    if hasattr(sp, "supports") and not sp.supports(m):
        raise ConfigError(f"space {sp.name!r} cannot serve the metric {m.name!r}")
    check_choice("sampler", sampler, SAMPLERS)
    check_choice("objective", objective, OBJECTIVES)
    check_choice("accuracy bound", accuracy_bound, ACCURACY_BOUNDS)
    if objective == "pareto" and sampler == "cmaes":
        raise ConfigError("the cmaes sampler is single-objective; use tpe, gp or random with pareto")
    if isinstance(n_trials, bool) or not isinstance(n_trials, int | np.integer) or n_trials < 1:
        raise ConfigError(f"n_trials must be a positive integer, got {n_trials!r}")
    if not 0 <= max_accuracy_loss < 1:
        raise ConfigError(f"max_accuracy_loss must be in [0, 1), got {max_accuracy_loss}")
    if not 0.5 <= confidence < 1:
        raise ConfigError(f"confidence must be in [0.5, 1), got {confidence}")
    if n_jobs < 1:
        raise ConfigError(f"n_jobs must be >= 1, got {n_jobs}")


def resolve_budget(budget: float | int, n_train: int) -> int:
    """Number of rows for a budget given as a fraction (float) or a count (int).

    Parameters
    ----------
    budget : float or int
        A fraction of the training rows in (0, 1] (a float), or a number of rows (an int).
    n_train : int
        Number of training rows.

    Returns
    -------
    int
        ``round(budget * n_train)`` for a fraction, else ``budget``.

    Raises
    ------
    ConfigError
        If ``budget`` is not a number, not positive, a fraction above 1 or below one row, or a
        count larger than the training set.
    """
    if isinstance(budget, bool) or not isinstance(budget, int | float | np.integer | np.floating):
        raise ConfigError(f"budget must be a number, got {budget!r}")
    if budget <= 0:
        raise ConfigError(f"budget must be > 0, got {budget}")
    if isinstance(budget, float | np.floating):
        if budget > 1:
            raise ConfigError(f"budget {budget} as a fraction must be <= 1 (give an integer for a row count)")
        n = int(round(budget * n_train))
        if n < 1:
            raise ConfigError(f"budget {budget} of {n_train} training rows is less than one row")
        return n
    if budget > n_train:
        raise ConfigError(f"budget of {budget} rows is larger than the training set ({n_train} rows)")
    return int(budget)


def prepare_inputs(X: pd.DataFrame, y: Any, sensitive_features: Any, X_val: pd.DataFrame | None, y_val: Any,
                   sensitive_val: Any, *, privileged: Any, random_state: int | None) -> dict[str, Any]:  # fmt: skip
    """Validate a poisoner's inputs (shared by the black-box and gradient poisoners).

    Without validation rows, 20% of the training rows are held out
    (stratified on label x group). Returns the training and validation parts
    (0..n-1 indexed frames, int labels, string groups), the label column
    name for ``poison_`` and the privileged value.
    """
    if not isinstance(X, pd.DataFrame):
        raise DataError("X must be a pandas DataFrame with the original columns")
    name = getattr(y, "name", None)
    label_name = str(name) if name is not None and name not in X.columns else "label"
    y = np.asarray(y).astype(int).ravel()
    s = np.asarray(pd.Series(np.asarray(sensitive_features)).astype(str))
    if len(X) != len(y) or len(X) != len(s):
        raise DataError("X, y and sensitive_features differ in length")
    if not np.isin(y, [0, 1]).all() or len(set(y)) < 2:
        raise DataError("y must be binary 0/1 with both classes present")
    if X_val is None:
        strat = np.char.add(y.astype(str), s)
        ok = min(np.unique(strat, return_counts=True)[1]) > 1
        tr, va = train_test_split(np.arange(len(X)), test_size=0.2, random_state=random_state,
                                  stratify=strat if ok else y)  # fmt: skip
        X_val, y_val, sensitive_val = X.iloc[va], y[va], s[va]
        X, y, s = X.iloc[tr], y[tr], s[tr]
    else:
        if y_val is None or sensitive_val is None:
            raise DataError("X_val needs y_val and sensitive_val")
        if list(X_val.columns) != list(X.columns):
            raise DataError("X_val does not have the columns of X")
        y_val = np.asarray(y_val).astype(int).ravel()
        sensitive_val = np.asarray(pd.Series(np.asarray(sensitive_val)).astype(str))
    values = sorted(set(s))
    if len(values) < 2:
        raise DataError("the sensitive attribute has a single group in the training rows")
    if privileged is not None:
        if str(privileged) not in values:
            raise DataError(f"privileged value {privileged!r} does not occur in the sensitive feature")
        priv = str(privileged)
    elif len(values) > 2:
        raise ConfigError("the sensitive attribute has more than two values: give privileged=")
    else:
        priv = values[-1]
    return {"X": X.reset_index(drop=True), "y": y, "s": s, "X_val": X_val.reset_index(drop=True),
            "y_val": y_val, "s_val": sensitive_val, "label_name": label_name, "privileged": priv}  # fmt: skip


