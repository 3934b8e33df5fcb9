"""Membership-inference attacks on black-box outputs.

Every function here works on what a prediction API returns: class
probabilities ``P`` of shape (n, 2) (possibly restricted, e.g. one-hot
labels) and the true labels ``y`` of the queried rows. Scores are oriented
so that larger means "member".

- :func:`loss_scores` -- loss / confidence threshold (Yeom et al., 2018):
  ``log p_y``, i.e. minus the cross-entropy loss; the confidence ``p_y`` is a
  monotone function of it and ranks identically.
- :func:`label_scores` -- label-only gap attack (Yeom et al.): 1 if the model
  is right, 0 otherwise.
- :class:`ClassifierAttack` -- Shokri et al. (2017) attack model: one
  classifier per true class on the shadow models' probability vectors; and,
  with :func:`fdmia_features`, the FD-MIA attack model of Tian et al.
  (IJCAI 2024) on ``[p_biased, p_fair, p_biased - p_fair]``.
- :func:`lira_scores` / :func:`lira_loo_scores` -- LiRA (Carlini et al.,
  2022): per-example Gaussians of the logit-scaled confidence
  ``log p_y - log(1 - p_y)`` under IN and OUT shadow models; online
  (likelihood ratio) and offline (one-sided, OUT only); optional global
  variance for few shadows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

from trustlab._errors import DataError

_EPS = 1e-7


def true_class_proba(P: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``p_y``: the probability given to each row's true class.

    Parameters
    ----------
    P : numpy.ndarray of shape (n, n_classes)
        Class probabilities returned by the model for the queried rows.
    y : numpy.ndarray of shape (n,)
        True labels of the rows (cast to int and used as column indices of ``P``).

    Returns
    -------
    numpy.ndarray of shape (n,)
        ``P[i, y[i]]`` for every row ``i``.

    Raises
    ------
    DataError
        If ``P`` is not two-dimensional or its row count differs from ``len(y)``.
    """
    P = np.asarray(P, dtype=float)
    y = np.asarray(y).astype(int)
    if P.ndim != 2 or len(P) != len(y):
        raise DataError(f"probabilities of shape {P.shape} do not match {len(y)} labels")
    return P[np.arange(len(y)), y]


