import sys

import numpy as np
import optuna
import pytest
from sklearn.linear_model import LogisticRegression

from trustlab import ConfigError, LearnerError
from trustlab.learners import make_learner
from trustlab.poisoning import FairnessPoisoner, check_plausible, counted_trials, resolve_budget

FAST = {"n_trials": 6, "cv": 2}


def _fit(split, est=None, **kw):
    tr, va = split.train, split.val
    est = est or make_learner("logreg", categorical=tr.categorical, numeric=tr.numeric)
    p = FairnessPoisoner(est, privileged="m", random_state=0, **{**FAST, **kw})
    return p.fit(tr.X, tr.y, sensitive_features=tr.groups("gender"), X_val=va.X, y_val=va.y,
                 sensitive_val=va.groups("gender"))  # fmt: skip


def test_fit_produces_plausible_rows_in_original_schema(mixed_split):
    p = _fit(mixed_split, budget=0.1)
    tr = mixed_split.train
    assert p.n_poison_ == round(0.1 * len(tr))
    assert 1 <= len(p.poison_) <= p.n_poison_
    assert list(p.poison_.columns) == [*tr.X.columns, "hired"]
    check_plausible(p.poison_.drop(columns="hired"), p.poison_["hired"], tr.X,
                    categorical=tr.categorical, numeric=tr.numeric, integer=tr.integer)  # fmt: skip
    assert len(p.study_.trials) == FAST["n_trials"]
    assert p.trainings_ == 1 + FAST["cv"] + FAST["n_trials"]
    Xa, ya, sa = p.augment(tr.X, tr.y, tr.groups("gender"))
    assert len(Xa) == len(tr) + len(p.poison_)
    assert Xa.head(len(tr)).equals(tr.X) and (ya[: len(tr)] == tr.y).all()  # existing rows untouched


def test_same_seed_same_rows(mixed_split):
    a, b = _fit(mixed_split), _fit(mixed_split)
    assert a.poison_.equals(b.poison_)
    assert a.best_params_ == b.best_params_


class Spy(LogisticRegression):
    """Records the public attributes that code outside the estimator touches."""

    touched: set = set()

    def __getattribute__(self, name):
        caller = sys._getframe(1).f_locals.get("self")
        if not name.startswith("_") and caller is not self:  # its own methods calling each other
            Spy.touched.add(name)
        return super().__getattribute__(name)


def test_estimator_is_only_cloned_fit_and_predicted(mixed_split):
    tr = mixed_split.train
    est = make_learner(Spy(), categorical=tr.categorical, numeric=tr.numeric)
    Spy.touched = set()
    _fit(mixed_split, est=est)
    # get_params/set_params are how sklearn.clone copies an estimator; nothing else is read.
    allowed = {"fit", "predict", "predict_proba", "get_params", "set_params"}
    touched_by_us = {n for n in Spy.touched if not n.endswith("_") and n not in LogisticRegression().get_params()}
    assert touched_by_us <= allowed, touched_by_us - allowed


_FITS = {"n": 0, "limit": None}


class Interruptible(LogisticRegression):
    def fit(self, X, y, sample_weight=None):
        _FITS["n"] += 1
        if _FITS["limit"] is not None and _FITS["n"] >= _FITS["limit"]:
            raise KeyboardInterrupt
        return super().fit(X, y, sample_weight)


