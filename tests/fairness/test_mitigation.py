import numpy as np
import pandas as pd
import pytest

from trustlab.datasets import load_german, split_dataset
from trustlab.fairness import (
    METHODS,
    MassagingClassifier,
    ReweighingClassifier,
    massage_labels,
    massaging_count,
    reweighing_weights,
    run_mitigation,
)
from trustlab.learners import make_learner


def toy():
    """Unprivileged: 10 positives, 15 negatives; privileged: 50 positives, 25 negatives."""
    priv = np.array([False] * 25 + [True] * 75)
    y = np.array([1] * 10 + [0] * 15 + [1] * 50 + [0] * 25)
    scores = np.linspace(0, 1, 100)[np.random.default_rng(0).permutation(100)]
    return y, priv, scores


def test_massaging_toy_case_makes_exactly_five_swaps():
    y, priv, scores = toy()
    assert massaging_count(y, priv) == 5
    y_new, promoted, demoted = massage_labels(y, priv, scores)
    assert len(promoted) == len(demoted) == 5
    assert len(y_new) == len(y)
    # promotions: the 5 highest-scored unprivileged negatives
    cand = np.flatnonzero(~priv & (y == 0))
    assert set(promoted) == set(cand[np.argsort(-scores[cand])[:5]])
    cand = np.flatnonzero(priv & (y == 1))
    assert set(demoted) == set(cand[np.argsort(scores[cand])[:5]])
    assert (y_new[promoted] == 1).all() and (y_new[demoted] == 0).all()
    # rates are now equal: unprivileged 15/25, privileged 45/75
    assert y_new[~priv].mean() == pytest.approx(y_new[priv].mean())


def test_massaging_reversed_discrimination_swaps_roles():
    y, priv, scores = toy()
    y_new, promoted, demoted = massage_labels(y, ~priv, scores)
    # the "privileged" mask now marks the group with the LOWER rate: it gets the promotions
    assert (~priv[promoted]).all() and priv[demoted].all()
    assert abs(y_new[priv].mean() - y_new[~priv].mean()) < abs(y[priv].mean() - y[~priv].mean())


def test_reweighing_weights_match_formula():
    y, priv, _ = toy()
    w = reweighing_weights(y, priv)
    # unprivileged positive: P(unpriv)=0.25, P(y=1)=0.6, P(unpriv, 1)=0.10
    assert w[0] == pytest.approx(0.25 * 0.6 / 0.10)
    assert w[99] == pytest.approx(0.75 * 0.4 / 0.25)
    # weighted positive rates are equal across groups
    rate = lambda m: np.sum(w[m] * y[m]) / np.sum(w[m])  # noqa: E731
    assert rate(priv) == pytest.approx(rate(~priv)) == pytest.approx(0.6)


@pytest.fixture(scope="module")
def german_split():
    return split_dataset(load_german(), seed=0, sensitive="sex")


def test_wrappers_fit_and_report_changes(german_split):
    tr = german_split.train
    est = make_learner("logreg", categorical=tr.categorical, numeric=tr.numeric)
    m = MassagingClassifier(est, privileged="male").fit(tr.X, tr.y, sensitive_features=tr.groups("sex"))
    expected = abs(massaging_count(tr.y, tr.privileged_mask("sex")))
    assert m.n_relabelled_ == 2 * expected and m.predict(tr.X).shape == (len(tr),)
    r = ReweighingClassifier(est, privileged="male").fit(tr.X, tr.y, sensitive_features=tr.groups("sex"))
    assert not r.resampled_ and len(r.cell_weights_) == 4


def test_reweighing_resamples_for_learners_without_sample_weight(german_split):
    tr = german_split.train
    knn = make_learner("sklearn.neighbors:KNeighborsClassifier", categorical=tr.categorical, numeric=tr.numeric)
    r = ReweighingClassifier(knn, privileged="male", random_state=0).fit(
        tr.X, tr.y, sensitive_features=tr.groups("sex")
    )
    assert r.resampled_
    assert r.predict(tr.X).shape == (len(tr),)


@pytest.mark.parametrize("method", METHODS)
def test_run_mitigation_every_method(german_split, method):
    out = run_mitigation(method, german_split, learner="logreg", sensitive="sex", seed=0)
    assert set(out) >= {"baseline", "mitigated", "changes", "method"}
    for block in ("baseline", "mitigated"):
        assert set(out[block]) == {"overall", "by_group", "fairness"}
        assert 0.5 < out[block]["overall"]["accuracy"] <= 1
    assert out["n_test"] == len(german_split.test)
    if method == "massaging":
        assert out["changes"]["rows_relabelled"] > 0


def test_massaging_reduces_parity_gap_on_adult_like_data():
    rng = np.random.default_rng(0)
    n = 3000
    g = rng.random(n) < 0.6
    x = rng.normal(size=n) + 0.8 * g
    y = (rng.random(n) < 1 / (1 + np.exp(-2 * x))).astype(int)
    s = np.where(g, "p", "u")
    X = pd.DataFrame({"x": x, "grp": s})  # the group is a feature, as sex is in Adult
    y = np.where(g & (rng.random(n) < 0.3), 1, y)  # extra positives for the privileged group
    est = make_learner("logreg", categorical=["grp"], numeric=["x"])
    base = est.fit(X, y).predict(X)
    m = MassagingClassifier(make_learner("logreg", categorical=["grp"], numeric=["x"]), privileged="p")
    mp = m.fit(X, y, sensitive_features=s).predict(X)
    gap = lambda p: p[g].mean() - p[~g].mean()  # noqa: E731
    assert gap(mp) < gap(base) - 0.05


def test_exponentiated_gradient_reports_progress_and_counts_its_trainings(german_split):
    calls = []
    out = run_mitigation("exponentiated-gradient", german_split, learner="logreg", sensitive="sex", seed=0,
                         progress=lambda done, total: calls.append((done, total)))  # fmt: skip
    assert calls and [d for d, _ in calls] == list(range(1, len(calls) + 1))
    assert all(d <= t for d, t in calls)
    assert out["trainings"] == 1 + len(calls)  # the baseline and every model the reduction fit
    assert set(out["validation"]) == {"baseline", "mitigated"}


def test_mitigation_document_validates(german_split):
    from trustlab.fairness import mitigation_document
    from trustlab.results import validate_result

    doc = mitigation_document("massaging", german_split, learner="logreg", sensitive="sex", seed=0)
    validate_result(doc)
    assert doc["method"] == "massaging" and doc["cost"]["trainings"] == 3
    assert doc["details"]["changes"]["rows_relabelled"] > 0
