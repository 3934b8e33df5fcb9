"""Best-trial selection on a scripted black box whose every trial's numbers are known by hand.

The black box predicts a fixed vector on the 10 validation rows for each number ``k`` of added
rows (``k = 0`` is the unpoisoned model). Validation labels (privileged rows first):
``[1,1,1,0,0 | 1,1,0,0,0]``. The baseline ``[1,1,1,1,0 | 0,0,0,0,0]`` is right on 7 rows and
has SPD 0.8 - 0 = 0.8. The accuracy loss is the point estimate (``accuracy_bound="mean"``):
(7 - correct) / 10. Four trials are enqueued, k = 1, 2, 3, 4, then k = 2 again.
"""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from trustlab.poisoning import FairnessPoisoner, SearchSpace

N_TRAIN = 20
Y_VAL = np.array([1, 1, 1, 0, 0, 1, 1, 0, 0, 0])
G_VAL = np.array(["p"] * 5 + ["u"] * 5)
# k -> predictions on validation; comments: selection rates p / u, correct rows, |SPD|, loss
EASY = {
    0: [1, 1, 1, 1, 0, 0, 0, 0, 0, 0],  # .8 / 0,  7 right, .8
    1: [1, 1, 1, 1, 0, 1, 0, 0, 0, 0],  # .8 / .2, 8 right, .6, loss -.1
    2: [1, 1, 1, 1, 0, 1, 1, 1, 0, 0],  # .8 / .6, 8 right, .2, loss -.1  <- the fairest feasible
    3: [1, 1, 0, 0, 0, 1, 1, 1, 1, 0],  # .4 / .8, 7 right, .4, loss 0
    4: [
        1,
        0,
        0,
        1,
        0,
        1,
        0,
        1,
        0,
        0,
    ],  # .4 / .4, 5 right, 0,  loss .2  <- fairest, breaks the allowance
}
COSTLY = {
    0: EASY[0],
    1: [1, 1, 1, 1, 0, 0, 0, 1, 0, 0],  # .8 / .2, 6 right, .6, loss .1
    2: [1, 1, 0, 1, 0, 1, 0, 1, 1, 0],  # .6 / .6, 5 right, 0,  loss .2
    3: [1, 1, 1, 1, 1, 1, 1, 1, 1, 0],  # 1 / .8,  6 right, .2, loss .1  (ties k = 1 on loss)
    4: [0, 0, 0, 0, 0, 1, 1, 1, 1, 1],  # 0 / 1,   4 right, 1,  loss .3
}


class Scripted(ClassifierMixin, BaseEstimator):
    """Predicts ``table[k]`` on the validation rows, ``k`` = rows added to the training set."""

    def __init__(self, table=None):
        self.table = table

    def fit(self, X, y):
        self.k_ = len(X) - N_TRAIN
        self.classes_ = np.array([0, 1])
        return self

    def predict(self, X):
        if len(X) == len(Y_VAL):
            return np.array(self.table[self.k_])
        return np.zeros(len(X), dtype=int)

    def predict_proba(self, X):
        return np.full((len(X), 2), 0.5)


class AddK(SearchSpace):
    """Adds ``round(k)`` copies of the first training rows (labels 1)."""

    name = "add-k"
    version = "test-1"

    def prepare(self, context):
        self.ctx = context

    def bounds(self):
        return {"k": (0.0, 4.0)}

    def rows(self, params, rng):
        k = int(round(params["k"]))
        return self.ctx.X.iloc[:k].reset_index(drop=True), np.ones(k, dtype=int)

    def warm_starts(self):
        return [{"k": 1.0}, {"k": 2.0}, {"k": 3.0}, {"k": 4.0}, {"k": 2.0}]


