"""Option handling shared by the command modules: which data, which learner, where to write.

Imports here stay light (typer, pathlib): :mod:`trustlab.datasets` and the
rest are imported inside the functions, so ``import trustlab.cli`` is fast.

Every command that writes a folder starts with :func:`check_out` (before it
loads any data) and writes through ``trustlab.results.staged_output(out)``,
which then honours the ``--overwrite`` decision.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from trustlab._errors import ConfigError

if TYPE_CHECKING:
    from trustlab.datasets import Dataset

DATASET_OPT = typer.Option(None, "--dataset", help="Built-in dataset: adult, compas, german, synthetic.")
DATA_OPT = typer.Option(None, "--data", help="Your own CSV file (use with --target and --sensitive).")
TARGET_OPT = typer.Option(None, "--target", help="Label column of --data.")
SENSITIVE_OPT = typer.Option(
    None, "--sensitive",
    help="Sensitive attribute (default: the dataset's first); 'sex,race' forms intersectional groups.",
)  # fmt: skip
PRIVILEGED_OPT = typer.Option(
    None, "--privileged",
    help="Privileged (reference) group of --sensitive (default: the dataset's, or the most frequent "
         "value of a CSV column; 'Male,White' for an intersection). Recorded in every result.",
)  # fmt: skip
POSITIVE_OPT = typer.Option(
    None, "--positive",
    help="Label value of --data that means the favourable outcome y=1 (default: 1/True, else the "
         "value that sorts last). Recorded in every result.",
)  # fmt: skip
LEARNER_OPT = typer.Option("rf", "--learner", help="rf, gb, hgb, xgb, lgbm, logreg, mlp or module:Class.")
SEED_OPT = typer.Option(0, "--seed", help="Seed of the split and the learner.")
OUT_OPT = typer.Option(..., "--out", help="Output folder (written only if the command succeeds).")
OVERWRITE_OPT = typer.Option(
    False, "--overwrite", help="Replace an existing non-empty --out folder whole (only when the command succeeds).",
)  # fmt: skip
LEARNER_JOBS_OPT = typer.Option(
    None, "--learner-jobs", help="Threads inside one learner that takes n_jobs (the model is the same).",
)  # fmt: skip
#: Former name of :data:`LEARNER_JOBS_OPT` (it is ``--learner-jobs`` now; ``--n-jobs`` is parallel trials).
NJOBS_OPT = LEARNER_JOBS_OPT

#: What ``main()`` prints after Ctrl-C; a command may set a better one (see :func:`on_interrupt`).
_INTERRUPT = {"hint": ""}


def check_out(out: Path, overwrite: bool = False) -> Path:
    """Check ``--out`` before any work: not a file, not under a file, writable, not a non-empty folder.

    An existing non-empty folder is refused unless ``overwrite`` (then it must
    have been written by trustlab, and it is replaced whole, atomically, when
    the command succeeds). Call it first thing in a command, then write with
    ``trustlab.results.staged_output(out)``.

    Raises
    ------
    ConfigError
        One line: what is wrong with ``--out`` and what to do.
    """
    from trustlab._io import prepare_out

    out = prepare_out(out, overwrite=overwrite)
    on_interrupt(f"nothing was written to {out}; run the same command again to start over")
    return out


def on_interrupt(hint: str) -> None:
    """Say what Ctrl-C keeps and how to resume (``main()`` prints ``interrupted: <hint>``)."""
    _INTERRUPT["hint"] = hint


def interrupt_hint() -> str:
    """The line set by :func:`on_interrupt` (empty if none)."""
    return _INTERRUPT["hint"]


def _split_names(sensitive: str | None, columns: Any) -> list[str] | None:
    """``"sex,race"`` -> ``["sex", "race"]`` unless the whole string is itself a column name."""
    if sensitive is None or "," not in sensitive or sensitive in set(map(str, columns)):
        return None
    names = [n.strip() for n in sensitive.split(",") if n.strip()]
    if len(names) < 2:
        raise ConfigError(f"--sensitive {sensitive!r}: give one column, or two or more separated by commas")
    return names


def load_builtin(name: str) -> Dataset:
    """:func:`trustlab.datasets.load_builtin`, imported when first needed (tests may replace it)."""
    from trustlab.datasets import load_builtin as _load

    return _load(name)


def load_data(
    dataset: str | None,
    data: Path | None,
    target: str | None,
    sensitive: str | None,
    privileged: str | None,
    positive: str | None = None,
    *,
    announce: bool = True,
) -> tuple[Dataset, str]:
    """Resolve ``--dataset`` or ``--data/--target/--sensitive`` to a dataset and attribute.

    ``--sensitive a,b`` adds the intersectional attribute ``"a,b"``;
    ``--privileged`` works for built-in datasets too. The groups must be large
    enough to measure (:meth:`Dataset.check_groups`). With ``announce`` the
    labels and groups and the rules that chose them are printed once.
    """
    from trustlab.datasets import check_splittable, load_csv, read_csv_header

    if (dataset is None) == (data is None):
        raise ConfigError("give exactly one of --dataset NAME or --data FILE.csv")
    if data is not None:
        if target is None or sensitive is None:
            raise ConfigError("--data needs --target COLUMN and --sensitive COLUMN")
        names = _split_names(sensitive, read_csv_header(data))
        if names is None:
            ds = load_csv(data, target=target, sensitive=sensitive, privileged=privileged, positive=positive)
            sens = sensitive
        else:
            ds = load_csv(data, target=target, sensitive=names, positive=positive)
            ds, sens = ds.with_intersection(names, privileged)
    else:
        if target is not None or positive is not None:
            raise ConfigError("--target and --positive apply to --data only (a built-in dataset's "
                              "label is fixed)")  # fmt: skip
        ds = load_builtin(dataset)
        names = _split_names(sensitive, ds.sensitive_names)
        if names is not None:
            ds, sens = ds.with_intersection(names, privileged)
        else:
            sens = ds.resolve_sensitive(sensitive)
            if privileged is not None:
                ds = ds.with_privileged(sens, privileged)
    check_splittable(ds)
    ds.check_groups(sens)
    if announce:
        announce_labels(ds, sens)
    return ds, sens


def announce_labels(ds: Dataset, sensitive: str) -> None:
    """Print once which label is y=1 and which group is privileged, and why."""
    from trustlab.cli._app import console

    pos_rule = ds.rules.get("positive", "")
    priv_rule = ds.rules.get(f"privileged:{sensitive}", "")
    counts = ds.group_counts(sensitive)
    console.print(
        f"labels: y=1 is {ds.label_values[1]!r} ({pos_rule}); privileged {sensitive} = "
        f"{ds.privileged[sensitive]!r} ({priv_rule}); {len(counts)} groups",
        markup=False, highlight=False, soft_wrap=True,
    )  # fmt: skip


def check_learner(learner: Any) -> None:
    """Refuse an unknown learner, a class without fit/predict, or a regressor, before any work."""
    from trustlab.learners import make_estimator

    make_estimator(learner)


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
        "positive": str(ds.label_values[1]),
        "target": ds.target,
        "learner": learner if isinstance(learner, str) else type(learner).__name__,
        "seed": seed,
    }


def split_sizes(split: Any) -> dict[str, int]:
    """``data`` sizes of a result document from a :class:`~trustlab.datasets.DataSplit`."""
    return {"n_train": len(split.train), "n_val": len(split.val), "n_test": len(split.test)}


def fmt_value(value: Any, *, signed: bool = False) -> str:
    """A number for a console table: four decimals, ``n/a`` for NaN/None, a sign only if asked."""
    import math

    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:+.4f}" if signed else f"{value:.4f}"
