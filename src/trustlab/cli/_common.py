"""Option handling shared by the command modules: which data, which learner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from trustlab._errors import ConfigError
from trustlab.datasets import Dataset, load_builtin, load_csv

DATASET_OPT = typer.Option(None, "--dataset", help="Built-in dataset: adult, compas, german, synthetic.")
DATA_OPT = typer.Option(None, "--data", help="Your own CSV file (use with --target and --sensitive).")
TARGET_OPT = typer.Option(None, "--target", help="Label column of --data.")
SENSITIVE_OPT = typer.Option(None, "--sensitive", help="Sensitive attribute (default: the dataset's first).")
PRIVILEGED_OPT = typer.Option(None, "--privileged", help="Privileged value of --sensitive (CSV only).")
POSITIVE_OPT = typer.Option(None, "--positive", help="Target value meaning y=1 (CSV only).")
LEARNER_OPT = typer.Option("rf", "--learner", help="rf, gb, hgb, xgb, lgbm, logreg, mlp or module:Class.")
SEED_OPT = typer.Option(0, "--seed", help="Seed of the split and the learner.")
OUT_OPT = typer.Option(..., "--out", help="Output folder (written only if the command succeeds).")
NJOBS_OPT = typer.Option(None, "--n-jobs", help="Threads for learners that take n_jobs (same model).")


def load_data(
    dataset: str | None,
    data: Path | None,
    target: str | None,
    sensitive: str | None,
    privileged: str | None,
    positive: str | None = None,
) -> tuple[Dataset, str]:
    """Resolve ``--dataset`` or ``--data/--target/--sensitive`` to a dataset and attribute."""
    if (dataset is None) == (data is None):
        raise ConfigError("give exactly one of --dataset NAME or --data FILE.csv")
    if data is not None:
        if target is None or sensitive is None:
            raise ConfigError("--data needs --target COLUMN and --sensitive COLUMN")
        ds = load_csv(data, target=target, sensitive=sensitive, privileged=privileged, positive=positive)
        return ds, sensitive
    if privileged is not None or target is not None or positive is not None:
        raise ConfigError("--target, --privileged and --positive apply to --data only")
    ds = load_builtin(dataset)
    return ds, ds.resolve_sensitive(sensitive)


def finish_report(folder: Path) -> None:
    """Write ``report.html`` into a staged output folder (every command ends with it)."""
    from trustlab.reporting import write_report

    write_report(folder)


def data_fields(ds: Dataset, sensitive: str, learner: Any, seed: int) -> dict[str, Any]:
    """The ``run.json`` fields that say what was run on what."""
    return {
        "dataset": ds.name,
        "sensitive": sensitive,
        "privileged": ds.privileged[sensitive],
        "learner": learner if isinstance(learner, str) else type(learner).__name__,
        "seed": seed,
    }
