import json
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from trustlab import ConfigError
from trustlab.cli import main
from trustlab.fairness import evaluate, flat_block, get_metric
from trustlab.poisoning import (
    GradientDivergenceWarning,
    GradientPoisoner,
    check_plausible,
)
from trustlab.poisoning import _gradient as gradient_mod
from trustlab.poisoning._gradient_core import (
    DT,
    hard_unfairness,
    implicit_grad,
    mlp_init,
    mlp_logits,
    soft_unfairness,
    solve_logreg,
    unrolled_mlp,
)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """The problems here are tiny: torch threads only contend on a shared machine."""
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(prev)


KINDS = {"categorical": ["degree", "gender"], "numeric": ["years", "skill"], "integer": ["years"]}


def _tiny(seed: int = 0):
    rng = np.random.default_rng(seed)
    n, d, m, nv = 40, 3, 4, 30
    Z = torch.as_tensor(rng.normal(size=(n, d)))
    y = torch.as_tensor((Z[:, 0].numpy() + rng.normal(size=n) > 0).astype(float))
    Zp = torch.as_tensor(rng.normal(size=(m, d)))
    yp = torch.tensor([1.0, 1.0, 0.0, 0.0], dtype=DT)
    Zv = torch.as_tensor(rng.normal(size=(nv, d)))
    yv = (Zv[:, 0].numpy() > 0).astype(int)
    priv = rng.random(nv) < 0.5
    return Z, y, Zp, yp, Zv, yv, priv


@pytest.mark.parametrize("metric", ["statistical_parity", "fpr_gap", "equalized_odds"])
def test_implicit_gradient_matches_finite_differences(metric):
    Z, y, Zp, yp, Zv, yv, priv = _tiny()
    l2 = 0.1
    Zvb = torch.cat([Zv, torch.ones(len(Zv), 1, dtype=DT)], dim=1)

    def outer(w):
        return soft_unfairness(torch.sigmoid(Zvb @ w), yv, priv, metric)

    def value(P):
        return float(outer(solve_logreg(torch.cat([Z, P]), torch.cat([y, yp]), l2, tol=1e-14)))

    w = solve_logreg(torch.cat([Z, Zp]), torch.cat([y, yp]), l2, tol=1e-14)
    v, grad = implicit_grad(w, Z, y, Zp, yp, l2, outer)
    assert float(v) == pytest.approx(value(Zp))
    eps, fd = 1e-6, torch.zeros_like(Zp)
    for i in range(Zp.shape[0]):
        for j in range(Zp.shape[1]):
            e = torch.zeros_like(Zp)
            e[i, j] = eps
            fd[i, j] = (value(Zp + e) - value(Zp - e)) / (2 * eps)
    rel = float((grad - fd).norm() / fd.norm())
    assert fd.norm() > 1e-8 and rel < 1e-5, rel


def test_unrolled_mlp_gradient_matches_finite_differences():
    Z, y, Zp, yp, Zv, yv, priv = _tiny(1)
    theta0 = mlp_init(Z.shape[1], 4, seed=0)

    def value(P):
        theta = unrolled_mlp(theta0, Z, y, P, yp, l2=1e-3, steps=5, lr=0.5)
        return soft_unfairness(torch.sigmoid(mlp_logits(theta, Zv)), yv, priv, "statistical_parity")

    P = Zp.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(value(P), P)
    eps, fd = 1e-6, torch.zeros_like(Zp)
    for i in range(Zp.shape[0]):
        for j in range(Zp.shape[1]):
            e = torch.zeros_like(Zp)
            e[i, j] = eps
            fd[i, j] = (float(value(Zp + e).detach()) - float(value(Zp - e).detach())) / (2 * eps)
    assert float((grad - fd).norm() / fd.norm()) < 1e-5


@pytest.mark.parametrize("metric", ["statistical_parity", "equalized_odds", "equal_opportunity", "fpr_gap",
                                    "disparate_impact"])  # fmt: skip
def test_hard_unfairness_agrees_with_the_fairness_module(metric):
    rng = np.random.default_rng(3)
    y, pred = rng.integers(0, 2, 200), rng.integers(0, 2, 200)
    s = rng.choice(["a", "b"], 200)
    block = flat_block(evaluate(y, pred, sensitive_features=s, privileged="b"))
    assert hard_unfairness(pred, y, s == "b", metric) == pytest.approx(get_metric(metric).unfairness(block))


def _fit(split, **kw):
    tr, va = split.train, split.val
    kw = {"budget": 0.1, "steps": 8, "max_accuracy_loss": 0.05, "random_state": 0, **kw}
    return GradientPoisoner(**kw).fit(tr.X, tr.y, sensitive_features=tr.groups("gender"), X_val=va.X,
                                      y_val=va.y, sensitive_val=va.groups("gender"))  # fmt: skip


@pytest.fixture(scope="module")
def fitted(mixed_split):
    return {k: _fit(mixed_split, surrogate=k, inner_steps=5, epochs=60) for k in ("logreg", "mlp")}


@pytest.mark.parametrize("kind", ["logreg", "mlp"])
def test_every_row_is_plausible(fitted, mixed_split, kind):
    p = fitted[kind]
    tr = mixed_split.train
    rows = p.poison_.drop(columns="hired")
    assert list(p.poison_.columns) == [*tr.X.columns, "hired"]
    assert len(p.poison_) == p.n_poison_ == round(0.1 * len(tr))
    check_plausible(rows, p.poison_["hired"], tr.X, **KINDS)
    assert (rows["gender"].to_numpy() == p.poison_sensitive_).all()  # the group column is kept
    assert sum(p.cells_.values()) == p.n_poison_
    assert {"step", "unfairness", "accuracy_loss", "feasible"} <= set(p.history_.columns)
    assert len(p.history_) == 9 and not p.diverged_
    Xa, ya, sa = p.augment(tr.X, tr.y, tr.groups("gender"))
    assert len(Xa) == len(ya) == len(sa) == len(tr) + p.n_poison_
    rc = p.random_control(seed=0)
    assert len(rc[0]) == p.n_poison_
    check_plausible(rc[0], rc[1], tr.X, **KINDS)


