"""The fairness metric registry: names, aliases, unfairness, direction, surrogate."""

import numpy as np
import pytest

from trustlab import ConfigError
from trustlab.fairness import FAIRNESS_KEYS, FAIRNESS_METRICS, evaluate, get_metric, metric_names


def test_every_block_key_is_a_registered_metric():
    assert set(FAIRNESS_METRICS) == set(FAIRNESS_KEYS)


@pytest.mark.parametrize(("alias", "name"), [("fpr_gap", "fpr_difference"), ("fpr_difference", "fpr_difference"),
                                             ("statistical_parity", "statistical_parity_difference"),
                                             ("equal_opportunity", "equal_opportunity_difference")])
def test_aliases_resolve_to_one_canonical_name(alias, name):
    assert get_metric(alias).name == name
    assert alias in metric_names()


def test_unknown_metric_is_one_line():
    with pytest.raises(ConfigError, match="unknown metric 'spdd'; choose from statistical_parity_difference"):
        get_metric("spdd")


def test_unfairness_and_direction_on_a_hand_made_block():
    # privileged: 4 rows, 3 selected; unprivileged: 4 rows, 1 selected -> SPD +0.5, DI 1/3
    y_true = np.array([1, 1, 0, 0, 1, 1, 0, 0])
    y_pred = np.array([1, 1, 1, 0, 1, 0, 0, 0])
    s = np.array(["a"] * 4 + ["b"] * 4)
    block = evaluate(y_true, y_pred, sensitive_features=s, privileged="a")
    spd = get_metric("statistical_parity")
    assert spd.signed(block) == pytest.approx(0.5)
    assert spd.unfairness(block) == pytest.approx(0.5)
    assert spd.direction(block) == 1
    di = get_metric("disparate_impact")
    assert di.unfairness(block) == pytest.approx(1 - 1 / 3)
    assert di.direction(block) == 1
    fpr = get_metric("fpr_gap")  # FPR priv 1/2, unpriv 0 -> +0.5
    assert fpr.unfairness(block) == pytest.approx(0.5)
    # swapping the groups flips every signed gap and the direction, not the unfairness
    swapped = evaluate(y_true, y_pred, sensitive_features=s, privileged="b")
    assert spd.signed(swapped) == pytest.approx(-0.5)
    assert spd.direction(swapped) == -1
    assert spd.unfairness(swapped) == pytest.approx(0.5)


def test_equalized_odds_direction_follows_the_larger_gap():
    eo = get_metric("equalized_odds")
    assert eo.direction({"equal_opportunity_difference": 0.1, "fpr_difference": -0.3,
                         "equalized_odds_difference": 0.3}) == -1
    assert eo.direction({"equal_opportunity_difference": 0.4, "fpr_difference": -0.3,
                         "equalized_odds_difference": 0.4}) == 1


def test_undefined_value_is_infinitely_unfair():
    assert get_metric("statistical_parity").unfairness({"statistical_parity_difference": None}) == float("inf")
    assert get_metric("disparate_impact").unfairness({"disparate_impact": float("nan")}) == float("inf")


def test_soft_surrogate_matches_the_absolute_gap():
    gaps = {"sel": (0.6, 0.2), "sp": 0.4, "tpr": -0.3, "fpr": 0.1}
    assert get_metric("statistical_parity").soft(gaps) == pytest.approx(0.4, abs=1e-6)
    assert get_metric("fpr_gap").soft(gaps) == pytest.approx(0.1, abs=1e-6)
    assert get_metric("equal_opportunity").soft(gaps) == pytest.approx(0.3, abs=1e-6)
    assert get_metric("disparate_impact").soft(gaps) == pytest.approx(1 - 0.2 / 0.6, abs=1e-4)
