"""``trustlab datasets | audit | mitigate``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer

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
)

#: Metrics whose sign carries meaning (privileged minus unprivileged); the rest print without one.
_SIGNED = {"statistical_parity_difference", "equal_opportunity_difference", "fpr_difference", "fnr_difference"}


@app.command("datasets")
def datasets_cmd() -> None:
    """List the built-in datasets: rows, features, sensitive attributes."""
    from rich.table import Table

    from trustlab.datasets import IMAGE_DATASETS, TABULAR

    table = Table(title="built-in tabular datasets")
    for col in ("name", "rows", "features", "positive rate", "sensitive (privileged, share)"):
        table.add_column(col)
    for name, loader in TABULAR.items():
        try:
            with console.status(f"loading {name}"):
                s = loader().summary()
        except Exception as exc:  # noqa: BLE001 - show every dataset, say what is missing
            table.add_row(name, "-", "-", "-", f"unavailable: {exc}")
            continue
        sens = "; ".join(f"{k} ({v['privileged']}, {v['privileged_share']:.2f})" for k, v in s["sensitive"].items())
        table.add_row(name, f"{s['rows']:,}", str(s["features"]), f"{s['positive_rate']:.3f}", sens)
    for name in IMAGE_DATASETS:
        table.add_row(name, "images", "-", "-", "-")
    console.print(table)


def group_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per arm x part x group (every value of a many-valued attribute too)."""
    rows = []
    for arm, parts in doc["arms"].items():
        for part, block in parts.items():
            for g, r in block["by_group"].items():
                rows.append({"arm": arm, "part": part, "level": "privileged vs rest", "group": g, **r})
            for g, r in block.get("groups", {}).get("by_value", {}).items():
                rows.append({"arm": arm, "part": part, "level": "every value", "group": g, **r})
    return rows


def _group_table(block: dict[str, Any], title: str) -> Any:
    from rich.table import Table

    table = Table(title=title)
    for col in ("group", "n", "selection rate", "accuracy", "TPR", "FPR"):
        table.add_column(col, justify="right")
    groups = block.get("groups", {}).get("by_value") or block["by_group"]
    ref = block.get("groups", {}).get("reference")
    for g, r in groups.items():
        name = f"{g} (reference)" if g == ref else g
        table.add_row(name, str(r["n"]), *(fmt_value(r[k]) for k in ("selection_rate", "accuracy", "tpr", "fpr")))
    return table


def _print_worst_pairs(doc: dict[str, Any]) -> None:
    """For an attribute with three or more values: each arm's widest selection-rate gap on the test split."""
    for arm, parts in doc["arms"].items():
        worst = parts.get("test", {}).get("groups", {}).get("worst_pair", {}).get("selection_rate")
        if worst and worst["groups"]:
            console.print(f"{arm}: widest selection-rate gap between two groups {fmt_value(worst['gap'])} "
                          f"({worst['groups'][0]} vs {worst['groups'][1]})", markup=False, highlight=False)  # fmt: skip


def _print_warnings(doc: dict[str, Any]) -> None:
    for w in doc["warnings"]:
        console.print(f"warning: {w}", markup=False, highlight=False, soft_wrap=True)


def _write_common(stage: Path, doc: dict[str, Any], name: str) -> None:
    import pandas as pd

    from trustlab.results import write_result

    write_result(stage / name, doc)
    pd.DataFrame(group_rows(doc)).to_csv(stage / "by_group.csv", index=False)


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
    learner_jobs: int = LEARNER_JOBS_OPT,
    out: Path = OUT_OPT,
    overwrite: bool = OVERWRITE_OPT,
) -> None:
    """Fit a default learner and measure its fairness on the untouched test split."""
    check_out(out, overwrite)
    check_learner(learner)
    ds, sens = load_data(dataset, data, target, sensitive, privileged, positive)
    from trustlab.datasets import split_dataset
    from trustlab.fairness import FAIRNESS_KEYS, audit_document

    split = split_dataset(ds, seed=seed, sensitive=sens)
    t0 = time.perf_counter()
    with console.status(f"fitting {learner} on {len(split.train):,} rows"):
        doc = audit_document(split, learner=learner, sensitive=sens, seed=seed, n_jobs=learner_jobs)
    test = doc["arms"]["baseline"]["test"]
    console.print(_group_table(test, f"{ds.name} / {sens} / {learner} (test split, seed {seed})"))
    overall = test["overall"]
    console.print(f"accuracy {fmt_value(overall['accuracy'])}  "
                  f"balanced accuracy {fmt_value(overall['balanced_accuracy'])}")  # fmt: skip
    for k in FAIRNESS_KEYS:
        console.print(f"{k:32s} {fmt_value(test['fairness'][k], signed=k in _SIGNED)}")
    _print_worst_pairs(doc)
    _print_warnings(doc)
    from trustlab.results import staged_output

    with staged_output(out) as stage:
        _write_common(stage, doc, "audit.json")
        from trustlab.reporting import plot_group_rates

        plot_group_rates(test.get("groups", {}).get("by_value") or test["by_group"], stage / "by_group.png",
                         title=f"{ds.name}/{sens}, {learner}: test split")  # fmt: skip
        _run_json(stage, "audit", ds, sens, learner, seed, t0, doc, split)
        finish_report(stage)
    console.print(f"wrote {out}/audit.json")


