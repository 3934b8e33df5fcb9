import numpy as np
import pytest
import torch

from trustlab import ConfigError
from trustlab.fairness import statistical_parity_difference
from trustlab.privacy import BlackBox, PairSpec, TorchMLPClassifier, group_penalty


def test_group_penalty():
    p = torch.tensor([[0.2, 0.8], [0.4, 0.6], [0.9, 0.1]])
    g = torch.tensor([True, True, False])
    # means (0.3, 0.7) vs (0.9, 0.1): L2 distance sqrt(0.36 + 0.36)
    assert float(group_penalty(p, g)) == pytest.approx(np.sqrt(0.72), abs=1e-5)
    assert float(group_penalty(p, torch.tensor([True, True, True]))) == 0.0


def test_same_seed_same_model_and_penalty_reduces_parity_gap(synthetic):
    kw = dict(epochs=8, privileged="0", random_state=1)
    s = synthetic.groups()
    a = TorchMLPClassifier(**kw).fit(synthetic.X, synthetic.y, sensitive_features=s)
    b = TorchMLPClassifier(**kw).fit(synthetic.X, synthetic.y, sensitive_features=s)
    np.testing.assert_array_equal(a.predict_proba(synthetic.X), b.predict_proba(synthetic.X))
    fair = TorchMLPClassifier(fairness_weight=2.0, **kw).fit(synthetic.X, synthetic.y, sensitive_features=s)
    spd = [abs(statistical_parity_difference(synthetic.y, m.predict(synthetic.X), sensitive_features=s,
                                             privileged="0")) for m in (a, fair)]
    assert spd[1] < spd[0] - 0.1


def test_opacus_path_trains_and_reports_epsilon(synthetic):
    part = synthetic.subset(np.arange(400))
    m = TorchMLPClassifier(epochs=3, dp_epsilon=2.0, dp_delta=1e-5, fairness_weight=1.0, privileged="0",
                           random_state=0).fit(part.X, part.y, sensitive_features=part.groups())
    assert 0 < m.epsilon_spent_ <= 2.0 * 1.05
    assert m.predict_proba(part.X).shape == (400, 2)
    plain = TorchMLPClassifier(epochs=3).fit(part.X, part.y)
    assert plain.epsilon_spent_ is None


def test_bad_params():
    with pytest.raises(ConfigError):
        TorchMLPClassifier(dp_epsilon=0.0).fit(np.zeros((4, 2)), [0, 1, 0, 1])
    with pytest.raises(ConfigError):
        TorchMLPClassifier(fairness_weight=1.0).fit(np.zeros((4, 2)), [0, 1, 0, 1])
    with pytest.raises(ConfigError):
        PairSpec(model="rf", fair_method="penalty")
    with pytest.raises(ConfigError):
        PairSpec(model="rf", fair_method="exponentiated-gradient", dp_epsilon=1.0)


def test_blackbox_torch_module_and_sklearn(synthetic):
    net = torch.nn.Linear(2, 2)
    box = BlackBox(net, encode=lambda X: X.to_numpy())
    p = box.proba(synthetic.X.head(7))
    assert p.shape == (7, 2) and np.allclose(p.sum(1), 1)
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression().fit(synthetic.X, synthetic.y)
    assert BlackBox(lr).proba(synthetic.X).shape == (len(synthetic), 2)
    with pytest.raises(ConfigError):
        BlackBox(object())


def test_exponentiated_gradient_pair(synthetic):
    spec = PairSpec(model="logreg", fair_method="exponentiated-gradient", numeric=["x1", "x2"], privileged="0")
    b, f, info = spec.fit(synthetic.X, synthetic.y, synthetic.groups(), seed=0)
    s = synthetic.groups()
    gaps = [abs(statistical_parity_difference(synthetic.y, BlackBox(m).predict(synthetic.X),
                                              sensitive_features=s, privileged="0")) for m in (b, f)]
    assert gaps[1] < gaps[0]
    assert BlackBox(f).proba(synthetic.X).shape == (len(synthetic), 2)


def test_poisoning_pair_and_shadow_reuse():
    from trustlab.datasets import load_builtin

    ds = load_builtin("compas").subset(np.arange(600))
    spec = PairSpec(model="logreg", fair_method="poisoning", categorical=ds.categorical, numeric=ds.numeric,
                    privileged="Caucasian", poison={"n_trials": 3, "budget": 0.05})  # fmt: skip
    b, f, info = spec.fit(ds.X, ds.y, ds.groups("race"), seed=0)
    rows, labels, sens = info["poison"]
    assert 0 < info["rows_added"] == len(rows) == len(labels) == len(sens) <= 30  # budget 5% of 600
    assert info["search_trainings"] > 0
    # a shadow reuses the attacker's rows without a new search
    b2, f2, info2 = spec.fit(ds.X.iloc[:300], ds.y.iloc[:300], ds.groups("race").iloc[:300], seed=1,
                             poison=info["poison"])  # fmt: skip
    assert info2["rows_added"] == len(rows) and "search_trainings" not in info2
    assert not np.allclose(BlackBox(b).proba(ds.X), BlackBox(f).proba(ds.X))
