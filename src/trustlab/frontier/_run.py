"""One frontier: white-box repairs, poisoning at every budget and its random control, and the gaps."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from trustlab._errors import ConfigError
from trustlab.datasets import DataSplit
from trustlab.fairness import get_metric
from trustlab.frontier._envelope import frontier_gap, frontier_unfairness, lower_envelope
from trustlab.frontier._whitebox import (
    EG_BOUNDS,
    EG_MAX_ITER,
    MASSAGING_FRACTIONS,
    check_whitebox_params,
    make_point,
    whitebox_points,
)

FRONTIER_KINDS = ("baseline", "white-box")
"""Point kinds whose points make up the white-box frontier."""


def check_budgets(budgets: Sequence[float] | str) -> list[float]:
    """Budgets as fractions of the training rows: non-empty, increasing, each in (0, 1].

    Parameters
    ----------
    budgets : sequence of float, or str
        ``[0.025, 0.05]`` or ``"0.025,0.05"``.

    Returns
    -------
    list of float
        The budgets, in the order given.

    Raises
    ------
    ConfigError
        One line saying what is wrong.
    """
    if isinstance(budgets, str):
        parts = [p.strip() for p in budgets.split(",") if p.strip()]
        try:
            values = [float(p) for p in parts]
        except ValueError:
            raise ConfigError(f"budgets {budgets!r} must be comma-separated fractions like 0.05,0.1") from None
    else:
        try:
            values = [float(b) for b in budgets]
        except (TypeError, ValueError):
            raise ConfigError(f"budgets {budgets!r} must be fractions like 0.05") from None
    if not values:
        raise ConfigError("budgets is empty; give at least one fraction of the training rows, e.g. 0.05")
    for b in values:
        if not 0 < b <= 1:
            raise ConfigError(f"budget {b:g} must be a fraction of the training rows in (0, 1]")
    if any(b >= a for a, b in zip(values[1:], values, strict=False)):
        raise ConfigError(f"budgets {', '.join(f'{b:g}' for b in values)} must be increasing, without repeats")
    return values


def poisoning_points(summary: Mapping[str, Any], *, budget: float, metric: Any,
                     setting: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """The poisoning point and its matched random control from a poisoning run's summary.

    Parameters
    ----------
    summary : dict
        ``PoisoningResult.summary``: ``arms`` with ``intervention`` and
        ``control`` (each ``{"validation", "test"}`` evaluation blocks),
        optionally ``cost`` and ``details``.
    budget : float
        The run's budget, a fraction of the training rows.
    metric : str
        The fairness metric (:func:`~trustlab.fairness.get_metric`) whose unfairness places the
        points on the plane.
    setting : dict, optional
        Further settings of the run (space, sampler, trials) to record.

    Returns
    -------
    list of dict
        Two points: ``poisoning`` (kind ``poisoning``; ``setting`` holds the budget and
        ``setting``, and the run's ``cost`` and ``details`` are attached) and ``random control``
        (kind ``control``; ``setting`` holds the budget).
    """
    arms = summary["arms"]
    base = {"budget": float(budget), **(setting or {})}
    poison = make_point("poisoning", base, arms["intervention"]["validation"], arms["intervention"]["test"],
                        metric, kind="poisoning")  # fmt: skip
    poison["cost"] = dict(summary.get("cost") or {})
    poison["details"] = dict(summary.get("details") or {})
    control = make_point("random control", {"budget": float(budget)}, arms["control"]["validation"],
                         arms["control"]["test"], metric, kind="control")  # fmt: skip
    return [poison, control]


def frontier_summary(points: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Envelope of the white-box points and the frontier gap of every poisoning point.

    Parameters
    ----------
    points : sequence of dict
        Every frontier point (baseline, white-box, poisoning and control points).

    Returns
    -------
    dict
        ``envelope`` (see :func:`lower_envelope`) and ``frontier_gap``: one
        entry per poisoning point with its budget, test accuracy and
        unfairness, the frontier's unfairness at that accuracy, the gap, and
        the same gap for the budget's random control (``control_gap``).
    """
    envelope = lower_envelope([p for p in points if p["kind"] in FRONTIER_KINDS])
    controls = {p["setting"]["budget"]: p for p in points if p["kind"] == "control"}
    gaps = []
    for p in points:
        if p["kind"] != "poisoning":
            continue
        b = p["setting"]["budget"]
        ctrl = controls.get(b)
        gaps.append({
            "budget": b,
            "method": p["method"],
            "accuracy": p["test"]["accuracy"],
            "unfairness": p["test"]["unfairness"],
            "frontier_unfairness": frontier_unfairness(p["test"]["accuracy"], envelope) if envelope else None,
            "gap": frontier_gap(p, envelope) if envelope else None,
            "control_gap": frontier_gap(ctrl, envelope) if envelope and ctrl is not None else None,
        })  # fmt: skip
    return {"envelope": envelope, "frontier_gap": gaps}


@contextlib.contextmanager
def _steps(show: bool, total: int) -> Iterator[Callable[[str], None]]:
    if not show:
        yield lambda _step: None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), transient=True) as bar:  # fmt: skip
        task = bar.add_task("frontier", total=total)
        started = [False]

        def tell(step: str) -> None:
            if started[0]:
                bar.advance(task)
            started[0] = True
            bar.update(task, description=step)

        yield tell
        bar.update(task, completed=total)