def test_resume_from_sqlite_keeps_earlier_trials(mixed_split, tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    tr = mixed_split.train
    est = make_learner(Interruptible(), categorical=tr.categorical, numeric=tr.numeric)
    kw = {"est": est, "storage": url, "study_name": "resume", "n_trials": 8}
    _FITS.update(n=0, limit=1 + 2 + 3 + 1)  # baseline, 2 folds, 3 trials, then interrupted
    with pytest.raises(KeyboardInterrupt):
        _fit(mixed_split, **kw)
    first = optuna.load_study(study_name="resume", storage=url)
    assert counted_trials(first) == 3
    earlier = {t.number: t.params for t in first.trials if t.state.name == "COMPLETE"}
    _FITS.update(n=0, limit=None)
    p = _fit(mixed_split, **kw)
    assert counted_trials(p.study_) == 8
    again = {t.number: t.params for t in p.study_.trials if t.number in earlier}
    assert again == earlier
    # the rerun ran only the 5 missing trials (+ baseline and folds)
    assert _FITS["n"] == 1 + 2 + 5
    with pytest.raises(ConfigError, match="different configuration.*budget"):
        _fit(mixed_split, **{**kw, "budget": 0.2})


def test_pareto_front_is_reproducible(mixed_split):
    p = _fit(mixed_split, objective="pareto", n_trials=8)
    assert p.pareto_front_
    for t in p.pareto_front_:
        rows, labels, _ = p.generate(t.params)
        assert len(rows) == t.user_attrs["n_rows"]
        rows2, labels2, _ = p.generate(t.params)
        assert rows.equals(rows2) and (labels == labels2).all()


@pytest.mark.parametrize("sampler", ["gp", "random", "cmaes"])
def test_other_samplers_run(mixed_split, sampler):
    p = _fit(mixed_split, sampler=sampler, n_trials=4)
    assert counted_trials(p.study_) == 4


class FailsOnOdd(LogisticRegression):
    def fit(self, X, y, sample_weight=None):
        if len(X) % 2 == 1 and len(X) > 224:  # augmented data with an odd row count
            raise ValueError("odd row count")
        return super().fit(X, y, sample_weight)


class AlwaysFailsAugmented(LogisticRegression):
    def fit(self, X, y, sample_weight=None):
        if len(X) > 224:  # more than the training part: augmented
            raise ValueError("cannot take extra rows")
        return super().fit(X, y, sample_weight)


def test_learner_failure_is_reported_and_search_goes_on(mixed_split):
    tr = mixed_split.train
    est = make_learner(FailsOnOdd(), categorical=tr.categorical, numeric=tr.numeric)
    p = _fit(mixed_split, est=est, n_trials=10)
    assert p.failures_, "expected some failing trials"
    assert all("odd row count" in f["error"] for f in p.failures_)
    assert (len(tr) + len(p.poison_)) % 2 == 0  # the chosen trial is one that fit


def test_learner_that_always_fails_is_an_error(mixed_split):
    tr = mixed_split.train
    assert len(tr) == 224
    est = make_learner(AlwaysFailsAugmented(), categorical=tr.categorical, numeric=tr.numeric)
    with pytest.raises(LearnerError, match="every trial failed.*cannot take extra rows"):
        _fit(mixed_split, est=est, n_trials=3)


@pytest.mark.parametrize(
    ("budget", "message"),
    [(0, "> 0"), (-0.1, "> 0"), (1.5, "must be <= 1"), (10_000, "larger than the training set"),
     (0.0001, "less than one row"), ("x", "must be a number")],
)  # fmt: skip
def test_bad_budgets(budget, message):
    with pytest.raises(ConfigError, match=message):
        resolve_budget(budget, 200)


def test_integer_budget_is_a_count():
    assert resolve_budget(17, 200) == 17 and resolve_budget(0.1, 200) == 20 and resolve_budget(1.0, 200) == 200


@pytest.mark.parametrize(
    ("kw", "message"),
    [({"metric": "nope"}, "unknown metric"), ({"sampler": "nope"}, "unknown sampler"),
     ({"objective": "nope"}, "unknown objective"), ({"objective": "pareto", "sampler": "cmaes"}, "single-objective"),
     ({"storage": "sqlite:///x.db"}, "needs a study name"),
     ({"storage": "sqlite:////no/such/dir/x.db", "study_name": "s"}, "cannot open storage"),
     ({"storage": "nosuchdb://x", "study_name": "s"}, "cannot open storage")],
)  # fmt: skip
def test_bad_configuration(mixed_split, kw, message):
    with pytest.raises(ConfigError, match=message):
        _fit(mixed_split, **kw)


def test_multivalued_attribute_needs_privileged(mixed_split):
    tr = mixed_split.train
    est = make_learner("logreg", categorical=tr.categorical, numeric=tr.numeric)
    s = np.where(np.arange(len(tr)) % 3 == 0, "x", tr.groups("gender"))
    with pytest.raises(ConfigError, match="give privileged"):
        FairnessPoisoner(est, **FAST).fit(tr.X, tr.y, sensitive_features=s)
