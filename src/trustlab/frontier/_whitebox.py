"""White-box repair points on one split: what the data owner could do with full access.

Every point is ``{method, kind, setting, validation, test}`` where
``validation`` and ``test`` are flat blocks (accuracy, balanced accuracy, the
six fairness keys, and ``unfairness`` = the chosen metric's non-negative value).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from trustlab._errors import ConfigError
from trustlab.datasets import DataSplit
from trustlab.fairness import (
    Float64Proba,
    ReweighingClassifier,
    binary_groups,
    evaluate,
    evaluate_on,
    fit_baseline,
    flat_block,
    get_metric,
    group_labels,
    massage_labels,
)
from trustlab.learners import make_learner

MASSAGING_FRACTIONS = (0.25, 0.5, 0.75, 1.0)
"""Fractions of the full massaging count ``M`` (Kamiran & Calders) made into points."""
EG_BOUNDS = (0.02, 0.05)
"""Constraint bounds of ExponentiatedGradient's sweep (each is one EG fit).

Small on purpose: with a forest on Adult one EG iteration costs a training plus a
prediction of the training rows.
"""
EG_MAX_ITER = 5
"""ExponentiatedGradient iterations per bound (each iteration trains the learner once)."""
#: Validation unfairness targets of the per-group threshold sweep, as shares of the baseline's.
THRESHOLD_SHARES = tuple(np.round(np.linspace(1.0, 0.05, 20), 3))
#: Candidate thresholds per group (quantiles of the group's validation scores).
THRESHOLD_GRID = 80
WHITEBOX_METHODS = ("baseline", "thresholds", "threshold-optimizer", "massaging", "reweighing",
                    "exponentiated-gradient")  # fmt: skip
"""White-box methods, in report order."""

# Canonical metric -> (fairlearn reductions constraint class, ThresholdOptimizer constraint).
_FAIRLEARN = {
    "statistical_parity_difference": ("DemographicParity", "demographic_parity"),
    "disparate_impact": ("DemographicParity", "demographic_parity"),
    "equal_opportunity_difference": ("TruePositiveRateParity", "true_positive_rate_parity"),
    "fnr_difference": ("TruePositiveRateParity", "true_positive_rate_parity"),
    "fpr_difference": ("FalsePositiveRateParity", "false_positive_rate_parity"),
    "equalized_odds_difference": ("EqualizedOdds", "equalized_odds"),
}


def point_block(evaluation: dict[str, Any], metric: Any) -> dict[str, float]:
    """A flat block of one evaluation: overall, fairness and ``unfairness`` of ``metric``.

    Parameters
    ----------
    evaluation : dict
        A :func:`~trustlab.fairness.evaluate` block.
    metric : str or FairnessMetric
        The metric whose non-negative unfairness is added.

    Returns
    -------
    dict
        Accuracy, balanced accuracy, the six fairness keys and ``unfairness``.
    """
    return {**flat_block(evaluation), "unfairness": get_metric(metric).unfairness(evaluation)}


def make_point(method: str, setting: dict[str, Any], validation: dict[str, Any], test: dict[str, Any],
               metric: Any, *, kind: str = "white-box") -> dict[str, Any]:  # fmt: skip
    """One frontier point from two :func:`~trustlab.fairness.evaluate` blocks.

    Parameters
    ----------
    method : str
        The method's name (``"massaging"``, ``"poisoning"``, ...).
    setting : dict
        The method's setting for this point (a fraction, a bound, a budget, ...).
    validation : dict
        The evaluation on the validation split.
    test : dict
        The evaluation on the test split.
    metric : str or FairnessMetric
        The metric whose unfairness places the point.
    kind : str, default "white-box"
        ``"baseline"``, ``"white-box"``, ``"poisoning"`` or ``"control"``.

    Returns
    -------
    dict
        ``{method, kind, setting, validation, test}`` with flat blocks (:func:`point_block`).
    """
    return {"method": method, "kind": kind, "setting": setting,
            "validation": point_block(validation, metric), "test": point_block(test, metric)}  # fmt: skip


def check_whitebox_params(massaging_fractions: Sequence[float], eg_bounds: Sequence[float],
                          eg_max_iter: int) -> None:  # fmt: skip
    """Raise :class:`ConfigError` for a fraction outside (0, 1], a bound <= 0 or no EG iterations.

    Parameters
    ----------
    massaging_fractions : sequence of float
        Fractions of the massaging count, each in (0, 1].
    eg_bounds : sequence of float
        ExponentiatedGradient constraint bounds, each > 0.
    eg_max_iter : int
        ExponentiatedGradient iterations per bound; at least 1 when there are bounds.

    Raises
    ------
    ConfigError
        If a value is out of range.
    """
    for f in massaging_fractions:
        if not 0 < float(f) <= 1:
            raise ConfigError(f"massaging fraction {f} must be in (0, 1]")
    for b in eg_bounds:
        if not float(b) > 0:
            raise ConfigError(f"ExponentiatedGradient bound {b} must be > 0")
    if eg_bounds and int(eg_max_iter) < 1:
        raise ConfigError(f"ExponentiatedGradient max_iter must be >= 1, got {eg_max_iter}")


def _scores(model: Any, X: Any) -> np.ndarray | None:
    if not hasattr(model, "predict_proba"):
        return None
    return np.asarray(model.predict_proba(X), dtype=float)[:, 1]


def _rates(scores: np.ndarray, y: np.ndarray, thresholds: np.ndarray) -> tuple[np.ndarray, ...]:
    """(true positives, false positives, positives, negatives) at each threshold (predict 1 if s >= t)."""
    pos = np.sort(scores[y == 1])
    neg = np.sort(scores[y == 0])
    tp = len(pos) - np.searchsorted(pos, thresholds, side="left")
    fp = len(neg) - np.searchsorted(neg, thresholds, side="left")
    return tp.astype(float), fp.astype(float), float(len(pos)), float(len(neg))


def _pair_blocks(tp_p: np.ndarray, fp_p: np.ndarray, P_p: float, N_p: float, tp_u: np.ndarray,
                 fp_u: np.ndarray, P_u: float, N_u: float) -> dict[str, np.ndarray]:  # fmt: skip
    """Flat blocks (as arrays over threshold pairs; rows = privileged, columns = unprivileged)."""
    TP_p, FP_p = tp_p[:, None], fp_p[:, None]
    TP_u, FP_u = tp_u[None, :], fp_u[None, :]
    n = P_p + N_p + P_u + N_u
    with np.errstate(divide="ignore", invalid="ignore"):
        sel_p, sel_u = (TP_p + FP_p) / (P_p + N_p), (TP_u + FP_u) / (P_u + N_u)
        tpr_p, tpr_u = TP_p / P_p if P_p else np.nan * TP_p, TP_u / P_u if P_u else np.nan * TP_u
        fpr_p, fpr_u = FP_p / N_p if N_p else np.nan * FP_p, FP_u / N_u if N_u else np.nan * FP_u
        tp_all, fp_all = TP_p + TP_u, FP_p + FP_u
        spd = sel_p - sel_u
        tpr_gap, fpr_gap = tpr_p - tpr_u, fpr_p - fpr_u
        shape = np.broadcast(TP_p, TP_u).shape
        return {
            "accuracy": np.broadcast_to((tp_all + (N_p + N_u - fp_all)) / n, shape),
            "balanced_accuracy": np.broadcast_to(
                (tp_all / (P_p + P_u) + 1 - fp_all / (N_p + N_u)) / 2, shape),
            "statistical_parity_difference": np.broadcast_to(spd, shape),
            "disparate_impact": np.broadcast_to(np.where(sel_p > 0, sel_u / sel_p, np.nan), shape),
            "equalized_odds_difference": np.broadcast_to(np.fmax(np.abs(tpr_gap), np.abs(fpr_gap)), shape),
            "equal_opportunity_difference": np.broadcast_to(tpr_gap, shape),
            "fpr_difference": np.broadcast_to(fpr_gap, shape),
            "fnr_difference": np.broadcast_to(-tpr_gap, shape),
        }


def _candidates(scores: np.ndarray) -> np.ndarray:
    q = np.quantile(scores, np.linspace(0.0, 1.0, THRESHOLD_GRID))
    return np.unique(np.concatenate([q, [0.5, np.nextafter(scores.max(), np.inf)]]))


def threshold_points(baseline: Any, split: DataSplit, sensitive: str, metric: Any, *,
                     shares: Sequence[float] = THRESHOLD_SHARES) -> list[dict[str, Any]]:  # fmt: skip
    """Per-group thresholds on the baseline's scores, chosen on validation.

    For each target ``share * (baseline's validation unfairness)`` the pair of
    thresholds (privileged, unprivileged) with the highest validation accuracy
    whose validation unfairness is within the target is kept (the fairest
    pair where none is). Like ThresholdOptimizer, the model sees the group at
    prediction time. Learners without ``predict_proba`` give no points.

    Parameters
    ----------
    baseline : fitted classifier
        The baseline model; its ``predict_proba`` gives the scores.
    split : DataSplit
        The split: thresholds are chosen on ``val`` and measured on ``test``.
    sensitive : str
        The sensitive attribute.
    metric : str or FairnessMetric
        The metric whose unfairness the thresholds lower.
    shares : sequence of float, default THRESHOLD_SHARES
        Targets, as shares of the baseline's validation unfairness.

    Returns
    -------
    list of dict
        One ``thresholds`` point per distinct chosen pair (``setting``: the validation target
        and the two thresholds); empty for a learner without ``predict_proba``.
    """
    m = get_metric(metric)
    va, te = split.val, split.test
    s_val = _scores(baseline, va.X)
    if s_val is None:
        return []
    priv_val = va.privileged_mask(sensitive)
    y_val = va.y.to_numpy().astype(int)
    cand_p, cand_u = _candidates(s_val[priv_val]), _candidates(s_val[~priv_val])
    stats_p = _rates(s_val[priv_val], y_val[priv_val], cand_p)
    stats_u = _rates(s_val[~priv_val], y_val[~priv_val], cand_u)
    blocks = _pair_blocks(*stats_p, *stats_u)
    keys = list(blocks)
    flat = np.stack([blocks[k].ravel() for k in keys], axis=1)
    unf = np.array([m.unfairness(dict(zip(keys, row, strict=True))) for row in flat])
    acc = blocks["accuracy"].ravel()
    base_u = m.unfairness(evaluate_on(baseline, va, sensitive))
    chosen: list[int] = []
    targets: dict[int, float] = {}
    order = np.lexsort((np.arange(len(acc)), unf, -acc))  # most accurate, then fairest, then first
    for share in shares:
        target = float(share) * base_u
        ok = order[unf[order] <= target + 1e-12]
        idx = int(ok[0]) if len(ok) else int(order[np.argmin(unf[order])])
        if idx not in targets:
            chosen.append(idx)
            targets[idx] = target
    s_test = _scores(baseline, te.X)
    priv_test = te.privileged_mask(sensitive)
    g_val, g_test = va.groups(sensitive), te.groups(sensitive)
    priv = va.privileged[sensitive]
    points = []
    for idx in chosen:
        i, j = divmod(idx, len(cand_u))
        t_p, t_u = float(cand_p[i]), float(cand_u[j])

        def predict(s: np.ndarray, mask: np.ndarray, t_p: float = t_p, t_u: float = t_u) -> np.ndarray:
            return (s >= np.where(mask, t_p, t_u)).astype(int)

        ev_val = evaluate(va.y, predict(s_val, priv_val), sensitive_features=g_val, privileged=priv,
                          group_names=group_labels(g_val, priv))  # fmt: skip
        ev_test = evaluate(te.y, predict(s_test, priv_test), sensitive_features=g_test, privileged=priv,
                           group_names=group_labels(g_test, priv))  # fmt: skip
        setting = {"validation_target": targets[idx], "privileged_threshold": t_p,
                   "unprivileged_threshold": t_u}  # fmt: skip
        points.append(make_point("thresholds", setting, ev_val, ev_test, m))
    return points


def _massaging_points(split: DataSplit, learner: Any, sensitive: str, metric: Any, seed: int,
                      fractions: Sequence[float], n_jobs: int | None) -> tuple[list[dict[str, Any]], int]:  # fmt: skip
    tr = split.train
    mask = tr.privileged_mask(sensitive)
    y = tr.y.to_numpy().astype(int)
    ranker = make_learner("logreg", categorical=tr.categorical, numeric=tr.numeric).fit(tr.X, y)
    scores = ranker.predict_proba(tr.X)[:, 1]
    _, promoted, demoted = massage_labels(y, mask, scores)
    # The massaging order: most likely positives promoted first, least likely positives demoted first.
    promoted = promoted[np.argsort(-scores[promoted], kind="stable")]
    demoted = demoted[np.argsort(scores[demoted], kind="stable")]
    points = []
    for f in fractions:
        k = int(np.floor(float(f) * len(promoted) + 0.5))
        y_new = y.copy()
        y_new[promoted[:k]] = 1
        y_new[demoted[:k]] = 0
        model = make_learner(learner, categorical=tr.categorical, numeric=tr.numeric, random_state=seed,
                             n_jobs=n_jobs).fit(tr.X, y_new)  # fmt: skip
        setting = {"fraction": float(f), "rows_relabelled": 2 * k, "full_count": len(promoted)}
        points.append(make_point("massaging", setting, evaluate_on(model, split.val, sensitive),
                                 evaluate_on(model, split.test, sensitive), metric))  # fmt: skip
    return points, 1 + len(fractions)


def whitebox_points(
    split: DataSplit,
    *,
    learner: Any,
    sensitive: str,
    metric: str = "statistical_parity_difference",
    seed: int = 0,
    massaging_fractions: Sequence[float] = MASSAGING_FRACTIONS,
    eg_bounds: Sequence[float] = EG_BOUNDS,
    eg_max_iter: int = EG_MAX_ITER,
    n_jobs: int | None = None,
    baseline: Any = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The white-box repair points of one split (baseline included).

    Parameters
    ----------
    split : DataSplit
        Train / validation / test parts of one dataset.
    learner : str or estimator
        The learner (a spec for :func:`~trustlab.learners.make_learner`).
    sensitive : str
        The sensitive attribute.
    metric : str
        A name for :func:`trustlab.fairness.get_metric`; it sets the
        unfairness axis and the constraint of ThresholdOptimizer and
        ExponentiatedGradient.
    seed : int
        Seed of the learners and of the randomised predictions.
    massaging_fractions : sequence of float
        Shares of the full massaging count ``M`` (each one training).
    eg_bounds : sequence of float
        ExponentiatedGradient constraint bounds (``difference_bound``); empty
        to skip it. Each costs up to ``eg_max_iter`` trainings.
    eg_max_iter : int
        ExponentiatedGradient iterations per bound (each trains the learner once).
    n_jobs : int, optional
        Threads of learners that take ``n_jobs`` (same model).
    baseline : fitted model, optional
        The baseline fit on ``split.train`` (fitted here if not given).
    progress : callable, optional
        Called with the name of each step as it starts.

    Returns
    -------
    dict
        ``points`` (list), ``baseline`` (the baseline's validation and test
        evaluation blocks), ``trainings``, ``wall_seconds``, ``seconds`` per method.
    """
    m = get_metric(metric)
    check_whitebox_params(massaging_fractions, eg_bounds, eg_max_iter)
    tell = progress or (lambda _step: None)
    tr, va, te = split.train, split.val, split.test
    priv = tr.privileged[sensitive]
    seconds: dict[str, float] = {}
    trainings = 0
    t_all = time.perf_counter()

    t0 = time.perf_counter()
    tell("baseline")
    if baseline is None:
        baseline = fit_baseline(split, learner, seed=seed, n_jobs=n_jobs)
        trainings += 1
    base_eval = {"validation": evaluate_on(baseline, va, sensitive), "test": evaluate_on(baseline, te, sensitive)}
    points = [make_point("baseline", {}, base_eval["validation"], base_eval["test"], m, kind="baseline")]
    seconds["baseline"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    tell("per-group thresholds")
    points += threshold_points(baseline, split, sensitive, m)
    seconds["thresholds"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    tell("ThresholdOptimizer")
    if hasattr(baseline, "predict_proba"):
        from fairlearn.postprocessing import ThresholdOptimizer

        to = ThresholdOptimizer(estimator=Float64Proba(baseline), constraints=_FAIRLEARN[m.name][1], prefit=True,
                                predict_method="predict_proba", objective="accuracy_score")  # fmt: skip
        to.fit(va.X, va.y, sensitive_features=binary_groups(va.groups(sensitive), priv))
        evs = [evaluate_on(to, part, sensitive, sensitive_features=binary_groups(part.groups(sensitive), priv),
                           random_state=seed) for part in (va, te)]  # fmt: skip
        points.append(make_point("threshold-optimizer", {"constraint": _FAIRLEARN[m.name][1], "fit_on": "validation"},
                                 *evs, m))  # fmt: skip
    seconds["threshold-optimizer"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    tell("massaging")
    mass, n = _massaging_points(split, learner, sensitive, m, seed, massaging_fractions, n_jobs)
    points += mass
    trainings += n
    seconds["massaging"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    tell("reweighing")
    est = make_learner(learner, categorical=tr.categorical, numeric=tr.numeric, random_state=seed, n_jobs=n_jobs)
    rw = ReweighingClassifier(est, privileged=priv, random_state=seed).fit(
        tr.X, tr.y, sensitive_features=tr.groups(sensitive))
    trainings += 1
    points.append(make_point("reweighing", {"resampled": bool(rw.resampled_)}, evaluate_on(rw, va, sensitive),
                             evaluate_on(rw, te, sensitive), m))  # fmt: skip
    seconds["reweighing"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    if eg_bounds:
        import fairlearn.reductions as red

        constraint = getattr(red, _FAIRLEARN[m.name][0])
        for b in eg_bounds:
            tell(f"ExponentiatedGradient (bound {b})")
            eg = red.ExponentiatedGradient(est, constraints=constraint(difference_bound=float(b)),
                                           max_iter=int(eg_max_iter))  # fmt: skip
            eg.fit(tr.X, tr.y, sensitive_features=binary_groups(tr.groups(sensitive), priv))
            trainings += len(eg.predictors_)
            evs = [evaluate_on(eg, part, sensitive, random_state=seed) for part in (va, te)]
            setting = {"bound": float(b), "constraint": _FAIRLEARN[m.name][0], "max_iter": int(eg_max_iter),
                       "predictors": len(eg.predictors_)}  # fmt: skip
            points.append(make_point("exponentiated-gradient", setting, *evs, m))
    seconds["exponentiated-gradient"] = time.perf_counter() - t0
    return {"points": points, "baseline": base_eval, "trainings": trainings, "wall_seconds": time.perf_counter() - t_all,
            "seconds": seconds}  # fmt: skip
