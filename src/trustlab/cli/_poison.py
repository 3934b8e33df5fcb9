"""``trustlab poison`` and ``trustlab worker``: thin over :func:`trustlab.poisoning.run_poisoning`."""

from __future__ import annotations

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
    on_interrupt,
)

METRIC_HELP = ("Unfairness to minimise: statistical_parity, disparate_impact, equalized_odds, "
               "equal_opportunity, fpr_gap, fnr_gap (or the canonical *_difference names).")  # fmt: skip


def parse_budget(budget: float | None, budget_rows: int | None) -> float | int:
    """``--budget`` is a fraction of the training rows in (0, 1]; ``--budget-rows`` a row count.

    Raises
    ------
    ConfigError
        Both given, a fraction outside (0, 1], or a count < 1.
    """
    if budget is not None and budget_rows is not None:
        raise ConfigError("give --budget (a fraction of the training rows) or --budget-rows (a count), not both")
    if budget_rows is not None:
        if budget_rows < 1:
            raise ConfigError(f"--budget-rows must be a positive row count, got {budget_rows}")
        return int(budget_rows)
    budget = 0.05 if budget is None else float(budget)
    if not 0 < budget <= 1:
        raise ConfigError(f"--budget is a fraction of the training rows in (0, 1], got {budget} "
                          "(use --budget-rows N for a number of rows)")  # fmt: skip
    return budget


def _problem(cfg: dict[str, Any], *, announce: bool = True) -> tuple[Any, Any, str]:
    """Rebuild (dataset, split, sensitive) from the CLI arguments stored with a study."""
    from trustlab.datasets import split_dataset

    data = Path(cfg["data"]) if cfg.get("data") else None
    ds, sens = load_data(cfg.get("dataset"), data, cfg.get("target"), cfg.get("sensitive"), cfg.get("privileged"),
                         cfg.get("positive"), announce=announce)  # fmt: skip
    return ds, split_dataset(ds, seed=cfg["seed"], sensitive=sens), sens


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
    budget: float = typer.Option(None, "--budget", help="Rows to add as a fraction of the training rows, in (0, 1] "
                                 "(default 0.05)."),
    budget_rows: int = typer.Option(None, "--budget-rows", help="Rows to add as a count (instead of --budget)."),
    metric: str = typer.Option("statistical_parity", "--metric", help=METRIC_HELP),
    space: str = typer.Option("boundary", "--space", help="Search space: boundary (default), bands or counterfactual."),
    trials: int = typer.Option(60, "--trials", help="Black-box trainings of the search."),
    sampler: str = typer.Option("tpe", "--sampler", help="tpe, gp, cmaes, or random (pure random search: no warm starts, the naive control)."),
    objective: str = typer.Option("constrained", "--objective", help="constrained or pareto."),
    max_accuracy_loss: float = typer.Option(0.01, "--max-accuracy-loss", help="Allowed validation accuracy drop."),
    accuracy_bound: str = typer.Option("upper", "--accuracy-bound", help="What the allowance bounds: upper (one-sided "
                                       "confidence limit of the paired loss) or mean."),
    confidence: float = typer.Option(0.8, "--confidence", help="One-sided confidence of --accuracy-bound upper."),
    method: str = typer.Option("bo", "--method", help="bo (Bayesian optimisation, black box) or gradient."),
    surrogate: str = typer.Option("logreg", "--surrogate", help="--method gradient: logreg or mlp."),
    steps: int = typer.Option(60, "--steps", help="--method gradient: outer gradient steps."),
    seed: int = SEED_OPT,
    n_jobs: int = typer.Option(1, "--n-jobs", help="Parallel trials in this process."),
    learner_jobs: int = LEARNER_JOBS_OPT,
    storage: str = typer.Option(None, "--storage", help="optuna storage URL (sqlite:///f.db, postgresql://...)."),
    study_name: str = typer.Option(None, "--study-name", help="Study name in --storage (a rerun resumes)."),
    out: Path = OUT_OPT,
    overwrite: bool = OVERWRITE_OPT,
) -> None:
    """Search for a few added training rows that make a default learner fairer (black box)."""
    out = check_out(out, overwrite)
    if method not in ("bo", "gradient"):
        raise ConfigError(f"unknown method {method!r}; choose from bo, gradient")
    rows_budget = parse_budget(budget, budget_rows)
    cfg = {"dataset": dataset, "data": str(Path(data).resolve()) if data else None, "target": target,
           "sensitive": sensitive, "privileged": privileged, "positive": positive, "budget": rows_budget,
           "metric": metric, "max_accuracy_loss": max_accuracy_loss, "seed": seed}  # fmt: skip
    if method == "gradient":
        from trustlab.cli._gradient import run_gradient

        ds, split, sens = _problem(cfg)
        run_gradient(cfg, ds, split, sens, learners=list(learner), surrogate=surrogate, steps=steps, out=out,
                     learner_jobs=learner_jobs)  # fmt: skip
        return
    if len(learner) != 1:
        raise ConfigError("--method bo searches for one learner: give --learner once")
    cfg.update(learner=learner[0], trials=trials, sampler=sampler, objective=objective, space=space,
               accuracy_bound=accuracy_bound, confidence=confidence)  # fmt: skip
    study_cfg = dict(cfg)
    cfg["storage"] = storage is not None
    options = _search_options(cfg)
    check_learner(cfg["learner"])
    if storage is not None and not study_name:
        raise ConfigError("--storage needs --study-name")
    _check_options(options, n_jobs)
    if storage is not None:
        from trustlab.poisoning import open_storage

        open_storage(storage)  # fail early on a bad URL
    ds, split, sens = _problem(cfg)
    cfg["sensitive"] = sens
    on_interrupt(f"the trials so far are kept in study {study_name!r} of the storage; run the same command again "
                 "to resume" if storage else "nothing was kept (no --storage); run the same command again")  # fmt: skip
    console.print(f"{ds.name}/{sens}: {len(split.train):,} training rows, budget {rows_budget}, space {space} -> "
                  f"searching with {trials} black-box trainings of {cfg['learner']}")  # fmt: skip
    from trustlab.poisoning import run_poisoning

    result = run_poisoning(split, learner=cfg["learner"], sensitive=sens, seed=seed, n_jobs=n_jobs,
                           learner_jobs=learner_jobs, storage=storage, study_name=study_name,
                           study_attrs={"trustlab_cli": study_cfg}, show_progress=True, **options)  # fmt: skip
    _write(out, result, ds, sens, cfg)


