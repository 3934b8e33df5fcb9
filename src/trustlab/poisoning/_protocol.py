"""The honest evaluation protocol of a poisoning run: :func:`run_poisoning`.

The poisoner sees the training and validation parts only. Afterwards, once,
three models are measured on the untouched test part: the unpoisoned
baseline, the model trained with the optimised rows (the ``intervention``),
and a **matched random control** (the same number of rows from a random
point of the same space, without optimisation). The search's own worth is
measured too: its gain over the best enqueued warm-start point, on
validation and test.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from trustlab.datasets import DataSplit
from trustlab.fairness import evaluate, flat_block, get_metric, group_labels
from trustlab.learners import learner_name, make_learner
from trustlab.poisoning._poisoner import FairnessPoisoner
from trustlab.poisoning._storage import counted_trials


def evaluation(model: Any, part: Any, sensitive: str) -> dict[str, Any]:
    """:func:`trustlab.fairness.evaluate`'s block for a fitted model on one part of a split."""
    groups, priv = part.groups(sensitive), part.privileged[sensitive]
    return evaluate(part.y, model.predict(part.X), sensitive_features=groups, privileged=priv,
                    group_names=group_labels(groups, priv))  # fmt: skip


def make_poisoner(split: DataSplit, *, learner: Any, sensitive: str, seed: int, learner_jobs: int | None = None,
                  **kwargs: Any) -> FairnessPoisoner:  # fmt: skip
    """A :class:`FairnessPoisoner` around the default ``learner`` for this split (not yet fit).

    ``kwargs`` go to the poisoner (``space``, ``budget``, ``metric``, ``n_trials`` ...).

    Parameters
    ----------
    split : DataSplit
        The split; the learner's column kinds and the privileged value come from its training part.
    learner : str or estimator
        A learner spec for :func:`~trustlab.learners.make_learner`, used with its defaults.
    sensitive : str
        The sensitive attribute.
    seed : int
        Random state of the learner and the poisoner.
    learner_jobs : int, optional
        Threads of learners that take ``n_jobs``.
    **kwargs
        Further arguments of :class:`FairnessPoisoner`.

    Returns
    -------
    FairnessPoisoner
        The unfitted poisoner.
    """
    tr = split.train
    est = make_learner(learner, categorical=tr.categorical, numeric=tr.numeric, random_state=seed,
                       n_jobs=learner_jobs)  # fmt: skip
    return FairnessPoisoner(est, privileged=tr.privileged[sensitive], random_state=seed, **kwargs)


@dataclass
class PoisoningResult:
    """What :func:`run_poisoning` returns.

    Parameters
    ----------
    summary : dict
        A :mod:`trustlab.results` document (``command="poison"``): arms
        ``baseline``, ``intervention``, ``control`` with ``validation`` and
        ``test`` evaluation blocks; ``details`` with the search (trials, the
        winning trial, gain over the best warm start), the space and the rows.
    poisoner : FairnessPoisoner
        The fitted poisoner (its ``poison_`` are the added rows).
    trials : pandas.DataFrame
        One row per trial (:func:`trials_frame`).
    curve : pandas.DataFrame
        Best feasible validation unfairness after each trial (:func:`best_so_far`).
    control_rows : tuple, optional
        ``(X_rows, labels, sensitive)`` of the random control.
    """

    summary: dict[str, Any]
    poisoner: FairnessPoisoner
    trials: pd.DataFrame
    curve: pd.DataFrame
    control_rows: tuple[Any, ...] = field(repr=False, default=())


