"""White-box points and run_frontier on small synthetic data, with a fake poisoning run."""

from types import SimpleNamespace

import numpy as np
import pytest

from trustlab import ConfigError
from trustlab.datasets import make_synthetic, split_dataset
from trustlab.fairness import evaluate_on, fit_baseline, get_metric
from trustlab.frontier import (
    check_budgets,
    poisoning_points,
    run_frontier,
    threshold_points,
    whitebox_points,
)

SMALL = {"massaging_fractions": (0.5, 1.0), "eg_bounds": (0.05,), "eg_max_iter": 3}


@pytest.fixture(scope="module")
def split():
    return split_dataset(make_synthetic(1200, seed=3), seed=0, sensitive="group")


def fake_poison(split, *, learner, sensitive, seed, budget, metric, **kw):
    """Evaluations of the baseline stand in for the poisoned model and its control."""
    model = fit_baseline(split, learner, seed=seed)
    ev = {"validation": evaluate_on(model, split.val, sensitive), "test": evaluate_on(model, split.test, sensitive)}
    fake_poison.calls.append({"budget": budget, "metric": metric, **kw})
    return SimpleNamespace(summary={"arms": {"baseline": ev, "intervention": ev, "control": ev},
                                    "cost": {"trainings": 7, "wall_seconds": 0.1}, "details": {"best_trial": 3}})


fake_poison.calls = []


def test_whitebox_points_cover_every_method(split):
    out = whitebox_points(split, learner="logreg", sensitive="group", metric="statistical_parity", **SMALL)
    methods = [p["method"] for p in out["points"]]
    assert methods[0] == "baseline"
    assert {"thresholds", "threshold-optimizer", "massaging", "reweighing", "exponentiated-gradient"} <= set(methods)
    assert [p["setting"]["fraction"] for p in out["points"] if p["method"] == "massaging"] == [0.5, 1.0]
    for p in out["points"]:
        for part in ("validation", "test"):
            b = p[part]
            assert 0 <= b["accuracy"] <= 1 and b["unfairness"] >= 0
            assert b["unfairness"] == pytest.approx(abs(b["statistical_parity_difference"]))
    # full massaging repairs most of the baseline's disparity on the training labels' model
    base = out["points"][0]["test"]["unfairness"]
    full = next(p for p in out["points"] if p.get("setting", {}).get("fraction") == 1.0)["test"]["unfairness"]
    assert full < base
    assert out["trainings"] >= 1 + 1 + 2 + 1  # baseline, ranker, two massaging fits, reweighing


def test_threshold_sweep_trades_accuracy_for_fairness_on_validation(split):
    model = fit_baseline(split, "logreg", seed=0)
    pts = threshold_points(model, split, "group", "statistical_parity_difference")
    assert len(pts) >= 3
    val_u = [p["validation"]["unfairness"] for p in pts]
    val_acc = [p["validation"]["accuracy"] for p in pts]
    # targets shrink, so chosen points get fairer and (weakly) less accurate on validation
    assert val_u == sorted(val_u, reverse=True)
    assert val_acc == sorted(val_acc, reverse=True)
    base_u = get_metric("spd").unfairness(evaluate_on(model, split.val, "group"))
    assert val_u[-1] < 0.5 * base_u


def test_fpr_metric_uses_its_own_unfairness(split):
    out = whitebox_points(split, learner="logreg", sensitive="group", metric="fpr_gap",
                          massaging_fractions=(1.0,), eg_bounds=())
    for p in out["points"]:
        assert p["test"]["unfairness"] == pytest.approx(abs(p["test"]["fpr_difference"]))


def test_poisoning_points_from_a_summary(split):
    summary = fake_poison(split, learner="logreg", sensitive="group", seed=0, budget=0.1, metric="x").summary
    poison, control = poisoning_points(summary, budget=0.1, metric="spd", setting={"space": "boundary"})
    assert (poison["kind"], control["kind"]) == ("poisoning", "control")
    assert poison["setting"] == {"budget": 0.1, "space": "boundary"}
    assert poison["cost"]["trainings"] == 7 and poison["details"] == {"best_trial": 3}
    assert control["setting"] == {"budget": 0.1}


