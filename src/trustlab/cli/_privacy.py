"""``trustlab privacy`` (membership inference against an original / repaired pair) and ``trustlab dp-audit``.

Only typer, pathlib/typing and trustlab's light CLI modules are imported at
the top; numpy, pandas, torch and :mod:`trustlab.privacy` load inside the
commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from trustlab._errors import ConfigError, DataError, ModelFileError
from trustlab.cli._app import app, console
from trustlab.cli._common import (
    DATA_OPT,
    DATASET_OPT,
    OUT_OPT,
    OVERWRITE_OPT,
    POSITIVE_OPT,
    PRIVILEGED_OPT,
    SEED_OPT,
    SENSITIVE_OPT,
    TARGET_OPT,
    check_out,
    data_fields,
    finish_report,
    load_data,
)

LEARNER_HELP = "mlp (torch, the default), rf, gb, hgb, xgb, lgbm, logreg or module:Class."
HIDDEN_OPT = typer.Option("16", "--hidden", help="MLP hidden widths, comma list: 256 or 256,256.")
EPOCHS_OPT = typer.Option(20, "--epochs", help="MLP epochs.")
LR_OPT = typer.Option(0.01, "--lr", help="MLP Adam learning rate.")
BATCH_OPT = typer.Option(64, "--batch-size", help="MLP batch size.")
WD_OPT = typer.Option(0.0, "--weight-decay", help="MLP Adam weight decay (0: none).")


def _read_rows(path: Path, n: int, what: str) -> Any:
    import numpy as np

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


def _load_model(path: Path, X: Any) -> Any:
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


def _attack_table(summary: dict[str, Any]) -> Any:
    from rich.table import Table

    table = Table(title="membership inference on the balanced evaluation set")
    for col in ("target", "attack", "AUC", "bal. acc", "TPR@1%FPR", "TPR@0.1%FPR"):
        table.add_column(col, justify="right")
    rows = [(r, k, v) for r in ("biased", "fair") for k, v in summary[r]["attacks"].items()]
    rows += [("pair", k, summary[k]) for k in ("fdmia", "fdmia_threshold") if k in summary]
    for r, k, v in rows:
        table.add_row(r, k, f"{v['auc']:.3f}", f"{v['balanced_accuracy']:.3f}", f"{v['tpr_at_1pct_fpr']:.4f}",
                      f"{v['tpr_at_0_1pct_fpr']:.4f}")  # fmt: skip
    return table


def _mlp_settings(hidden: str, epochs: int, lr: float, batch_size: int, weight_decay: float) -> dict[str, Any]:
    from trustlab.privacy import hidden_layers

    widths = hidden_layers(hidden)
    if epochs < 1 or batch_size < 1:
        raise ConfigError("--epochs and --batch-size must be >= 1")
    if not lr > 0:
        raise ConfigError(f"--lr must be > 0, got {lr}")
    if not weight_decay >= 0:
        raise ConfigError(f"--weight-decay must be >= 0, got {weight_decay}")
    return {"hidden": list(widths), "lr": lr, "epochs": epochs, "batch_size": batch_size, "weight_decay": weight_decay}


def _arm(block: dict[str, Any]) -> dict[str, Any]:
    """An evaluation block of the result schema from the audit's flattened utility block."""
    return {"overall": {"accuracy": block["accuracy"], "balanced_accuracy": block["balanced_accuracy"]},
            "fairness": block["fairness"], "by_group": block["by_group"]}  # fmt: skip


