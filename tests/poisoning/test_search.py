"""The search on data where the answer can change: a user-defined space, the constraint, the fallback, Pareto."""

import numpy as np
import optuna
import pandas as pd
import pytest
from sklearn.tree import DecisionTreeClassifier

from trustlab import ConfigError
from trustlab.fairness import get_metric
from trustlab.learners import make_learner
from trustlab.poisoning import FairnessPoisoner, SearchSpace, paired_loss_bound


def biased_data(n=600, seed=0):
    """One numeric feature and the group; the label favours group 'p', so added rows can move the gap."""
    rng = np.random.default_rng(seed)
    g = rng.choice(["p", "u"], n, p=[0.5, 0.5])
    x = rng.normal(size=n)
    y = ((x + 1.2 * (g == "p") + 0.4 * rng.normal(size=n)) > 0.6).astype(int)
    return pd.DataFrame({"x": x.round(4), "g": g}), y, g


class FlipUnprivileged(SearchSpace):
    """A user-defined space: relabel ``k`` unprivileged negatives with the highest x as positives."""

    name = "flip-unprivileged"
    version = "test-1"

    def prepare(self, context):
        self.ctx = context
        neg = np.flatnonzero(~context.privileged_mask & (context.y == 0))
        self.order = neg[np.argsort(-context.X["x"].to_numpy()[neg], kind="stable")]

    def bounds(self):
        return {"share": (0.0, 1.0)}

    def rows(self, params, rng):
        k = int(round(params["share"] * self.ctx.n_rows))
        idx = self.order[:k]
        return self.ctx.X.iloc[idx].reset_index(drop=True), np.ones(k, dtype=int)

    def warm_starts(self):
        return [{"share": 0.05}]

    def match_rows(self, params, n_rows):
        return {"share": n_rows / self.ctx.n_rows}


def _fit(space, **kw):
    X, y, g = biased_data()
    Xv, yv, gv = biased_data(400, seed=1)
    est = make_learner("logreg", categorical=["g"], numeric=["x"])
    opts = {"budget": 0.3, "n_trials": 12, "cv": 2, "random_state": 0, "privileged": "p", **kw}
    return FairnessPoisoner(est, space=space, **opts).fit(X, y, sensitive_features=g, X_val=Xv, y_val=yv,
                                                           sensitive_val=gv)  # fmt: skip


def test_a_user_space_runs_end_to_end_and_the_search_lowers_unfairness_within_the_allowance():
    p = _fit(FlipUnprivileged(), max_accuracy_loss=0.05)
    m = get_metric("statistical_parity")
    base = m.unfairness(p.baseline_)
    best = p.best_trial_.user_attrs
    assert p.feasible_ and best["accuracy_loss_bound"] <= 0.05
    assert m.unfairness(best["validation"]) < base - 0.02  # the rows really move the gap
    assert p.study_.user_attrs["trustlab_config"]["space"] == "flip-unprivileged"
    assert p.study_.user_attrs["trustlab_config"]["space_version"] == "test-1"
    assert set(p.poison_["label"]) == {1} and len(p.poison_) >= 1
    # the chosen trial is the fairest of the feasible ones
    feasible = [t for t in p.study_.trials if t.user_attrs["accuracy_loss_bound"] <= 0.05]
    assert p.best_trial_.values[0] == min(t.values[0] for t in feasible)
    # the allowance binds: the fairest trials of all broke it, and were not chosen
    fairest = min(p.study_.trials, key=lambda t: t.values[0])
    assert fairest.user_attrs["accuracy_loss_bound"] > 0.05 and fairest.values[0] < p.best_trial_.values[0]


def test_an_allowance_of_zero_falls_back_to_the_least_loss():
    p = _fit(FlipUnprivileged(), max_accuracy_loss=0.0, accuracy_bound="mean", n_trials=8)
    losses = [t.user_attrs["accuracy_loss"] for t in p.study_.trials]
    if p.feasible_:
        assert p.best_trial_.user_attrs["accuracy_loss"] <= 0
    else:  # the documented fallback: the trial with the smallest loss
        assert p.best_trial_.user_attrs["accuracy_loss"] == min(losses)


def test_the_pareto_front_is_non_dominated():
    p = _fit(FlipUnprivileged(), objective="pareto", n_trials=12)
    front = [tuple(t.values) for t in p.pareto_front_]
    everything = [tuple(t.values) for t in p.study_.trials]
    for u, acc in front:  # minimise unfairness, maximise accuracy
        assert not any(u2 <= u and a2 >= acc and (u2, a2) != (u, acc) for u2, a2 in everything)


