"""Metrics against values computed by hand on a 10-row example."""

import numpy as np
import pytest
from fairlearn.metrics import demographic_parity_difference
from fairlearn.metrics import equalized_odds_difference as fl_eod

from trustlab import DataError
from trustlab.fairness import (
    bootstrap_ci,
    disparate_impact,
    equal_opportunity_difference,
    equalized_odds_difference,
    evaluate,
    fnr_difference,
    fpr_difference,
    statistical_parity_difference,
)

# privileged "m": rows 0-4, unprivileged "f": rows 5-9
S = np.array(["m"] * 5 + ["f"] * 5)
Y = np.array([1, 1, 1, 0, 0, 1, 1, 0, 0, 0])
P = np.array([1, 1, 0, 1, 0, 1, 0, 0, 0, 1])
# m: selection 3/5; TPR 2/3; FPR 1/2; FNR 1/3.  f: selection 2/5; TPR 1/2; FPR 1/3; FNR 1/2
KW = {"sensitive_features": S, "privileged": "m"}


def test_hand_computed_values():
    assert statistical_parity_difference(Y, P, **KW) == pytest.approx(3 / 5 - 2 / 5)
    assert disparate_impact(Y, P, **KW) == pytest.approx((2 / 5) / (3 / 5))
    assert equal_opportunity_difference(Y, P, **KW) == pytest.approx(2 / 3 - 1 / 2)
    assert fpr_difference(Y, P, **KW) == pytest.approx(1 / 2 - 1 / 3)
    assert fnr_difference(Y, P, **KW) == pytest.approx(1 / 3 - 1 / 2)
    assert equalized_odds_difference(Y, P, **KW) == pytest.approx(max(1 / 6, 1 / 6))


def test_sign_follows_privileged_choice():
    flipped = statistical_parity_difference(Y, P, sensitive_features=S, privileged="f")
    assert flipped == pytest.approx(-0.2)


def test_agrees_with_fairlearn_in_magnitude():
    rng = np.random.default_rng(0)
    s = rng.choice(["a", "b"], 500)
    y = rng.integers(0, 2, 500)
    p = rng.integers(0, 2, 500)
    kw = {"sensitive_features": s, "privileged": "a"}
    assert abs(statistical_parity_difference(y, p, **kw)) == pytest.approx(
        demographic_parity_difference(y, p, sensitive_features=s)
    )
    assert equalized_odds_difference(y, p, **kw) == pytest.approx(fl_eod(y, p, sensitive_features=s))


def test_multivalued_attribute_is_privileged_vs_rest():
    s = np.array(["w", "w", "b", "a", "b", "a"])
    y = np.array([1, 0, 1, 0, 1, 0])
    p = np.array([1, 1, 0, 0, 1, 0])
    out = evaluate(y, p, sensitive_features=s, privileged="w")
    assert set(out["by_group"]) == {"w", "not w"}
    assert out["by_group"]["not w"]["n"] == 4
    assert out["fairness"]["statistical_parity_difference"] == pytest.approx(1.0 - 0.25)
    groups = out["groups"]
    assert groups["reference"] == "w" and list(groups["by_value"])[0] == "w"
    assert groups["by_value"]["b"]["selection_rate"] == 0.5
    assert groups["by_value"]["a"]["selection_rate"] == 0.0
    assert groups["worst_pair"]["selection_rate"] == {"gap": 1.0, "groups": ["w", "a"]}
    assert groups["worst_pair"]["tpr"] == {"gap": 0.5, "groups": ["w", "b"]}  # "a" has no positives
    assert any("'a'" in w and "TPR" in w for w in out["warnings"])
    assert any("fewer than 30" in w for w in out["warnings"])


@pytest.mark.parametrize("pred", [[0.2, 0.9, 0.1, 0.7], [2, 1, 2, 1], ["yes", "no", "yes", "no"]])
def test_predictions_that_are_not_0_1_labels_are_refused(pred):
    from trustlab import LearnerError

    with pytest.raises(LearnerError, match="not"):
        evaluate([0, 1, 0, 1], pred, sensitive_features=["a", "a", "b", "b"], privileged="a")


def test_large_groups_have_no_warning():
    rng = np.random.default_rng(0)
    s = rng.choice(["a", "b"], 200)
    y = rng.integers(0, 2, 200)
    out = evaluate(y, y, sensitive_features=s, privileged="a")
    assert "warnings" not in out


def test_evaluate_schema_and_group_table():
    out = evaluate(Y, P, **KW)
    assert out["overall"]["accuracy"] == pytest.approx(6 / 10)
    assert out["overall"]["balanced_accuracy"] == pytest.approx((3 / 5 + 3 / 5) / 2)
    assert out["by_group"]["m"] == {"n": 5, "selection_rate": 0.6, "accuracy": 0.6,
                                    "tpr": pytest.approx(2 / 3), "fpr": 0.5,
                                    "fnr": pytest.approx(1 / 3)}  # fmt: skip
    assert "groups" not in out  # two values: by_group is the whole story
    assert list(out["fairness"]) == [
        "statistical_parity_difference", "disparate_impact", "equalized_odds_difference",
        "equal_opportunity_difference", "fpr_difference", "fnr_difference",
    ]  # fmt: skip


def test_empty_rate_is_nan_not_zero():
    y = np.array([0, 0, 1, 1])  # privileged group "m" has no positives
    s = np.array(["m", "m", "f", "f"])
    p = np.array([0, 1, 1, 0])
    assert np.isnan(equal_opportunity_difference(y, p, sensitive_features=s, privileged="m"))


def test_one_group_is_an_error():
    with pytest.raises(DataError, match="unprivileged group is empty"):
        statistical_parity_difference(Y, P, sensitive_features=["m"] * 10, privileged="m")
    with pytest.raises(DataError, match="differ in length"):
        statistical_parity_difference(Y[:3], P, **KW)


def test_bootstrap_ci_brackets_estimate_and_is_seeded():
    rng = np.random.default_rng(1)
    s = rng.choice(["a", "b"], 400)
    y = rng.integers(0, 2, 400)
    p = (rng.random(400) < np.where(s == "a", 0.6, 0.4)).astype(int)
    est, lo, hi = bootstrap_ci(statistical_parity_difference, y, p, sensitive_features=s,
                               privileged="a", n_boot=30, random_state=0)  # fmt: skip
    assert lo < est < hi and 0.05 < hi - lo < 0.3
    again = bootstrap_ci(statistical_parity_difference, y, p, sensitive_features=s,
                         privileged="a", n_boot=30, random_state=0)  # fmt: skip
    assert again == (est, lo, hi)