@app.command("privacy")
def privacy_cmd(
    dataset: str = DATASET_OPT,
    data: Path = DATA_OPT,
    target: str = TARGET_OPT,
    sensitive: str = SENSITIVE_OPT,
    privileged: str = PRIVILEGED_OPT,
    positive: str = POSITIVE_OPT,
    learner: str = typer.Option("mlp", "--learner", help=LEARNER_HELP),
    fair_method: str = typer.Option("penalty", "--fair-method",
                                    help="How the fair twin is made: penalty (MLP) or any --repair."),  # fmt: skip
    repair: str = typer.Option(None, "--repair", help="massaging, reweighing, exponentiated-gradient, "
                               "threshold-optimizer or poisoning: audit the (original, repaired) pair."),  # fmt: skip
    fairness_weight: float = typer.Option(1.0, "--fairness-weight", help="Lambda of the MLP's fairness penalty."),
    attacks: str = typer.Option("loss,shadow,lira,rmia,fdmia,label", "--attacks", help="Comma list of attacks."),
    shadows: int = typer.Option(16, "--shadows", help="Shadow model pairs."),
    rmia_references: int = typer.Option(None, "--rmia-references",
                                        help="Reference models of RMIA (default: all shadows)."),  # fmt: skip
    defence: str = typer.Option("none", "--defence", help="none, dpsgd, label-only, round:K or top1."),
    epsilon: float = typer.Option(None, "--epsilon", help="DP-SGD target epsilon (with --defence dpsgd)."),
    delta: float = typer.Option(1e-5, "--delta", help="DP-SGD delta."),
    seed: int = SEED_OPT,
    out: Path = OUT_OPT,
    overwrite: bool = OVERWRITE_OPT,
    members_file: Path = typer.Option(None, "--members", help="File of the target's training row numbers."),
    nonmembers_file: Path = typer.Option(None, "--non-members", help="File of held-out row numbers."),
    biased_model: Path = typer.Option(None, "--biased-model", help="joblib file of a fitted original model."),
    fair_model: Path = typer.Option(None, "--fair-model", help="joblib file of its fitted fair twin."),
    max_rows: int = typer.Option(None, "--max-rows", help="Audit a random subsample of this many rows."),
    member_fraction: float = typer.Option(0.25, "--member-fraction", help="Share of rows the target trains on."),
    epochs: int = EPOCHS_OPT,
    hidden: str = HIDDEN_OPT,
    lr: float = LR_OPT,
    batch_size: int = BATCH_OPT,
    weight_decay: float = WD_OPT,
    lira_variance: str = typer.Option("auto", "--lira-variance", help="auto, global or per-example."),
    poison_trials: int = typer.Option(60, "--poison-trials", help="FairnessPoisoner trials (poisoning)."),
    poison_budget: float = typer.Option(0.05, "--poison-budget", help="FairnessPoisoner budget (poisoning)."),
    n_jobs: int = typer.Option(1, "--n-jobs", help="Processes training shadow models."),
    scheduler: str = typer.Option(None, "--scheduler", help="Dask scheduler address for the shadows."),
) -> None:
    """Membership inference (loss, shadow, LiRA, RMIA, FD-MIA, label-only) against an original and a fair model."""
    import time

    t0 = time.perf_counter()
    out = check_out(out, overwrite)
    import numpy as np
    import pandas as pd

    from trustlab.privacy import (
        REPAIRS,
        PairSpec,
        check_fair_method,
        parse_attacks,
        parse_defence,
        partition,
        privacy_audit,
        write_plots,
        write_risk,
    )
    from trustlab.privacy import plot_risk as _plot_risk
    from trustlab.results import label_info, result_document, staged_output, write_result

    attack_list = parse_attacks(attacks)
    if repair is not None:
        if fair_method != "penalty":
            raise ConfigError("give --repair or --fair-method, not both")
        check_fair_method(repair, learner, what="repair")
        if repair not in REPAIRS:
            raise ConfigError(f"unknown repair {repair!r}; choose from {', '.join(REPAIRS)}")
        fair_method = repair
    else:
        check_fair_method(fair_method, learner)
    dfn = parse_defence(defence)
    if epsilon is not None and not epsilon > 0:
        raise ConfigError(f"--epsilon must be > 0, got {epsilon}")
    if dfn.name == "dpsgd" and epsilon is None:
        raise ConfigError("--defence dpsgd needs --epsilon (> 0)")
    if dfn.name != "dpsgd" and epsilon is not None:
        raise ConfigError("--epsilon applies to --defence dpsgd only")
    if lira_variance not in ("auto", "global", "per-example"):
        raise ConfigError(f"unknown --lira-variance {lira_variance!r}; choose auto, global or per-example")
    if rmia_references is not None and not 1 <= rmia_references <= shadows:
        raise ConfigError(f"--rmia-references must be between 1 and --shadows ({shadows}), got {rmia_references}")
    if (biased_model is None) != (fair_model is None):
        raise ConfigError("give both --biased-model and --fair-model, or neither")
    if biased_model is not None and members_file is None:
        raise ConfigError("--biased-model/--fair-model need --members (the rows they were trained on)")
    mlp = _mlp_settings(hidden, epochs, lr, batch_size, weight_decay)
    if learner != "mlp":
        from trustlab.learners import make_estimator

        make_estimator(learner)  # fail early on a bad learner spec
    ds, sens = load_data(dataset, data, target, sensitive, privileged, positive)
    spec = PairSpec(model=learner, fair_method=fair_method, fairness_weight=fairness_weight,
                    categorical=list(ds.categorical), numeric=list(ds.numeric), mlp=mlp,
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
    opts = {"rmia": {"references": rmia_references}} if rmia_references is not None else None
    console.print(f"{ds.name}/{sens}: {len(members):,} members, {len(nonmembers):,} non-members, "
                  f"{len(pool):,} shadow-pool rows; {shadows} shadow pairs; {learner}/{fair_method}; "
                  f"defence {dfn.label}")  # fmt: skip
    result = privacy_audit(ds, sensitive=sens, members=members, nonmembers=nonmembers, shadow_pool=pool,
                           spec=spec, attacks=attack_list, shadows=shadows, defence=dfn, global_variance=gv,
                           attack_options=opts, target_models=targets, seed=seed, n_jobs=n_jobs,
                           scheduler=scheduler, progress=True)  # fmt: skip
    summary = result.summary
    console.print(_attack_table(summary))
    for r in ("biased", "fair"):
        spd = summary[r]["fairness"]["statistical_parity_difference"]
        console.print(f"{r:6s} accuracy {summary[r]['accuracy']:.4f}  statistical parity difference {spd:+.4f}")
    if summary["epsilon_spent"] is not None:
        console.print(f"DP-SGD: epsilon spent {summary['epsilon_spent']:.3f} at delta {summary['delta']:g}")
    wall = time.perf_counter() - t0
    doc = result_document(
        "privacy", seed=seed, **label_info(ds, sens),
        data={"dataset": ds.name, "sensitive": sens, "n_train": len(members), "n_val": None,
              "n_test": len(nonmembers), "n_shadow_pool": len(pool)},
        cost={"wall_seconds": wall, "trainings": summary["trainings"]},
        arms={"baseline": {"test": _arm(summary["biased"])}, "intervention": {"test": _arm(summary["fair"])}},
        details=summary, learner=learner, method=fair_method,
    )  # fmt: skip
    with staged_output(out) as stage:
        write_result(stage / "summary.json", doc)
        cols = {"membership": result.membership, "group": result.groups, "label": result.labels}
        for role, block in result.scores.items():
            cols.update({f"{role}_{k}": v for k, v in block.items()})
        pd.DataFrame(cols).to_csv(stage / "scores.csv", index=False)
        risk = write_risk(result, stage / "risk.csv")
        _plot_risk(risk, stage / "risk.png", title=f"{ds.name}/{sens}, {learner}/{fair_method}: who pays")
        write_plots(result, stage, title=f"{ds.name}/{sens}, {learner}/{fair_method}")
        from trustlab._io import write_run_json

        write_run_json(stage, kind="privacy", **data_fields(ds, sens, learner, seed), method=fair_method,
                       defence=dfn.label, shadows=shadows, wall_seconds=wall,
                       trainings=summary["trainings"])  # fmt: skip
        finish_report(stage)
    console.print(f"wrote {out}/summary.json, risk.csv")


@app.command("dp-audit")
def dp_audit_cmd(
    dataset: str = DATASET_OPT,
    data: Path = DATA_OPT,
    target: str = TARGET_OPT,
    sensitive: str = SENSITIVE_OPT,
    privileged: str = PRIVILEGED_OPT,
    positive: str = POSITIVE_OPT,
    canaries: int = typer.Option(100, "--canaries", help="k: 2k mislabelled canaries, each trained on w.p. 1/2."),
    train_rows: int = typer.Option(1000, "--train-rows", help="Base training rows (canaries come on top)."),
    epsilon: float = typer.Option(None, "--epsilon", help="Also train with DP-SGD to this target epsilon."),
    delta: float = typer.Option(1e-5, "--delta", help="DP-SGD delta and the audited delta."),
    confidence: float = typer.Option(0.95, "--confidence", help="Confidence of the lower bound."),
    epochs: int = EPOCHS_OPT,
    hidden: str = HIDDEN_OPT,
    lr: float = LR_OPT,
    batch_size: int = BATCH_OPT,
    weight_decay: float = WD_OPT,
    seed: int = SEED_OPT,
    out: Path = OUT_OPT,
    overwrite: bool = OVERWRITE_OPT,
) -> None:
    """Empirical DP audit: a Clopper-Pearson lower bound on epsilon from canaries, next to DP-SGD's accounted one."""
    import time

    t0 = time.perf_counter()
    out = check_out(out, overwrite)
    from trustlab.privacy import DP_AUDIT_METHOD, check_dp_audit_options, dp_audit
    from trustlab.results import label_info, result_document, staged_output, write_result

    check_dp_audit_options(canaries=canaries, train_rows=train_rows, epsilon=epsilon, delta=delta,
                           confidence=confidence)  # fmt: skip
    mlp = _mlp_settings(hidden, epochs, lr, batch_size, weight_decay)
    ds, sens = load_data(dataset, data, target, sensitive, privileged, positive)
    if train_rows + 2 * canaries > len(ds):
        raise DataError(f"{train_rows} training rows and {2 * canaries} canary candidates need "
                        f"{train_rows + 2 * canaries} rows; the data has {len(ds)}")  # fmt: skip
    runs = {}
    for name, eps in (("no_dp", None), ("dpsgd", epsilon)):
        if name == "dpsgd" and epsilon is None:
            continue
        runs[name] = dp_audit(ds, sensitive=sens, canaries=canaries, train_rows=train_rows, epsilon=eps,
                              delta=delta, confidence=confidence, mlp=mlp, seed=seed)  # fmt: skip
        r = runs[name]
        acc = "n/a (no DP)" if r["epsilon_accounted"] is None else f"{r['epsilon_accounted']:.3f}"
        console.print(f"{name}: audited epsilon >= {r['epsilon_lower_bound']:.3f} (TPR {r['tpr']:.3f}, "
                      f"FPR {r['fpr']:.3f}); accounted epsilon {acc}")  # fmt: skip
    wall = time.perf_counter() - t0
    doc = result_document(
        "dp-audit", seed=seed, **label_info(ds, sens),
        data={"dataset": ds.name, "sensitive": sens, "n_train": train_rows, "n_val": None, "n_test": None},
        cost={"wall_seconds": wall, "trainings": len(runs)}, arms={},
        details={"method": DP_AUDIT_METHOD, "delta": delta, "confidence": confidence, "mlp": mlp, "runs": runs},
        learner="mlp",
    )  # fmt: skip
    with staged_output(out) as stage:
        write_result(stage / "summary.json", doc)
        from trustlab._io import write_run_json

        write_run_json(stage, kind="privacy", **data_fields(ds, sens, "mlp", seed), method="dp-audit",
                       wall_seconds=wall, trainings=len(runs))  # fmt: skip
        finish_report(stage)
    console.print(f"wrote {out}/summary.json")