def _search_options(cfg: dict[str, Any]) -> dict[str, Any]:
    """The :func:`run_poisoning` options stored with a study (so a worker rebuilds the same search)."""
    return {"budget": cfg["budget"], "metric": cfg["metric"], "max_accuracy_loss": cfg["max_accuracy_loss"],
            "n_trials": cfg["trials"], "sampler": cfg["sampler"], "objective": cfg["objective"],
            "space": cfg.get("space", "boundary"), "accuracy_bound": cfg.get("accuracy_bound", "upper"),
            "confidence": cfg.get("confidence", 0.8)}  # fmt: skip


def _check_options(options: dict[str, Any], n_jobs: int) -> None:
    """Refuse a bad metric, space, sampler, objective, bound or trial count before loading data."""
    from trustlab.poisoning import check_search_options

    check_search_options(n_jobs=n_jobs, **{k: v for k, v in options.items() if k != "budget"})


def _write(out: Path, result: Any, ds: Any, sens: str, cfg: dict[str, Any]) -> None:
    from trustlab._io import write_run_json
    from trustlab.results import staged_output, write_result

    summary, poisoner = result.summary, result.poisoner
    _print_summary(summary)
    rows = poisoner.poison_.copy()
    label = poisoner.label_name_
    rows[label] = ds.decode_labels(rows[label].to_numpy())  # the user's own label values
    rows = rows[[label, *[c for c in rows.columns if c != label]]]
    with staged_output(out) as stage:
        write_result(stage / "summary.json", summary)
        rows.to_csv(stage / "poison.csv", index=False)
        result.trials.to_csv(stage / "trials.csv", index=False)
        result.curve.to_csv(stage / "best_so_far.csv", index=False)
        _plots(stage, summary, result, f"{ds.name}/{sens}, {cfg['learner']}")
        write_run_json(stage, kind="poison", **data_fields(ds, sens, cfg["learner"], cfg["seed"]),
                       metric=summary["details"]["metric"], budget=cfg["budget"], space=cfg["space"],
                       sampler=cfg["sampler"], objective=cfg["objective"], trainings=summary["cost"]["trainings"],
                       wall_seconds=summary["cost"]["wall_seconds"], resumed=summary["details"]["resumed"],
                       storage=bool(cfg.get("storage")))  # fmt: skip
        finish_report(stage)
    console.print(f"wrote {out}/summary.json")


