"""Attacks behind one interface: the registry, name parsing, and a new attack as one class."""

import numpy as np
import pytest

from trustlab import ConfigError
from trustlab.privacy import (
    ATTACK_REGISTRY,
    Attack,
    PairSpec,
    loss_scores,
    make_attack,
    privacy_audit,
    register_attack,
)
from trustlab.privacy._interface import parse_attacks


def test_registry_and_groups():
    assert {"loss", "label", "shadow", "lira", "lira_offline", "rmia", "rmia_offline", "fdmia",
            "fdmia_threshold"} <= set(ATTACK_REGISTRY)  # fmt: skip
    assert parse_attacks("loss, lira,fdmia") == ["loss", "lira", "lira_offline", "fdmia", "fdmia_threshold"]
    assert parse_attacks(["rmia_offline", "rmia"]) == ["rmia_offline", "rmia"]
    with pytest.raises(ConfigError, match="unknown attack 'magic'"):
        parse_attacks("loss,magic")
    with pytest.raises(ConfigError, match="no attack"):
        parse_attacks(" , ")
    assert make_attack("fdmia").pair and not make_attack("loss", "biased").pair
    with pytest.raises(ConfigError, match="takes no option"):
        make_attack("loss", colour="red")


def test_a_new_attack_is_one_class(random_label_data):
    @register_attack
    class Confidence(Attack):
        """Minus the loss, unthresholded (a stand-in for a user's own attack)."""

        name = "confidence_test"

        def calibrate(self, shadows):
            self.threshold_ = 0.0
            return self

        def score(self, target):
            return loss_scores(target.proba[self.role], target.labels)

    try:
        ds = random_label_data
        spec = PairSpec(model="mlp", numeric=list(ds.numeric), mlp={"hidden": 16, "epochs": 2})
        res = privacy_audit(ds, members=np.arange(100), nonmembers=np.arange(100, 200),
                            shadow_pool=np.arange(200, 400), spec=spec, attacks="loss,confidence_test",
                            shadows=2, seed=0)  # fmt: skip
        a = res.summary["fair"]["attacks"]
        assert a["confidence_test"]["auc"] == a["loss"]["auc"]  # same statistic, same ranking
        np.testing.assert_array_equal(res.scores["fair"]["confidence_test"], res.scores["fair"]["loss"])
    finally:
        ATTACK_REGISTRY.pop("confidence_test")