def _run_json(stage: Path, kind: str, ds: Any, sens: str, learner: str, seed: int, t0: float,
              doc: dict[str, Any], split: Any, **extra: Any) -> None:  # fmt: skip
    from trustlab._io import write_run_json

    write_run_json(stage, kind=kind, **data_fields(ds, sens, learner, seed), **extra,
                   wall_seconds=time.perf_counter() - t0, trainings=doc["cost"]["trainings"],
                   split=split.sizes(), result_file=f"{kind}.json")  # fmt: skip


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
    learner_jobs: int = LEARNER_JOBS_OPT,
    out: Path = OUT_OPT,
    overwrite: bool = OVERWRITE_OPT,
) -> None:
    """Compare a mitigation with the baseline on the untouched test split."""
    from trustlab.fairness import check_method

    check_out(out, overwrite)
    check_method(method)
    check_learner(learner)
    ds, sens = load_data(dataset, data, target, sensitive, privileged, positive)
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from trustlab.datasets import split_dataset
    from trustlab.fairness import mitigation_document

    split = split_dataset(ds, seed=seed, sensitive=sens)
    t0 = time.perf_counter()
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed} models"),
                  TimeElapsedColumn(), console=console, transient=True) as bar:  # fmt: skip
        task = bar.add_task(f"{method}: fitting {learner}", total=None)
        doc = mitigation_document(method, split, learner=learner, sensitive=sens, seed=seed, n_jobs=learner_jobs,
                                  progress=lambda done, total: bar.update(task, completed=done, total=total))  # fmt: skip
    base, mit = doc["arms"]["baseline"]["test"], doc["arms"]["intervention"]["test"]
    table = Table(title=f"{method} on {ds.name}/{sens}, {learner} (test split, seed {seed})")
    table.add_column("metric")
    table.add_column("baseline", justify="right")
    table.add_column(method, justify="right")
    rows = []
    for block in ("overall", "fairness"):
        for k, v in base[block].items():
            m = mit[block][k]
            signed = k in _SIGNED
            table.add_row(k, fmt_value(v, signed=signed), fmt_value(m, signed=signed))
            rows.append({"metric": k, "baseline": v, "mitigated": m})
    console.print(table)
    changes = doc["details"]["changes"]
    console.print("changes: " + "; ".join(f"{k.replace('_', ' ')} {fmt_value(v) if isinstance(v, float) else v}"
                                          for k, v in changes.items() if not isinstance(v, dict)),
                  markup=False, highlight=False, soft_wrap=True)  # fmt: skip
    _print_worst_pairs(doc)
    _print_warnings(doc)
    import pandas as pd

    from trustlab.results import staged_output

    with staged_output(out) as stage:
        _write_common(stage, doc, "mitigate.json")
        pd.DataFrame(rows).to_csv(stage / "mitigate.csv", index=False)
        from trustlab.reporting import plot_comparison

        plot_comparison(pd.DataFrame(rows).set_index("metric"), stage / "mitigate.png",
                        title=f"{method}: {ds.name}/{sens}, {learner}")  # fmt: skip
        _run_json(stage, "mitigate", ds, sens, learner, seed, t0, doc, split, method=method)
        finish_report(stage)
    console.print(f"wrote {out}/mitigate.json")
