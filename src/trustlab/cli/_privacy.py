"""``trustlab privacy``: membership inference against a biased / fair pair, with defences."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import typer
from rich.table import Table

from trustlab._errors import ConfigError, DataError, ModelFileError
from trustlab._io import staged_output, write_json, write_run_json
from trustlab.cli._app import app, console
from trustlab.cli._common import (
    DATA_OPT,
    DATASET_OPT,
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


def _read_rows(path: Path, n: int, what: str) -> np.ndarray:
    try:
        vals = [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]
        rows = np.array([int(v) for v in vals if not v.startswith("#")], dtype=int)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {what} file {path}: {exc}") from None
    if len(rows) == 0:
        raise DataError(f"{what} file {path} lists no rows")
    if rows.min() < 0 or rows.max() >= n:
        raise DataError(f"{what} file {path} has row numbers outside 0..{n - 1}")
    return rows


def _load_model(path: Path, X: pd.DataFrame) -> Any:
    from trustlab.privacy import BlackBox

    try:
        import joblib

        model = joblib.load(path)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file
        raise ModelFileError(f"cannot load model file {path}: {type(exc).__name__}: {exc}") from None
    try:
        BlackBox(model).proba(X.head(5))
    except Exception as exc:  # noqa: BLE001
        raise ModelFileError(f"model file {path} does not give class probabilities on this data: {exc}") from None
    return model


def _attack_table(summary: dict[str, Any]) -> Table:
    table = Table(title="membership inference on the balanced evaluation set")
    for col in ("target", "attack", "AUC", "bal. acc", "TPR@1%FPR", "TPR@0.1%FPR"):
        table.add_column(col, justify="right")
    rows = [(r, k, v) for r in ("biased", "fair") for k, v in summary[r]["attacks"].items()]
    rows += [("pair", k, summary[k]) for k in ("fdmia", "fdmia_threshold") if k in summary]
    for r, k, v in rows:
        table.add_row(r, k, f"{v['auc']:.3f}", f"{v['balanced_accuracy']:.3f}", f"{v['tpr_at_1pct_fpr']:.4f}",
                      f"{v['tpr_at_0_1pct_fpr']:.4f}")  # fmt: skip
    return table


@app.command("privacy")
def privacy_cmd(
    dataset: str = DATASET_OPT,
    data: Path = DATA_OPT,
    target: str = TARGET_OPT,
    sensitive: str = SENSITIVE_OPT,
    privileged: str = PRIVILEGED_OPT,
    positive: str = POSITIVE_OPT,
    model: str = typer.Option("mlp", "--model", help="mlp (torch), rf, gb, xgb, ... or module:Class."),
    fair_method: str = typer.Option("penalty", "--fair-method", help="penalty, exponentiated-gradient or poisoning."),
    fairness_weight: float = typer.Option(1.0, "--fairness-weight", help="Lambda of the MLP's fairness penalty."),
    attacks: str = typer.Option("loss,shadow,lira,fdmia,label", "--attacks", help="Comma list of attacks."),
    shadows: int = typer.Option(16, "--shadows", help="Shadow model pairs."),
    defence: str = typer.Option("none", "--defence", help="none, dpsgd, label-only, round:K or top1."),
    epsilon: float = typer.Option(None, "--epsilon", help="DP-SGD target epsilon (with --defence dpsgd)."),
    delta: float = typer.Option(1e-5, "--delta", help="DP-SGD delta."),
    seed: int = SEED_OPT,
    out: Path = OUT_OPT,
    members_file: Path = typer.Option(None, "--members", help="File of the target's training row numbers."),
    nonmembers_file: Path = typer.Option(None, "--non-members", help="File of held-out row numbers."),
    biased_model: Path = typer.Option(None, "--biased-model", help="joblib file of a fitted biased model."),
    fair_model: Path = typer.Option(None, "--fair-model", help="joblib file of its fitted fair twin."),
    max_rows: int = typer.Option(None, "--max-rows", help="Audit a random subsample of this many rows."),
    member_fraction: float = typer.Option(0.25, "--member-fraction", help="Share of rows the target trains on."),
    epochs: int = typer.Option(20, "--epochs", help="MLP epochs."),
    hidden: int = typer.Option(16, "--hidden", help="MLP hidden units."),
    lr: float = typer.Option(0.01, "--lr", help="MLP Adam learning rate."),
    batch_size: int = typer.Option(64, "--batch-size", help="MLP batch size."),
    lira_variance: str = typer.Option("auto", "--lira-variance", help="auto, global or per-example."),
    poison_trials: int = typer.Option(60, "--poison-trials", help="FairnessPoisoner trials (poisoning)."),
    poison_budget: float = typer.Option(0.05, "--poison-budget", help="FairnessPoisoner budget (poisoning)."),
    n_jobs: int = typer.Option(1, "--n-jobs", help="Processes training shadow models."),
    scheduler: str = typer.Option(None, "--scheduler", help="Dask scheduler address for the shadows."),
) -> None:
    """Membership inference (loss, shadow, LiRA, FD-MIA, label-only) against a biased and a fair model."""
    from trustlab.privacy import PairSpec, parse_attacks, parse_defence, partition, privacy_audit
    from trustlab.privacy._plots import write_plots

    t0 = time.perf_counter()
    attack_list = parse_attacks(attacks)
    dfn = parse_defence(defence)
    if epsilon is not None and not epsilon > 0:
        raise ConfigError(f"--epsilon must be > 0, got {epsilon}")
    if dfn.name == "dpsgd" and epsilon is None:
        raise ConfigError("--defence dpsgd needs --epsilon (> 0)")
    if dfn.name != "dpsgd" and epsilon is not None:
        raise ConfigError("--epsilon applies to --defence dpsgd only")
    if lira_variance not in ("auto", "global", "per-example"):
        raise ConfigError(f"unknown --lira-variance {lira_variance!r}; choose auto, global or per-example")
    if (biased_model is None) != (fair_model is None):
        raise ConfigError("give both --biased-model and --fair-model, or neither")
    if biased_model is not None and members_file is None:
        raise ConfigError("--biased-model/--fair-model need --members (the rows they were trained on)")
    if model != "mlp":
        from trustlab.learners import make_estimator

        make_estimator(model)  # fail early on a bad learner spec
    ds, sens = load_data(dataset, data, target, sensitive, privileged, positive)
    spec = PairSpec(model=model, fair_method=fair_method, fairness_weight=fairness_weight,
                    categorical=list(ds.categorical), numeric=list(ds.numeric),
                    mlp={"hidden": hidden, "lr": lr, "epochs": epochs, "batch_size": batch_size},
                    dp_epsilon=epsilon if dfn.name == "dpsgd" else None, dp_delta=delta,
                    poison={"budget": poison_budget, "n_trials": poison_trials})  # fmt: skip
    rng = np.random.default_rng(seed)
    if members_file is None:
        if nonmembers_file is not None:
            raise ConfigError("--non-members needs --members")
        members, nonmembers, pool = partition(len(ds), seed=seed, member_fraction=member_fraction,
                                              nonmember_fraction=member_fraction, max_rows=max_rows)  # fmt: skip
    else:
        members = _read_rows(members_file, len(ds), "members")
        if nonmembers_file is not None:
            nonmembers = _read_rows(nonmembers_file, len(ds), "non-members")
            overlap = np.intersect1d(members, nonmembers)
            if len(overlap):
                raise DataError(f"the member set overlaps the evaluation non-members in {len(overlap)} rows "
                                f"(e.g. row {overlap[0]}); they must be disjoint")  # fmt: skip
        else:
            rest = np.setdiff1d(np.arange(len(ds)), members)
            nonmembers = np.sort(rng.choice(rest, min(len(members), len(rest) // 2), replace=False))
        pool = np.setdiff1d(np.arange(len(ds)), np.union1d(members, nonmembers))
        if len(pool) == 0:
            raise DataError("no rows are left for the attacker's shadow pool")
    targets = None
    if biased_model is not None:
        targets = (_load_model(biased_model, ds.X), _load_model(fair_model, ds.X))
    gv = None if lira_variance == "auto" else lira_variance == "global"
    console.print(f"{ds.name}/{sens}: {len(members):,} members, {len(nonmembers):,} non-members, "
                  f"{len(pool):,} shadow-pool rows; {shadows} shadow pairs; defence {dfn.label}")  # fmt: skip
    result = privacy_audit(ds, sensitive=sens, members=members, nonmembers=nonmembers, shadow_pool=pool,
                           spec=spec, attacks=attack_list, shadows=shadows, defence=dfn, global_variance=gv,
                           target_models=targets, seed=seed, n_jobs=n_jobs, scheduler=scheduler,
                           progress=True)  # fmt: skip
    summary = result.summary
    console.print(_attack_table(summary))
    for r in ("biased", "fair"):
        spd = summary[r]["fairness"]["statistical_parity_difference"]
        console.print(f"{r:6s} accuracy {summary[r]['accuracy']:.4f}  statistical parity difference {spd:+.4f}")
    if summary["epsilon_spent"] is not None:
        console.print(f"DP-SGD: epsilon spent {summary['epsilon_spent']:.3f} at delta {summary['delta']:g}")
    with staged_output(out) as stage:
        write_json(stage / "summary.json", summary)
        cols = {"membership": result.membership, "group": result.groups, "label": result.labels}
        for role, block in result.scores.items():
            cols.update({f"{role}_{k}": v for k, v in block.items()})
        pd.DataFrame(cols).to_csv(stage / "scores.csv", index=False)
        write_plots(result, stage, title=f"{ds.name}/{sens}, {model}/{fair_method}")
        write_run_json(stage, kind="privacy", **data_fields(ds, sens, model, seed), fair_method=fair_method,
                       defence=dfn.label, shadows=shadows, wall_seconds=time.perf_counter() - t0,
                       trainings=summary["trainings"])  # fmt: skip
        finish_report(stage)
    console.print(f"wrote {out}/summary.json")
