"""``trustlab datasets | audit | mitigate``."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import typer
from rich.table import Table

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
from trustlab.datasets import TABULAR, split_dataset
from trustlab.fairness import FAIRNESS_KEYS, audit, check_method, run_mitigation
from trustlab.learners import make_estimator


@app.command("datasets")
def datasets_cmd() -> None:
    """List the built-in datasets: rows, features, sensitive attributes."""
    table = Table(title="built-in tabular datasets")
    for col in ("name", "rows", "features", "positive rate", "sensitive (privileged, share)"):
        table.add_column(col)
    for name, loader in TABULAR.items():
        try:
            s = loader().summary()
        except Exception as exc:  # noqa: BLE001 - show every dataset, say what is missing
            table.add_row(name, "-", "-", "-", f"unavailable: {exc}")
            continue
        sens = "; ".join(f"{k} ({v['privileged']}, {v['privileged_share']:.2f})" for k, v in s["sensitive"].items())
        table.add_row(name, f"{s['rows']:,}", str(s["features"]), f"{s['positive_rate']:.3f}", sens)
    try:
        from trustlab.datasets import IMAGE_DATASETS  # added by the image loaders
    except ImportError:
        IMAGE_DATASETS = {}
    for name in IMAGE_DATASETS:
        table.add_row(name, "images", "-", "-", "-")
    console.print(table)


def _group_table(result: dict, title: str) -> Table:
    table = Table(title=title)
    for col in ("group", "n", "selection rate", "accuracy", "TPR", "FPR"):
        table.add_column(col, justify="right")
    for g, r in result["by_group"].items():
        table.add_row(g, str(r["n"]), f"{r['selection_rate']:.3f}", f"{r['accuracy']:.3f}",
                      f"{r['tpr']:.3f}", f"{r['fpr']:.3f}")  # fmt: skip
    return table


@app.command("audit")
def audit_cmd(
    dataset: str = DATASET_OPT,
    data: Path = DATA_OPT,
    target: str = TARGET_OPT,
    sensitive: str = SENSITIVE_OPT,
    privileged: str = PRIVILEGED_OPT,
    positive: str = POSITIVE_OPT,
    learner: str = LEARNER_OPT,
    seed: int = SEED_OPT,
    n_jobs: int = NJOBS_OPT,
    out: Path = OUT_OPT,
) -> None:
    """Fit a default learner and measure its fairness on the untouched test split."""
    ds, sens = load_data(dataset, data, target, sensitive, privileged, positive)
    make_estimator(learner)  # fail early on a bad learner spec
    split = split_dataset(ds, seed=seed, sensitive=sens)
    t0 = time.perf_counter()
    with console.status(f"fitting {learner} on {len(split.train):,} rows"):
        result = audit(split, learner=learner, sensitive=sens, seed=seed, n_jobs=n_jobs)
    console.print(_group_table(result, f"{ds.name} / {sens} / {learner} (test split, seed {seed})"))
    overall = result["overall"]
    console.print(f"accuracy {overall['accuracy']:.4f}  balanced accuracy {overall['balanced_accuracy']:.4f}")
    for k in FAIRNESS_KEYS:
        console.print(f"{k:32s} {result['fairness'][k]:+.4f}")
    with staged_output(out) as stage:
        write_json(stage / "audit.json", result)
        rows = [{"group": g, **r} for g, r in result["by_group"].items()]
        pd.DataFrame(rows).to_csv(stage / "by_group.csv", index=False)
        from trustlab.reporting import plot_group_rates

        plot_group_rates(result["by_group"], stage / "by_group.png",
                         title=f"{ds.name}/{sens}, {learner}: test split")  # fmt: skip
        write_run_json(stage, kind="audit", **data_fields(ds, sens, learner, seed),
                       wall_seconds=time.perf_counter() - t0, trainings=1, split=split.sizes())  # fmt: skip
        finish_report(stage)
    console.print(f"wrote {out}/audit.json")


@app.command("mitigate")
def mitigate_cmd(
    method: str = typer.Option(..., "--method", help="massaging, reweighing, exponentiated-gradient, threshold-optimizer."),
    dataset: str = DATASET_OPT,
    data: Path = DATA_OPT,
    target: str = TARGET_OPT,
    sensitive: str = SENSITIVE_OPT,
    privileged: str = PRIVILEGED_OPT,
    positive: str = POSITIVE_OPT,
    learner: str = LEARNER_OPT,
    seed: int = SEED_OPT,
    n_jobs: int = NJOBS_OPT,
    out: Path = OUT_OPT,
) -> None:
    """Compare a mitigation with the baseline on the untouched test split."""
    check_method(method)
    ds, sens = load_data(dataset, data, target, sensitive, privileged, positive)
    make_estimator(learner)
    split = split_dataset(ds, seed=seed, sensitive=sens)
    t0 = time.perf_counter()
    with console.status(f"{method}: fitting {learner}"):
        result = run_mitigation(method, split, learner=learner, sensitive=sens, seed=seed, n_jobs=n_jobs)
    table = Table(title=f"{method} on {ds.name}/{sens}, {learner} (test split, seed {seed})")
    table.add_column("metric")
    table.add_column("baseline", justify="right")
    table.add_column(method, justify="right")
    rows = []
    for block in ("overall", "fairness"):
        for k, v in result["baseline"][block].items():
            m = result["mitigated"][block][k]
            table.add_row(k, f"{v:+.4f}", f"{m:+.4f}")
            rows.append({"metric": k, "baseline": v, "mitigated": m})
    console.print(table)
    console.print(f"changes: {result['changes']}")
    with staged_output(out) as stage:
        write_json(stage / "mitigate.json", result)
        pd.DataFrame(rows).to_csv(stage / "mitigate.csv", index=False)
        from trustlab.reporting import plot_comparison

        plot_comparison(pd.DataFrame(rows).set_index("metric"), stage / "mitigate.png",
                        title=f"{method}: {ds.name}/{sens}, {learner}")  # fmt: skip
        write_run_json(stage, kind="mitigate", method=method, **data_fields(ds, sens, learner, seed),
                       wall_seconds=time.perf_counter() - t0, split=split.sizes())  # fmt: skip
        finish_report(stage)
    console.print(f"wrote {out}/mitigate.json")