def _plots(stage: Path, summary: dict, result: Any, title: str) -> None:
    from trustlab.fairness import get_metric
    from trustlab.reporting import plot_best_so_far, plot_trials

    m = get_metric(summary["details"]["metric"])

    def point(arm: str) -> tuple[float, float]:
        v = summary["arms"][arm]["validation"]
        return v["overall"]["accuracy"], m.unfairness(v)

    base_acc = summary["arms"]["baseline"]["validation"]["overall"]["accuracy"]
    plot_trials(result.trials, stage / "trials.png", baseline=point("baseline"), best=point("intervention"),
                control=point("control"), metric=m.name,
                min_accuracy=base_acc - summary["details"]["max_accuracy_loss"],
                title=f"{title}: every trial (validation)")  # fmt: skip
    plot_best_so_far(result.curve, stage / "best_so_far.png", metric=m.name, title=f"{title}: search progress")


def _print_summary(summary: dict) -> None:
    from rich.table import Table

    from trustlab.fairness import get_metric

    d, arms = summary["details"], summary["arms"]
    m = get_metric(d["metric"])
    u = {a: m.unfairness(arms[a]["test"]) for a in arms}
    console.print(f"{m.label} on test {fmt_value(u['baseline'])} -> {fmt_value(u['intervention'])} with "
                  f"{d['n_poison']} added rows; the random control {fmt_value(u['control'])}", markup=False)  # fmt: skip
    table = Table(title=f"test split ({summary['data']['n_test']:,} rows), {d['n_poison']} rows added to "
                        f"{summary['data']['n_train']:,}, {summary['cost']['trainings']} trainings, "
                        f"{summary['cost']['wall_seconds']:.0f} s")  # fmt: skip
    table.add_column("metric")
    for col in ("baseline", "intervention", "random control"):
        table.add_column(col, justify="right")
    for k in ("accuracy", "balanced_accuracy"):
        table.add_row(k, *(fmt_value(arms[a]["test"]["overall"][k]) for a in ("baseline", "intervention", "control")))
    for k in arms["baseline"]["test"]["fairness"]:
        table.add_row(k, *(fmt_value(arms[a]["test"]["fairness"][k], signed=k.endswith("_difference"))
                           for a in ("baseline", "intervention", "control")))  # fmt: skip
    console.print(table)
    s = d["search"]
    gain = s.get("gain_over_best_start") or {}
    console.print(f"winning trial {s['best_trial']} ({s['won_by']}); gain over the best warm start: "
                  f"validation {fmt_value(gain.get('validation'), signed=True)}, "
                  f"test {fmt_value(gain.get('test'), signed=True)}", markup=False)  # fmt: skip
    if d["resumed"]:
        console.print(f"resumed a stored study that held {d['trials_before_resume']} trials", markup=False)
    if not d["feasible"]:
        console.print("[yellow]no trial met the accuracy constraint; the rows with the smallest loss were used[/]")
    if d["failed_trials"]:
        first = d["failed_trials"][0]
        console.print(f"[yellow]{len(d['failed_trials'])} trial(s) failed to fit: first: trial {first['trial']}: "
                      f"{first['error']}[/]", markup=False)  # fmt: skip


@app.command("worker")
def worker_cmd(
    storage: str = typer.Option(..., "--storage", help="The study's optuna storage URL."),
    study_name: str = typer.Option(..., "--study-name", help="The study created by `trustlab poison`."),
    trials: int = typer.Option(None, "--trials", help="Stop after this many trials of this worker."),
    n_jobs: int = typer.Option(1, "--n-jobs", help="Parallel trials in this process."),
) -> None:
    """Join a poisoning study and run its trials until the study's budget is used."""
    import time

    import optuna

    from trustlab.poisoning import make_poisoner, open_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    st = open_storage(storage)
    try:
        study = optuna.load_study(study_name=study_name, storage=st)
    except KeyError:
        raise ConfigError(f"study {study_name!r} does not exist in this storage") from None
    cfg = study.user_attrs.get("trustlab_cli")
    if cfg is None:
        raise ConfigError(f"study {study_name!r} was not created by `trustlab poison`")
    ds, split, sens = _problem(cfg, announce=False)
    poisoner = make_poisoner(split, learner=cfg["learner"], sensitive=sens, seed=cfg["seed"], storage=storage,
                             study_name=study_name, show_progress=True, n_jobs=n_jobs,
                             **_search_options(cfg))  # fmt: skip
    on_interrupt(f"the finished trials are kept in study {study_name!r}; start the worker again to go on")
    tr, va = split.train, split.val
    t0 = time.perf_counter()
    ran = poisoner.join(tr.X, tr.y, sensitive_features=tr.groups(sens), X_val=va.X, y_val=va.y,
                        sensitive_val=va.groups(sens), max_trials=trials)  # fmt: skip
    console.print(f"worker ran {ran} trainings in {time.perf_counter() - t0:.0f} s")
