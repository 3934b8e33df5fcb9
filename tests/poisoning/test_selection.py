"""The records of the best-trial selection, on a scripted black box whose every trial is known.

The black box predicts a fixed vector on the 10 validation rows for each number ``k`` of added
rows (``k = 0`` is the unpoisoned model). Validation labels (privileged rows first):
``[1,1,1,0,0 | 1,1,0,0,0]``; the baseline ``[1,1,1,1,0 | 0,0,0,0,0]`` is right on 7 rows.
The accuracy loss is the point estimate (``accuracy_bound="mean"``): ``(7 - right) / 10``.

The space has one parameter, ``fill`` in [0, 1], and adds ``k = floor(4 fill)`` rows: the
training rows ``ROWS[:k]`` with the labels ``LABELS[:k]``. So the line search (bisection on
``fill``) and the Pareto front can be worked out by hand below. Every training the black box
receives is recorded in ``SEEN`` (features' index, labels), so the labels that reach it are
checked too.
"""

import time

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from trustlab.poisoning import FairnessPoisoner, SearchSpace

N_TRAIN = 20
Y_TRAIN = np.array([0, 1] * (N_TRAIN // 2))
Y_VAL = np.array([1, 1, 1, 0, 0, 1, 1, 0, 0, 0])
G_VAL = np.array(["p"] * 5 + ["u"] * 5)
ROWS = [3, 6, 9, 12]  # training positions the space copies
LABELS = [1, 0, 0, 1]  # and the labels it gives them
# k -> predictions on validation: selection rates p / u, right rows, |SPD| (unfairness), loss
TABLE = {
    0: [1, 1, 1, 1, 0, 0, 0, 0, 0, 0],  # .8 / 0,  7 right, .8
    1: [1, 1, 1, 1, 0, 1, 0, 0, 0, 0],  # .8 / .2, 8 right, .6, loss -.1, accuracy .8
    2: [1, 1, 1, 1, 0, 1, 1, 1, 0, 0],  # .8 / .6, 8 right, .2, loss -.1, accuracy .8
    3: [1, 1, 0, 0, 0, 1, 1, 1, 1, 0],  # .4 / .8, 7 right, .4, loss 0,   accuracy .7
    4: [1, 0, 0, 1, 0, 1, 0, 1, 0, 0],  # .4 / .4, 5 right, 0,  loss .2,  accuracy .5
}
SEEN: list[tuple[list[int], list[int]]] = []


class Scripted(ClassifierMixin, BaseEstimator):
    """Predicts ``table[k]`` on the validation rows, ``k`` = rows added; ``"raise"`` fails the fit."""

    def __init__(self, table=None):
        self.table = table

    def fit(self, X, y):
        SEEN.append((list(X.index), np.asarray(y).tolist()))
        self.k_ = len(X) - N_TRAIN
        if self.table.get(self.k_) == "raise":
            raise ValueError(f"scripted failure at k={self.k_}\nsecond line of the message")
        self.classes_ = np.array([0, 1])
        return self

    def predict(self, X):
        if len(X) == len(Y_VAL):
            return np.array(self.table[self.k_])
        return np.zeros(len(X), dtype=int)

    def predict_proba(self, X):
        return np.full((len(X), 2), 0.5)


class Fill(SearchSpace):
    """``floor(4 fill)`` copies of the training rows ``ROWS`` with the labels ``LABELS``."""

    name = "fill-k"
    version = "test-1"

    def __init__(self, warm=(0.25, 1.0)):
        self.warm = warm

    def prepare(self, context):
        self.ctx = context

    def bounds(self):
        return {"fill": (0.0, 1.0)}

    def rows(self, params, rng):
        k = int(np.floor(4 * params["fill"] + 1e-9))
        return self.ctx.X.iloc[ROWS[:k]], np.array(LABELS[:k])

    def warm_starts(self):
        return [{"fill": f} for f in self.warm]


X_TRAIN = pd.DataFrame({"x": np.arange(N_TRAIN) / 10, "g": ["p", "u"] * (N_TRAIN // 2)})


def _fit(table=TABLE, *, max_loss=0.1, **kwargs):
    X = X_TRAIN
    Xv = pd.DataFrame({"x": np.linspace(0, 1, 10), "g": G_VAL})
    options = {"space": Fill(), "n_trials": 4, "line_search": 0, **kwargs}
    p = FairnessPoisoner(Scripted(table), budget=4, accuracy_bound="mean",
                         max_accuracy_loss=max_loss, cv=2, random_state=0, privileged="p",
                         **options)  # fmt: skip
    return p.fit(X, Y_TRAIN, sensitive_features=X["g"].to_numpy(), X_val=Xv, y_val=Y_VAL,
                 sensitive_val=G_VAL)  # fmt: skip


def _summary(p):
    return [(t.number, t.params["fill"], t.user_attrs.get("origin")) for t in p.study_.trials]


def test_the_line_search_bisects_fill_and_is_recorded():
    # warm starts fill .25 (k 1: feasible, .6) and 1 (k 4: loss .2 > .1). The line search bisects
    # between the largest feasible fill and the smallest infeasible one above it:
    # (.25 + 1) / 2 = .625 (k 2: feasible, .2), then (.625 + 1) / 2 = .8125 (k 3: feasible, .4).
    p = _fit(n_trials=4, line_search=4)
    assert _summary(p) == [
        (0, 0.25, "warm start"),
        (1, 1.0, "warm start"),
        (2, 0.625, "line search"),
        (3, 0.8125, "line search"),
    ]
    assert p.warm_start_trials_ == [0, 1]
    assert p.line_search_trials_ == [2, 3]
    # the fairest feasible trial is a line-search one: k = 2, |SPD| .2
    assert p.feasible_ and p.best_trial_.number == 2 and p.best_params_ == {"fill": 0.625}
    assert p.best_trial_.values[0] == pytest.approx(0.2, abs=1e-12)
    assert len(p.poison_) == 2 and p.failures_ == []


def test_without_a_line_search_no_trial_is_recorded_as_one():
    p = _fit(n_trials=2, line_search=0)
    assert p.warm_start_trials_ == [0, 1] and p.line_search_trials_ == []


def test_a_learner_failure_is_recorded_with_its_trial_and_first_line():
    table = {**TABLE, 2: "raise"}
    p = _fit(table, space=Fill(warm=(0.25, 0.5, 1.0)), n_trials=3)
    # trial 1 (fill .5, k 2) failed; the error is "<type>: <first line of the message>"
    assert p.failures_ == [{"trial": 1, "error": "ValueError: scripted failure at k=2"}]
    assert p.study_.trials[1].state.name == "FAIL"
    # the completed trials: k 1 (.6, feasible) and k 4 (0, loss .2 > .1): k 1 is chosen
    assert p.feasible_ and p.best_trial_.number == 0
    assert p.warm_start_trials_ == [0, 2]


def test_the_pareto_front_holds_the_non_dominated_feasible_trials():
    # warm starts k = 1, 2, 3, 4, 2: (unfairness, accuracy) = (.6,.8) (.2,.8) (.4,.7) (0,.5)
    # (.2,.8). k 4 breaks the allowance (loss .2 > .1); among the others (.2, .8) dominates
    # (.6, .8) and (.4, .7): the front is trials 1 and 4 (equal values).
    warm = (0.25, 0.5, 0.75, 1.0, 0.5)
    p = _fit(space=Fill(warm=warm), n_trials=5, objective="pareto")
    assert sorted(t.number for t in p.pareto_front_) == [1, 4]
    assert p.best_trial_.number == 1 and p.feasible_
    # an allowance of .25 admits k 4 ((0, .5): nothing is fairer): the front is trials 1, 3, 4
    loose = _fit(space=Fill(warm=warm), n_trials=5, objective="pareto", max_loss=0.25)
    assert sorted(t.number for t in loose.pareto_front_) == [1, 3, 4]
    assert loose.best_trial_.number == 3


def test_the_constrained_objective_keeps_only_the_chosen_trial_as_its_front():
    # k 4 is the fairest trial (0) but breaks the allowance; k 2 appears twice (trials 1 and 4)
    warm = (0.25, 0.5, 0.75, 1.0, 0.5)
    p = _fit(space=Fill(warm=warm), n_trials=5)
    assert [t.number for t in p.pareto_front_] == [1] and p.best_trial_.number == 1


def test_the_learner_gets_the_training_labels_then_the_added_ones_on_a_fresh_index():
    p = _fit(n_trials=2)
    SEEN.clear()
    t0 = time.perf_counter()
    score = p.score_point({"fill": 1.0})
    elapsed = time.perf_counter() - t0
    ((index, labels),) = SEEN
    assert labels == Y_TRAIN.tolist() + LABELS
    assert index == list(range(N_TRAIN + 4))  # no repeated row labels
    assert score["n_rows"] == 4 and score["accuracy_loss"] == pytest.approx(0.2)
    assert 0 <= score["fit_seconds"] <= elapsed
    # the added rows are the training rows ROWS, after the training rows
    rows, labels3, _ = p.generate({"fill": 0.75})
    assert labels3.tolist() == LABELS[:3]
    pd.testing.assert_frame_equal(rows, X_TRAIN.iloc[ROWS[:3]].reset_index(drop=True))
