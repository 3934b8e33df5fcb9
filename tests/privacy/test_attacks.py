"""Each attack on a problem where membership is trivially separable and on one where it is not."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from trustlab.privacy import (
    ClassifierAttack,
    LiRA,
    fdmia_features,
    label_scores,
    logit_confidence,
    loss_scores,
    restrict_output,
)

K, N = 8, 600


def _proba(p1):
    return np.column_stack([1 - p1, p1])


def _world(separable: bool, seed: int = 0):
    """K shadows + a target; members get confident outputs only when ``separable``."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, N)
    base = rng.uniform(0.3, 0.7, N)  # per-example difficulty: p_y of an OUT model

    def outputs(in_mask):
        py = base + rng.normal(0, 0.03, N) + (0.28 * in_mask if separable else 0.0)
        py = np.clip(py, 0.01, 0.99)
        return _proba(np.where(y == 1, py, 1 - py))

    in_mask = np.zeros((K, N), bool)
    for i in range(N):
        in_mask[rng.choice(K, K // 2, replace=False), i] = True
    shadow = np.stack([outputs(in_mask[k]) for k in range(K)])
    member = rng.random(N) < 0.5
    target = outputs(member)
    return y, shadow, in_mask, target, member


@pytest.mark.parametrize("separable,lo,hi", [(True, 0.97, 1.0), (False, 0.4, 0.6)])
def test_loss_and_lira(separable, lo, hi):
    y, shadow, in_mask, target, member = _world(separable)
    loss_auc = roc_auc_score(member, loss_scores(target, y))
    assert loss_auc > 0.8 if separable else lo <= loss_auc <= hi
    phi = np.stack([logit_confidence(shadow[k], y) for k in range(K)])
    for gv in (True, False):
        lira = LiRA(phi, in_mask, global_variance=gv)
        for online in (True, False):
            auc = roc_auc_score(member, lira.score(logit_confidence(target, y), online=online))
            assert lo <= auc <= hi, (gv, online, auc)
        loo = lira.loo_scores(online=True)
        assert loo.shape == (K, N)
        assert lo <= roc_auc_score(in_mask.ravel(), loo.ravel()) <= hi


def test_loss_separable_only_by_difficulty_calibration():
    # per-example difficulty spreads the raw loss; LiRA's per-example calibration beats it at low FPR
    y, shadow, in_mask, target, member = _world(True, seed=1)
    loss_auc = roc_auc_score(member, loss_scores(target, y))
    phi = np.stack([logit_confidence(shadow[k], y) for k in range(K)])
    lira_auc = roc_auc_score(member, LiRA(phi, in_mask).score(logit_confidence(target, y)))
    assert lira_auc > loss_auc


@pytest.mark.parametrize("separable,lo,hi", [(True, 0.97, 1.0), (False, 0.4, 0.6)])
def test_shadow_classifier(separable, lo, hi):
    y, shadow, in_mask, target, member = _world(separable)
    clf = ClassifierAttack(max_iter=50).fit(shadow.reshape(-1, 2), np.tile(y, K), in_mask.ravel())
    # the per-example difficulty is unknown to a Shokri attack: it sees only the vector
    auc = roc_auc_score(member, clf.score(target, y))
    assert (auc > 0.85) if separable else (lo <= auc <= hi)


@pytest.mark.parametrize("separable", [True, False])
def test_fdmia_classifier(separable):
    rng = np.random.default_rng(2)
    n = 2000
    y = rng.integers(0, 2, n)
    member = rng.random(n) < 0.5
    pb = rng.uniform(0.5, 0.9, n)
    # the fair model moves members less (or not differently) than non-members
    gap = np.where(member, 0.02, 0.2) if separable else np.full(n, 0.1)
    pf = pb - gap + rng.normal(0, 0.01, n)
    Pb = _proba(np.where(y == 1, pb, 1 - pb))
    Pf = _proba(np.where(y == 1, pf, 1 - pf))
    half = np.arange(n) < n // 2
    clf = ClassifierAttack(max_iter=50).fit(fdmia_features(Pb[half], Pf[half], y[half]), y[half], member[half])
    auc = roc_auc_score(member[~half], clf.score(fdmia_features(Pb[~half], Pf[~half], y[~half]), y[~half]))
    assert auc > 0.97 if separable else 0.4 < auc < 0.6


def test_label_only_attack():
    y = np.array([0, 1, 1, 0])
    P = _proba(np.array([0.2, 0.9, 0.3, 0.6]))
    assert label_scores(P, y).tolist() == [1, 1, 0, 0]
    # restricted to labels, the loss attack sees nothing more than correctness
    R = restrict_output(P, "label-only")
    assert ((loss_scores(R, y) > -1) == label_scores(P, y).astype(bool)).all()
