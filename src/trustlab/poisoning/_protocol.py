"""The honest evaluation protocol of a poisoning run.

The poisoner sees the training and validation parts only. Afterwards, once,
three models are measured on the untouched test part: the unpoisoned
baseline, the model trained with the optimised rows, and a **matched random
control** (the same number of rows drawn from the same space without
optimisation).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from trustlab.datasets import DataSplit
from trustlab.fairness import evaluate, flat_block
from trustlab.learners import learner_name, make_learner
from trustlab.poisoning._poisoner import METRICS, FairnessPoisoner, unfairness
from trustlab.poisoning._space import BOUNDS

SUMMARY_METRICS = ("accuracy", "balanced_accuracy", "statistical_parity_difference", "disparate_impact",
                   "equalized_odds_difference", "equal_opportunity_difference", "fpr_difference")  # fmt: skip


def _block(model: Any, part: Any, sensitive: str) -> dict[str, float]:
    full = flat_block(evaluate(part.y, model.predict(part.X), sensitive_features=part.groups(sensitive),
                               privileged=part.privileged[sensitive]))  # fmt: skip
    return {k: full[k] for k in SUMMARY_METRICS}


def make_poisoner(split: DataSplit, *, learner: Any, sensitive: str, seed: int, n_jobs: int | None = None,
                  **kwargs: Any) -> FairnessPoisoner:  # fmt: skip
    """A poisoner around the default ``learner`` for this split (not yet fit)."""
    tr = split.train
    est = make_learner(learner, categorical=tr.categorical, numeric=tr.numeric, random_state=seed,
                       n_jobs=n_jobs)  # fmt: skip
    return FairnessPoisoner(est, privileged=tr.privileged[sensitive], random_state=seed, **kwargs)


def fit_poisoner(poisoner: FairnessPoisoner, split: DataSplit, sensitive: str) -> FairnessPoisoner:
    """Fit on the training part, validated on the validation part (never the test part)."""
    tr, va = split.train, split.val
    return poisoner.fit(tr.X, tr.y, sensitive_features=tr.groups(sensitive), X_val=va.X, y_val=va.y,
                        sensitive_val=va.groups(sensitive))  # fmt: skip


def evaluate_poisoning(poisoner: FairnessPoisoner, split: DataSplit, sensitive: str, *,
                       seed: int = 0) -> dict[str, Any]:  # fmt: skip
    """Baseline, poisoned and random control on validation and (once) on test.

    Returns
    -------
    dict
        The ``summary.json`` schema: ``baseline``, ``poisoned``,
        ``random_control`` (each with ``validation`` and ``test`` blocks),
        ``n_train``, ``n_poison``, ``trainings``, ...
    """
    t0 = time.perf_counter()
    tr = split.train
    s_tr = tr.groups(sensitive)
    out: dict[str, Any] = {}
    base = poisoner.baseline_model_
    out["baseline"] = {"validation": _block(base, split.val, sensitive), "test": _block(base, split.test, sensitive)}
    Xa, ya, _ = poisoner.augment(tr.X, tr.y, s_tr)
    poisoned = clone(poisoner.estimator).fit(Xa, ya)
    out["poisoned"] = {"validation": _block(poisoned, split.val, sensitive),
                       "test": _block(poisoned, split.test, sensitive)}  # fmt: skip
    ctrl_params = poisoner.random_control_params(seed=seed)
    ctrl_rows = poisoner.generate(ctrl_params)
    Xc, yc, _ = poisoner.augment(tr.X, tr.y, s_tr, poison=ctrl_rows)
    control = clone(poisoner.estimator).fit(Xc, yc)
    out["random_control"] = {"validation": _block(control, split.val, sensitive),
                             "test": _block(control, split.test, sensitive),
                             "n_rows": len(ctrl_rows[0]), "params": ctrl_params}  # fmt: skip
    trainings = poisoner.trainings_ + 2
    return {
        **out,
        **run_facts(poisoner, split, sensitive),
        "learner": learner_name(poisoner.estimator.steps[-1][1]) if hasattr(poisoner.estimator, "steps") else learner_name(poisoner.estimator),
        "trainings": trainings,
        "trials": len(trials_frame(poisoner)),
        "failed_trials": poisoner.failures_,
        "feasible": poisoner.feasible_,
        "best_trial": poisoner.best_trial_.number,
        "best_params": poisoner.best_params_,
        "sampler": poisoner.sampler,
        "objective": poisoner.objective,
        "max_accuracy_loss": poisoner.max_accuracy_loss,
        "seed": seed,
        "search_seconds": poisoner.fit_seconds_,
        "evaluation_seconds": time.perf_counter() - t0,
        "wall_seconds": poisoner.fit_seconds_ + time.perf_counter() - t0,
    }


def run_facts(poisoner: Any, split: DataSplit, sensitive: str) -> dict[str, Any]:
    """The ``summary.json`` fields every poisoner shares: data, metric, budget and row counts."""
    return {
        "dataset": split.train.name,
        "sensitive": sensitive,
        "privileged": poisoner.privileged_,
        "metric": poisoner.metric,
        "budget": poisoner.budget,
        "n_train": len(split.train),
        "n_val": len(split.val),
        "n_test": len(split.test),
        "n_poison": len(poisoner.poison_),
        "n_poison_budget": poisoner.n_poison_,
    }


def trials_frame(poisoner: FairnessPoisoner) -> pd.DataFrame:
    """One row per trial: parameters, validation metrics, accuracy loss, feasibility, state."""
    rows = []
    for t in poisoner.study_.get_trials(deepcopy=False):
        if "skipped" in t.user_attrs:
            continue
        val = t.user_attrs.get("validation", {})
        loss = t.user_attrs.get("accuracy_loss")
        rows.append({
            "trial": t.number,
            "state": t.state.name,
            **{k: t.params.get(k) for k in BOUNDS},
            "n_rows": t.user_attrs.get("n_rows"),
            "unfairness": unfairness(val, poisoner.metric) if val else np.nan,
            **{f"val_{k}": val.get(k) for k in SUMMARY_METRICS},
            "accuracy_loss": loss,
            "feasible": None if loss is None else bool(loss <= poisoner.max_accuracy_loss),
            "error": t.user_attrs.get("error"),
            "fit_seconds": t.user_attrs.get("fit_seconds"),
        })  # fmt: skip
    return pd.DataFrame(rows)


def best_so_far(trials: pd.DataFrame, baseline_unfairness: float) -> pd.DataFrame:
    """Best feasible validation unfairness after each training (trial order)."""
    best, out = baseline_unfairness, []
    for _, r in trials.sort_values("trial").iterrows():
        if r["state"] == "COMPLETE" and r["feasible"] and r["unfairness"] < best:
            best = r["unfairness"]
        out.append({"trial": int(r["trial"]), "best_unfairness": best})
    return pd.DataFrame(out)


def metric_key(metric: str) -> str:
    """Summary key of the fairness block the metric is read from."""
    return METRICS[metric][0]
