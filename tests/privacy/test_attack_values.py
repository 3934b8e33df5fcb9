"""Membership-inference scores against values worked out by hand (not by the code under test).

The LiRA example has K = 4 shadows and n = 3 challenge rows; ``phi`` is the
logit-scaled confidence, ``IN`` marks the shadows that trained on the row:

=======  ===========  ===========  ===========
shadow   row 0        row 1        row 2
=======  ===========  ===========  ===========
0        1.0  IN      0.0  out     2.0  out
1        3.0  IN      2.0  IN      0.5  out
2        2.0  out     5.0  IN      1.5  out
3       -1.0  out     2.0  out     1.0  out
=======  ===========  ===========  ===========

Per row (sample variances, ddof 1):

- row 0: IN {1, 3} -> mean 2, var 2;   OUT {2, -1} -> mean 0.5, var 4.5
- row 1: IN {2, 5} -> mean 3.5, var 4.5; OUT {0, 2} -> mean 1, var 2
- row 2: no IN shadow;  OUT {2, .5, 1.5, 1} -> mean 1.25, var 1.25 / 3 = 5/12

Global (pooled) variances: IN (2 + 4.5) / (1 + 1) = 3.25; OUT
(4.5 + 2 + 1.25) / (1 + 1 + 3) = 1.55. The average IN - OUT shift over the rows
with both is ((2 - .5) + (3.5 - 1)) / 2 = 2, so row 2's missing IN mean is
1.25 + 2 = 3.25; with per-example variances its IN variance falls back to the
global 3.25 (fewer than two IN shadows). Target confidences: 2.5, 1.0, 2.0.
"""

import math

import numpy as np
import pytest

from trustlab.privacy import (
    LiRA,
    ShadowSet,
    TargetView,
    fdmia_features,
    lira_scores,
    logit_confidence,
    loss_scores,
    make_attack,
    rmia_marginal,
    rmia_scores,
    true_class_proba,
)

PHI = np.array([[1.0, 0.0, 2.0], [3.0, 2.0, 0.5], [2.0, 5.0, 1.5], [-1.0, 2.0, 1.0]])
IN = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 0]], dtype=bool)
TARGET = np.array([2.5, 1.0, 2.0])

MU_IN = [2.0, 3.5, 3.25]
MU_OUT = [0.5, 1.0, 1.25]
VAR_IN_GLOBAL, VAR_OUT_GLOBAL = 3.25, 1.55
VAR_IN_ROW = [2.0, 4.5, 3.25]  # row 2: the global IN variance (no IN shadow)
VAR_OUT_ROW = [4.5, 2.0, 5 / 12]


def _log_gauss(x: float, mu: float, var: float) -> float:
    """Gaussian log-density without the shared -0.5 log(2 pi)."""
    return -0.5 * (math.log(var) + (x - mu) ** 2 / var)


def _online(var_in: list[float], var_out: list[float]) -> list[float]:
    return [
        _log_gauss(TARGET[i], MU_IN[i], var_in[i]) - _log_gauss(TARGET[i], MU_OUT[i], var_out[i])
        for i in range(3)
    ]


def test_lira_online_global_variance_by_hand():
    expected = _online([VAR_IN_GLOBAL] * 3, [VAR_OUT_GLOBAL] * 3)
    got = lira_scores(TARGET, PHI, IN, online=True, global_variance=True)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    # the log-variance term matters (3.25 vs 1.55): without it every score moves by
    # 0.5 log(3.25 / 1.55)
    assert abs(0.5 * math.log(VAR_IN_GLOBAL / VAR_OUT_GLOBAL)) > 0.3


def test_lira_online_per_example_variance_by_hand():
    expected = _online(VAR_IN_ROW, VAR_OUT_ROW)
    got = lira_scores(TARGET, PHI, IN, online=True, global_variance=False)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_lira_offline_by_hand():
    got_global = lira_scores(TARGET, PHI, IN, online=False, global_variance=True)
    np.testing.assert_allclose(
        got_global, [2.0 / math.sqrt(1.55), 0.0, 0.75 / math.sqrt(1.55)], rtol=1e-12, atol=1e-15
    )
    got_row = lira_scores(TARGET, PHI, IN, online=False, global_variance=False)
    np.testing.assert_allclose(
        got_row, [2.0 / math.sqrt(4.5), 0.0, 0.75 / math.sqrt(5 / 12)], rtol=1e-12, atol=1e-15
    )


