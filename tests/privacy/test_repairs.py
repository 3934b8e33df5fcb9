"""The privacy price of a repair: every repair builds an (original, repaired) pair, and the bad pairings fail."""

import numpy as np
import pytest

from trustlab import ConfigError
from trustlab.datasets import load_builtin
from trustlab.fairness import statistical_parity_difference
from trustlab.privacy import REPAIRS, BlackBox, PairSpec, check_fair_method, privacy_audit


@pytest.fixture(scope="module")
def compas():
    return load_builtin("compas").subset(np.arange(800))


@pytest.mark.parametrize("repair", [r for r in REPAIRS if r != "poisoning"])  # poisoning: test_models.py
@pytest.mark.parametrize("learner", ["logreg", "mlp"])
def test_each_repair_builds_a_pair(compas, repair, learner):
    ds = compas
    spec = PairSpec(model=learner, fair_method=repair, categorical=ds.categorical, numeric=ds.numeric,
                    privileged="Caucasian", sensitive="race", mlp={"hidden": [16], "epochs": 5})  # fmt: skip
    s = ds.groups("race")
    biased, fair, info = spec.fit(ds.X, ds.y, s, seed=0)
    pb, pf = BlackBox(biased).proba(ds.X), BlackBox(fair).proba(ds.X)
    assert pb.shape == pf.shape == (len(ds), 2) and np.allclose(pf.sum(1), 1)
    assert not np.allclose(pb, pf)
    gaps = [abs(statistical_parity_difference(ds.y, BlackBox(m, random_state=0).predict(ds.X), sensitive_features=s,
                                              privileged="Caucasian")) for m in (biased, fair)]  # fmt: skip
    assert gaps[1] < gaps[0], (repair, learner, gaps)


def test_a_repair_in_the_audit(compas):
    ds = compas
    spec = PairSpec(model="logreg", fair_method="threshold-optimizer", categorical=ds.categorical,
                    numeric=ds.numeric)  # fmt: skip
    res = privacy_audit(ds, sensitive="race", members=np.arange(150), nonmembers=np.arange(150, 300),
                        shadow_pool=np.arange(300, 800), spec=spec, attacks="loss,fdmia", shadows=2, seed=0)  # fmt: skip
    s = res.summary
    assert s["fair_method"] == "threshold-optimizer" and 0 <= s["fdmia"]["auc"] <= 1
    assert s["fair"]["attacks"]["loss"]["auc"] != s["biased"]["attacks"]["loss"]["auc"]
    assert s["trainings"] == 2 + 2 * 2


def test_repair_that_cannot_run():
    with pytest.raises(ConfigError, match="has no predict_proba"):
        check_fair_method("threshold-optimizer", "sklearn.svm:LinearSVC")
    with pytest.raises(ConfigError, match="penalty trains the torch MLP"):
        check_fair_method("penalty", "rf")
    with pytest.raises(ConfigError, match="unknown repair 'magic'"):
        check_fair_method("magic", "rf", what="repair")
    with pytest.raises(ConfigError, match="sample weights"):
        PairSpec(model="mlp", fair_method="reweighing", dp_epsilon=1.0)
