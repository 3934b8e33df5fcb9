"""``trustlab poison`` and ``trustlab worker``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd
import typer
from rich.table import Table

from trustlab._errors import ConfigError
from trustlab._io import staged_output, write_json, write_run_json
from trustlab.cli._app import app, console
from trustlab.cli._common import (
    DATA_OPT,
    DATASET_OPT,
    LEARNER_OPT,
    NJOBS_OPT,
    OUT_OPT,
    POSITIVE_OPT,
    PRIVILEGED_OPT,
    SEED_OPT,
    SENSITIVE_OPT,
    TARGET_OPT,
    data_fields,
    finish_report,
    load_data,
)
from trustlab.datasets import split_dataset
from trustlab.learners import make_estimator
from trustlab.poisoning import METRICS, OBJECTIVES, SAMPLERS
from trustlab.poisoning._poisoner import unfairness
from trustlab.poisoning._protocol import (
    SUMMARY_METRICS,
    best_so_far,
    evaluate_poisoning,
    fit_poisoner,
    make_poisoner,
    metric_key,
    trials_frame,
)
from trustlab.poisoning._storage import open_storage


def parse_budget(text: str) -> float | int:
    """``"0.05"`` -> 5% of the training rows; ``"120"`` -> 120 rows."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"budget {text!r} is not a number (a fraction like 0.05 or a row count like 120)") from None


def _problem(cfg: dict[str, Any]) -> tuple[Any, Any, str]:
    """Rebuild (dataset, split, sensitive) from the CLI arguments stored with a study."""
    data = Path(cfg["data"]) if cfg.get("data") else None
    ds, sens = load_data(cfg.get("dataset"), data, cfg.get("target"), cfg.get("sensitive"), cfg.get("privileged"),
                         cfg.get("positive"))  # fmt: skip
    return ds, split_dataset(ds, seed=cfg["seed"], sensitive=sens), sens


def _poisoner_kwargs(cfg: dict[str, Any]) -> dict[str, Any]:
    return {
        "budget": cfg["budget"], "metric": cfg["metric"], "max_accuracy_loss": cfg["max_accuracy_loss"],
        "n_trials": cfg["trials"], "sampler": cfg["sampler"], "objective": cfg["objective"],
    }  # fmt: skip


@app.command("poison")
def poison_cmd(
    dataset: str = DATASET_OPT,
    data: Path = DATA_OPT,
    target: str = TARGET_OPT,
    sensitive: str = SENSITIVE_OPT,
    privileged: str = PRIVILEGED_OPT,
    positive: str = POSITIVE_OPT,
    learner: list[str] = typer.Option(["rf"], "--learner", help=f"{LEARNER_OPT.help} Repeatable with --method "
                                      "gradient: transfer targets (the first fills the main blocks; surrogate = white box)."),
    budget: str = typer.Option("0.05", "--budget", help="Rows to add: fraction of training rows (0.05) or count (120)."),
    metric: str = typer.Option("statistical_parity", "--metric", help=", ".join(METRICS)),
    trials: int = typer.Option(60, "--trials", help="Black-box trainings of the search."),
    sampler: str = typer.Option("tpe", "--sampler", help=", ".join(SAMPLERS)),
    objective: str = typer.Option("constrained", "--objective", help=", ".join(OBJECTIVES)),
    max_accuracy_loss: float = typer.Option(0.01, "--max-accuracy-loss", help="Allowed validation accuracy drop."),
    method: str = typer.Option("bo", "--method", help="bo (Bayesian optimisation, black box) or gradient."),
    surrogate: str = typer.Option("logreg", "--surrogate", help="--method gradient: logreg or mlp."),
    steps: int = typer.Option(60, "--steps", help="--method gradient: outer gradient steps."),
    seed: int = SEED_OPT,
    n_jobs: int = typer.Option(1, "--n-jobs", help="Parallel trials in this process."),
    learner_jobs: int = NJOBS_OPT,
    storage: str = typer.Option(None, "--storage", help="optuna storage URL (sqlite:///f.db, postgresql://...)."),
    study_name: str = typer.Option(None, "--study-name", help="Study name in --storage (a rerun resumes)."),
    out: Path = OUT_OPT,
) -> None:
    """Search for a few added training rows that make a default learner fairer (black box)."""
    if method not in ("bo", "gradient"):
        raise ConfigError(f"unknown method {method!r}; choose from bo, gradient")
    if method == "gradient":
        from trustlab.cli._gradient import run_gradient

        gcfg = {"dataset": dataset, "data": str(Path(data).resolve()) if data else None, "target": target,
                "sensitive": sensitive, "privileged": privileged, "positive": positive,
                "budget": parse_budget(budget), "metric": metric, "max_accuracy_loss": max_accuracy_loss,
                "seed": seed}  # fmt: skip
        ds, split, sens = _problem(gcfg)
        run_gradient(gcfg, ds, split, sens, learners=list(learner), surrogate=surrogate, steps=steps, out=out,
                     learner_jobs=learner_jobs)  # fmt: skip
        return
    if len(learner) != 1:
        raise ConfigError("--method bo searches for one learner: give --learner once")
    learner = learner[0]
    cfg = {"dataset": dataset, "data": str(Path(data).resolve()) if data else None, "target": target,
           "sensitive": sensitive, "privileged": privileged, "positive": positive, "learner": learner,
           "budget": parse_budget(budget), "metric": metric, "trials": trials, "sampler": sampler,
           "objective": objective, "max_accuracy_loss": max_accuracy_loss, "seed": seed}  # fmt: skip
    ds, split, sens = _problem(cfg)
    cfg["sensitive"] = sens
    make_estimator(learner)
    if storage is not None and not study_name:
        raise ConfigError("--storage needs --study-name")
    if storage is not None:
        open_storage(storage)  # fail early on a bad URL
    poisoner = make_poisoner(split, learner=learner, sensitive=sens, seed=seed, n_jobs=learner_jobs,
                             storage=storage, study_name=study_name, study_attrs={"trustlab_cli": cfg},
                             show_progress=True, **_poisoner_kwargs(cfg))  # fmt: skip
    poisoner.set_params(n_jobs=n_jobs)
    poisoner._check_params()
    console.print(f"{ds.name}/{sens}: {len(split.train):,} training rows, budget {poisoner.budget} "
                  f"-> searching with {trials} black-box trainings of {learner}")  # fmt: skip
    fit_poisoner(poisoner, split, sens)
    summary = evaluate_poisoning(poisoner, split, sens, seed=seed)
    summary["learner"] = learner
    _print_summary(summary)
    trials_df = trials_frame(poisoner)
    base_u = unfairness(summary["baseline"]["validation"], metric)
    curve = best_so_far(trials_df, base_u)
    with staged_output(out) as stage:
        write_json(stage / "summary.json", summary)
        poisoner.poison_.to_csv(stage / "poison.csv", index=False)
        trials_df.to_csv(stage / "trials.csv", index=False)
        curve.to_csv(stage / "best_so_far.csv", index=False)
        _plots(stage, summary, trials_df, curve, metric, max_accuracy_loss, f"{ds.name}/{sens}, {learner}")
        write_run_json(stage, kind="poison", **data_fields(ds, sens, learner, seed), metric=metric,
                       budget=cfg["budget"], sampler=sampler, objective=objective,
                       trainings=summary["trainings"], wall_seconds=summary["wall_seconds"],
                       split=split.sizes(), storage=bool(storage))  # fmt: skip
        finish_report(stage)
    console.print(f"wrote {out}/summary.json")


