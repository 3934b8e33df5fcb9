"""``trustlab frontier``: white-box repairs and poisoning at several budgets on one plane."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer

from trustlab._errors import ConfigError
from trustlab.cli._app import app, console
from trustlab.cli._common import (
    DATA_OPT,
    DATASET_OPT,
    LEARNER_JOBS_OPT,
    LEARNER_OPT,
    OUT_OPT,
    OVERWRITE_OPT,
    POSITIVE_OPT,
    PRIVILEGED_OPT,
    SEED_OPT,
    SENSITIVE_OPT,
    TARGET_OPT,
    check_learner,
    check_out,
    data_fields,
    finish_report,
    fmt_value,
    load_data,
    split_sizes,
)


def _floats(text: str, what: str) -> list[float]:
    try:
        return [float(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise ConfigError(f"{what} {text!r} must be comma-separated numbers") from None


@app.command("frontier")
def frontier_cmd(
    dataset: str = DATASET_OPT,
    data: Path = DATA_OPT,
    target: str = TARGET_OPT,
    sensitive: str = SENSITIVE_OPT,
    privileged: str = PRIVILEGED_OPT,
    positive: str = POSITIVE_OPT,
    learner: str = LEARNER_OPT,
    budgets: str = typer.Option("0.025,0.05,0.1,0.15", "--budgets",
                                help="Rows to add, increasing fractions of the training rows in (0, 1]."),
    metric: str = typer.Option("statistical_parity", "--metric",
                               help="Fairness metric (statistical_parity, fpr_gap, equal_opportunity, ...)."),
    trials: int = typer.Option(30, "--trials", help="Black-box trainings of each poisoning search."),
    space: str = typer.Option("boundary", "--space", help="Poisoning search space (boundary, bands, ...)."),
    sampler: str = typer.Option("tpe", "--sampler", help="Poisoning search sampler (tpe, random, ...)."),
    max_accuracy_loss: float = typer.Option(0.01, "--max-accuracy-loss", help="Accuracy a search may give up."),
    eg_bounds: str = typer.Option("0.02,0.05", "--eg-bounds",
                                  help="ExponentiatedGradient constraint bounds ('' to skip it)."),
    eg_max_iter: int = typer.Option(5, "--eg-max-iter", help="ExponentiatedGradient iterations per bound."),
    seed: int = SEED_OPT,
    n_jobs: int = typer.Option(1, "--n-jobs", help="Parallel trials of each search."),
    learner_jobs: int = LEARNER_JOBS_OPT,
    out: Path = OUT_OPT,
    overwrite: bool = OVERWRITE_OPT,
) -> None:
    """Put every white-box repair and poisoning at each budget on the (test accuracy, test |metric|) plane."""
    check_out(out, overwrite)
    from trustlab.fairness import get_metric
    from trustlab.frontier import check_budgets, check_whitebox_params

    values = check_budgets(budgets)
    m = get_metric(metric)
    bounds = _floats(eg_bounds, "--eg-bounds")
    check_whitebox_params((1.0,), bounds, eg_max_iter)
    if trials < 1:
        raise ConfigError(f"--trials must be >= 1, got {trials}")
    from trustlab.poisoning import check_search_options

    check_search_options(metric=m.name, space=space, sampler=sampler, n_trials=trials,
                         max_accuracy_loss=max_accuracy_loss, n_jobs=n_jobs)  # fmt: skip
    check_learner(learner)
    ds, sens = load_data(dataset, data, target, sensitive, privileged, positive)
    from trustlab.datasets import split_dataset
    from trustlab.frontier import run_frontier

    split = split_dataset(ds, seed=seed, sensitive=sens)
    console.print(f"{ds.name}/{sens}, {learner}: white-box repairs, then poisoning at budgets "
                  f"{', '.join(f'{b:g}' for b in values)} with {trials} trainings each")  # fmt: skip
    t0 = time.perf_counter()
    doc = run_frontier(split, learner=learner, sensitive=sens, metric=m.name, budgets=values, seed=seed,
                       space=space, n_trials=trials, sampler=sampler, max_accuracy_loss=max_accuracy_loss,
                       eg_bounds=bounds, eg_max_iter=eg_max_iter, n_jobs=n_jobs, learner_jobs=learner_jobs,
                       show_progress=True)  # fmt: skip
    _print(doc, f"{ds.name}/{sens}, {learner}, seed {seed} (test split)")
    result = _result(doc, ds, sens, learner, seed, split)
    from trustlab.results import staged_output

    with staged_output(out) as stage:
        _write(stage, doc, result, f"{ds.name}/{sens}, {learner}, seed {seed}")
        from trustlab._io import write_run_json

        write_run_json(stage, kind="frontier", **data_fields(ds, sens, learner, seed), metric=m.name,
                       budgets=values, space=space, sampler=sampler, trainings=doc["cost"]["trainings"],
                       wall_seconds=time.perf_counter() - t0, split=split.sizes(),
                       result_file="frontier.json")  # fmt: skip
        finish_report(stage)
    console.print(f"wrote {out}/frontier.json")


def _result(doc: dict[str, Any], ds: Any, sens: str, learner: str, seed: int, split: Any) -> dict[str, Any]:
    from trustlab.results import label_info, result_document

    details = {k: doc[k] for k in ("metric", "metric_label", "budgets", "settings", "points", "envelope",
                                   "frontier_gap")}  # fmt: skip
    details["cost"] = doc["cost"]
    return result_document(
        "frontier", seed=seed, **label_info(ds, sens),
        data={"dataset": ds.name, "sensitive": sens, **split_sizes(split)},
        cost={"wall_seconds": doc["cost"]["wall_seconds"], "trainings": doc["cost"]["trainings"]},
        arms=doc["arms"], details=details, learner=learner,
    )  # fmt: skip


def _write(stage: Path, doc: dict[str, Any], result: dict[str, Any], title: str) -> None:
    import pandas as pd

    from trustlab.frontier import plot_frontier, points_table
    from trustlab.results import write_result

    write_result(stage / "frontier.json", result)
    pd.DataFrame(points_table(doc["points"], doc["frontier_gap"], metric=doc["metric"])).to_csv(
        stage / "frontier.csv", index=False)
    plot_frontier(doc["points"], doc["envelope"], stage / "frontier.png", metric_label=doc["metric_label"],
                  title=f"{title}: test split")  # fmt: skip


def _print(doc: dict[str, Any], title: str) -> None:
    from rich.table import Table

    gaps = {g["budget"]: g for g in doc["frontier_gap"]}
    table = Table(title=title)
    for col in ("method", "setting", "accuracy", doc["metric_label"], "frontier gap"):
        table.add_column(col, justify="right" if col != "method" else "left")
    for p in doc["points"]:
        s = p["setting"] or {}
        if p["method"] == "thresholds":
            continue  # many points; summarised by the envelope
        setting = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in s.items()
                            if k in ("budget", "fraction", "bound"))  # fmt: skip
        gap = gaps.get(s.get("budget")) if p["kind"] in ("poisoning", "control") else None
        key = "gap" if p["kind"] == "poisoning" else "control_gap"
        table.add_row(p["method"], setting, fmt_value(p["test"]["accuracy"]), fmt_value(p["test"]["unfairness"]),
                      fmt_value(gap[key], signed=True) if gap else "")  # fmt: skip
    console.print(table)
    n_thr = sum(p["method"] == "thresholds" for p in doc["points"])
    console.print(f"{n_thr} per-group threshold points and {len(doc['envelope'])} envelope points: see frontier.csv")
