"""How visible added rows are to the data owner: duplicates, label conflicts, a label-issue detector.

A constructive attack adds rows to the owner's training set. This module measures what an owner
who inspects the augmented set would see, and what is left of the fairness gain after a standard
cleaning pass (drop the rows an off-the-shelf label-issue detector flags and every row in a group
of exact duplicates that disagree on the label).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from trustlab._errors import ConfigError, DataError, check_choice
from trustlab.fairness import binary_groups, evaluate

#: Name of the detector, as stored in the result.
DETECTOR = "cleanlab.filter.find_label_issues"
#: ``filter_by`` values of ``cleanlab.filter.find_label_issues`` (cleanlab 2.x).
FILTERS = ("prune_by_noise_rate", "prune_by_class", "both", "confident_learning",
           "predicted_neq_given", "low_normalized_margin", "low_self_confidence")  # fmt: skip
PRIV, UNPRIV = "privileged", "unprivileged"


def _as_frame(X: Any, what: str) -> pd.DataFrame:
    if not isinstance(X, pd.DataFrame):
        raise DataError(f"{what} must be a pandas DataFrame, got {type(X).__name__}")
    return X.reset_index(drop=True)


def _as_labels(y: Any, n: int, what: str) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise DataError(f"{what} must be one-dimensional, got shape {arr.shape}")
    if len(arr) != n:
        raise DataError(f"{what} has {len(arr)} values but its feature frame has {n} rows")
    if arr.dtype.kind not in "biuf" or not np.isin(arr, (0, 1)).all():
        bad = sorted({str(v) for v in pd.unique(pd.Series(arr))} - {"0", "1", "0.0", "1.0"})[:3]
        raise DataError(f"{what} must be 0/1, found {', '.join(bad) or arr.dtype}")
    return arr.astype(int)


def _as_sensitive(s: Any, n: int, what: str) -> np.ndarray:
    if isinstance(s, pd.DataFrame):
        if s.shape[1] != 1:
            raise DataError(f"{what} must hold one sensitive attribute, got {s.shape[1]} columns")
        s = s.iloc[:, 0]
    arr = np.asarray(s)
    if arr.ndim != 1 or len(arr) != n:
        raise DataError(f"{what} has {len(arr)} values but its feature frame has {n} rows")
    return arr


def _make_learner(learner: Any, seed: int) -> BaseEstimator:
    """Clone an estimator, or call a factory; unset ``random_state`` params get ``seed``."""
    if hasattr(learner, "fit") and hasattr(learner, "predict"):
        est = clone(learner)
    elif callable(learner):
        est = learner()
        if not (hasattr(est, "fit") and hasattr(est, "predict")):
            raise ConfigError(f"learner factory returned {type(est).__name__}, not an estimator")
    else:
        raise ConfigError(
            f"learner must be an estimator or a factory, got {type(learner).__name__}"
        )
    if hasattr(est, "get_params"):
        unset = {k: seed for k, v in est.get_params(deep=True).items()
                 if k.endswith("random_state") and v is None}  # fmt: skip
        if unset:
            est.set_params(**unset)
    return est


def _resolve_metric(metric: Any) -> tuple[str, Callable[[dict[str, Any]], float]]:
    """(name, block -> unfairness) from a registry name, an object with ``unfairness`` or a callable."""
    if isinstance(metric, str):
        try:
            from trustlab.fairness import get_metric  # type: ignore[attr-defined]
        except ImportError:
            raise ConfigError(
                f"metric name {metric!r} needs trustlab.fairness.get_metric, which this version "
                "lacks; pass a callable block -> unfairness"
            ) from None
        return metric, get_metric(metric).unfairness
    if callable(getattr(metric, "unfairness", None)):
        return str(getattr(metric, "name", type(metric).__name__)), metric.unfairness
    if callable(metric):
        return str(getattr(metric, "__name__", type(metric).__name__)), metric
    raise ConfigError(
        f"metric must be a name, an object with unfairness() or a callable, got {metric!r}"
    )


def _row_ids(*frames: pd.DataFrame) -> list[np.ndarray]:
    """One integer per row, equal exactly when every column is equal (missing equals missing)."""
    both = pd.concat(frames, ignore_index=True)
    codes = np.column_stack(
        [pd.factorize(both[c], use_na_sentinel=False)[0] for c in both.columns]
    ) if both.shape[1] else np.zeros((len(both), 1), dtype=int)  # fmt: skip
    _, ids = np.unique(codes, axis=0, return_inverse=True)
    ids = ids.ravel()
    bounds = np.cumsum([0] + [len(f) for f in frames])
    return [ids[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _share(mask: np.ndarray) -> float | None:
    return float(np.mean(mask)) if len(mask) else None


def _eval_arm(model: Any, X_eval: pd.DataFrame, y_eval: np.ndarray, s_eval: np.ndarray,
              privileged: Any, unfair: Callable[[dict[str, Any]], float]) -> dict[str, Any]:  # fmt: skip
    block = evaluate(
        y_eval, model.predict(X_eval), sensitive_features=s_eval, privileged=privileged
    )
    return _arm_from_block(block, unfair)


def _arm_from_block(
    block: dict[str, Any], unfair: Callable[[dict[str, Any]], float]
) -> dict[str, Any]:
    return {
        "accuracy": float(block["overall"]["accuracy"]),
        "balanced_accuracy": float(block["overall"]["balanced_accuracy"]),
        "unfairness": float(unfair(block)),
        "evaluation": block,
    }


def added_rows_visibility(
    X: pd.DataFrame,
    y: Any,
    sensitive: Any,
    X_added: pd.DataFrame,
    y_added: Any,
    sensitive_added: Any,
    learner: Any,
    *,
    X_eval: pd.DataFrame,
    y_eval: Any,
    s_eval: Any,
    privileged: Any,
    metric: Any,
    baseline: Any = None,
    folds: int = 5,
    seed: int = 0,
    filter_by: str = "prune_by_noise_rate",
) -> dict[str, Any]:
    """How visible rows added to a training set are to its owner, and what a cleaning pass leaves.

    The owner holds the training rows ``D = (X, y)``; someone added ``h = (X_added, y_added)``.
    This function measures (1) exact duplicates and label conflicts of the added rows against
    ``D``, (2) how often an off-the-shelf label-issue detector flags the added rows compared with
    the original ones, and (3) the fairness gain on an evaluation split that survives a standard
    cleaning pass by the owner.

    Parameters
    ----------
    X, y, sensitive : DataFrame, array-like of 0/1, array-like
        The owner's training rows in the raw schema, their labels and sensitive values.
    X_added, y_added, sensitive_added : DataFrame, array-like of 0/1, array-like
        The added rows; ``X_added`` must have the same columns as ``X`` (any order).
    learner : estimator or callable
        The owner's learner, unfitted: an estimator (cloned) or a factory returning one. It must
        accept the raw frame (e.g. :func:`trustlab.learners.make_learner`). Parameters named
        ``*random_state`` that are ``None`` are set to ``seed``.
    X_eval, y_eval, s_eval : DataFrame, array-like of 0/1, array-like
        The split the models are evaluated on (validation or test), with its sensitive values.
    privileged : value
        The privileged sensitive value; every other value is the unprivileged group.
    metric : str, object or callable
        A name for ``trustlab.fairness.get_metric`` (when that registry exists), an object with
        ``unfairness(block)``, or a callable ``block -> float``; ``block`` is the dict of
        :func:`trustlab.fairness.evaluate`. Lower is fairer.
    baseline : fitted estimator or dict, optional
        The owner's model trained on ``D`` alone, or its ``evaluate`` block on the evaluation
        split. Trained here (one extra fit) when omitted.
    folds : int
        Folds of the stratified, shuffled cross-validation that gives the detector its
        out-of-fold probabilities (>= 2; each label needs at least ``folds`` rows).
    seed : int
        Seed of the fold assignment (and of unset ``random_state`` params). Same seed, same result.
    filter_by : str
        ``filter_by`` of ``cleanlab.filter.find_label_issues`` (its default,
        ``"prune_by_noise_rate"``, unless changed).

    Returns
    -------
    dict
        ``n_train``, ``n_added``: row counts.

        ``exact_duplicate_share``: share of added rows whose features (every column of ``X``;
        label and sensitive values outside ``X`` ignored) equal some training row's exactly.
        Near-copies (noise, interpolation) count as 0; see ``flagged_share`` for those.

        ``conflict_share``: share of added rows that exactly duplicate a training row carrying
        the other label (a subset of the duplicates). An owner who checks for conflicting
        duplicates finds these at once.

        ``added_repeat_share``: share of added rows that exactly duplicate another added row.

        ``flagged_share``: share of added rows the detector flags as likely mislabelled, and
        ``flagged_share_original``: the share of the owner's own rows it flags on the same
        augmented set (the base rate; real data always has some). Added rows stand out only when
        the first is clearly above the second. ``flagged_by_cell`` splits both by
        (group, label) cell (``None`` where a cell is empty), the fair comparison when the added
        rows come from a few cells. The detector is one method with its own misses; a share near
        the base rate means "not visible to this detector", not "invisible".

        ``removed``: rows a standard cleaning pass drops from the augmented set: every flagged
        row plus every row in a group of exact feature duplicates that carry both labels
        (all copies, since the owner cannot tell which label is right); counts of original and
        added rows dropped and ``added_share`` (share of the added rows dropped).

        ``baseline``, ``poisoned``, ``cleaned``: ``accuracy``, ``balanced_accuracy``,
        ``unfairness`` (the metric, lower is fairer) and the full ``evaluation`` block on the
        evaluation split, for the model trained on ``D``, on ``D ∪ h``, and on ``D ∪ h`` after
        cleaning. One split, one seed: no confidence interval.

        ``gain``: baseline unfairness minus poisoned unfairness (the fairness gain of the added
        rows); ``gain_left``: baseline unfairness minus cleaned unfairness (what remains after
        cleaning; can be negative); ``gain_left_share``: ``gain_left / gain`` when ``gain > 0``,
        else ``None``.

        ``method``: detector name, ``folds``, ``seed``, ``filter_by``, the probability source
        (``cross_val_predict`` of the learner, ``method="predict_proba"``), the metric name and
        the cleanlab version. ``cost``: ``trainings`` (model fits) and ``wall_seconds``.

    Raises
    ------
    DataError
        Columns of ``X`` and ``X_added`` (or ``X_eval``) differ, lengths differ, labels are not
        0/1, no rows were added, or a label has fewer rows than ``folds``.
    ConfigError
        ``folds`` < 2, an unknown ``filter_by``, or a metric, learner or baseline that cannot
        be used.
    """
    start = time.perf_counter()
    X = _as_frame(X, "X")
    X_added = _as_frame(X_added, "X_added")
    X_eval = _as_frame(X_eval, "X_eval")
    if len(X) == 0:
        raise DataError("the training set X has no rows")
    if len(X_added) == 0:
        raise DataError("no rows were added (X_added is empty)")
    for name, other in (("X_added", X_added), ("X_eval", X_eval)):
        if set(other.columns) != set(X.columns) or other.columns.duplicated().any():
            missing = sorted(map(str, set(X.columns) - set(other.columns)))
            extra = sorted(map(str, set(other.columns) - set(X.columns)))
            raise DataError(f"{name} columns differ from X: missing {missing}, extra {extra}")
    X_added, X_eval = X_added[list(X.columns)], X_eval[list(X.columns)]
    y = _as_labels(y, len(X), "y")
    y_added = _as_labels(y_added, len(X_added), "y_added")
    y_eval = _as_labels(y_eval, len(X_eval), "y_eval")
    s = _as_sensitive(sensitive, len(X), "sensitive")
    s_added = _as_sensitive(sensitive_added, len(X_added), "sensitive_added")
    s_eval = _as_sensitive(s_eval, len(X_eval), "s_eval")
    if isinstance(folds, bool) or not isinstance(folds, int | np.integer) or folds < 2:
        raise ConfigError(f"folds must be an integer >= 2, got {folds!r}")
    check_choice("filter_by", filter_by, FILTERS)
    y_aug = np.concatenate([y, y_added])
    counts = np.bincount(y_aug, minlength=2)
    if counts.min() < folds:
        raise DataError(
            f"each label needs >= {folds} rows for {folds}-fold detection; counts {counts.tolist()}"
        )
    metric_name, unfair = _resolve_metric(metric)
    _make_learner(learner, seed)  # fail on a bad learner before any fit

    from cleanlab import __version__ as cleanlab_version
    from cleanlab.filter import find_label_issues

    # 1. exact duplicates and conflicts against D
    ids_train, ids_added = _row_ids(X, X_added)
    dup = np.isin(ids_added, ids_train)
    train_pairs = np.unique(ids_train * 2 + y)
    conflict = np.isin(ids_added * 2 + (1 - y_added), train_pairs)
    repeat = pd.Series(ids_added).duplicated(keep=False).to_numpy()

    # 2. the label-issue detector on D ∪ h, out-of-fold probabilities
    X_aug = pd.concat([X, X_added], ignore_index=True)
    n, n_added = len(X), len(X_added)
    cv = StratifiedKFold(n_splits=int(folds), shuffle=True, random_state=seed)
    proba = cross_val_predict(_make_learner(learner, seed), X_aug, y_aug, cv=cv,
                              method="predict_proba")  # fmt: skip
    flagged = np.asarray(find_label_issues(labels=y_aug, pred_probs=proba, filter_by=filter_by,
                                           n_jobs=1), dtype=bool)  # fmt: skip
    trainings = int(folds)
    groups = np.concatenate([binary_groups(s, privileged), binary_groups(s_added, privileged)])
    is_added = np.arange(n + n_added) >= n
    by_cell = {}
    for g in (PRIV, UNPRIV):
        for label in (0, 1):
            cell = (groups == g) & (y_aug == label)
            by_cell[f"{g}|{label}"] = {
                "n_original": int((cell & ~is_added).sum()),
                "n_added": int((cell & is_added).sum()),
                "original": _share(flagged[cell & ~is_added]),
                "added": _share(flagged[cell & is_added]),
            }

    # 3. the owner's cleaning pass: flagged rows and every copy in a conflicting group
    ids_aug = np.concatenate([ids_train, ids_added])
    labels_per_id = pd.Series(y_aug).groupby(ids_aug).nunique()
    conflicting = np.isin(ids_aug, labels_per_id.index[labels_per_id.to_numpy() > 1])
    drop = flagged | conflicting
    keep = ~drop
    if len(np.unique(y_aug[keep])) < 2:
        raise DataError("the cleaning pass leaves only one label; nothing to train on")

    # 4. models: baseline (D), poisoned (D ∪ h), cleaned
    if baseline is None:
        base_model = _make_learner(learner, seed).fit(X, y)
        trainings += 1
        base = _eval_arm(base_model, X_eval, y_eval, s_eval, privileged, unfair)
    elif isinstance(baseline, dict):
        if "overall" not in baseline or "fairness" not in baseline:
            raise ConfigError("baseline dict must be an evaluate() block with overall and fairness")
        base = _arm_from_block(baseline, unfair)
    elif hasattr(baseline, "predict"):
        base = _eval_arm(baseline, X_eval, y_eval, s_eval, privileged, unfair)
    else:
        raise ConfigError(
            f"baseline must be a fitted model or an evaluate() block, got {type(baseline).__name__}"
        )
    poisoned_model = _make_learner(learner, seed).fit(X_aug, y_aug)
    cleaned_model = _make_learner(learner, seed).fit(
        X_aug[keep].reset_index(drop=True), y_aug[keep]
    )
    trainings += 2
    poisoned = _eval_arm(poisoned_model, X_eval, y_eval, s_eval, privileged, unfair)
    cleaned = _eval_arm(cleaned_model, X_eval, y_eval, s_eval, privileged, unfair)
    gain = base["unfairness"] - poisoned["unfairness"]
    gain_left = base["unfairness"] - cleaned["unfairness"]

    return {
        "n_train": n,
        "n_added": n_added,
        "exact_duplicate_share": float(dup.mean()),
        "conflict_share": float(conflict.mean()),
        "added_repeat_share": float(repeat.mean()),
        "flagged_share": float(flagged[is_added].mean()),
        "flagged_share_original": float(flagged[~is_added].mean()),
        "flagged_by_cell": by_cell,
        "removed": {
            "original": int(drop[~is_added].sum()),
            "added": int(drop[is_added].sum()),
            "added_share": float(drop[is_added].mean()),
            "flagged": int(flagged.sum()),
            "in_conflicting_duplicates": int(conflicting.sum()),
        },
        "baseline": base,
        "poisoned": poisoned,
        "cleaned": cleaned,
        "gain": float(gain),
        "gain_left": float(gain_left),
        "gain_left_share": float(gain_left / gain) if gain > 0 else None,
        "method": {
            "detector": DETECTOR,
            "filter_by": filter_by,
            "pred_probs": "sklearn cross_val_predict(method='predict_proba'), StratifiedKFold "
            "(shuffle=True) on the augmented set, the owner's learner",
            "folds": int(folds),
            "seed": int(seed),
            "metric": metric_name,
            "cleanlab_version": cleanlab_version,
        },
        "cost": {"trainings": trainings, "wall_seconds": round(time.perf_counter() - start, 3)},
    }
