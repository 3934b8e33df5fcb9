"""Empirical differential-privacy audit with canaries (a lower bound on epsilon).

Method: the Clopper-Pearson audit of Jagielski, Ullman and Oprea (NeurIPS
2020, "Auditing differentially private machine learning: how private is
private SGD?") as used by Nasr et al. (IEEE S&P 2021, "Adversary
instantiation"). An (epsilon, delta)-DP training algorithm bounds every
membership test: ``FPR + e^eps FNR >= 1 - delta`` and ``FNR + e^eps FPR >= 1 -
delta``. So with one-sided Clopper-Pearson upper bounds ``FPR_hi`` and
``FNR_hi`` (each at confidence ``1 - alpha/2``, so both hold with ``1 -
alpha``),

.. math:: \\varepsilon \\ge \\max\\Big(\\log\\frac{1 - \\delta - FNR_{hi}}{FPR_{hi}},
          \\log\\frac{1 - \\delta - FPR_{hi}}{FNR_{hi}}, 0\\Big)

holds with probability at least ``1 - alpha``.

Protocol (:func:`dp_audit`): ``2k`` canaries -- rows outside the base
training set with their label flipped -- are each put into the training set
with probability 1/2, independently; the model is trained once; the test
scores every canary by its loss on the flipped label. The canaries are
split at random in two halves: the threshold is the one with the largest
bound on the first half, and the bound is reported on the second half only,
so choosing the threshold does not inflate it. Unlike the accountant's
epsilon, the audited number is a *lower* bound: a sound DP implementation
never lets it exceed the accounted epsilon (up to the ``alpha`` failure
probability).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import beta

from trustlab._errors import ConfigError, DataError

METHOD = "Clopper-Pearson lower bound on epsilon (Jagielski et al. 2020; Nasr et al. 2021)"
"""The name of the audit method, reported with every audited bound.