def test_the_upper_bound_is_stricter_than_the_mean():
    base = np.array([1] * 90 + [0] * 10, dtype=bool)
    new = np.array([1] * 88 + [0] * 12, dtype=bool)
    loss, bound = paired_loss_bound(base, new, 0.8)
    assert loss == pytest.approx(0.02)
    d = np.r_[np.zeros(88), np.ones(2), np.zeros(10)]
    assert bound == pytest.approx(0.02 + 0.8416212 * d.std(ddof=1) / 10, rel=1e-6)
    assert paired_loss_bound(base, new, None) == (pytest.approx(0.02), pytest.approx(0.02))
    assert paired_loss_bound(base, base, 0.8) == (0.0, 0.0)  # identical predictions: no noise to allow for


class NoRows:
    name, version = "broken", "1"

    def prepare(self, context):
        pass

    def bounds(self):
        return {"a": (0.0, 1.0)}


class FairOnly(FlipUnprivileged):
    def supports(self, metric):
        return metric.name == "statistical_parity_difference"


@pytest.mark.parametrize(("space", "kw", "message"), [
    ("nope", {}, "unknown space 'nope'; choose from boundary, counterfactual, bands"),
    (NoRows(), {}, "space NoRows lacks rows()"),
    (FlipUnprivileged, {}, "is a class; pass an instance"),
    (FairOnly(), {"metric": "fpr_gap"}, "cannot serve the metric 'fpr_difference'"),
])  # fmt: skip
def test_bad_spaces_are_refused_before_any_training(space, kw, message):
    est = make_learner(DecisionTreeClassifier(), categorical=["g"], numeric=["x"])
    X, y, g = biased_data(100)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        FairnessPoisoner(est, space=space, privileged="p", **kw).fit(X, y, sensitive_features=g)
    assert not hasattr(est, "steps_") and not hasattr(est[-1], "tree_")  # nothing was trained


def test_a_stored_study_of_another_space_version_is_not_resumed(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    _fit(FlipUnprivileged(), storage=url, study_name="s", n_trials=3)

    class Newer(FlipUnprivileged):
        version = "test-2"

    with pytest.raises(ConfigError, match="space_version"):
        _fit(Newer(), storage=url, study_name="s", n_trials=3)
    assert len(optuna.load_study(study_name="s", storage=url).trials) == 3


class Monotone(SearchSpace):
    """Flip the unprivileged negatives with the highest x: ``fill`` of the budget (one design)."""

    name, version = "monotone", "1"

    def prepare(self, context):
        self.inner = FlipUnprivileged()
        self.inner.prepare(context)

    def bounds(self):
        return {"fill": (0.0, 1.0)}

    def rows(self, params, rng):
        return self.inner.rows({"share": params["fill"]}, rng)

    def warm_starts(self):
        return [{"fill": 1.0}, {"fill": 0.1}]


def test_the_line_search_bisects_fill_where_the_allowance_starts_to_bind():
    p = _fit(Monotone(), max_accuracy_loss=0.03, n_trials=6, line_search=4, sampler="random")
    trials = {t.number: t for t in p.study_.trials}
    assert p.warm_start_trials_ == []  # the random sampler (the control) gets no warm start and no line search
    assert p.line_search_trials_ == []
    p = _fit(Monotone(), max_accuracy_loss=0.03, n_trials=6, line_search=4, sampler="random", warm_start=True)
    assert p.warm_start_trials_ == [0, 1] and p.line_search_trials_ == [2, 3, 4, 5]  # asked for: as TPE gets them
    p = _fit(Monotone(), max_accuracy_loss=0.03, n_trials=6, line_search=4, warm_start=False)
    assert p.warm_start_trials_ == [] and p.line_search_trials_ == []
    p = _fit(Monotone(), max_accuracy_loss=0.03, n_trials=6, line_search=4)
    trials = {t.number: t for t in p.study_.trials}
    assert p.warm_start_trials_ == [0, 1] and p.line_search_trials_ == [2, 3, 4, 5]
    assert not trials[0].user_attrs["constraint"][0] <= 0 and trials[1].user_attrs["constraint"][0] <= 0
    lo, hi = 0.1, 1.0
    for n in p.line_search_trials_:  # each step halves the bracket [largest feasible, smallest infeasible]
        fill = trials[n].params["fill"]
        assert fill == pytest.approx((lo + hi) / 2)
        if trials[n].user_attrs["constraint"][0] <= 0:
            lo = fill
        else:
            hi = fill
    assert p.best_trial_.params["fill"] == pytest.approx(lo)
    assert p.best_trial_.number in p.line_search_trials_
