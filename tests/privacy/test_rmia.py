"""RMIA (Zarifzadeh, Liu, Shokri, ICML 2024): a hand-computed score, and members vs non-members."""

import numpy as np
import pytest

from trustlab import ConfigError
from trustlab.privacy import PairSpec, TorchMLPClassifier, privacy_audit, rmia_marginal, rmia_scores


def test_marginal_by_hand():
    p_ref = np.array([[0.8, 0.4], [0.6, 0.2]])
    in_ref = np.array([[True, False], [False, False]])
    # offline, a = 0.5: row 0 OUT mean 0.6 -> (1.5 * 0.6 + 0.5) / 2 = 0.7; row 1 OUT mean 0.3 -> 0.475
    np.testing.assert_allclose(rmia_marginal(p_ref, in_ref, a=0.5, online=False), [0.7, 0.475])
    # online: row 0 has an IN reference -> (0.8 + 0.6) / 2 = 0.7; row 1 has none -> the offline formula
    np.testing.assert_allclose(rmia_marginal(p_ref, in_ref, a=0.5, online=True), [0.7, 0.475])
    # a = 1: Pr(x) is the OUT mean itself
    np.testing.assert_allclose(rmia_marginal(p_ref, in_ref, a=1.0, online=False), [0.6, 0.3])


def test_score_by_hand():
    # ratios x: 0.9/0.7 = 1.2857, 0.3/0.475 = 0.6316; z: 0.5/0.5 = 1.0, 0.6/0.5 = 1.2, 0.9/0.6 = 1.5
    p_x, pr_x = np.array([0.9, 0.3]), np.array([0.7, 0.475])
    p_z, pr_z = np.array([0.5, 0.6, 0.9]), np.array([0.5, 0.5, 0.6])
    # gamma 1: LR(x0, z) >= 1 for z with ratio <= 1.2857 (two of three); x1 dominates none
    np.testing.assert_allclose(rmia_scores(p_x, pr_x, p_z, pr_z, 1.0), [2 / 3, 0.0])
    # gamma 1.25: 1.2857 / 1.25 = 1.0286 -> only z0
    np.testing.assert_allclose(rmia_scores(p_x, pr_x, p_z, pr_z, 1.25), [1 / 3, 0.0])
    with pytest.raises(ConfigError):
        rmia_scores(p_x, pr_x, p_z, pr_z, 0.0)


@pytest.fixture(scope="module")
def memorising(random_label_data):
    ds = random_label_data
    spec = PairSpec(model="mlp", numeric=list(ds.numeric),
                    mlp={"hidden": 128, "epochs": 60, "batch_size": 32, "lr": 0.01})  # fmt: skip
    kw = dict(members=np.arange(150), nonmembers=np.arange(150, 300), shadow_pool=np.arange(300, 700),
              spec=spec, attacks="lira,rmia", shadows=4, seed=0, attack_options={"rmia": {"references": 2}})  # fmt: skip
    over = privacy_audit(ds, **kw)
    # the same recipe trained on 150 other rows (never the members): nothing to find
    other = ds.subset(np.arange(650, 800))
    models = tuple(TorchMLPClassifier(hidden=128, epochs=60, batch_size=32, random_state=s)
                   .fit(other.X, other.y) for s in (0, 1))  # fmt: skip
    clean = privacy_audit(ds, target_models=models, **kw)
    return over.summary, clean.summary


# online LiRA fits its IN Gaussian on 1 of 4 shadows per row here, so it is cruder
@pytest.mark.parametrize("attack,floor", [("rmia", 0.75), ("rmia_offline", 0.75), ("lira", 0.65),
                                         ("lira_offline", 0.75)])  # fmt: skip
def test_separates_members_only_when_trained_on_them(memorising, attack, floor):
    over, clean = memorising
    for role in ("biased", "fair"):
        assert over[role]["attacks"][attack]["auc"] > floor, (role, over[role]["attacks"][attack]["auc"])
        assert 0.4 < clean[role]["attacks"][attack]["auc"] < 0.6, (role, clean[role]["attacks"][attack]["auc"])


def test_calibration_is_reported(memorising):
    block = memorising[0]["fair"]["attacks"]["rmia_offline"]
    assert block["references"] == 2 and block["gamma"] >= 1 and 0 <= block["a"] <= 1
    assert "leave-one-reference-out" in block["calibration"]


def test_one_reference_and_bad_options(random_label_data):
    ds = random_label_data
    spec = PairSpec(model="mlp", numeric=list(ds.numeric), mlp={"hidden": 16, "epochs": 2})
    kw = dict(members=np.arange(100), nonmembers=np.arange(100, 200), shadow_pool=np.arange(200, 300), spec=spec,
              attacks="rmia_offline", shadows=2, seed=0)  # fmt: skip
    block = privacy_audit(ds, attack_options={"rmia": {"references": 1}}, **kw).summary["fair"]["attacks"]
    assert block["rmia_offline"]["references"] == 1 and block["rmia_offline"]["gamma"] == 1.0
    with pytest.raises(ConfigError, match="needs --shadows >= 3"):
        privacy_audit(ds, attack_options={"rmia": {"references": 3}}, **kw)
    with pytest.raises(ConfigError, match="a must be in"):
        privacy_audit(ds, attack_options={"rmia": {"a": 2.0}}, **kw)
