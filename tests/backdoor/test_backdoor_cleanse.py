"""MAD anomaly index on hand-made norms; batched Neural Cleanse on a tiny planted backdoor."""

from __future__ import annotations

import numpy as np
import pytest

from trustlab import ConfigError
from trustlab.backdoor import (
    MAD_CONSISTENCY,
    flag_outliers,
    mad_anomaly_index,
    neural_cleanse,
)

TARGET = 3


def test_mad_index_by_hand():
    norms = np.array([20, 21, 19, 22, 18, 20, 23, 17, 20, 5], float)
    # median 20; |dev| sorted 0 0 0 1 1 2 2 3 3 15 -> MAD 1.5; scaled 1.4826 * 1.5
    index = mad_anomaly_index(norms)
    scale = 1.4826 * 1.5
    assert MAD_CONSISTENCY == 1.4826
    np.testing.assert_allclose(index, np.abs(norms - 20) / scale)
    assert index[9] == pytest.approx(15 / scale)  # 6.745
    assert flag_outliers(norms, index).tolist() == [9]


def test_only_small_norms_are_flagged_and_threshold_is_strict():
    norms = np.array([20, 21, 19, 22, 18, 20, 23, 17, 20, 35], float)
    index = mad_anomaly_index(norms)
    assert index[9] > 2 and flag_outliers(norms, index).size == 0  # large norm: not a trigger
    exact = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert flag_outliers(exact, np.array([0, 0, 0, 0, 2.0])).size == 0
    assert flag_outliers(exact, np.array([2.0001, 0, 0, 0, 0])).tolist() == [0]


def test_mad_zero_and_bad_input():
    index = mad_anomaly_index(np.array([5.0, 5, 5, 5, 1]))
    assert index[:4].tolist() == [0, 0, 0, 0] and np.isinf(index[4])
    with pytest.raises(ConfigError):
        mad_anomaly_index(np.array([1.0]))


def test_scan_finds_the_planted_backdoor(infected, infected_scan, trigger):
    assert infected.report["asr"] > 0.7  # the backdoor is really there
    scan = infected_scan
    assert scan.flagged == [TARGET]
    i = scan.labels.index(TARGET)
    assert scan.anomaly_index[i] > 2
    assert scan.l1_norms[i] == scan.l1_norms.min()
    assert scan.reached[i] and scan.asr[i] >= 0.9
    # the reversed trigger writes its bright pixels where the real one is: >= 70% of the
    # mask x pattern mass lies within one pixel of the real bottom-right 2x2 square
    bright = scan.masks[i] * scan.patterns[i, 0]
    assert bright[5:, 5:].sum() / bright.sum() >= 0.7
    assert scan.masks[i].sum() < 2 * trigger.l1_norm
    js = scan.to_json()
    assert set(js) >= {"labels", "anomaly_index", "flagged", "seconds"}
    assert set(js["labels"]["3"]) >= {"l1_norm", "asr"}
    assert js["flagged"] == [TARGET] and js["seconds"] > 0


def test_batched_labels_are_independent_problems(infected, digits_split, scan_options):
    """Scanning [3, 5] or [3, 8] gives label 3 the same trigger: labels do not interact."""
    kw = {**scan_options, "steps": 8, "early_stop": False, "seed": 1}
    val = digits_split.val
    a = neural_cleanse(infected.model, val.images, val.labels, n_classes=10, candidates=[3, 5], **kw)
    b = neural_cleanse(infected.model, val.images, val.labels, n_classes=10, candidates=[3, 8], **kw)
    np.testing.assert_allclose(a.masks[0], b.masks[0], atol=1e-4)
    assert a.l1_norms[0] == pytest.approx(b.l1_norms[0], abs=1e-2)
    assert not np.allclose(a.masks[1], b.masks[1], atol=1e-3)


def test_scan_is_deterministic(infected, digits_split, scan_options):
    kw = {**scan_options, "steps": 4, "seed": 2}
    val = digits_split.val
    a = neural_cleanse(infected.model, val.images, val.labels, n_classes=10, candidates=[0, 1], **kw)
    b = neural_cleanse(infected.model, val.images, val.labels, n_classes=10, candidates=[0, 1], **kw)
    np.testing.assert_array_equal(a.masks, b.masks)


def test_scan_rejects_bad_options(infected, digits_split):
    val = digits_split.val
    with pytest.raises(ConfigError, match="candidate"):
        neural_cleanse(infected.model, val.images, n_classes=10, candidates=[0, 10])
    with pytest.raises(ConfigError, match="at least two"):
        neural_cleanse(infected.model, val.images, n_classes=10, candidates=[3])
    with pytest.raises(ConfigError, match="steps"):
        neural_cleanse(infected.model, val.images, n_classes=10, steps=0)


def test_elimination_keeps_the_obvious_outlier(infected, infected_scan, digits_split, scan_options):
    """K-Arm-style elimination stops non-outliers early but runs the target to the end."""
    val = digits_split.val
    kw = {**scan_options, "early_stop": False, "seed": 0}
    full = neural_cleanse(infected.model, val.images, val.labels, n_classes=10, **kw)
    fast = neural_cleanse(infected.model, val.images, val.labels, n_classes=10, eliminate=True,
                          warmup=5, **kw)  # fmt: skip
    i = fast.labels.index(TARGET)
    assert fast.flagged == full.flagged == [TARGET]
    assert not fast.eliminated[i] and fast.steps[i] == kw["steps"]  # the outlier ran in full
    assert fast.eliminated.sum() >= 5  # most labels stopped early ...
    assert fast.steps.sum() < 0.8 * full.steps.sum()  # ... which saves work
    assert (fast.steps[fast.eliminated] < kw["steps"]).all()
    # a stopped label keeps its best mask: its norm is the full scan's norm at that step
    j = int(np.flatnonzero(fast.eliminated)[0])
    assert fast.l1_norms[j] == pytest.approx(full.norm_history[fast.steps[j] - 1, j], rel=0.05)
    assert fast.to_json()["labels"][str(fast.labels[j])]["eliminated"] is True
    assert full.eliminated.sum() == 0 and full.config["eliminate"] is False


def test_elimination_bad_options(infected, digits_split):
    val = digits_split.val
    with pytest.raises(ConfigError, match="warmup"):
        neural_cleanse(infected.model, val.images, n_classes=10, eliminate=True, warmup=0)
