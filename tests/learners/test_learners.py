import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from trustlab import LearnerError
from trustlab.learners import LEARNERS, make_estimator, make_learner, supports_sample_weight


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(0)
    n = 120
    X = pd.DataFrame({"num": rng.normal(size=n), "cat": rng.choice(["a", "b", "c"], n)})
    y = ((X["num"] + (X["cat"] == "a")) > 0.3).astype(int)
    return X, y


@pytest.mark.parametrize("name", sorted(LEARNERS))
def test_every_builtin_fits_on_raw_frame(name, frame):
    X, y = frame
    model = make_learner(name, categorical=["cat"], numeric=["num"], random_state=0)
    model.fit(X, y)
    assert model.predict(X).shape == (len(X),)
    assert model.predict_proba(X).shape == (len(X), 2)


def test_builtins_are_library_defaults():
    rf = make_estimator("rf", random_state=3)
    from sklearn.ensemble import RandomForestClassifier

    defaults = RandomForestClassifier().get_params()
    params = rf.get_params()
    assert params.pop("random_state") == 3
    defaults.pop("random_state")
    assert params == defaults


def test_module_class_spec(frame):
    X, y = frame
    model = make_learner("sklearn.ensemble:ExtraTreesClassifier", categorical=["cat"], numeric=["num"])
    assert type(model.steps[-1][1]).__name__ == "ExtraTreesClassifier"
    assert model.steps[-1][1].random_state == 0
    model.fit(X, y)
    clone(model)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nope", "unknown learner 'nope'"),
        ("no_such_module_xyz:Model", "cannot import module"),
        ("sklearn.ensemble:NoSuchModel", "has no attribute"),
        ("sklearn.ensemble:__name__", "is not a class"),
        ("sklearn.preprocessing:StandardScaler", "no predict"),
        (":Model", "must be a built-in name"),
    ],
)
def test_bad_learner_specs(spec, message):
    with pytest.raises(LearnerError, match=message):
        make_estimator(spec)


def test_sample_weight_reaches_the_final_estimator(frame):
    X, y = frame
    w = np.where(y == 1, 10.0, 1.0)
    weighted = make_learner("logreg", categorical=["cat"], numeric=["num"]).fit(X, y, sample_weight=w)
    plain = make_learner("logreg", categorical=["cat"], numeric=["num"]).fit(X, y)
    assert weighted.predict_proba(X)[:, 1].mean() > plain.predict_proba(X)[:, 1].mean() + 0.05
    assert supports_sample_weight(plain)
    knn = make_learner("sklearn.neighbors:KNeighborsClassifier", categorical=["cat"], numeric=["num"])
    assert not supports_sample_weight(knn)


def test_unseen_category_does_not_crash(frame):
    X, y = frame
    model = make_learner("rf", categorical=["cat"], numeric=["num"]).fit(X, y)
    new = pd.DataFrame({"num": [0.0], "cat": ["zzz"]})
    assert model.predict(new).shape == (1,)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("sklearn.linear_model:LinearRegression", "is a regressor"),
        ("sklearn.ensemble:RandomForestRegressor", "is a regressor"),
        ("sklearn.preprocessing:StandardScaler", r"no predict\(\) method"),
    ],
)
def test_non_classifiers_are_refused_before_any_fit(spec, message):
    from trustlab import LearnerError
    from trustlab.learners import make_estimator

    with pytest.raises(LearnerError, match=message):
        make_estimator(spec)


def test_an_estimator_sklearn_cannot_use_is_refused():
    from trustlab import LearnerError
    from trustlab.learners import make_estimator

    class Plain:
        def fit(self, X, y):
            return self

        def predict(self, X):
            return X

    with pytest.raises(LearnerError, match="not a scikit-learn estimator"):
        make_estimator(Plain())