def loss_scores(P: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Minus the cross-entropy loss, ``log p_y`` (clipped at ``log 1e-7``).

    The loss-threshold attack of Yeom et al. (2018): larger scores mean "member".

    Parameters
    ----------
    P : numpy.ndarray of shape (n, n_classes)
        Class probabilities of the queried rows.
    y : numpy.ndarray of shape (n,)
        True labels of the rows.

    Returns
    -------
    numpy.ndarray of shape (n,)
        ``log(clip(p_y, 1e-7, 1))`` for every row.

    Raises
    ------
    DataError
        If the shapes of ``P`` and ``y`` do not match (see :func:`true_class_proba`).
    """
    return np.log(np.clip(true_class_proba(P, y), _EPS, 1.0))


def label_scores(P: np.ndarray, y: np.ndarray) -> np.ndarray:
    """1.0 where the predicted label is right, else 0.0 (needs labels only).

    The label-only gap attack of Yeom et al.: the predicted label is the arg-max of ``P``.

    Parameters
    ----------
    P : numpy.ndarray of shape (n, n_classes)
        Class probabilities (or one-hot predicted labels) of the queried rows.
    y : numpy.ndarray of shape (n,)
        True labels of the rows.

    Returns
    -------
    numpy.ndarray of shape (n,)
        1.0 for a correctly predicted row, 0.0 otherwise.
    """
    return (np.asarray(P).argmax(1) == np.asarray(y).astype(int)).astype(float)


def logit_confidence(P: np.ndarray, y: np.ndarray) -> np.ndarray:
    """LiRA's logit scaling ``log p_y - log(1 - p_y)``, with ``p_y`` clipped to ``[1e-7, 1 - 1e-7]``.

    Parameters
    ----------
    P : numpy.ndarray of shape (n, n_classes)
        Class probabilities of the queried rows.
    y : numpy.ndarray of shape (n,)
        True labels of the rows.

    Returns
    -------
    numpy.ndarray of shape (n,)
        The logit-scaled confidence of every row in its true class.

    Raises
    ------
    DataError
        If the shapes of ``P`` and ``y`` do not match (see :func:`true_class_proba`).
    """
    p = np.clip(true_class_proba(P, y), _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


# ---------------------------------------------------------------------------------------------
# attack classifiers (Shokri et al.; FD-MIA)
# ---------------------------------------------------------------------------------------------


def shadow_features(P: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Shokri et al.'s input: the probability vector (the per-class split is done by the classifier)."""
    return np.asarray(P, dtype=float)


def fdmia_features(Pb: np.ndarray, Pf: np.ndarray, y: np.ndarray) -> np.ndarray:
    """FD-MIA input: ``[p_biased, p_fair, p_biased - p_fair]`` for the true class, and the logit gap.

    Parameters
    ----------
    Pb : numpy.ndarray of shape (n, n_classes)
        Class probabilities of the biased (unrepaired) model.
    Pf : numpy.ndarray of shape (n, n_classes)
        Class probabilities of the fair (repaired) model on the same rows.
    y : numpy.ndarray of shape (n,)
        True labels of the rows.

    Returns
    -------
    numpy.ndarray of shape (n, 4)
        Columns ``p_biased``, ``p_fair``, ``p_biased - p_fair`` (true-class probabilities) and
        the difference of the two models' logit-scaled confidences (:func:`logit_confidence`).

    Raises
    ------
    DataError
        If a probability array does not match ``y`` (see :func:`true_class_proba`).
    """
    pb, pf = true_class_proba(Pb, y), true_class_proba(Pf, y)
    lb = logit_confidence(Pb, y)
    lf = logit_confidence(Pf, y)
    return np.column_stack([pb, pf, pb - pf, lb - lf])


class ClassifierAttack:
    """A membership classifier trained on shadow models' outputs, one per true class.

    Parameters
    ----------
    max_iter : int
        Boosting rounds of each :class:`~sklearn.ensemble.HistGradientBoostingClassifier`.
    random_state : int
        Seed of each boosting classifier.

    Notes
    -----
    Classes are weighted to balance members and non-members, so a score of
    0.5 is the balanced decision threshold.
    """

    def __init__(self, *, max_iter: int = 100, random_state: int = 0) -> None:
        self.max_iter = max_iter
        self.random_state = random_state

    def fit(self, features: np.ndarray, y: np.ndarray, membership: np.ndarray) -> ClassifierAttack:
        """Fit on shadow rows: ``features`` (n, d), true labels ``y``, shadow membership 0/1."""
        features = np.asarray(features, dtype=float)
        y = np.asarray(y).astype(int)
        m = np.asarray(membership).astype(int)
        self.models_: dict[int, Any] = {}
        for c in np.unique(y):
            sel = y == c
            if len(set(m[sel])) < 2:  # no contrast in this class: uninformative
                self.models_[int(c)] = None
                continue
            clf = HistGradientBoostingClassifier(max_iter=self.max_iter, class_weight="balanced",
                                                 early_stopping=False, random_state=self.random_state)  # fmt: skip
            with threadpool_limits(1):  # small problems: OpenMP hand-offs dominate on shared cores
                self.models_[int(c)] = clf.fit(features[sel], m[sel])
        return self

    def score(self, features: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Membership probability of each row (0.5 for a class never seen in shadows)."""
        features = np.asarray(features, dtype=float)
        y = np.asarray(y).astype(int)
        out = np.full(len(y), 0.5)
        for c, clf in self.models_.items():
            sel = y == c
            if clf is not None and sel.any():
                with threadpool_limits(1):
                    out[sel] = clf.predict_proba(features[sel])[:, 1]
        return out


# ---------------------------------------------------------------------------------------------
# LiRA
# ---------------------------------------------------------------------------------------------


class _Moments:
    """Per-example sums over shadows, for IN or OUT models."""

    def __init__(self, phi: np.ndarray, mask: np.ndarray) -> None:
        w = mask.astype(float)
        self.n = w.sum(0)
        self.s1 = (w * phi).sum(0)
        self.s2 = (w * phi**2).sum(0)

    def drop(self, phi_k: np.ndarray, mask_k: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        w = mask_k.astype(float)
        return self.n - w, self.s1 - w * phi_k, self.s2 - w * phi_k**2


def _mean_var(n: np.ndarray, s1: np.ndarray, s2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = np.where(n > 0, s1 / np.maximum(n, 1), np.nan)
        var = np.where(n > 1, (s2 - n * mu**2) / np.maximum(n - 1, 1), np.nan)
    return mu, np.maximum(var, 0.0)


def _pooled_var(phi: np.ndarray, mask: np.ndarray) -> float:
    """Within-example variance pooled over all examples (LiRA's global variance)."""
    m = _Moments(phi, mask)
    mu, _ = _mean_var(m.n, m.s1, m.s2)
    resid = np.where(mask, phi - np.nan_to_num(mu)[None, :], 0.0)
    dof = float((m.n - (m.n > 0)).sum())
    return float((resid**2).sum() / dof) if dof > 0 else 1.0


class LiRA:
    """LiRA statistics from shadow models' logit-scaled confidences.

    Parameters
    ----------
    phi : array of shape (K, n)
        Logit-scaled confidence of shadow model k on example i.
    in_mask : bool array of shape (K, n)
        Whether example i was in shadow k's training set.
    global_variance : bool
        One variance for all examples (per IN / OUT), as Carlini et al.
        recommend for fewer than 64 shadows; else per-example variances
        (falling back to the global one where an example has < 2 shadows).
    """

    def __init__(self, phi: np.ndarray, in_mask: np.ndarray, *, global_variance: bool = True) -> None:
        self.phi = np.asarray(phi, dtype=float)
        self.in_mask = np.asarray(in_mask, dtype=bool)
        if self.phi.shape != self.in_mask.shape or self.phi.ndim != 2:
            raise DataError("phi and in_mask must both have shape (shadows, examples)")
        self.global_variance = global_variance
        self.m_in = _Moments(self.phi, self.in_mask)
        self.m_out = _Moments(self.phi, ~self.in_mask)
        self.var_in = max(_pooled_var(self.phi, self.in_mask), 1e-6)
        self.var_out = max(_pooled_var(self.phi, ~self.in_mask), 1e-6)
        mu_in, _ = _mean_var(self.m_in.n, self.m_in.s1, self.m_in.s2)
        mu_out, _ = _mean_var(self.m_out.n, self.m_out.s1, self.m_out.s2)
        both = np.isfinite(mu_in) & np.isfinite(mu_out)
        # average IN-OUT shift: stands in for a missing mean (an example with no IN or no OUT shadow)
        self.shift = float(np.mean(mu_in[both] - mu_out[both])) if both.any() else 0.0

    def _params(self, moments_in: tuple, moments_out: tuple) -> tuple[np.ndarray, ...]:
        mu_in, v_in = _mean_var(*moments_in)
        mu_out, v_out = _mean_var(*moments_out)
        mu_in = np.where(np.isfinite(mu_in), mu_in, mu_out + self.shift)
        mu_out = np.where(np.isfinite(mu_out), mu_out, mu_in - self.shift)
        mu_in = np.nan_to_num(mu_in)
        mu_out = np.nan_to_num(mu_out)
        if self.global_variance:
            v_in = np.full_like(mu_in, self.var_in)
            v_out = np.full_like(mu_out, self.var_out)
        else:
            v_in = np.where(np.isfinite(v_in) & (moments_in[0] > 1), np.maximum(v_in, 1e-6), self.var_in)
            v_out = np.where(np.isfinite(v_out) & (moments_out[0] > 1), np.maximum(v_out, 1e-6), self.var_out)
        return mu_in, v_in, mu_out, v_out

    @staticmethod
    def _score(phi: np.ndarray, mu_in: np.ndarray, v_in: np.ndarray, mu_out: np.ndarray,
               v_out: np.ndarray, online: bool) -> np.ndarray:  # fmt: skip
        if online:
            ll_in = -0.5 * (np.log(v_in) + (phi - mu_in) ** 2 / v_in)
            ll_out = -0.5 * (np.log(v_out) + (phi - mu_out) ** 2 / v_out)
            return ll_in - ll_out
        return (phi - mu_out) / np.sqrt(v_out)  # one-sided: monotone in the OUT-Gaussian's CDF

    def score(self, phi_target: np.ndarray, *, online: bool = True) -> np.ndarray:
        """Scores of the target's confidences on the same n examples, from all shadows."""
        ms_in = (self.m_in.n, self.m_in.s1, self.m_in.s2)
        ms_out = (self.m_out.n, self.m_out.s1, self.m_out.s2)
        return self._score(np.asarray(phi_target, float), *self._params(ms_in, ms_out), online=online)

    def loo_scores(self, *, online: bool = True) -> np.ndarray:
        """Scores of each shadow's own confidences from the other shadows, shape (K, n).

        Used to calibrate a decision threshold on shadow membership only.
        """
        out = np.empty_like(self.phi)
        for k in range(self.phi.shape[0]):
            ms_in = self.m_in.drop(self.phi[k], self.in_mask[k])
            ms_out = self.m_out.drop(self.phi[k], ~self.in_mask[k])
            out[k] = self._score(self.phi[k], *self._params(ms_in, ms_out), online=online)
        return out


def lira_scores(phi_target: np.ndarray, phi_shadow: np.ndarray, in_mask: np.ndarray, *,
                online: bool = True, global_variance: bool = True) -> np.ndarray:  # fmt: skip
    """LiRA scores of the target's logit-scaled confidences (see :class:`LiRA`).

    Parameters
    ----------
    phi_target : numpy.ndarray of shape (n,)
        Logit-scaled confidences (:func:`logit_confidence`) of the target model on the n examples.
    phi_shadow : numpy.ndarray of shape (K, n)
        Logit-scaled confidence of shadow model k on example i.
    in_mask : numpy.ndarray of bool, shape (K, n)
        Whether example i was in shadow k's training set.
    online : bool, default True
        The online attack (log-likelihood ratio of the IN and OUT Gaussians); if False, the
        offline one-sided test against the OUT Gaussian only.
    global_variance : bool, default True
        One variance for all examples (per IN / OUT) instead of per-example variances.

    Returns
    -------
    numpy.ndarray of shape (n,)
        Membership scores, larger meaning "member".

    Raises
    ------
    DataError
        If ``phi_shadow`` and ``in_mask`` do not both have shape (shadows, examples).
    """
    return LiRA(phi_shadow, in_mask, global_variance=global_variance).score(phi_target, online=online)


def lira_loo_scores(phi_shadow: np.ndarray, in_mask: np.ndarray, *, online: bool = True,
                    global_variance: bool = True) -> np.ndarray:  # fmt: skip
    """Leave-one-shadow-out LiRA scores, shape (K, n) (see :meth:`LiRA.loo_scores`).

    Each shadow's own confidences are scored from the statistics of the other shadows, which
    calibrates a decision threshold on shadow membership only.

    Parameters
    ----------
    phi_shadow : numpy.ndarray of shape (K, n)
        Logit-scaled confidence of shadow model k on example i.
    in_mask : numpy.ndarray of bool, shape (K, n)
        Whether example i was in shadow k's training set.
    online : bool, default True
        The online (likelihood-ratio) attack; if False, the offline one-sided one.
    global_variance : bool, default True
        One variance for all examples (per IN / OUT) instead of per-example variances.

    Returns
    -------
    numpy.ndarray of shape (K, n)
        Row k holds the scores of shadow k's confidences.

    Raises
    ------
    DataError
        If ``phi_shadow`` and ``in_mask`` do not both have shape (shadows, examples).
    """
    return LiRA(phi_shadow, in_mask, global_variance=global_variance).loo_scores(online=online)
