"""End to end: the audit on a memorising target (AUC near 1) and on a non-memorising one (near 0.5)."""

import numpy as np
import pytest

from trustlab import ConfigError, DataError
from trustlab.privacy import PairSpec, partition, privacy_audit

ALL = "loss,shadow,lira,fdmia,label"


@pytest.fixture(scope="module")
def memorised(random_label_data):
    ds = random_label_data
    m, nm, sp = np.arange(150), np.arange(150, 300), np.arange(300, 800)
    spec = PairSpec(model="mlp", fair_method="penalty", fairness_weight=1.0, numeric=list(ds.numeric),
                    mlp={"hidden": 128, "epochs": 60, "batch_size": 32, "lr": 0.01})  # fmt: skip
    return privacy_audit(ds, members=m, nonmembers=nm, shadow_pool=sp, spec=spec, attacks=ALL, shadows=4, seed=0)


def test_memorising_target_is_trivially_attacked(memorised):
    s = memorised.summary
    # with 4 shadows every pool row is IN one shadow only, so online LiRA's IN fit is crude here;
    # the strict AUC-near-1 checks per attack are in test_attacks.py
    for role in ("biased", "fair"):
        aucs = {k: v["auc"] for k, v in s[role]["attacks"].items()}
        assert max(aucs[k] for k in ("loss", "shadow", "lira", "lira_offline")) > 0.8, aucs
        assert min(aucs.values()) > 0.6, aucs
        assert s[role]["attacks"]["loss"]["balanced_accuracy"] > 0.7  # threshold from shadows only
    assert s["fdmia"]["auc"] > 0.75
    assert set(s["fdmia"]["by_group"]) == {"a", "b"}
    assert s["n_eval_per_side"] == 150 and s["trainings"] == 2 + 2 * 4


def test_same_seed_same_numbers(random_label_data):
    ds = random_label_data
    spec = PairSpec(model="mlp", numeric=list(ds.numeric), mlp={"hidden": 32, "epochs": 10})

    def run(seed):
        return privacy_audit(ds, members=np.arange(100), nonmembers=np.arange(100, 200),
                             shadow_pool=np.arange(200, 400), spec=spec, attacks="loss,shadow,fdmia",
                             shadows=2, seed=seed).summary  # fmt: skip

    a, b, c = run(0), run(0), run(1)
    for name, block in a["fair"]["attacks"].items():
        assert b["fair"]["attacks"][name]["auc"] == block["auc"]
    assert a["fdmia"] == b["fdmia"]
    assert a["fdmia"]["auc"] != c["fdmia"]["auc"]


def test_non_memorising_target_near_chance(synthetic):
    m, nm, sp = partition(len(synthetic), seed=0)
    spec = PairSpec(model="mlp", numeric=["x1", "x2"], mlp={"epochs": 4})
    res = privacy_audit(synthetic, members=m, nonmembers=nm, shadow_pool=sp, spec=spec, attacks=ALL,
                        shadows=3, defence="round:2", seed=1)  # fmt: skip
    s = res.summary
    for role in ("biased", "fair"):
        for name, block in s[role]["attacks"].items():
            assert 0.4 < block["auc"] < 0.6, (role, name, block["auc"])
    assert 0.4 < s["fdmia"]["auc"] < 0.6
    assert s["fair"]["fairness"]["statistical_parity_difference"] < s["biased"]["fairness"]["statistical_parity_difference"]
    assert s["defence"] == "round:2"


def test_label_only_defence_blunts_score_attacks(memorised, random_label_data):
    ds = random_label_data
    spec = PairSpec(model="mlp", numeric=list(ds.numeric),
                    mlp={"hidden": 128, "epochs": 60, "batch_size": 32, "lr": 0.01})  # fmt: skip
    res = privacy_audit(ds, members=np.arange(150), nonmembers=np.arange(150, 300),
                        shadow_pool=np.arange(300, 800), spec=spec, attacks="loss,label", shadows=2,
                        defence="label-only", seed=0)  # fmt: skip
    a = res.summary["biased"]["attacks"]
    # the loss attack can only see correctness now: same ranking as the label attack
    assert a["loss"]["auc"] == pytest.approx(a["label"]["auc"])
    assert a["loss"]["auc"] < memorised.summary["biased"]["attacks"]["loss"]["auc"]


def test_bad_inputs(synthetic):
    spec = PairSpec(model="mlp", numeric=["x1", "x2"], mlp={"epochs": 1})
    kw = dict(spec=spec, shadows=2)
    with pytest.raises(DataError, match="overlaps the evaluation non-members"):
        privacy_audit(synthetic, members=np.arange(100), nonmembers=np.arange(50, 150),
                      shadow_pool=np.arange(200, 600), **kw)  # fmt: skip
    with pytest.raises(DataError, match="too few samples"):
        privacy_audit(synthetic, members=np.arange(500), nonmembers=np.arange(500, 1000),
                      shadow_pool=np.arange(1000, 1200), **kw)  # fmt: skip
    with pytest.raises(ConfigError, match="unknown attack"):
        privacy_audit(synthetic, members=np.arange(10), nonmembers=np.arange(10, 20),
                      shadow_pool=np.arange(20, 60), attacks="loss,magic", **kw)  # fmt: skip
    with pytest.raises(ConfigError, match="LiRA needs"):
        privacy_audit(synthetic, members=np.arange(10), nonmembers=np.arange(10, 20),
                      shadow_pool=np.arange(20, 60), spec=spec, attacks="lira", shadows=1)  # fmt: skip


def test_partition_subsample_and_oversized_request():
    m, nm, sp = partition(1000, seed=3, max_rows=200)
    assert (len(m), len(nm), len(sp)) == (50, 50, 100)
    assert len(np.intersect1d(m, nm)) == len(np.intersect1d(m, sp)) == len(np.intersect1d(nm, sp)) == 0
    with pytest.warns(UserWarning, match="exceeds the 300 rows"):
        m, nm, sp = partition(300, seed=3, max_rows=2000)
    assert len(m) + len(nm) + len(sp) == 300