def test_run_frontier_document(split):
    fake_poison.calls.clear()
    doc = run_frontier(split, learner="logreg", sensitive="group", metric="statistical_parity",
                       budgets="0.05,0.1", seed=0, n_trials=4, poison=fake_poison, **SMALL)
    assert doc["metric"] == "statistical_parity_difference"
    assert doc["budgets"] == [0.05, 0.1]
    assert [c["budget"] for c in fake_poison.calls] == [0.05, 0.1]
    assert all(c["metric"] == "statistical_parity_difference" and c["n_trials"] == 4 for c in fake_poison.calls)
    kinds = [p["kind"] for p in doc["points"]]
    assert kinds.count("poisoning") == 2 and kinds.count("control") == 2
    assert [g["budget"] for g in doc["frontier_gap"]] == [0.05, 0.1]
    # the fake poisoned model is the baseline itself: its gap is the baseline's distance to the frontier
    base = doc["points"][0]
    assert base["kind"] == "baseline"
    on_envelope = any(e["method"] == "baseline" for e in doc["envelope"])
    for g in doc["frontier_gap"]:
        assert g["accuracy"] == base["test"]["accuracy"]
        assert g["gap"] == pytest.approx(base["test"]["unfairness"] - g["frontier_unfairness"])
        assert g["gap"] == pytest.approx(0) if on_envelope else g["gap"] > 0
        assert g["control_gap"] == pytest.approx(g["gap"])
    env_acc = [e["accuracy"] for e in doc["envelope"]]
    assert env_acc == sorted(env_acc)
    assert doc["cost"]["poisoning_trainings"] == 14
    assert doc["cost"]["trainings"] == doc["cost"]["whitebox_trainings"] + 14
    assert set(doc["arms"]) == {"baseline", "intervention", "control"}
    assert set(doc["arms"]["baseline"]) == {"validation", "test"}


def test_run_frontier_is_deterministic(split):
    kw = {"learner": "logreg", "sensitive": "group", "metric": "spd", "budgets": [0.1], "seed": 1,
          "n_trials": 2, "poison": fake_poison, **SMALL}
    a, b = run_frontier(split, **kw), run_frontier(split, **kw)
    assert [p["test"] for p in a["points"]] == [p["test"] for p in b["points"]]
    assert a["envelope"] == b["envelope"] and a["frontier_gap"] == b["frontier_gap"]


@pytest.mark.parametrize(("budgets", "message"), [
    ([], "empty"), ("", "empty"), ([0.1, 0.05], "increasing"), ([0.05, 0.05], "increasing"),
    ([0.0, 0.1], "(0, 1]"), ([-0.1], "(0, 1]"), ([0.5, 1.5], "(0, 1]"), ("0.1,abc", "comma-separated"),
])
def test_bad_budgets(budgets, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("]", r"\]")):
        check_budgets(budgets)


def test_good_budgets():
    assert check_budgets("0.025, 0.05,0.1,1") == [0.025, 0.05, 0.1, 1.0]


@pytest.mark.parametrize("bad", [{"metric": "nope"}, {"budgets": []}, {"massaging_fractions": (0.0,)},
                                 {"eg_bounds": (-1.0,)}, {"n_trials": 0}])
def test_run_frontier_rejects_bad_input_before_training(split, bad):
    calls = []

    def poison(*a, **k):  # pragma: no cover - must not be reached
        calls.append(1)

    kw = {"learner": "logreg", "sensitive": "group", "budgets": [0.1], "poison": poison, **SMALL, **bad}
    with pytest.raises(ConfigError) as exc:
        run_frontier(split, **kw)
    assert "\n" not in str(exc.value) and not calls


def test_same_split_numbers_are_finite(split):
    out = whitebox_points(split, learner="logreg", sensitive="group", massaging_fractions=(1.0,), eg_bounds=())
    assert all(np.isfinite(p["test"]["unfairness"]) for p in out["points"])
