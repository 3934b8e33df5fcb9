import importlib

import numpy as np
import pandas as pd
import pytest

from trustlab import ConfigError, DataError
from trustlab.datasets import make_synthetic, split_dataset
from trustlab.fairness import evaluate
from trustlab.learners import make_learner
from trustlab.poisoning._visibility import added_rows_visibility


def spd(block):
    return abs(block["fairness"]["statistical_parity_difference"])


class SPD:
    name = "spd_object"

    def unfairness(self, block):
        return spd(block)


def _hand_made():
    """30 distinct training rows (column ``a`` is unique), one with a missing value."""
    rng = np.random.default_rng(0)
    n = 30
    X = pd.DataFrame({
        "a": rng.permutation(1000)[:n],
        "b": rng.choice(["x", "y"], n),
        "c": rng.normal(size=n).round(3),
    })  # fmt: skip
    X.loc[2, "c"] = np.nan
    y = np.array([0, 1] * (n // 2))
    s = np.where(np.arange(n) % 3 == 0, "f", "m")
    new = pd.DataFrame({"a": [5000, 5000], "b": ["x", "x"], "c": [0.5, 0.5]})
    # row 0 copied with its label, row 1 with the other label, row 2 (NaN) with its label,
    # then the same unseen row twice
    X_added = pd.concat([X.iloc[[0, 1, 2]], new], ignore_index=True)
    y_added = np.array([y[0], 1 - y[1], y[2], 1, 1])
    s_added = np.array(["f", "m", "m", "f", "f"])
    learner = make_learner("logreg", categorical=["b"], numeric=["a", "c"])
    return X, y, s, X_added, y_added, s_added, learner


def _run(X, y, s, Xa, ya, sa, learner, **kw):
    kw.setdefault("X_eval", X)
    kw.setdefault("y_eval", y)
    kw.setdefault("s_eval", s)
    kw.setdefault("privileged", "m")
    kw.setdefault("metric", spd)
    kw.setdefault("folds", 3)
    return added_rows_visibility(X, y, s, Xa, ya, sa, learner, **kw)


def test_duplicate_and_conflict_shares_on_hand_made_rows():
    X, y, s, Xa, ya, sa, learner = _hand_made()
    out = _run(X, y, s, Xa, ya, sa, learner)
    assert out["n_train"] == 30 and out["n_added"] == 5
    assert out["exact_duplicate_share"] == pytest.approx(3 / 5)  # rows 0, 1, 2 (NaN == NaN)
    assert out["conflict_share"] == pytest.approx(1 / 5)  # row 1 with the other label
    assert out["added_repeat_share"] == pytest.approx(2 / 5)  # the unseen row, twice
    # the cleaning pass drops both copies of the conflicting row 1
    assert out["removed"]["in_conflicting_duplicates"] == 2
    assert out["removed"]["added"] >= 1 and out["removed"]["original"] >= 1
    assert out["method"]["detector"] == "cleanlab.filter.find_label_issues"
    assert out["method"]["folds"] == 3 and out["method"]["seed"] == 0
    cells = out["flagged_by_cell"]
    assert sum(c["n_original"] for c in cells.values()) == 30
    assert sum(c["n_added"] for c in cells.values()) == 5
    assert cells["privileged|0"]["n_added"] == 2 and cells["privileged|0"]["added"] is not None
    assert cells["privileged|1"]["n_added"] == 0 and cells["privileged|1"]["added"] is None


def test_column_order_and_label_do_not_hide_a_duplicate():
    X, y, s, Xa, ya, sa, learner = _hand_made()
    out = _run(X, y, s, Xa[["c", "a", "b"]], ya, sa, learner)
    assert out["exact_duplicate_share"] == pytest.approx(3 / 5)
    changed = Xa.copy()
    changed.loc[0, "c"] += 0.001  # a near-copy is not an exact duplicate
    out = _run(X, y, s, changed, ya, sa, learner)
    assert out["exact_duplicate_share"] == pytest.approx(2 / 5)


@pytest.fixture(scope="module")
def synthetic():
    split = split_dataset(make_synthetic(n=900, seed=0), seed=0)
    learner = make_learner("logreg", categorical=[], numeric=["x1", "x2"])
    train = split.train
    model = make_learner("logreg", categorical=[], numeric=["x1", "x2"]).fit(train.X, train.y)
    p1 = model.predict_proba(train.X)[:, 1]
    own = np.where(train.y.to_numpy() == 1, p1, 1 - p1)
    confident = np.argsort(-own)[:40]
    assert own[confident].min() > 0.9
    return split, learner, confident


def _synthetic_run(split, learner, rows, labels, **kw):
    tr, val = split.train, split.val
    s = tr.groups().to_numpy()
    return added_rows_visibility(
        tr.X, tr.y, s, tr.X.iloc[rows], labels, s[rows], learner,
        X_eval=val.X, y_eval=val.y, s_eval=val.groups(), privileged=val.privileged["group"],
        metric=kw.pop("metric", spd), **kw,
    )  # fmt: skip


def test_flipped_copies_of_confident_rows_are_flagged_far_more_than_clean_copies(synthetic):
    split, learner, rows = synthetic
    y = split.train.y.to_numpy()
    flipped = _synthetic_run(split, learner, rows, 1 - y[rows])
    clean = _synthetic_run(split, learner, rows, y[rows])
    assert flipped["exact_duplicate_share"] == clean["exact_duplicate_share"] == 1.0
    assert flipped["conflict_share"] == 1.0 and clean["conflict_share"] == 0.0
    assert flipped["flagged_share"] >= 0.8
    assert clean["flagged_share"] <= 0.05
    assert flipped["flagged_share"] - flipped["flagged_share_original"] >= 0.6
    # every flipped copy conflicts with its original: the cleaning pass drops all of them
    assert flipped["removed"]["added"] == len(rows) and flipped["removed"]["added_share"] == 1.0
    assert clean["removed"]["in_conflicting_duplicates"] == 0


def test_arms_gain_and_given_baseline(synthetic):
    split, learner, rows = synthetic
    y = split.train.y.to_numpy()
    out = _synthetic_run(split, learner, rows, 1 - y[rows])
    for arm in ("baseline", "poisoned", "cleaned"):
        assert 0.5 < out[arm]["accuracy"] <= 1.0
        assert out[arm]["unfairness"] == pytest.approx(spd(out[arm]["evaluation"]))
    assert out["gain"] == pytest.approx(
        out["baseline"]["unfairness"] - out["poisoned"]["unfairness"]
    )
    assert out["gain_left"] == pytest.approx(
        out["baseline"]["unfairness"] - out["cleaned"]["unfairness"]
    )
    assert out["cost"]["trainings"] == 5 + 3
    tr, val = split.train, split.val
    base_model = make_learner("logreg", categorical=[], numeric=["x1", "x2"]).fit(tr.X, tr.y)
    given = _synthetic_run(split, learner, rows, 1 - y[rows], baseline=base_model)
    assert given["baseline"]["unfairness"] == pytest.approx(out["baseline"]["unfairness"])
    assert given["cost"]["trainings"] == 5 + 2
    block = evaluate(val.y, base_model.predict(val.X), sensitive_features=val.groups(),
                     privileged=val.privileged["group"])  # fmt: skip
    as_block = _synthetic_run(split, learner, rows, 1 - y[rows], baseline=block, metric=SPD())
    assert as_block["baseline"]["unfairness"] == pytest.approx(out["baseline"]["unfairness"])
    assert as_block["gain_left"] == pytest.approx(out["gain_left"])
    assert as_block["method"]["metric"] == "spd_object"


def _drop_time(out):
    return {k: v for k, v in out.items() if k != "cost"}


def test_same_seed_same_numbers_with_a_random_learner(synthetic):
    split, _, rows = synthetic
    y = split.train.y.to_numpy()
    # a learner with randomness: unset random_state is fixed by the seed
    learner = make_learner("rf", categorical=[], numeric=["x1", "x2"], random_state=None)
    learner.set_params(model__n_estimators=20)
    a = _synthetic_run(split, learner, rows[:20], 1 - y[rows[:20]], seed=3)
    b = _synthetic_run(split, learner, rows[:20], 1 - y[rows[:20]], seed=3)
    assert _drop_time(a) == _drop_time(b)
    assert learner.get_params()["model__random_state"] is None  # the caller's learner untouched


def test_factory_learner_gives_same_result_as_estimator():
    X, y, s, Xa, ya, sa, learner = _hand_made()
    out = _run(X, y, s, Xa, ya, sa, learner)
    factory = _run(
        X, y, s, Xa, ya, sa, lambda: make_learner("logreg", categorical=["b"], numeric=["a", "c"])
    )
    assert _drop_time(out) == _drop_time(factory)


def test_metric_name_goes_through_the_registry():
    X, y, s, Xa, ya, sa, learner = _hand_made()
    fairness = importlib.import_module("trustlab.fairness")
    if not hasattr(fairness, "get_metric"):
        with pytest.raises(ConfigError, match="get_metric"):
            _run(X, y, s, Xa, ya, sa, learner, metric="statistical_parity")
        return
    out = _run(X, y, s, Xa, ya, sa, learner, metric="statistical_parity")
    m = fairness.get_metric("statistical_parity")
    assert out["poisoned"]["unfairness"] == pytest.approx(
        m.unfairness(out["poisoned"]["evaluation"])
    )


class _NoFit:
    """Fails the test if any bad input gets as far as a model fit."""

    def fit(self, X, y):
        raise AssertionError("fit called before the input was checked")

    def predict(self, X):
        raise AssertionError("predict called")

    def get_params(self, deep=True):
        return {}

    def set_params(self, **params):
        return self


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (lambda a: a.update(Xa=a["Xa"].rename(columns={"c": "z"})), DataError, "columns differ"),
        (lambda a: a.update(Xa=a["Xa"].drop(columns="c")), DataError, "columns differ"),
        (lambda a: a.update(X_eval=a["X"].drop(columns="b")), DataError, "X_eval columns"),
        (lambda a: a.update(ya=a["ya"][:-1]), DataError, "y_added has 4 values"),
        (lambda a: a.update(y=a["y"][:-1]), DataError, "y has 29 values"),
        (lambda a: a.update(sa=a["sa"][:-1]), DataError, "sensitive_added"),
        (lambda a: a.update(s=a["s"][:-2]), DataError, "sensitive has 28"),
        (lambda a: a.update(ya=np.array([0, 1, 2, 1, 1])), DataError, "0/1"),
        (lambda a: a.update(y=np.where(a["y"] == 1, "yes", "no")), DataError, "0/1"),
        (lambda a: a.update(y_eval=a["y"] * 2), DataError, "y_eval must be 0/1"),
        (
            lambda a: a.update(Xa=a["Xa"].iloc[:0], ya=a["ya"][:0], sa=a["sa"][:0]),
            DataError,
            "empty",
        ),
        (lambda a: a.update(Xa=a["Xa"].to_numpy()), DataError, "DataFrame"),
        (lambda a: a.update(folds=1), ConfigError, "folds"),
        (lambda a: a.update(folds=20), DataError, "each label needs"),
        (lambda a: a.update(filter_by="nope"), ConfigError, "filter_by"),
        (lambda a: a.update(metric=3), ConfigError, "metric"),
        (lambda a: a.update(learner=42), ConfigError, "learner"),
    ],
)
def test_bad_input_raises_one_line_before_any_fit(change, error, match):
    X, y, s, Xa, ya, sa, _ = _hand_made()
    args = {"X": X, "y": y, "s": s, "Xa": Xa, "ya": ya, "sa": sa, "learner": _NoFit(),
            "X_eval": X, "y_eval": y, "folds": 3, "filter_by": "prune_by_noise_rate",
            "metric": spd}  # fmt: skip
    change(args)
    with pytest.raises(error, match=match) as info:
        added_rows_visibility(
            args["X"], args["y"], args["s"], args["Xa"], args["ya"], args["sa"], args["learner"],
            X_eval=args["X_eval"], y_eval=args["y_eval"], s_eval=s, privileged="m",
            metric=args["metric"], folds=args["folds"], filter_by=args["filter_by"],
        )  # fmt: skip
    assert "\n" not in str(info.value)
