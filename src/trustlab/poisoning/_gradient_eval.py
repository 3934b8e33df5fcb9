"""Evaluation protocol of a gradient poisoning run: white box, and transfer to black-box learners.

The poisoner sees the training and validation parts only. Afterwards, once,
every target learner is trained three times - on the clean training rows, with
the crafted rows, and with a **matched random control** (as many real
training rows drawn at random, with random labels) - and measured on the
untouched test part. The first learner also gets validation blocks, so the
``baseline`` / ``poisoned`` / ``random_control`` blocks have the schema of the
BO poisoner's ``summary.json``; ``transfer`` holds the test blocks of every
learner.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from sklearn.base import clone

from trustlab._errors import ConfigError
from trustlab.datasets import DataSplit
from trustlab.fairness import evaluate, flat_block, get_metric
from trustlab.learners import make_learner
from trustlab.poisoning._gradient import GradientPoisoner
from trustlab.poisoning._protocol import run_facts

#: the flat metrics of a gradient summary block
SUMMARY_METRICS = ("accuracy", "balanced_accuracy", "statistical_parity_difference", "disparate_impact",
                   "equalized_odds_difference", "equal_opportunity_difference", "fpr_difference",
                   "fnr_difference")  # fmt: skip


def unfairness(block: dict[str, Any], metric: str) -> float:
    """The registered metric's unfairness of a block (:func:`trustlab.fairness.get_metric`)."""
    return get_metric(metric).unfairness(block)


def _evaluate(model: Any, part: Any, sensitive: str) -> dict[str, Any]:
    return evaluate(part.y, model.predict(part.X), sensitive_features=part.groups(sensitive),
                    privileged=part.privileged[sensitive])  # fmt: skip


def _block(full: dict[str, Any]) -> dict[str, float]:
    flat = flat_block(full)
    return {k: flat[k] for k in SUMMARY_METRICS}

#: This module's arm names -> the result document's (``trustlab.results``).
DOC_ARMS = {"baseline": "baseline", "poisoned": "intervention", "random_control": "control"}

WHITE_BOX = "surrogate"
"""The target-learner name that stands for the poisoner's own surrogate (the white box)."""


def make_gradient_poisoner(split: DataSplit, *, sensitive: str, seed: int, **kwargs: Any) -> GradientPoisoner:
    """A gradient poisoner for this split (not yet fit).

    Parameters
    ----------
    split : DataSplit
        The split; the privileged value of ``sensitive`` is read from its training part.
    sensitive : str
        The sensitive attribute.
    seed : int
        The poisoner's random state.
    **kwargs
        Further arguments of :class:`GradientPoisoner` (``surrogate``, ``budget``, ``metric``, ...).

    Returns
    -------
    GradientPoisoner
        The unfitted poisoner.
    """
    return GradientPoisoner(privileged=split.train.privileged[sensitive], random_state=seed, **kwargs)


def fit_gradient_poisoner(poisoner: GradientPoisoner, split: DataSplit, sensitive: str) -> GradientPoisoner:
    """Fit on the training part, validated on the validation part (never the test part).

    Parameters
    ----------
    poisoner : GradientPoisoner
        An unfitted poisoner (:func:`make_gradient_poisoner`).
    split : DataSplit
        The split whose ``train`` and ``val`` parts are used.
    sensitive : str
        The sensitive attribute.

    Returns
    -------
    GradientPoisoner
        ``poisoner``, fitted (its ``poison_`` are the crafted rows).
    """
    tr, va = split.train, split.val
    return poisoner.fit(tr.X, tr.y, sensitive_features=tr.groups(sensitive), X_val=va.X, y_val=va.y,
                        sensitive_val=va.groups(sensitive))  # fmt: skip


def target_estimator(spec: Any, poisoner: GradientPoisoner, split: DataSplit, *, seed: int,
                     n_jobs: int | None = None) -> Any:  # fmt: skip
    """An unfitted target: ``"surrogate"`` (the white box) or any :func:`make_learner` spec."""
    if isinstance(spec, str) and spec == WHITE_BOX:
        return poisoner.estimator
    tr = split.train
    return make_learner(spec, categorical=tr.categorical, numeric=tr.numeric, random_state=seed, n_jobs=n_jobs)


