"""Empirical DP audit: the Clopper-Pearson bound by hand, 0 when exchangeable, positive on a memorising model."""

import numpy as np
import pytest
from scipy.stats import beta

from trustlab import ConfigError
from trustlab.privacy import audit_scores, clopper_pearson_upper, dp_audit, epsilon_lower_bound


def test_clopper_pearson_and_bound_by_hand():
    # 0 of 50: the upper bound solves (1 - p)^50 = alpha
    assert clopper_pearson_upper(0, 50, 0.025) == pytest.approx(1 - 0.025 ** (1 / 50))
    assert clopper_pearson_upper(3, 40, 0.05) == pytest.approx(beta.ppf(0.95, 4, 37))
    assert clopper_pearson_upper(5, 5, 0.05) == 1.0
    # a perfect test on 50 + 50 canaries, delta 0, 95%: log((1 - u) / u), u = 1 - 0.025^(1/50)
    u = 1 - 0.025 ** (1 / 50)
    assert epsilon_lower_bound(0, 50, 0, 50, delta=0.0) == pytest.approx(np.log((1 - u) / u))
    # a test at chance level proves nothing
    assert epsilon_lower_bound(25, 50, 25, 50) == 0.0


def test_bound_is_zero_when_exchangeable():
    rng = np.random.default_rng(0)
    for seed in range(20):
        s = rng.normal(size=400)
        m = rng.integers(0, 2, 400)
        assert audit_scores(s, m, seed=seed)["epsilon_lower_bound"] == 0.0


def test_bound_on_separable_scores():
    m = np.r_[np.ones(200, int), np.zeros(200, int)]
    s = m + np.random.default_rng(1).normal(0, 0.01, 400)
    out = audit_scores(s, m)
    assert out["tpr"] == 1.0 and out["fpr"] == 0.0 and out["epsilon_lower_bound"] > 3
    assert "Clopper-Pearson" in out["method"]


def test_memorising_model_is_positive_and_dp_is_sound(random_label_data):
    mlp = {"hidden": 128, "epochs": 40, "batch_size": 32, "lr": 0.01}
    plain = dp_audit(random_label_data, canaries=100, train_rows=300, mlp=mlp, seed=0)
    assert plain["epsilon_accounted"] is None and plain["epsilon_lower_bound"] > 1.0, plain
    dp = dp_audit(random_label_data, canaries=100, train_rows=300, mlp={**mlp, "epochs": 3}, epsilon=1.0, seed=0)
    assert 0 < dp["epsilon_accounted"] <= 1.05
    assert dp["epsilon_lower_bound"] <= dp["epsilon_accounted"]


@pytest.mark.parametrize("kw,match", [
    ({"canaries": 400, "train_rows": 300}, "more than the 300 training rows"),
    ({"epsilon": 0.0}, "--epsilon must be > 0"),
    ({"epsilon": -2.0}, "--epsilon must be > 0"),
    ({"canaries": 1}, "--canaries must be >= 2"),
])  # fmt: skip
def test_bad_inputs(random_label_data, kw, match):
    with pytest.raises(ConfigError, match=match):
        dp_audit(random_label_data, **{"train_rows": 300, **kw})
