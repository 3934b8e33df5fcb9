"""The classic attacks as :class:`~trustlab.privacy.Attack` classes.

- ``loss`` / ``label``: thresholds on ``log p_y`` / correctness (Yeom et al., 2018).
- ``shadow``: Shokri et al. (2017) attack classifier on the shadows' probability vectors.
- ``lira`` / ``lira_offline``: Carlini et al. (2022), online and offline.
- ``fdmia`` / ``fdmia_threshold``: Tian et al. (IJCAI 2024), a learned attack on
  both models' outputs, and the plain ``|p_biased - p_fair|`` threshold.

Every threshold is calibrated on shadow membership of the attacker's pool rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trustlab.privacy._attacks import (
    ClassifierAttack,
    LiRA,
    fdmia_features,
    label_scores,
    logit_confidence,
    loss_scores,
    shadow_features,
    true_class_proba,
)
from trustlab.privacy._interface import Attack, ShadowSet, TargetView, register_attack
from trustlab.privacy._metrics import best_threshold

#: Largest number of (shadow, row) examples an attack classifier is fit on.
MAX_ATTACK_ROWS = 40_000


def subsample(n: int, rng: np.random.Generator) -> np.ndarray:
    """All of ``range(n)``, or a sorted random ``MAX_ATTACK_ROWS`` of it."""
    return np.arange(n) if n <= MAX_ATTACK_ROWS else np.sort(rng.choice(n, MAX_ATTACK_ROWS, replace=False))


def _flat_pool(shadows: ShadowSet, role: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pool rows of every shadow stacked: ``(P (K*n, 2), labels, membership)``."""
    P, y, m = shadows.pool(role)
    return P.reshape(-1, 2), np.tile(y, shadows.n_shadows), m.ravel().astype(int)


class _ThresholdAttack(Attack):
    """A fixed per-row statistic, thresholded where shadow balanced accuracy is best."""

    def statistic(self, P: np.ndarray, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def calibrate(self, shadows: ShadowSet) -> Attack:
        P, y, m = _flat_pool(shadows, self.role)
        self.threshold_ = best_threshold(m, self.statistic(P, y))
        return self

    def score(self, target: TargetView) -> np.ndarray:
        return self.statistic(target.proba[self.role], target.labels)


@register_attack
class LossAttack(_ThresholdAttack):
    """Loss threshold (Yeom et al., 2018): score ``log p_y``."""

    name = "loss"

    def statistic(self, P: np.ndarray, y: np.ndarray) -> np.ndarray:
        return loss_scores(P, y)


@register_attack
class LabelOnlyAttack(_ThresholdAttack):
    """Label-only gap attack (Yeom et al.): 1 if the model is right, else 0."""

    name = "label"
    score_based = False

    def statistic(self, P: np.ndarray, y: np.ndarray) -> np.ndarray:
        return label_scores(P, y)


@register_attack
class ShadowModelAttack(Attack):
    """Shokri et al. (2017): per-class classifiers on the shadows' probability vectors."""

    name = "shadow"

    def calibrate(self, shadows: ShadowSet) -> Attack:
        P, y, m = _flat_pool(shadows, self.role)
        sub = subsample(len(m), shadows.rng)
        self.clf_ = ClassifierAttack(random_state=self.random_state).fit(shadow_features(P[sub], y[sub]),
                                                                         y[sub], m[sub])  # fmt: skip
        self.threshold_ = 0.5
        return self

    def score(self, target: TargetView) -> np.ndarray:
        return self.clf_.score(shadow_features(target.proba[self.role], target.labels), target.labels)


@register_attack
class LiRAOnline(Attack):
    """LiRA (Carlini et al., 2022), online: likelihood ratio of IN and OUT Gaussians per example.

    Parameters
    ----------
    role : str, default "fair"
        Which model of the pair is attacked (``biased`` or ``fair``).
    random_state : int, default 0
        Seed of the attack's own randomness.
    global_variance : bool or None, default None
        One variance per IN / OUT instead of per-example variances; ``None`` turns it on below
        64 shadows, as Carlini et al. advise.
    """

    name = "lira"
    min_shadows = 2
    needs_challenge_outputs = True
    online = True

    def __init__(self, role: str = "fair", *, random_state: int = 0, global_variance: bool | None = None) -> None:
        super().__init__(role, random_state=random_state)
        self.global_variance = global_variance

    def calibrate(self, shadows: ShadowSet) -> Attack:
        gv = shadows.n_shadows < 64 if self.global_variance is None else bool(self.global_variance)
        y = shadows.labels
        phi = np.stack([logit_confidence(shadows.proba[self.role][k], y) for k in range(shadows.n_shadows)])
        pool = shadows.is_pool
        self.lira_ = LiRA(phi[:, ~pool], shadows.in_mask[:, ~pool], global_variance=gv)
        lira_cal = LiRA(phi[:, pool], shadows.in_mask[:, pool], global_variance=gv)
        self.threshold_ = best_threshold(shadows.in_mask[:, pool].ravel(),
                                         lira_cal.loo_scores(online=self.online).ravel())  # fmt: skip
        return self

    def score(self, target: TargetView) -> np.ndarray:
        return self.lira_.score(logit_confidence(target.proba[self.role], target.labels), online=self.online)


@register_attack
class LiRAOffline(LiRAOnline):
    """LiRA (Carlini et al., 2022), offline: one-sided test against the OUT Gaussian only."""

    name = "lira_offline"
    online = False


@register_attack
class FDMIA(Attack):
    """FD-MIA (Tian et al., IJCAI 2024): a classifier on both models' outputs, trained on shadow pairs.

    Features per row: ``[p_biased, p_fair, p_biased - p_fair]`` of the true
    class and the gap of their logit-scaled confidences.
    """

    name = "fdmia"
    pair = True

    def _pool(self, shadows: ShadowSet) -> tuple[np.ndarray, ...]:
        Pb, y, m = _flat_pool(shadows, "biased")
        Pf, _, _ = _flat_pool(shadows, "fair")
        return Pb, Pf, y, m

    def calibrate(self, shadows: ShadowSet) -> Attack:
        Pb, Pf, y, m = self._pool(shadows)
        sub = subsample(len(m), shadows.rng)
        self.clf_ = ClassifierAttack(random_state=self.random_state).fit(
            fdmia_features(Pb[sub], Pf[sub], y[sub]), y[sub], m[sub])  # fmt: skip
        self.threshold_ = 0.5
        return self

    def score(self, target: TargetView) -> np.ndarray:
        y = target.labels
        return self.clf_.score(fdmia_features(target.proba["biased"], target.proba["fair"], y), y)


@register_attack
class FDMIAThreshold(FDMIA):
    """``|p_biased - p_fair|`` of the true class, direction and threshold from the shadow pairs."""

    name = "fdmia_threshold"

    def calibrate(self, shadows: ShadowSet) -> Attack:
        Pb, Pf, y, m = self._pool(shadows)
        d = np.abs(true_class_proba(Pb, y) - true_class_proba(Pf, y))
        self.sign_ = 1.0 if d[m == 1].mean() >= d[m == 0].mean() else -1.0
        self.threshold_ = best_threshold(m, self.sign_ * d)
        self.details_: dict[str, Any] = {"direction": "members larger" if self.sign_ > 0 else "members smaller"}
        return self

    def score(self, target: TargetView) -> np.ndarray:
        y = target.labels
        return self.sign_ * np.abs(true_class_proba(target.proba["biased"], y)
                                   - true_class_proba(target.proba["fair"], y))  # fmt: skip