def evaluate_gradient_poisoning(poisoner: GradientPoisoner, split: DataSplit, sensitive: str, *,
                                learners: list[Any], seed: int = 0,
                                n_jobs: int | None = None) -> dict[str, Any]:  # fmt: skip
    """Baseline, poisoned and random control for every target learner.

    Parameters
    ----------
    poisoner : GradientPoisoner
        Fitted on ``split`` (train + validation).
    split : DataSplit
        The split: every target trains on ``train`` (with or without the added rows) and is
        measured on ``val`` and ``test``.
    sensitive : str
        The sensitive attribute.
    learners : list
        Target learners (names for :func:`make_learner`, or ``"surrogate"``
        for the white box). The first one fills the top-level blocks.
    seed : int, default 0
        Seed of the targets and of the random control.
    n_jobs : int, optional
        Threads of learners that take ``n_jobs``.

    Returns
    -------
    dict
        ``baseline``, ``poisoned``, ``random_control`` (``validation`` and
        ``test`` blocks, first learner), ``transfer`` (per learner: test
        blocks of the three arms, the unfairness of each and the fraction
        of the surrogate's test gain kept), ``surrogate`` (white-box test
        blocks), ``arms`` (the first learner's full :func:`trustlab.fairness.evaluate`
        blocks as a result document's ``baseline`` / ``intervention`` / ``control``
        arms) and the run's settings and costs.
    """
    if not learners:
        raise ConfigError("give at least one target learner")
    t0 = time.perf_counter()
    tr = split.train
    s_tr = tr.groups(sensitive)
    Xa, ya, _ = poisoner.augment(tr.X, tr.y, s_tr)
    Xc, yc, _ = poisoner.augment(tr.X, tr.y, s_tr, poison=poisoner.random_control(seed=seed))
    arms = {"baseline": (tr.X, tr.y), "poisoned": (Xa, ya), "random_control": (Xc, yc)}
    specs = [WHITE_BOX, *[lr for lr in learners if lr != WHITE_BOX]]
    blocks: dict[str, dict[str, Any]] = {}
    doc_arms: dict[str, dict[str, Any]] = {}
    trainings = 0
    for i, spec in enumerate(specs):
        est = target_estimator(spec, poisoner, split, seed=seed, n_jobs=n_jobs)
        t1 = time.perf_counter()
        out: dict[str, Any] = {}
        for arm, (X, y) in arms.items():
            model = clone(est).fit(X, y)
            trainings += 1
            test = _evaluate(model, split.test, sensitive)
            out[arm] = {"test": _block(test)}
            if spec == learners[0]:
                val = _evaluate(model, split.val, sensitive)
                out[arm]["validation"] = _block(val)
                doc_arms[DOC_ARMS[arm]] = {"validation": val, "test": test}
        out["seconds"] = time.perf_counter() - t1
        blocks[_name(spec, i)] = out
    first = blocks[_name(learners[0], 0)]
    metric = poisoner.metric
    white = blocks[WHITE_BOX]

    def gain(b: dict[str, Any]) -> float:
        return unfairness(b["baseline"]["test"], metric) - unfairness(b["poisoned"]["test"], metric)

    transfer = {}
    for name, b in blocks.items():
        transfer[name] = {
            **{arm: b[arm]["test"] for arm in arms},
            **{f"{arm}_unfairness": unfairness(b[arm]["test"], metric) for arm in arms},
            "gain": gain(b),
            "gain_kept": gain(b) / gain(white) if abs(gain(white)) > 1e-12 else float("nan"),
            "seconds": b["seconds"],
        }  # fmt: skip
    n_ctrl = len(poisoner.poison_)
    return {
        "baseline": first["baseline"],
        "poisoned": first["poisoned"],
        "random_control": {**first["random_control"], "n_rows": n_ctrl},
        "transfer": transfer,
        "arms": doc_arms,
        "surrogate": {"kind": poisoner.surrogate, **{arm: white[arm]["test"] for arm in arms}},
        "method": "gradient",
        **run_facts(poisoner, split, sensitive),
        "learner": learners[0],
        "learners": list(learners),
        "cells": poisoner.cells_,
        "trainings": poisoner.trainings_ + 2,
        "surrogate_trainings": poisoner.trainings_,
        "black_box_trainings_search": 0,
        "evaluation_trainings": trainings,
        "steps": poisoner.steps,
        "best_step": poisoner.best_step_,
        "feasible": poisoner.feasible_,
        "diverged": poisoner.diverged_,
        "divergence": poisoner.divergence_,
        "failed_trials": [],
        "max_accuracy_loss": poisoner.max_accuracy_loss,
        "surrogate_validation": {"baseline": poisoner.baseline_, "poisoned": poisoner.surrogate_validation_},
        "seed": seed,
        "search_seconds": poisoner.fit_seconds_,
        "evaluation_seconds": time.perf_counter() - t0,
        "wall_seconds": poisoner.fit_seconds_ + time.perf_counter() - t0,
    }


def _name(spec: Any, i: int) -> str:
    return spec if isinstance(spec, str) else f"{type(spec).__name__}-{i}"


def unfairness_reduction(summary: dict[str, Any], learner: str) -> float:
    """``1 - poisoned / baseline`` test unfairness of one transfer target (NaN if the baseline is fair)."""
    t = summary["transfer"][learner]
    base = t["baseline_unfairness"]
    return float(1 - t["poisoned_unfairness"] / base) if base > 1e-12 else float(np.nan)

