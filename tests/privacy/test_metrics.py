import numpy as np
import pytest

from trustlab import DataError
from trustlab.privacy import attack_metrics, best_threshold, tpr_at_fpr


def test_tpr_at_fpr_matches_hand_computed_roc():
    # 4 members, 5 non-members; scores sorted: 0.9 m, 0.8 n, 0.7 m, 0.6 m, 0.5 n, 0.4 n, 0.3 m, 0.2 n, 0.1 n
    m = np.array([1, 0, 1, 1, 0, 0, 1, 0, 0])
    s = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1])
    # ROC points (fpr, tpr): (0,0) (0,.25) (.2,.25) (.2,.5) (.2,.75) (.4,.75) (.6,.75) (.6,1) ...
    assert tpr_at_fpr(m, s, 0.0) == pytest.approx(0.25)
    assert tpr_at_fpr(m, s, 0.1) == pytest.approx(0.25)
    assert tpr_at_fpr(m, s, 0.2) == pytest.approx(0.75)
    assert tpr_at_fpr(m, s, 0.5) == pytest.approx(0.75)
    assert tpr_at_fpr(m, s, 0.6) == pytest.approx(1.0)


def test_tpr_at_fpr_ties_move_together():
    m = np.array([1, 1, 0, 0])
    s = np.array([1.0, 1.0, 1.0, 0.0])  # a member-nonmember tie at the top: no point with FPR 0 and TPR > 0
    assert tpr_at_fpr(m, s, 0.01) == 0.0
    assert tpr_at_fpr(m, s, 0.5) == 1.0


def test_attack_metrics_fields_and_groups():
    m = np.array([1, 1, 1, 0, 0, 0, 1, 0])
    s = np.array([5, 4, 3, 2, 1, 0, 0.5, 6.0])
    g = np.array(["a", "a", "a", "a", "b", "b", "b", "b"])
    out = attack_metrics(m, s, threshold=2.5, groups=g)
    assert out["auc"] == pytest.approx(10 / 16)
    # at threshold 2.5: members 5,4,3 flagged (3/4), non-members 6 flagged (3/4 correct)
    assert out["balanced_accuracy"] == pytest.approx(0.75)
    assert out["by_group"]["a"]["auc"] == 1.0
    assert out["by_group"]["b"]["auc"] == pytest.approx(1 / 3)
    assert set(out) >= {"tpr_at_1pct_fpr", "tpr_at_0_1pct_fpr", "n_members", "n_nonmembers"}


def test_best_threshold_separates():
    m = np.array([0, 0, 1, 1])
    assert best_threshold(m, [0.1, 0.2, 0.8, 0.9]) == pytest.approx(0.8)


def test_metrics_reject_bad_input():
    with pytest.raises(DataError):
        attack_metrics([1, 1], [0.2, 0.3])
    with pytest.raises(DataError):
        attack_metrics([1, 0], [0.2, np.nan])
