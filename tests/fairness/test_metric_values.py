"""``evaluate`` and ``per_value_groups`` on a 9-row, three-valued example worked out by hand.

=====  ==========  ==========  ======  ======  =====  =====  =====
value  y           y_hat       sel     acc     TPR    FPR    FNR
=====  ==========  ==========  ======  ======  =====  =====  =====
w (4)  1 1 0 0     1 0 1 0     1/2     1/2     1/2    1/2    1/2
b (3)  1 0 0       1 1 0       2/3     2/3     1      1/2    0
a (2)  1 0         0 0         0       1/2     0      0      1
=====  ==========  ==========  ======  ======  =====  =====  =====

Privileged value ``b``: the unprivileged group is w and a together (6 rows: selection 2/6,
TPR 1/3, FPR 1/3).
"""

import math

import numpy as np
import pytest

from trustlab import LearnerError
from trustlab.fairness import check_predictions, evaluate, group_rates, per_value_groups

S = np.array(["w", "w", "w", "w", "b", "b", "b", "a", "a"])
Y = np.array([1, 1, 0, 0, 1, 0, 0, 1, 0])
P = np.array([1, 0, 1, 0, 1, 1, 0, 0, 0])


def test_per_value_rates_and_worst_pairs_by_hand():
    out = per_value_groups(Y, P, S, "b")
    assert out["reference"] == "b"
    assert list(out["by_value"]) == ["b", "w", "a"]  # the reference, then the largest group first
    w, b, a = out["by_value"]["w"], out["by_value"]["b"], out["by_value"]["a"]
    assert [w["n"], b["n"], a["n"]] == [4, 3, 2]
    assert [w["selection_rate"], b["selection_rate"], a["selection_rate"]] == pytest.approx(
        [0.5, 2 / 3, 0.0]
    )
    assert [w["accuracy"], b["accuracy"], a["accuracy"]] == pytest.approx([0.5, 2 / 3, 0.5])
    assert [w["tpr"], b["tpr"], a["tpr"]] == pytest.approx([0.5, 1.0, 0.0])
    assert [w["fpr"], b["fpr"], a["fpr"]] == pytest.approx([0.5, 0.5, 0.0])
    assert [w["fnr"], b["fnr"], a["fnr"]] == pytest.approx([0.5, 0.0, 1.0])
    worst = out["worst_pair"]
    assert worst["selection_rate"]["gap"] == pytest.approx(2 / 3) and worst["selection_rate"][
        "groups"
    ] == ["b", "a"]
    assert worst["tpr"]["gap"] == pytest.approx(1.0) and worst["tpr"]["groups"] == ["b", "a"]
    assert worst["fnr"]["gap"] == pytest.approx(1.0) and worst["fnr"]["groups"] == ["a", "b"]
    assert worst["fpr"]["gap"] == pytest.approx(0.5) and worst["fpr"]["groups"][1] == "a"
    assert (
        worst["accuracy"]["gap"] == pytest.approx(2 / 3 - 0.5)
        and worst["accuracy"]["groups"][0] == "b"
    )


def test_evaluate_by_hand_with_three_values():
    out = evaluate(Y, P, sensitive_features=S, privileged="b")
    assert out["overall"]["accuracy"] == pytest.approx(5 / 9)
    # TPR 2/4, TNR 3/5
    assert out["overall"]["balanced_accuracy"] == pytest.approx((0.5 + 0.6) / 2)
    assert list(out["by_group"]) == ["b", "not b"]
    assert out["by_group"]["not b"] == pytest.approx(
        {
            "n": 6,
            "selection_rate": 2 / 6,
            "accuracy": 3 / 6,
            "tpr": 1 / 3,
            "fpr": 1 / 3,
            "fnr": 2 / 3,
        }
    )
    f = out["fairness"]
    assert f["statistical_parity_difference"] == pytest.approx(2 / 3 - 1 / 3)
    assert f["disparate_impact"] == pytest.approx((1 / 3) / (2 / 3))
    assert f["equal_opportunity_difference"] == pytest.approx(1 - 1 / 3)
    assert f["fpr_difference"] == pytest.approx(0.5 - 1 / 3)
    assert f["fnr_difference"] == pytest.approx(0 - 2 / 3)
    assert f["equalized_odds_difference"] == pytest.approx(2 / 3)
    # three values: every value's rates are reported too
    assert out["groups"] == per_value_groups(Y, P, S, "b")
    # every group is below 30 rows: one warning each, the shared one ('b') once
    assert len(out["warnings"]) == 4
    assert sum("'a' has 2 rows" in w for w in out["warnings"]) == 1
    assert sum("'not b' has 6 rows" in w for w in out["warnings"]) == 1


def test_binary_attribute_has_no_per_value_block_and_named_groups():
    s = np.where(S == "b", "b", "w")
    out = evaluate(Y, P, sensitive_features=s, privileged="w")
    assert "groups" not in out
    assert list(out["by_group"]) == ["w", "b"]
    assert out["by_group"]["w"]["n"] == 6
    names = evaluate(
        Y,
        P,
        sensitive_features=s,
        privileged="w",
        group_names={"privileged": "P", "unprivileged": "U"},
    )
    assert list(names["by_group"]) == ["P", "U"]