def _plots(stage: Path, summary: dict, trials_df: pd.DataFrame, curve: pd.DataFrame, metric: str,
           max_loss: float, title: str) -> None:  # fmt: skip
    from trustlab.reporting import plot_best_so_far, plot_trials

    def point(name: str) -> tuple[float, float]:
        v = summary[name]["validation"]
        return v["accuracy"], unfairness(v, metric)

    plot_trials(trials_df, stage / "trials.png", baseline=point("baseline"), best=point("poisoned"),
                control=point("random_control"), metric=metric,
                min_accuracy=summary["baseline"]["validation"]["accuracy"] - max_loss,
                title=f"{title}: every trial (validation)")  # fmt: skip
    plot_best_so_far(curve, stage / "best_so_far.png", metric=metric, title=f"{title}: search progress")


def _print_summary(summary: dict) -> None:
    table = Table(title=f"test split ({summary['n_test']:,} rows), {summary['n_poison']} rows added "
                        f"to {summary['n_train']:,}, {summary['trainings']} trainings, "
                        f"{summary['wall_seconds']:.0f} s")  # fmt: skip
    table.add_column("metric")
    for col in ("baseline", "poisoned", "random control"):
        table.add_column(col, justify="right")
    for k in SUMMARY_METRICS:
        table.add_row(k, *(f"{summary[b]['test'][k]:+.4f}" for b in ("baseline", "poisoned", "random_control")))
    console.print(table)
    if not summary["feasible"]:
        console.print("[yellow]no trial met the accuracy constraint; the rows with the smallest loss were used[/]")
    if summary["failed_trials"]:
        console.print(f"[yellow]{len(summary['failed_trials'])} trial(s) failed to fit: "
                      f"first: trial {summary['failed_trials'][0]['trial']}: {summary['failed_trials'][0]['error']}[/]")  # fmt: skip


@app.command("worker")
def worker_cmd(
    storage: str = typer.Option(..., "--storage", help="The study's optuna storage URL."),
    study_name: str = typer.Option(..., "--study-name", help="The study created by `trustlab poison`."),
    trials: int = typer.Option(None, "--trials", help="Stop after this many trials of this worker."),
    n_jobs: int = typer.Option(1, "--n-jobs", help="Parallel trials in this process."),
) -> None:
    """Join a poisoning study and run its trials until the study's budget is used."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    st = open_storage(storage)
    try:
        study = optuna.load_study(study_name=study_name, storage=st)
    except KeyError:
        raise ConfigError(f"study {study_name!r} does not exist in {storage}") from None
    cfg = study.user_attrs.get("trustlab_cli")
    if cfg is None:
        raise ConfigError(f"study {study_name!r} was not created by `trustlab poison`")
    ds, split, sens = _problem(cfg)
    poisoner = make_poisoner(split, learner=cfg["learner"], sensitive=sens, seed=cfg["seed"], storage=storage,
                             study_name=study_name, show_progress=True, **_poisoner_kwargs(cfg))  # fmt: skip
    poisoner.set_params(n_jobs=n_jobs)
    tr, va = split.train, split.val
    t0 = time.perf_counter()
    ran = poisoner.join(tr.X, tr.y, sensitive_features=tr.groups(sens), X_val=va.X, y_val=va.y,
                        sensitive_val=va.groups(sens), max_trials=trials)  # fmt: skip
    console.print(f"worker ran {ran} trainings in {time.perf_counter() - t0:.0f} s; "
                  f"metric key {metric_key(cfg['metric'])}")  # fmt: skip