def run_poisoning(split: DataSplit, *, learner: Any, sensitive: str, seed: int = 0, space: Any = "boundary",
                  budget: float | int = 0.05, metric: str = "statistical_parity", n_trials: int = 60,
                  sampler: str = "tpe", objective: str = "constrained", max_accuracy_loss: float = 0.01,
                  accuracy_bound: str = "upper", confidence: float = 0.8, n_jobs: int = 1,
                  learner_jobs: int | None = None, storage: Any = None, study_name: str | None = None,
                  study_attrs: dict[str, Any] | None = None, warm_start: bool | None = None, line_search: int = 4,
                  visibility: bool = True, show_progress: bool = False) -> PoisoningResult:  # fmt: skip
    """Search for added rows on train + validation, then measure baseline, rows and control on test once.

    Parameters
    ----------
    split : DataSplit
        From :func:`trustlab.datasets.split_dataset`.
    learner : str or estimator
        The third party's learner (``"rf"``, ``"xgb"``, ``"module:Class"`` ...), used with its defaults.
    sensitive : str
        The sensitive attribute.
    seed : int
        Seed of the learner, the search and the random control.
    space, budget, metric, n_trials, sampler, objective, max_accuracy_loss, accuracy_bound, confidence, n_jobs, storage, study_name, study_attrs, warm_start, line_search, show_progress
        See :class:`FairnessPoisoner`.
    learner_jobs : int, optional
        Threads of learners that take ``n_jobs`` (the same model, faster).
    visibility : bool, default=True
        Also measure how visible the added rows are to the data owner
        (:func:`~trustlab.poisoning.added_rows_visibility`; 6 more trainings).

    Returns
    -------
    PoisoningResult
        The result document, the fitted poisoner, the trials table and the best-so-far curve.
    """
    from trustlab.results import label_info, result_document

    poisoner = make_poisoner(split, learner=learner, sensitive=sensitive, seed=seed, learner_jobs=learner_jobs,
                             space=space, budget=budget, metric=metric, n_trials=n_trials, sampler=sampler,
                             objective=objective, max_accuracy_loss=max_accuracy_loss,
                             accuracy_bound=accuracy_bound, confidence=confidence, n_jobs=n_jobs,
                             storage=storage, study_name=study_name, study_attrs=study_attrs,
                             warm_start=warm_start, line_search=line_search,
                             show_progress=show_progress)  # fmt: skip
    tr, va, te = split.train, split.val, split.test
    s_tr = tr.groups(sensitive)
    poisoner.fit(tr.X, tr.y, sensitive_features=s_tr, X_val=va.X, y_val=va.y, sensitive_val=va.groups(sensitive))
    t_eval = time.perf_counter()
    m = get_metric(metric)
    extra_trainings = 0

    def arm(model: Any) -> dict[str, Any]:
        return {"validation": evaluation(model, va, sensitive), "test": evaluation(model, te, sensitive)}

    def train(rows: tuple[Any, ...]) -> Any:
        nonlocal extra_trainings
        Xa, ya, _ = poisoner.augment(tr.X, tr.y, s_tr, poison=rows)
        extra_trainings += 1
        return clone(poisoner.estimator).fit(Xa, ya)

    chosen = (poisoner.poison_.drop(columns=poisoner.label_name_), poisoner.poison_[poisoner.label_name_].to_numpy(),
              poisoner.poison_sensitive_)  # fmt: skip
    arms = {"baseline": arm(poisoner.baseline_model_), "intervention": arm(train(chosen))}
    ctrl_params = poisoner.random_control_params(seed=seed)
    ctrl_rows = poisoner.generate(ctrl_params)
    arms["control"] = arm(train(ctrl_rows))
    search = _search_worth(poisoner, arms, m, lambda p: arm(train(poisoner.generate(p))))

    details: dict[str, Any] = {
        "space": poisoner.space_.describe() if hasattr(poisoner.space_, "describe") else {"name": poisoner.space_.name},
        "metric": m.name,
        "budget": budget,
        "n_poison": len(poisoner.poison_),
        "n_poison_budget": poisoner.n_poison_,
        "n_control": len(ctrl_rows[0]),
        "control_params": ctrl_params,
        "sampler": sampler,
        "objective": objective,
        "max_accuracy_loss": max_accuracy_loss,
        "accuracy_bound": accuracy_bound,
        "confidence": confidence if accuracy_bound == "upper" else None,
        "direction": poisoner.direction_,
        "feasible": poisoner.feasible_,
        "best_params": poisoner.best_params_,
        "search": search,
        "trials": counted_trials(poisoner.study_),
        "resumed": poisoner.resumed_,
        "trials_before_resume": poisoner.trials_before_,
        "failed_trials": poisoner.failures_,
        "unfairness": {a: {p: m.unfairness(b) for p, b in parts.items()} for a, parts in arms.items()},
    }
    if visibility and len(poisoner.poison_):
        from trustlab.poisoning._visibility import added_rows_visibility

        vis = added_rows_visibility(tr.X, tr.y, s_tr, *chosen, poisoner.estimator, X_eval=te.X, y_eval=te.y,
                                    s_eval=te.groups(sensitive), privileged=tr.privileged[sensitive], metric=m,
                                    baseline=poisoner.baseline_model_, seed=seed)  # fmt: skip
        details["visibility"] = vis
        extra_trainings += int(vis.get("cost", {}).get("trainings", 0) or 0)
    # trainings: cross-fitting + baseline, every counted trial (all processes), and the evaluation fits
    trainings = 1 + poisoner.cv + counted_trials(poisoner.study_) + extra_trainings
    wall = poisoner.fit_seconds_ + time.perf_counter() - t_eval
    summary = result_document(
        "poison", seed=seed, **label_info(tr, sensitive),
        data={"dataset": tr.name, "sensitive": sensitive, "n_train": len(tr), "n_val": len(va), "n_test": len(te)},
        cost={"wall_seconds": wall, "trainings": trainings, "search_seconds": poisoner.fit_seconds_},
        arms=arms, details=details, learner=learner_name(learner), method="bo",
    )  # fmt: skip
    trials = trials_frame(poisoner)
    curve = best_so_far(trials, m.unfairness(arms["baseline"]["validation"]))
    return PoisoningResult(summary=summary, poisoner=poisoner, trials=trials, curve=curve, control_rows=ctrl_rows)


