"""Who pays: per-group attack metrics add up to the overall counts; risk.csv's schema and plot."""

import numpy as np
import pandas as pd
import pytest

from trustlab.privacy import (
    FPR_POINTS,
    RISK_COLUMNS,
    PairSpec,
    attack_metrics,
    plot_risk,
    privacy_audit,
    risk_table,
)


@pytest.fixture(scope="module")
def audit(random_label_data):
    ds = random_label_data
    spec = PairSpec(model="mlp", numeric=list(ds.numeric), mlp={"hidden": 64, "epochs": 20, "batch_size": 32})
    return privacy_audit(ds, members=np.arange(150), nonmembers=np.arange(150, 300),
                         shadow_pool=np.arange(300, 700), spec=spec, attacks="loss,label,rmia,fdmia", shadows=4,
                         seed=0, attack_options={"rmia": {"references": 2}})  # fmt: skip


def test_per_group_counts_add_up(audit):
    s = audit.summary
    blocks = [*(s[r]["attacks"][k] for r in ("biased", "fair") for k in s[r]["attacks"]), s["fdmia"]]
    for b in blocks:
        g = b["by_group"]
        assert set(g) == {"a", "b"}
        assert sum(v["n_members"] for v in g.values()) == b["n_members"] == 150
        assert sum(v["n_nonmembers"] for v in g.values()) == b["n_nonmembers"] == 150
        assert sum(v["n"] for v in g.values()) == 300
        for v in g.values():
            assert {"auc", "balanced_accuracy", *FPR_POINTS} <= set(v)


def test_per_group_metric_is_the_attack_on_that_group_only():
    m = np.array([1, 0, 1, 0, 1, 0, 1, 0])
    s = np.array([9, 1, 8, 2, 0, 7, 0.5, 6.0])
    g = np.array(["a"] * 4 + ["b"] * 4)
    out = attack_metrics(m, s, groups=g)
    assert out["by_group"]["a"]["auc"] == 1.0 and out["by_group"]["a"]["tpr_at_0_1pct_fpr"] == 1.0
    assert out["by_group"]["b"]["auc"] == 0.0 and out["by_group"]["b"]["tpr_at_1pct_fpr"] == 0.0
    # one group without non-members: undefined, not a number
    one = attack_metrics(m, s, groups=np.array(["a", "b"] * 4))
    assert np.isnan(one["by_group"]["a"]["auc"]) and one["by_group"]["a"]["n_nonmembers"] == 0


def test_risk_table_schema(audit, tmp_path):
    df = risk_table(audit)
    assert list(df.columns[:3]) == list(RISK_COLUMNS) and df.columns[-1] == "rank"
    scores = set(df.columns[3:-1])
    assert {"biased_loss", "fair_loss", "fair_rmia", "fair_rmia_offline", "pair_fdmia"} <= scores
    assert len(df) == 300 and df["row"].is_unique and set(df["row"]) == set(range(300))
    assert df["member"].sum() == 150 and set(df["group"]) == {"a", "b"}
    assert df["rank"].min() == 1 and df["rank"].is_monotonic_increasing
    # members sit higher in the ranking of a model that memorises
    assert df.loc[df.member == 1, "rank"].mean() < df.loc[df.member == 0, "rank"].mean()
    # the scores are the audit's own, row by row
    back = df.set_index("row").loc[audit.rows[:5], "fair_loss"].to_numpy()
    np.testing.assert_allclose(back, audit.scores["fair"]["loss"][:5])
    path = tmp_path / "risk.csv"
    df.to_csv(path, index=False)
    pd.testing.assert_frame_equal(pd.read_csv(path), df, check_dtype=False)
    assert plot_risk(df, tmp_path / "risk.png").stat().st_size > 1000