def test_rows_move_away_from_the_templates(fitted, mixed_split):
    p = fitted["logreg"]
    templates = mixed_split.train.X.iloc[p.templates_].reset_index(drop=True)
    assert not np.allclose(templates["skill"].to_numpy(), p.poison_["skill"].to_numpy())


def test_deterministic_under_a_seed(fitted, mixed_split):
    again = _fit(mixed_split, surrogate="logreg")
    pd.testing.assert_frame_equal(again.poison_, fitted["logreg"].poison_)
    pd.testing.assert_frame_equal(again.history_, fitted["logreg"].history_)


def test_bad_configuration(mixed_split):
    with pytest.raises(ConfigError, match="unknown surrogate"):
        _fit(mixed_split, surrogate="svm")
    with pytest.raises(ConfigError, match="budget must be > 0"):
        _fit(mixed_split, surrogate="logreg", budget=0)
    with pytest.raises(ConfigError, match="steps must be a positive integer"):
        _fit(mixed_split, surrogate="logreg", steps=0)
    with pytest.raises(ConfigError, match="unknown metric"):
        _fit(mixed_split, surrogate="logreg", metric="nope")


def test_nan_loss_stops_and_keeps_the_best_valid_iterate(mixed_split, monkeypatch):
    calls = {"n": 0}
    real = gradient_mod.soft_unfairness

    def flaky(p, y, priv, metric):
        calls["n"] += 1
        out = real(p, y, priv, metric)
        return out * float("nan") if calls["n"] > 6 else out  # two calls a step: NaN from step 3

    monkeypatch.setattr(gradient_mod, "soft_unfairness", flaky)
    with pytest.warns(GradientDivergenceWarning, match="diverged"):
        p = _fit(mixed_split, surrogate="logreg", steps=10)
    assert p.diverged_ and "step 3" in p.divergence_
    assert len(p.history_) == 3 and p.best_step_ < 3
    assert np.isfinite(p.history_["objective"]).all()
    check_plausible(p.poison_.drop(columns="hired"), p.poison_["hired"], mixed_split.train.X, **KINDS)


BASE = ["poison", "--target", "hired", "--sensitive", "gender", "--privileged", "m", "--budget", "0.1",
        "--seed", "0", "--method", "gradient", "--steps", "5", "--max-accuracy-loss", "0.05"]  # fmt: skip
BLOCK = {"accuracy", "balanced_accuracy", "statistical_parity_difference", "disparate_impact",
         "equalized_odds_difference", "equal_opportunity_difference", "fpr_difference", "fnr_difference"}  # fmt: skip


def test_cli_gradient_summary_and_transfer(mixed_csv, tmp_path):
    out = tmp_path / "run"
    args = [*BASE, "--data", str(mixed_csv), "--surrogate", "logreg", "--learner", "logreg", "--learner", "rf",
            "--out", str(out)]  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(args) == 0
    doc = json.loads((out / "summary.json").read_text())
    assert doc["schema_version"] and doc["command"] == "poison" and doc["method"] == "gradient"
    s = doc["details"]
    for name in ("baseline", "poisoned", "random_control"):
        assert set(s[name]["validation"]) == BLOCK and set(s[name]["test"]) == BLOCK
    for key in ("n_train", "n_poison", "trainings", "wall_seconds", "seed", "learner", "metric", "budget"):
        assert key in s
    assert s["method"] == "gradient" and s["learner"] == "logreg" and s["random_control"]["n_rows"] == s["n_poison"]
    assert set(s["transfer"]) == {"surrogate", "logreg", "rf"}
    for t in s["transfer"].values():
        assert {"baseline", "poisoned", "random_control", "gain", "gain_kept", "poisoned_unfairness"} <= set(t)
        assert set(t["poisoned"]) == BLOCK
    assert s["transfer"]["logreg"]["baseline"] == s["baseline"]["test"]
    # the shared arms are the first --learner's (logreg), so reports read a gradient run like any other
    from trustlab.results import validate_result

    validate_result(doc)
    for arm, key in (("baseline", "baseline"), ("intervention", "poisoned"), ("control", "random_control")):
        for part in ("validation", "test"):
            block = doc["arms"][arm][part]
            assert block["overall"]["accuracy"] == pytest.approx(s[key][part]["accuracy"])
            assert block["fairness"]["statistical_parity_difference"] == pytest.approx(
                s[key][part]["statistical_parity_difference"])
    assert doc["arms"]["intervention"]["test"] != doc["arms"]["control"]["test"]
    poison = pd.read_csv(out / "poison.csv")
    assert list(poison.columns) == ["years", "skill", "degree", "gender", "hired"] and len(poison) == s["n_poison"]
    assert set(poison["hired"]) <= {0, 1}
    assert (out / "history.csv").exists() and (out / "run.json").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--surrogate", "svm"], "unknown surrogate"),
        (["--learner", "nope"], "unknown learner"),
        (["--budget", "0"], "--budget is a fraction of the training rows in (0, 1]"),
    ],
)
def test_cli_gradient_bad_input(mixed_csv, tmp_path, capsys, extra, message):
    out = tmp_path / "out"
    assert main([*BASE, "--data", str(mixed_csv), *extra, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not out.exists()