def _fit(table, max_loss, bound="mean"):
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=N_TRAIN).round(3), "g": ["p", "u"] * (N_TRAIN // 2)})
    y = np.array([0, 1] * (N_TRAIN // 2))
    Xv = pd.DataFrame({"x": np.linspace(0, 1, 10), "g": G_VAL})
    p = FairnessPoisoner(
        Scripted(table),
        space=AddK(),
        budget=4,
        n_trials=5,
        accuracy_bound=bound,
        max_accuracy_loss=max_loss,
        cv=2,
        random_state=0,
        privileged="p",
    )
    return p.fit(
        X, y, sensitive_features=X["g"].to_numpy(), X_val=Xv, y_val=Y_VAL, sensitive_val=G_VAL
    )


def test_the_trials_score_as_worked_out():
    p = _fit(EASY, 0.1)
    assert p.baseline_["statistical_parity_difference"] == pytest.approx(0.8)
    assert p.baseline_["accuracy"] == pytest.approx(0.7)
    got = [
        (round(t.params["k"]), t.values[0], t.user_attrs["accuracy_loss"]) for t in p.study_.trials
    ]
    expected = [(1, 0.6, -0.1), (2, 0.2, -0.1), (3, 0.4, 0.0), (4, 0.0, 0.2), (2, 0.2, -0.1)]
    for (k, u, loss), (k2, u2, loss2) in zip(got, expected, strict=True):
        assert (
            k == k2
            and u == pytest.approx(u2, abs=1e-12)
            and loss == pytest.approx(loss2, abs=1e-12)
        )


def test_the_fairest_feasible_trial_is_chosen():
    p = _fit(EASY, 0.1)
    assert p.feasible_
    # k = 4 is fairer (0) but loses 0.2 > 0.1; k = 2 (|SPD| 0.2) is the fairest within the
    # allowance, and of its two trials the first
    assert p.best_trial_.number == 1
    assert round(p.best_params_["k"]) == 2
    assert len(p.poison_) == 2
    # with a looser allowance, the fairest of all
    loose = _fit(EASY, 0.25)
    assert loose.feasible_ and round(loose.best_params_["k"]) == 4 and loose.best_trial_.number == 3


def test_nothing_feasible_falls_back_to_the_least_loss_then_the_least_unfairness():
    p = _fit(COSTLY, 0.0)
    assert not p.feasible_
    # losses .1 .2 .1 .3 .2: k = 1 and k = 3 tie on the least loss (.1); k = 3 is fairer (.2 < .6)
    assert p.best_trial_.number == 2 and round(p.best_params_["k"]) == 3
    losses = [t.user_attrs["accuracy_loss"] for t in p.study_.trials]
    assert losses == pytest.approx([0.1, 0.2, 0.1, 0.3, 0.2], abs=1e-12)
    # an allowance of exactly the loss .1 makes k = 1 and k = 3 feasible (bound <= allowance)
    q = _fit(COSTLY, 0.1)
    assert q.feasible_ and q.best_trial_.number == 2


def test_score_point_and_the_chosen_trials_records():
    p = _fit(COSTLY, 0.1)
    one = p.score_point({"k": 1.0})  # 6 right: loss .1, exactly the allowance
    assert one["n_rows"] == 1 and one["feasible"] is True
    assert (
        one["accuracy_loss"] == pytest.approx(0.1)
        and one["accuracy_loss_bound"] == one["accuracy_loss"]
    )
    assert one["unfairness"] == pytest.approx(0.6)
    assert one["validation"]["accuracy"] == pytest.approx(0.6)
    assert one["validation"]["statistical_parity_difference"] == pytest.approx(0.6)
    four = p.score_point({"k": 4.0})
    assert four["feasible"] is False and four["accuracy_loss"] == pytest.approx(0.3)
    assert four["unfairness"] == pytest.approx(1.0)
    # the records of the choice
    assert p.pareto_front_ == [p.best_trial_]
    assert p.warm_start_trials_ == [0, 1, 2, 3, 4]
    assert p.failures_ == []
    assert p.poison_["label"].tolist() == [1, 1, 1] and len(p.poison_sensitive_) == 3


def test_trainings_are_counted_and_the_upper_bound_is_used():
    p = _fit(COSTLY, 0.1)
    assert p.trainings_ == 1 + 2 + 5  # the unpoisoned model, two cross-fitting folds, five trials
    p.score_point({"k": 1.0})
    assert p.trainings_ == 9
    up = _fit(COSTLY, 0.1, bound="upper")
    one = up.score_point({"k": 1.0})
    assert one["accuracy_loss"] == pytest.approx(0.1)
    assert one["accuracy_loss_bound"] > one["accuracy_loss"] and one["feasible"] is False
    assert one["fit_seconds"] >= 0