def test_lira_row_without_in_shadows_uses_the_average_shift():
    """Row 2 has no IN shadow: its IN mean is its OUT mean plus the average shift (1.25 + 2)."""
    score = lira_scores(TARGET, PHI, IN, online=True, global_variance=True)[2]
    assert score == pytest.approx(
        _log_gauss(2.0, 3.25, 3.25) - _log_gauss(2.0, 1.25, 1.55), rel=1e-12
    )
    # not the score of an IN mean of 0 or of the OUT mean
    for wrong_mu in (0.0, 1.25):
        assert abs(score - (_log_gauss(2.0, wrong_mu, 3.25) - _log_gauss(2.0, 1.25, 1.55))) > 0.1


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _proba(phi: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Probabilities whose true-class logit is ``phi`` (last axis: rows)."""
    p = _sigmoid(phi)
    P = np.empty((*phi.shape, 2))
    P[..., 1] = np.where(y == 1, p, 1 - p)
    P[..., 0] = 1 - P[..., 1]
    return P


@pytest.mark.parametrize("name, online", [("lira", True), ("lira_offline", False)])
@pytest.mark.parametrize("global_variance", [True, False])
def test_lira_attack_classes_score_the_hand_example(name, online, global_variance):
    """The registry's LiRA attacks read the same numbers through ShadowSet / TargetView."""
    y_ch = np.array([1, 0, 1])
    # two pool rows (attacker's own data) for the threshold, then the three challenge rows
    pool_phi = np.array([[2.0, -1.0], [0.5, 1.0], [2.5, 0.0], [1.0, 0.5]])
    pool_in = np.array([[1, 0], [0, 1], [1, 1], [0, 0]], dtype=bool)
    y_pool = np.array([0, 1])
    phi = np.concatenate([pool_phi, PHI], axis=1)
    labels = np.concatenate([y_pool, y_ch])
    shadows = ShadowSet(
        proba={"fair": _proba(phi, labels)},
        labels=labels,
        in_mask=np.concatenate([pool_in, IN], axis=1),
        is_pool=np.array([True, True, False, False, False]),
    )
    attack = make_attack(name, "fair", global_variance=global_variance).calibrate(shadows)
    got = attack.score(TargetView(proba={"fair": _proba(TARGET, y_ch)}, labels=y_ch))
    if online:
        expected = _online(
            *(
                ([VAR_IN_GLOBAL] * 3, [VAR_OUT_GLOBAL] * 3)
                if global_variance
                else (VAR_IN_ROW, VAR_OUT_ROW)
            )
        )
    else:
        v_out = [VAR_OUT_GLOBAL] * 3 if global_variance else VAR_OUT_ROW
        expected = [(TARGET[i] - MU_OUT[i]) / math.sqrt(v_out[i]) for i in range(3)]
    np.testing.assert_allclose(got, expected, rtol=1e-7, atol=1e-7)
    assert np.isfinite(attack.threshold_)


def test_loss_and_logit_scores_by_hand():
    P = np.array([[0.2, 0.8], [0.9, 0.1], [0.0, 1.0], [0.5, 0.5]])
    y = np.array([1, 1, 0, 0])
    np.testing.assert_allclose(true_class_proba(P, y), [0.8, 0.1, 0.0, 0.5])
    # log p_y, clipped at log(1e-7) where p_y = 0
    np.testing.assert_allclose(
        loss_scores(P, y), [math.log(0.8), math.log(0.1), math.log(1e-7), math.log(0.5)], rtol=1e-12
    )
    # log(p / (1 - p)), p clipped to [1e-7, 1 - 1e-7]
    np.testing.assert_allclose(
        logit_confidence(P, y),
        [math.log(4.0), math.log(1 / 9), math.log(1e-7 / (1 - 1e-7)), 0.0],
        rtol=1e-9,
        atol=1e-12,
    )
    ones = np.array([[0.0, 1.0]])
    assert logit_confidence(ones, np.array([1]))[0] == pytest.approx(
        math.log((1 - 1e-7) / 1e-7), rel=1e-9
    )


def test_loss_attack_scores_are_log_p_of_the_true_class():
    P = np.array([[0.3, 0.7], [0.6, 0.4]])
    y = np.array([1, 1])
    got = make_attack("loss", "biased").score(TargetView(proba={"biased": P}, labels=y))
    np.testing.assert_allclose(got, [math.log(0.7), math.log(0.4)], rtol=1e-12)


def test_fdmia_features_by_hand():
    Pb = np.array([[0.2, 0.8], [0.6, 0.4]])
    Pf = np.array([[0.5, 0.5], [0.9, 0.1]])
    y = np.array([1, 0])
    f = fdmia_features(Pb, Pf, y)
    expected = [
        [0.8, 0.5, 0.3, math.log(4.0) - 0.0],
        [0.6, 0.9, -0.3, math.log(1.5) - math.log(9.0)],
    ]
    np.testing.assert_allclose(f, expected, rtol=1e-9, atol=1e-12)


def test_lira_row_without_out_shadows_and_a_single_out_shadow():
    """K = 3, two rows. Row 0: IN {1, 3} (mean 2, var 2), OUT {0.5} (one shadow: no variance);
    row 1: IN {2, 4, 6} (mean 4, var 4), no OUT shadow. The shift (rows with both) is
    2 - 0.5 = 1.5, so row 1's OUT mean is 4 - 1.5 = 2.5. Pooled IN variance (2 + 8) / (1 + 2)
    = 10/3; the OUT shadows leave no degree of freedom: the pooled OUT variance is the default 1."""
    phi = np.array([[1.0, 2.0], [3.0, 4.0], [0.5, 6.0]])
    in_mask = np.array([[1, 1], [1, 1], [0, 1]], dtype=bool)
    t = np.array([1.0, 3.0])
    online = lira_scores(t, phi, in_mask, online=True, global_variance=True)
    np.testing.assert_allclose(
        online,
        [
            _log_gauss(1.0, 2.0, 10 / 3) - _log_gauss(1.0, 0.5, 1.0),
            _log_gauss(3.0, 4.0, 10 / 3) - _log_gauss(3.0, 2.5, 1.0),
        ],
        rtol=1e-12,
    )
    np.testing.assert_allclose(lira_scores(t, phi, in_mask, online=False), [0.5, 0.5], rtol=1e-12)
    per_row = lira_scores(t, phi, in_mask, online=True, global_variance=False)
    np.testing.assert_allclose(
        per_row,
        [
            _log_gauss(1.0, 2.0, 2.0) - _log_gauss(1.0, 0.5, 1.0),
            _log_gauss(3.0, 4.0, 4.0) - _log_gauss(3.0, 2.5, 1.0),
        ],
        rtol=1e-12,
    )


def test_lira_per_example_variance_whatever_the_sum_of_confidences():
    """Row A: IN {-1, 1} (mean 0, var 2; the confidences sum to 0), OUT {2, 4} (mean 3, var 2);
    row B: IN {5, 9} (mean 7, var 8), OUT {0, 6} (mean 3, var 18). Pooled: IN 5, OUT 10."""
    phi = np.array([[-1.0, 5.0], [1.0, 9.0], [2.0, 0.0], [4.0, 6.0]])
    in_mask = np.array([[1, 1], [1, 1], [0, 0], [0, 0]], dtype=bool)
    t = np.array([1.0, 6.0])
    per_row = lira_scores(t, phi, in_mask, online=True, global_variance=False)
    expected = [
        _log_gauss(1.0, 0.0, 2.0) - _log_gauss(1.0, 3.0, 2.0),
        _log_gauss(6.0, 7.0, 8.0) - _log_gauss(6.0, 3.0, 18.0),
    ]
    np.testing.assert_allclose(per_row, expected, rtol=1e-12)
    pooled = [
        _log_gauss(1.0, 0.0, 5.0) - _log_gauss(1.0, 3.0, 10.0),
        _log_gauss(6.0, 7.0, 5.0) - _log_gauss(6.0, 3.0, 10.0),
    ]
    np.testing.assert_allclose(lira_scores(t, phi, in_mask, online=True), pooled, rtol=1e-12)
    # a 0/1 integer mask means the same as a boolean one
    np.testing.assert_allclose(
        lira_scores(t, phi, in_mask.astype(int), online=True, global_variance=False),
        expected,
        rtol=1e-12,
    )


def test_lira_defaults_are_online_with_global_variance():
    expected = _online([VAR_IN_GLOBAL] * 3, [VAR_OUT_GLOBAL] * 3)
    np.testing.assert_allclose(lira_scores(TARGET, PHI, IN), expected, rtol=1e-12)
    np.testing.assert_allclose(LiRA(PHI, IN).score(TARGET), expected, rtol=1e-12)
    np.testing.assert_allclose(
        LiRA(PHI, IN, global_variance=False).score(TARGET),
        _online(VAR_IN_ROW, VAR_OUT_ROW),
        rtol=1e-12,
    )


def test_lira_variance_floor():
    """IN {0.4, 0.6}: mean .5, var .02 (below 1, kept); OUT {0.5, 0.5}: var 0, floored at 1e-6."""
    phi = np.array([[0.4], [0.6], [0.5], [0.5]])
    in_mask = np.array([[1], [1], [0], [0]], dtype=bool)
    t = np.array([0.5005])
    assert lira_scores(t, phi, in_mask, online=False)[0] == pytest.approx(0.5, rel=1e-6)
    expected = _log_gauss(0.5005, 0.5, 0.02) - _log_gauss(0.5005, 0.5, 1e-6)
    for gv in (True, False):
        got = lira_scores(t, phi, in_mask, online=True, global_variance=gv)[0]
        assert got == pytest.approx(expected, rel=1e-9)


def test_lira_without_any_in_shadow():
    """No IN shadow anywhere: no shift (IN mean = OUT mean .5) and the default IN variance 1;
    OUT {0.4, 0.6}: var .02."""
    phi = np.array([[0.4], [0.6]])
    got = lira_scores(np.array([0.7]), phi, np.zeros((2, 1), dtype=bool), online=True)[0]
    assert got == pytest.approx(_log_gauss(0.7, 0.5, 1.0) - _log_gauss(0.7, 0.5, 0.02), rel=1e-12)


def test_lira_shapes_must_match():
    from trustlab import DataError

    with pytest.raises(DataError):
        lira_scores(TARGET, PHI, IN[:, :2])
    with pytest.raises(DataError):
        true_class_proba(np.array([[0.2, 0.8], [0.5, 0.5], [0.1, 0.9]]), np.array([1, 0]))
    with pytest.raises(DataError):
        true_class_proba(np.array([0.2, 0.8]), np.array([1, 0]))
    with pytest.raises(DataError):
        lira_scores(TARGET, PHI[0], IN[0])


def test_lira_default_variance_is_global_below_64_shadows():
    y_ch = np.array([1, 0, 1])
    labels = np.concatenate([[0, 1], y_ch])
    phi = np.concatenate([np.array([[2.0, -1.0], [0.5, 1.0], [2.5, 0.0], [1.0, 0.5]]), PHI], axis=1)
    in_mask = np.concatenate([np.array([[1, 0], [0, 1], [1, 1], [0, 0]], dtype=bool), IN], axis=1)
    shadows = ShadowSet(
        proba={"fair": _proba(phi, labels)},
        labels=labels,
        in_mask=in_mask,
        is_pool=np.array([True, True, False, False, False]),
    )
    got = (
        make_attack("lira", "fair")
        .calibrate(shadows)
        .score(TargetView(proba={"fair": _proba(TARGET, y_ch)}, labels=y_ch))
    )
    np.testing.assert_allclose(got, _online([VAR_IN_GLOBAL] * 3, [VAR_OUT_GLOBAL] * 3), rtol=1e-7)


def test_rmia_marginal_by_hand():
    """Three references, four rows (IN marked). Row 0: IN {.8}, OUT {.6, .2} -> means .8 / .4;
    row 1: no IN, OUT {.9, .7, .5} -> mean .7; row 2: all IN {.6, .9, .3} -> mean .6; row 3:
    IN {.5, .7}, one OUT {.4} -> means .6 / .4. Row 2's OUT mean is its IN mean times the average
    OUT/IN ratio of the rows with both ((.4 / .8 + .4 / .6) / 2 = 7/12): .35.
    Offline, a = .4: 0.5 * (1.4 * out + .6); online: the mean of IN and OUT where a row has IN."""
    p_ref = np.array([[0.8, 0.9, 0.6, 0.5], [0.6, 0.7, 0.9, 0.7], [0.2, 0.5, 0.3, 0.4]])
    in_ref = np.array([[1, 0, 1, 1], [0, 0, 1, 1], [0, 0, 1, 0]], dtype=bool)
    out = [0.4, 0.7, 0.35, 0.4]
    offline = rmia_marginal(p_ref, in_ref, a=0.4, online=False)
    np.testing.assert_allclose(offline, [0.5 * (1.4 * o + 0.6) for o in out], rtol=1e-12)
    online = rmia_marginal(p_ref, in_ref, a=0.4, online=True)
    np.testing.assert_allclose(online, [0.6, 0.5 * (1.4 * 0.7 + 0.6), 0.475, 0.5], rtol=1e-12)
    # a = 1: Pr(x) is the OUT mean itself; a = 0: halfway between it and 1
    np.testing.assert_allclose(rmia_marginal(p_ref, in_ref, a=1.0, online=False), out, rtol=1e-12)
    np.testing.assert_allclose(
        rmia_marginal(p_ref, in_ref, a=0.0, online=False), [0.7, 0.85, 0.675, 0.7], rtol=1e-12
    )
    # a 0/1 integer design means the same
    np.testing.assert_allclose(rmia_marginal(p_ref, in_ref.astype(int), a=0.4, online=True), online)


def test_rmia_marginal_when_every_reference_trained_on_every_row():
    """No row has an OUT reference, none has both: the OUT mean is the IN mean (ratio 1)."""
    p_ref = np.array([[0.8, 0.3], [0.6, 0.5]])
    got = rmia_marginal(p_ref, np.ones((2, 2), dtype=bool), a=0.4, online=False)
    np.testing.assert_allclose(got, [0.5 * (1.4 * 0.7 + 0.6), 0.5 * (1.4 * 0.4 + 0.6)], rtol=1e-12)


def test_rmia_scores_by_hand():
    """LR(x, z) = (p_x / Pr(x)) / (p_z / Pr(z)): x ratios [1.5, .5]; z ratios [1, 2, .5, .75]."""
    p_x, pr_x = np.array([0.9, 0.3]), np.array([0.6, 0.6])
    p_z, pr_z = np.array([0.5, 0.8, 0.2, 0.6]), np.array([0.5, 0.4, 0.4, 0.8])
    # gamma 1: z ratios <= 1.5 -> 3 of 4; <= .5 -> 1 of 4 (a tie counts)
    np.testing.assert_allclose(rmia_scores(p_x, pr_x, p_z, pr_z, 1.0), [0.75, 0.25])
    # gamma 2: <= .75 -> 2 of 4; <= .25 -> none
    np.testing.assert_allclose(rmia_scores(p_x, pr_x, p_z, pr_z, 2.0), [0.5, 0.0])
    from trustlab import ConfigError

    for bad in (0.0, -1.0):
        with pytest.raises(ConfigError):
            rmia_scores(p_x, pr_x, p_z, pr_z, bad)