def run_frontier(
    split: DataSplit,
    *,
    learner: Any,
    sensitive: str,
    metric: str = "statistical_parity_difference",
    budgets: Sequence[float] | str = (0.025, 0.05, 0.1, 0.15),
    seed: int = 0,
    space: Any = "boundary",
    n_trials: int = 30,
    sampler: str = "tpe",
    max_accuracy_loss: float = 0.01,
    massaging_fractions: Sequence[float] = MASSAGING_FRACTIONS,
    eg_bounds: Sequence[float] = EG_BOUNDS,
    eg_max_iter: int = EG_MAX_ITER,
    n_jobs: int = 1,
    learner_jobs: int | None = None,
    show_progress: bool = False,
    poison: Callable[..., Any] | None = None,
    **poison_kwargs: Any,
) -> dict[str, Any]:
    """White-box repairs and constructive poisoning of one split on the (accuracy, |metric|) plane.

    Parameters
    ----------
    split : DataSplit
        Train / validation / test parts of one dataset; every number on the plane is
        measured on ``test``, every choice made on ``train`` and ``val``.
    learner : str or estimator
        The third party's learner (a spec for :func:`~trustlab.learners.make_learner`).
    sensitive : str
        The sensitive attribute.
    metric : str
        Any name :func:`trustlab.fairness.get_metric` knows (aliases too).
    budgets : sequence of float or str
        Rows to add, as increasing fractions of the training rows in (0, 1].
    seed : int
        Seed of the learners, the white-box methods and the poisoning searches.
    space : str or SearchSpace
        The poisoning search space (``boundary`` by default).
    n_trials : int
        Black-box trainings of each poisoning search.
    sampler : str
        ``tpe``, ``random`` ... (see :data:`trustlab.poisoning.SAMPLERS`).
    max_accuracy_loss : float
        Accuracy the poisoning search may give up.
    massaging_fractions, eg_bounds, eg_max_iter
        The white-box sweep (see :func:`whitebox_points`).
    n_jobs, learner_jobs : int
        Parallel trials of the search; threads of the learner.
    show_progress : bool
        Show a progress bar over the steps.
    poison : callable, optional
        The poisoning run, called like :func:`trustlab.poisoning.run_poisoning`
        (the default); it must return an object with a ``summary`` dict.
    **poison_kwargs
        Passed on to ``poison``.

    Returns
    -------
    dict
        ``metric``, ``budgets``, ``settings``, ``points`` (baseline, white-box,
        poisoning and random control at every budget), ``envelope``,
        ``frontier_gap``, ``arms`` (baseline, and the largest budget's
        poisoning and control, as evaluation blocks) and ``cost``.

    Raises
    ------
    ConfigError
        Bad budgets, metric, space, sampler or sweep (before any training).
    """
    m = get_metric(metric)
    values = check_budgets(budgets)
    check_whitebox_params(massaging_fractions, eg_bounds, eg_max_iter)
    if int(n_trials) < 1:
        raise ConfigError(f"trials must be >= 1, got {n_trials}")
    sensitive = split.train.resolve_sensitive(sensitive)
    if poison is None:
        from trustlab.poisoning import check_search_options, run_poisoning

        check_search_options(metric=m.name, space=space, sampler=sampler, n_trials=int(n_trials),
                             max_accuracy_loss=max_accuracy_loss, n_jobs=n_jobs)  # fmt: skip
        poison = run_poisoning
    from trustlab.learners import make_estimator

    make_estimator(learner)  # a bad learner spec fails before any training
    t0 = time.perf_counter()
    space_name = space if isinstance(space, str) else type(space).__name__
    with _steps(show_progress, 5 + len(eg_bounds) + len(values)) as tell:
        wb = whitebox_points(split, learner=learner, sensitive=sensitive, metric=m.name, seed=seed,
                             massaging_fractions=massaging_fractions, eg_bounds=eg_bounds, eg_max_iter=eg_max_iter,
                             n_jobs=learner_jobs, progress=tell)  # fmt: skip
        points = list(wb["points"])
        poison_trainings, poison_seconds = 0, 0.0
        arms: dict[str, Any] = {}
        for b in values:
            tell(f"poisoning, budget {b:g}")
            t1 = time.perf_counter()
            result = poison(split, learner=learner, sensitive=sensitive, seed=seed, space=space, budget=b,
                            metric=m.name, n_trials=n_trials, sampler=sampler, max_accuracy_loss=max_accuracy_loss,
                            n_jobs=n_jobs, learner_jobs=learner_jobs, **poison_kwargs)  # fmt: skip
            summary = result.summary
            points += poisoning_points(summary, budget=b, metric=m,
                                       setting={"space": space_name, "sampler": sampler, "n_trials": int(n_trials)})
            cost = summary.get("cost") or {}
            poison_trainings += int(cost.get("trainings") or 0)
            poison_seconds += time.perf_counter() - t1
            arms = {"baseline": summary["arms"].get("baseline"), "intervention": summary["arms"]["intervention"],
                    "control": summary["arms"]["control"]}  # fmt: skip
        tell("done")
    arms["baseline"] = wb["baseline"]
    return {
        "metric": m.name,
        "metric_label": m.label,
        "budgets": values,
        "settings": {"space": space_name, "sampler": sampler, "n_trials": int(n_trials),
                     "max_accuracy_loss": float(max_accuracy_loss),
                     "massaging_fractions": [float(f) for f in massaging_fractions],
                     "eg_bounds": [float(b) for b in eg_bounds], "eg_max_iter": int(eg_max_iter)},  # fmt: skip
        "points": points,
        **frontier_summary(points),
        "arms": arms,
        "cost": {"wall_seconds": time.perf_counter() - t0, "trainings": wb["trainings"] + poison_trainings,
                 "whitebox_trainings": wb["trainings"], "whitebox_seconds": wb["wall_seconds"],
                 "poisoning_trainings": poison_trainings, "poisoning_seconds": poison_seconds},  # fmt: skip
    }
