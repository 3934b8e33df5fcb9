"""The calibrated detector on toy norms: per-label index against clean references, the FPR."""

from __future__ import annotations

import numpy as np
import pytest

from trustlab import ConfigError
from trustlab.backdoor import calibrate, calibrated_index

# a "clean" norm profile: labels differ a lot from each other (like digits 1 vs 0)
BASE = np.array([90.0, 30.0, 50.0, 60.0, 100.0, 65.0, 65.0, 55.0, 75.0, 90.0])


def _references(n, seed=0, noise=0.05):
    rng = np.random.default_rng(seed)
    return BASE * np.exp(rng.normal(0, noise, size=(n, len(BASE))))


def test_index_by_hand_two_references():
    ref = np.array([[10.0, 20.0, 40.0], [20.0, 20.0, 20.0]])
    norms = np.array([10.0, 40.0, 40.0])
    # profiles (log minus median log): ref0 [-ln2, 0, ln2], ref1 [0, 0, 0]; centre [-ln2/2, 0, ln2/2]
    # pooled spread: sqrt(sum of squared deviations / ((N-1) L)) = sqrt(4 (ln2/2)^2 / 3)
    ln2 = np.log(2)
    spread = np.sqrt(4 * (ln2 / 2) ** 2 / 3)
    prof = np.log(norms) - np.log(40.0)  # [-2 ln2, 0, 0]
    centre = np.array([-ln2 / 2, 0, ln2 / 2])
    index, c, s = calibrated_index(norms, ref)
    assert s == pytest.approx(spread)
    np.testing.assert_allclose(c, centre)
    np.testing.assert_allclose(index, (centre - prof) / spread)


def test_small_label_that_is_normal_for_its_class_is_not_flagged():
    """Label 1 has a small mask on every model: the MAD rule flags it, calibration does not."""
    from trustlab.backdoor import flag_outliers, mad_anomaly_index

    ref = _references(3)
    scanned = _references(1, seed=9)[0]
    assert calibrate(scanned, ref).flagged == []
    scanned[1] = 15.0  # half its size on clean models: suspicious for this label
    assert calibrate(scanned, ref).flagged == [1]
    low = BASE.copy()
    low[1] = 18.0  # a clean-looking profile with a naturally small label
    assert flag_outliers(low, mad_anomaly_index(low)).tolist() == [1]  # MAD flags it
    assert calibrate(low, np.vstack([low * 1.02, low * 0.97, low])).flagged == []


def test_planted_outlier_flagged_exactly():
    ref = _references(3)
    scanned = _references(1, seed=5)[0]
    scanned[3] = 12.0  # target mask 5x smaller than on clean models
    cal = calibrate(scanned, ref)
    assert cal.flagged == [3]
    assert cal.index[3] > 10 and np.delete(cal.index, 3).max() < 3
    js = cal.to_json()
    assert js["flagged"] == [3] and js["references"] == 3
    assert set(js["false_positive_rate"]) == {"mad_rule_on_references",
                                              "calibrated_rule_leave_one_out"}  # fmt: skip


def test_false_positive_rate_on_references():
    ref = _references(4, noise=0.02)
    ref[2, 1] = 3.0  # one "clean" reference with an extreme small label
    cal = calibrate(ref[0], ref)
    assert cal.reference_mad_fpr == pytest.approx(1 / 4)
    # leave-one-out: reference 2 against the other three is flagged, the others are not
    assert cal.reference_calibrated_fpr == pytest.approx(1 / 4)


def test_single_reference_uses_the_spread_across_labels():
    ref = _references(1)
    cal = calibrate(ref[0], ref)
    assert cal.n_references == 1 and cal.reference_calibrated_fpr is None
    np.testing.assert_allclose(cal.index, 0, atol=1e-9)
    prof = np.log(ref[0]) - np.median(np.log(ref[0]))
    assert cal.spread == pytest.approx(1.4826 * np.median(np.abs(prof - np.median(prof))))


def test_labels_and_scale_invariance():
    ref = _references(3)
    scanned = ref[0] * 7.0  # same profile, 7x the scale
    cal = calibrate(scanned, ref, labels=list(range(10, 20)))
    assert cal.flagged == []
    np.testing.assert_allclose(cal.index, calibrate(ref[0], ref).index, atol=1e-9)
    scanned[4] /= 10
    assert calibrate(scanned, ref, labels=list(range(10, 20))).flagged == [14]


@pytest.mark.parametrize(
    ("norms", "refs", "match"),
    [(BASE, np.zeros((0, 10)), "at least one clean reference"),
     (BASE, np.ones((2, 9)), "9 labels"),
     (BASE[:1], np.ones((2, 1)), "at least two labels"),
     (BASE, -np.ones((2, 10)), "non-negative"),
     (np.full(10, np.nan), np.ones((2, 10)), "finite")],
)  # fmt: skip
def test_bad_input(norms, refs, match):
    with pytest.raises(ConfigError, match=match):
        calibrate(norms, refs)