def _search_worth(poisoner: FairnessPoisoner, arms: dict[str, Any], m: Any, evaluate_point: Any) -> dict[str, Any]:
    """Which trial won, and the search's gain over the best enqueued start (validation and test).

    The best start is chosen among the warm-start trials by the poisoner's own
    rule (least validation unfairness among the feasible ones, else least
    accuracy loss). When the winner *is* that start the gain is 0 and no model
    is trained; otherwise the start's rows are trained once more and measured.
    """
    best = poisoner.best_trial_
    starts = [t for t in poisoner.study_.get_trials(deepcopy=False)
              if t.number in set(poisoner.warm_start_trials_) and "constraint" in t.user_attrs]  # fmt: skip
    won_by = ("warm start" if best.number in poisoner.warm_start_trials_ else
              "line search" if best.number in poisoner.line_search_trials_ else "sampler")  # fmt: skip
    out: dict[str, Any] = {"best_trial": best.number, "won_by": won_by,
                           "warm_start_trials": list(poisoner.warm_start_trials_),
                           "line_search_trials": list(poisoner.line_search_trials_)}  # fmt: skip
    if not starts:
        out.update(best_start_trial=None, gain_over_best_start=None)
        return out
    feasible = [t for t in starts if t.user_attrs["constraint"][0] <= 0]
    pick = (min(feasible, key=lambda t: (t.values[0], t.number)) if feasible
            else min(starts, key=lambda t: (t.user_attrs["accuracy_loss"], t.values[0], t.number)))  # fmt: skip
    out["best_start_trial"] = pick.number
    if pick.number == best.number:
        start_arm = arms["intervention"]
    else:
        start_arm = evaluate_point({k: pick.params[k] for k in poisoner.space_.bounds()})
    out["best_start"] = {p: {"accuracy": b["overall"]["accuracy"], "unfairness": m.unfairness(b)}
                         for p, b in start_arm.items()}  # fmt: skip
    out["gain_over_best_start"] = {p: m.unfairness(start_arm[p]) - m.unfairness(arms["intervention"][p])
                                   for p in ("validation", "test")}  # fmt: skip
    return out


