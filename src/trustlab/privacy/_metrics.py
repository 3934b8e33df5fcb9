"""Membership-inference metrics: AUC, balanced accuracy, TPR at low FPR, per group.

Scores are oriented so that larger means "more likely a member". The
balanced accuracy uses a threshold calibrated on shadow models (never on the
target's membership labels); AUC and TPR@FPR are threshold-free.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from trustlab._errors import DataError

FPR_POINTS = {"tpr_at_1pct_fpr": 0.01, "tpr_at_0_1pct_fpr": 0.001}
"""The low false-positive rates reported (Carlini et al., 2022): metric key -> FPR.

``tpr_at_1pct_fpr`` at 0.01 and ``tpr_at_0_1pct_fpr`` at 0.001.
"""


def _check(membership: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    m = np.asarray(membership).astype(int).ravel()
    s = np.asarray(scores, dtype=float).ravel()
    if len(m) != len(s):
        raise DataError(f"membership and scores differ in length ({len(m)}, {len(s)})")
    if set(np.unique(m)) != {0, 1}:
        raise DataError("membership needs both members (1) and non-members (0)")
    if not np.all(np.isfinite(s)):
        raise DataError("attack scores must be finite")
    return m, s


def tpr_at_fpr(membership: Any, scores: Any, fpr: float) -> float:
    """True-positive rate at the largest ROC operating point with FPR <= ``fpr``.

    Operating points are those of thresholding the scores (ties move
    together), as in :func:`sklearn.metrics.roc_curve`; this is the
    convention of Carlini et al. (2022). With ``n`` non-members the smallest
    non-zero FPR is ``1/n``, so a rate below that is measured at FPR = 0.

    Parameters
    ----------
    membership : array-like of 0/1
        Ground truth: 1 for members; both values must occur.
    scores : array-like of float
        Attack scores (finite), larger = member.
    fpr : float
        The largest false-positive rate allowed, in [0, 1].

    Returns
    -------
    float
        The highest TPR among the operating points whose FPR is at most ``fpr``.

    Raises
    ------
    DataError
        If ``fpr`` is outside [0, 1], the lengths differ, one membership class is missing or a
        score is not finite.
    """
    if not 0 <= fpr <= 1:
        raise DataError(f"fpr must be in [0, 1], got {fpr}")
    m, s = _check(membership, scores)
    f, t, _ = roc_curve(m, s, drop_intermediate=False)
    return float(t[f <= fpr + 1e-12].max())


def roc_points(membership: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(fpr, tpr)`` of the ROC curve.

    Parameters
    ----------
    membership : array-like of 0/1
        Ground truth: 1 for members; both values must occur.
    scores : array-like of float
        Attack scores (finite), larger = member.

    Returns
    -------
    fpr, tpr : numpy.ndarray
        The false- and true-positive rates of :func:`sklearn.metrics.roc_curve` (with its
        default dropping of intermediate points).

    Raises
    ------
    DataError
        If the lengths differ, one membership class is missing or a score is not finite.
    """
    m, s = _check(membership, scores)
    f, t, _ = roc_curve(m, s)
    return f, t


def best_threshold(membership: Any, scores: Any) -> float:
    """Threshold maximising balanced accuracy of ``score >= threshold`` (for calibration).

    Parameters
    ----------
    membership : array-like of 0/1
        Ground truth (shadow membership when calibrating); both values must occur.
    scores : array-like of float
        Attack scores (finite), larger = member.

    Returns
    -------
    float
        The ROC threshold with the largest ``tpr - fpr``; where that is the infinite "predict
        nobody" threshold, the largest score plus 1.

    Raises
    ------
    DataError
        If the lengths differ, one membership class is missing or a score is not finite.
    """
    m, s = _check(membership, scores)
    f, t, thr = roc_curve(m, s)
    i = int(np.argmax(t - f))  # balanced accuracy = (tpr + 1 - fpr) / 2
    return float(thr[i]) if np.isfinite(thr[i]) else float(np.max(s) + 1.0)


def attack_metrics(membership: Any, scores: Any, *, threshold: float | None = None,
                   groups: Any = None) -> dict[str, Any]:  # fmt: skip
    """AUC, balanced accuracy (at ``threshold``), TPR at 1% / 0.1% FPR, and per group.

    Parameters
    ----------
    membership : array-like of 0/1
        Ground truth: 1 for members of the target's training set.
    scores : array-like of float
        Attack scores, larger = member.
    threshold : float, optional
        Calibrated decision threshold; without it ``balanced_accuracy`` is NaN.
    groups : array-like of str, optional
        Group name of each row; adds ``by_group`` {name: {n, n_members,
        n_nonmembers, auc, balanced_accuracy, tpr_at_1pct_fpr,
        tpr_at_0_1pct_fpr}}: the attack judged on that group's members and
        non-members only (NaN where a group lacks either). The groups'
        counts add up to the overall ones.

    Returns
    -------
    dict
        ``auc``, ``balanced_accuracy``, ``tpr_at_1pct_fpr``, ``tpr_at_0_1pct_fpr``,
        ``n_members``, ``n_nonmembers`` (and ``by_group`` with ``groups``).
    """
    m, s = _check(membership, scores)
    out: dict[str, Any] = {
        "auc": float(roc_auc_score(m, s)),
        "balanced_accuracy": _balanced(m, s, threshold),
    }
    for key, rate in FPR_POINTS.items():
        out[key] = tpr_at_fpr(m, s, rate)
    out["n_members"] = int(m.sum())
    out["n_nonmembers"] = int(len(m) - m.sum())
    if groups is not None:
        g = np.asarray(groups).astype(str)
        if len(g) != len(m):
            raise DataError("groups and membership differ in length")
        out["by_group"] = {}
        for name in sorted(set(g)):
            sel = g == name
            block: dict[str, Any] = {"n": int(sel.sum()), "n_members": int(m[sel].sum()),
                                     "n_nonmembers": int(sel.sum() - m[sel].sum())}  # fmt: skip
            if len(set(m[sel])) == 2:
                block["auc"] = float(roc_auc_score(m[sel], s[sel]))
                block["balanced_accuracy"] = _balanced(m[sel], s[sel], threshold)
                for key, rate in FPR_POINTS.items():
                    block[key] = tpr_at_fpr(m[sel], s[sel], rate)
            else:
                block.update(auc=float("nan"), balanced_accuracy=float("nan"),
                             **{key: float("nan") for key in FPR_POINTS})  # fmt: skip
            out["by_group"][name] = block
    return out


def _balanced(m: np.ndarray, s: np.ndarray, threshold: float | None) -> float:
    if threshold is None:
        return float("nan")
    pred = s >= threshold
    tpr = pred[m == 1].mean()
    tnr = (~pred[m == 0]).mean()
    return float((tpr + tnr) / 2)