def test_one_label_only():
    y = np.ones(9, dtype=int)
    out = evaluate(y, P, sensitive_features=S, privileged="b")
    assert math.isnan(out["overall"]["balanced_accuracy"])
    assert math.isnan(out["fairness"]["fpr_difference"])
    # the TPR gap alone decides equalized odds when the FPR is undefined
    assert out["fairness"]["equalized_odds_difference"] == pytest.approx(
        abs(out["fairness"]["equal_opportunity_difference"])
    )
    assert any("no negative rows" in w and "FPR" in w for w in out["warnings"])


def test_equalized_odds_undefined_when_both_gaps_are():
    # privileged rows are all positive (no FPR), unprivileged all negative (no TPR)
    s = np.array(["p", "p", "u", "u"])
    out = evaluate(
        np.array([1, 1, 0, 0]), np.array([1, 0, 0, 1]), sensitive_features=s, privileged="p"
    )
    assert math.isnan(out["fairness"]["equalized_odds_difference"])
    assert out["fairness"]["statistical_parity_difference"] == pytest.approx(0.0)


def test_group_rates_table_order_and_counts():
    t = group_rates(Y, P, sensitive_features=S, privileged="a")
    assert list(t.index) == ["privileged", "unprivileged"]
    assert t["n"].tolist() == [2, 7]
    assert t.loc["privileged", "accuracy"] == pytest.approx(0.5)


def test_boolean_predictions_are_labels():
    assert check_predictions(np.array([True, False, True])).tolist() == [1, 0, 1]
    assert check_predictions([1.0, 0.0]).tolist() == [1, 0]
    assert evaluate(Y, P.astype(bool), sensitive_features=S, privileged="b") == evaluate(
        Y, P, sensitive_features=S, privileged="b"
    )
    for bad in (["yes", "no"], [0, 2], [0.5, 1.0]):
        with pytest.raises(LearnerError):
            check_predictions(bad)


def test_direction_of_disparate_impact_and_equalized_odds_by_hand():
    from trustlab.fairness import get_metric

    di = get_metric("di")
    # DI = rate_u / rate_p: above 1 the unprivileged group has the higher rate
    assert di.direction({"disparate_impact": 1.25}) == -1
    assert di.direction({"disparate_impact": 1.9}) == -1
    assert di.direction({"disparate_impact": 0.8}) == 1
    assert di.unfairness({"disparate_impact": 1.25}) == pytest.approx(0.25)
    eo = get_metric("equalized_odds")
    block = {"equalized_odds_difference": 0.1}
    # a TPR gap of exactly 0: the FPR gap decides
    assert (
        eo.direction({**block, "equal_opportunity_difference": 0.0, "fpr_difference": -0.1}) == -1
    )
    assert (
        eo.direction({**block, "equal_opportunity_difference": -0.2, "fpr_difference": 0.0}) == -1
    )
    # equal sizes: the TPR gap decides
    assert eo.direction({**block, "equal_opportunity_difference": 0.1, "fpr_difference": -0.1}) == 1
    assert (
        eo.direction({**block, "equal_opportunity_difference": -0.1, "fpr_difference": 0.1}) == -1
    )


def test_predictions_and_counts_are_integers():
    assert check_predictions(np.array([True, False])).dtype.kind == "i"
    assert check_predictions(np.array([1.0, 0.0])).dtype.kind == "i"
    t = group_rates(Y, P, sensitive_features=S, privileged="a")
    assert list(t.columns) == ["n", "selection_rate", "accuracy", "tpr", "fpr", "fnr"]
    assert t["n"].dtype.kind == "i"


def test_disparate_impact_is_undefined_when_the_privileged_group_is_never_selected():
    from trustlab.fairness import disparate_impact

    s = np.array(["p", "p", "u", "u"])
    y, pred = np.array([1, 0, 1, 0]), np.array([0, 0, 1, 0])
    assert math.isnan(disparate_impact(y, pred, sensitive_features=s, privileged="p"))
    out = evaluate(y, pred, sensitive_features=s, privileged="p")
    assert math.isnan(out["fairness"]["disparate_impact"])
    assert out["fairness"]["statistical_parity_difference"] == pytest.approx(-0.5)


def test_worst_pair_of_a_rate_defined_for_one_value_only():
    """c has no positive rows (TPR/FNR defined for a and b), b no negative rows (FPR for a and c)."""
    s = np.array(["a", "a", "a", "b", "b", "c", "c"])
    y = np.array([1, 0, 0, 1, 1, 0, 0])
    p = np.array([1, 1, 0, 0, 1, 0, 1])
    out = per_value_groups(y, p, s, "a")["worst_pair"]
    # TPR: a 1, b 1/2 -> gap 1/2; FNR: a 0, b 1/2; FPR: a 1/2, c 1/2 -> gap 0
    assert out["tpr"] == {"gap": pytest.approx(0.5), "groups": ["a", "b"]}
    assert out["fnr"] == {"gap": pytest.approx(0.5), "groups": ["b", "a"]}
    assert out["fpr"]["gap"] == pytest.approx(0.0)
    only = per_value_groups(
        np.array([1, 0, 0, 0]), np.array([1, 0, 1, 0]), np.array(["a", "a", "b", "b"]), "a"
    )
    # b has no positives: TPR and FNR are defined for a only -> no pair; the later rates still are
    assert (
        math.isnan(only["worst_pair"]["tpr"]["gap"]) and only["worst_pair"]["tpr"]["groups"] == []
    )
    assert only["worst_pair"]["fnr"]["groups"] == []
    assert only["worst_pair"]["fpr"] == {"gap": pytest.approx(0.5), "groups": ["b", "a"]}