The Clopper-Pearson lower bound on epsilon of Jagielski et al. (2020) as used by Nasr et
al. (2021); exported as ``DP_AUDIT_METHOD``.
"""


def clopper_pearson_upper(k: int, n: int, alpha: float) -> float:
    """One-sided ``1 - alpha`` Clopper-Pearson upper bound on a binomial rate with ``k`` of ``n``.

    Parameters
    ----------
    k : int
        Number of events (e.g. false positives).
    n : int
        Number of trials.
    alpha : float
        Failure probability of the one-sided bound.

    Returns
    -------
    float
        The ``1 - alpha`` quantile of ``Beta(k + 1, n - k)``; 1.0 when ``n <= 0`` or ``k >= n``.
    """
    if n <= 0:
        return 1.0
    if k >= n:
        return 1.0
    return float(beta.ppf(1 - alpha, k + 1, n - k))


def epsilon_lower_bound(fp: int, n_neg: int, fn: int, n_pos: int, *, delta: float = 1e-5,
                        confidence: float = 0.95) -> float:  # fmt: skip
    """Epsilon lower bound from a membership test's errors (see the module docstring).

    Parameters
    ----------
    fp, n_neg : int
        False positives among the non-member canaries, and their number.
    fn, n_pos : int
        False negatives among the member canaries, and their number.
    delta : float
        The delta of the (epsilon, delta) guarantee being audited.
    confidence : float
        Probability that the bound holds (Bonferroni over the two rates).

    Returns
    -------
    float
        ``>= 0``; 0 when the test does no better than chance could explain.
    """
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence must be in (0, 1), got {confidence}")
    if not 0 <= delta < 1:
        raise ConfigError(f"delta must be in [0, 1), got {delta}")
    alpha = (1 - confidence) / 2
    fpr = clopper_pearson_upper(fp, n_neg, alpha)
    fnr = clopper_pearson_upper(fn, n_pos, alpha)
    best = 0.0
    for num, den in ((1 - delta - fnr, fpr), (1 - delta - fpr, fnr)):
        if num > 0 and den > 0:
            best = max(best, float(np.log(num / den)))
    return best


def audit_scores(scores: Any, membership: Any, *, delta: float = 1e-5, confidence: float = 0.95,
                 seed: int = 0) -> dict[str, Any]:  # fmt: skip
    """Threshold on one random half of the canaries, Clopper-Pearson bound on the other half.

    Parameters
    ----------
    scores : array-like of float
        Membership score of each canary, larger = member.
    membership : array-like of 0/1
        Whether each canary was trained on.
    delta, confidence : float
        The delta of the audited guarantee, and the probability that the bound holds.
    seed : int
        Seed of the split into halves.

    Returns
    -------
    dict
        ``epsilon_lower_bound``, ``threshold``, ``tpr`` / ``fpr`` and counts on
        the reporting half, ``method``.
    """
    s = np.asarray(scores, float)
    m = np.asarray(membership).astype(int)
    if len(s) != len(m) or len(s) < 4:
        raise DataError("need at least 4 canaries with one score each")
    if not np.all(np.isfinite(s)):
        raise DataError("canary scores must be finite")
    rng = np.random.default_rng([seed, 2020])
    perm = rng.permutation(len(s))
    cal, rep = perm[: len(s) // 2], perm[len(s) // 2:]

    def bound(idx: np.ndarray, thr: float) -> tuple[float, int, int, int, int]:
        pred = s[idx] >= thr
        pos, neg = m[idx] == 1, m[idx] == 0
        fp, fn = int((pred & neg).sum()), int((~pred & pos).sum())
        return epsilon_lower_bound(fp, int(neg.sum()), fn, int(pos.sum()), delta=delta,
                                   confidence=confidence), fp, int(neg.sum()), fn, int(pos.sum())  # fmt: skip

    u = np.unique(s[cal])
    cands = np.r_[u[0] - 1.0, (u[:-1] + u[1:]) / 2, u[-1] + 1.0]  # between observed scores
    thr = float(max(cands, key=lambda t: (bound(cal, t)[0], -t)))
    eps, fp, n_neg, fn, n_pos = bound(rep, thr)
    return {"epsilon_lower_bound": eps, "threshold": thr, "tpr": 1 - fn / max(n_pos, 1),
            "fpr": fp / max(n_neg, 1), "n_members": n_pos, "n_nonmembers": n_neg, "delta": delta,
            "confidence": confidence, "method": METHOD}  # fmt: skip


def check_dp_audit_options(*, canaries: int, train_rows: int, epsilon: float | None, delta: float,
                           confidence: float) -> None:  # fmt: skip
    """Refuse bad DP-audit options with one line, before any data is loaded or model trained.

    Parameters
    ----------
    canaries, train_rows : int
        Canaries inserted (at least 2, at most the training rows) and training rows (at least 2).
    epsilon : float or None
        DP-SGD's target epsilon (> 0), or ``None`` without DP.
    delta, confidence : float
        In (0, 1).

    Raises
    ------
    ConfigError
        The first option that is out of range.
    """
    if canaries < 2:
        raise ConfigError(f"--canaries must be >= 2, got {canaries}")
    if train_rows < 2:
        raise ConfigError(f"--train-rows must be >= 2, got {train_rows}")
    if canaries > train_rows:
        raise ConfigError(f"--canaries {canaries} is more than the {train_rows} training rows; "
                          "use fewer canaries or more rows")  # fmt: skip
    if epsilon is not None and not epsilon > 0:
        raise ConfigError(f"--epsilon must be > 0, got {epsilon}")
    if not 0 < delta < 1:
        raise ConfigError(f"--delta must be in (0, 1), got {delta}")
    if not 0 < confidence < 1:
        raise ConfigError(f"--confidence must be in (0, 1), got {confidence}")


def dp_audit(ds: Any, *, sensitive: str | None = None, canaries: int = 100, train_rows: int = 1000,
             epsilon: float | None = None, delta: float = 1e-5, confidence: float = 0.95,
             mlp: dict[str, Any] | None = None, seed: int = 0) -> dict[str, Any]:  # fmt: skip
    """Audit one training run of the torch MLP (with or without DP-SGD) with mislabelled canaries.

    Parameters
    ----------
    ds : Dataset
        The data: base training rows and canaries are drawn from it.
    sensitive : str, optional
        Only recorded (the audit is of the training algorithm, not of a group).
    canaries : int
        ``k``: ``2k`` canary candidates, each trained on with probability 1/2.
    train_rows : int
        Base training rows (canaries come on top, drawn from the other rows).
    epsilon : float, optional
        DP-SGD target epsilon (opacus, RDP accountant); ``None`` trains without DP.
    delta : float
        DP-SGD's delta, and the delta of the audited bound.
    confidence : float
        Confidence of the lower bound.
    mlp : dict, optional
        :class:`~trustlab.privacy.TorchMLPClassifier` settings (hidden, lr, epochs, ...).
    seed : int
        Seed of the rows, the canaries' inclusion, the model and the halves.

    Returns
    -------
    dict
        :func:`audit_scores`'s fields plus ``epsilon_accounted`` (opacus's
        epsilon spent, ``None`` without DP), ``train_accuracy``, sizes.
    """
    from trustlab.privacy._models import TorchMLPClassifier

    check_dp_audit_options(canaries=canaries, train_rows=train_rows, epsilon=epsilon, delta=delta,
                           confidence=confidence)  # fmt: skip
    if train_rows + 2 * canaries > len(ds):
        raise DataError(f"{train_rows} training rows and {2 * canaries} canary candidates need "
                        f"{train_rows + 2 * canaries} rows; the data has {len(ds)}")  # fmt: skip
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(ds))
    base, cand = perm[:train_rows], perm[train_rows:train_rows + 2 * canaries]
    member = rng.random(2 * canaries) < 0.5
    part = ds.subset(np.concatenate([base, cand[member]]))
    y = part.y.to_numpy().astype(int)
    y[train_rows:] = 1 - y[train_rows:]  # the canaries carry the wrong label
    model = TorchMLPClassifier(**(mlp or {}), categorical=list(ds.categorical), numeric=list(ds.numeric),
                               dp_epsilon=epsilon, dp_delta=delta, random_state=seed)  # fmt: skip
    model.fit(part.X, y)
    cpart = ds.subset(cand)
    y_c = 1 - cpart.y.to_numpy().astype(int)
    p = np.clip(model.predict_proba(cpart.X)[np.arange(len(cand)), y_c], 1e-12, 1.0)
    out = audit_scores(np.log(p), member.astype(int), delta=delta, confidence=confidence, seed=seed)
    out.update({"epsilon_accounted": model.epsilon_spent_, "epsilon_target": epsilon, "canaries": 2 * canaries,
                "canaries_trained_on": int(member.sum()), "train_rows": train_rows, "dataset": ds.name,
                "sensitive": sensitive, "seed": seed,
                "train_accuracy": float((model.predict(part.X) == y).mean())})  # fmt: skip
    return out