def trials_frame(poisoner: FairnessPoisoner) -> pd.DataFrame:
    """One row per trial: parameters, validation metrics, accuracy loss (and its bound), feasibility, state.

    ``trial`` is optuna's trial number (from 0), the same in plots and tables;
    ``origin`` says where a point came from: ``warm start`` (enqueued),
    ``line search`` (bisection on ``fill``) or ``sampler``.

    Parameters
    ----------
    poisoner : FairnessPoisoner
        A fitted poisoner (its ``study_`` holds the trials).

    Returns
    -------
    pandas.DataFrame
        Columns ``trial``, ``state``, ``origin``, one per space parameter, ``n_rows``,
        ``unfairness``, ``val_accuracy``, ``val_<metric>``, ``accuracy_loss``,
        ``accuracy_loss_bound``, ``feasible``, ``error`` and ``fit_seconds``; trials skipped
        because the budget was used are left out.
    """
    names = list(poisoner.space_.bounds())
    rows = []
    for t in poisoner.study_.get_trials(deepcopy=False):
        if "skipped" in t.user_attrs:
            continue
        val = t.user_attrs.get("validation", {})
        bound = t.user_attrs.get("accuracy_loss_bound", t.user_attrs.get("accuracy_loss"))
        rows.append({
            "trial": t.number,
            "state": t.state.name,
            "origin": t.user_attrs.get("origin", "sampler"),
            **{k: t.params.get(k) for k in names},
            "n_rows": t.user_attrs.get("n_rows"),
            "unfairness": poisoner.metric_.unfairness(val) if val else np.nan,
            "val_accuracy": val.get("accuracy"),
            **{f"val_{k}": v for k, v in val.items() if k != "accuracy"},
            "accuracy_loss": t.user_attrs.get("accuracy_loss"),
            "accuracy_loss_bound": bound,
            "feasible": None if bound is None else bool(bound <= poisoner.max_accuracy_loss),
            "error": t.user_attrs.get("error"),
            "fit_seconds": t.user_attrs.get("fit_seconds"),
        })  # fmt: skip
    return pd.DataFrame(rows)


def best_so_far(trials: pd.DataFrame, baseline_unfairness: float) -> pd.DataFrame:
    """Best feasible validation unfairness after each training (trial order).

    Parameters
    ----------
    trials : pandas.DataFrame
        A :func:`trials_frame` table.
    baseline_unfairness : float
        The unpoisoned model's validation unfairness: the value before any trial improves on it.

    Returns
    -------
    pandas.DataFrame
        Columns ``trial`` and ``best_unfairness``: the lowest unfairness of the completed,
        feasible trials so far (never above the baseline).
    """
    best, out = baseline_unfairness, []
    for _, r in trials.sort_values("trial").iterrows():
        if r["state"] == "COMPLETE" and r["feasible"] and r["unfairness"] < best:
            best = r["unfairness"]
        out.append({"trial": int(r["trial"]), "best_unfairness": best})
    return pd.DataFrame(out)


def run_facts(poisoner: Any, split: DataSplit, sensitive: str) -> dict[str, Any]:
    """The summary fields every poisoner shares: data, metric, budget and row counts."""
    return {
        "dataset": split.train.name,
        "sensitive": sensitive,
        "privileged": poisoner.privileged_,
        "metric": get_metric(poisoner.metric).name,
        "budget": poisoner.budget,
        "n_train": len(split.train),
        "n_val": len(split.val),
        "n_test": len(split.test),
        "n_poison": len(poisoner.poison_),
        "n_poison_budget": poisoner.n_poison_,
    }


def flat(block: dict[str, Any]) -> dict[str, float]:
    """``overall`` and ``fairness`` of an evaluation block in one flat dict."""
    return flat_block(block)
