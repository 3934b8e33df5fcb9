"""``trustlab demo``: the main job on built-in data, end to end."""

from __future__ import annotations

from pathlib import Path

import typer

from trustlab.cli._app import app, console
from trustlab.cli._common import OVERWRITE_OPT, check_out


@app.command("demo")
def demo_cmd(
    out: Path = typer.Option(Path("out/demo"), "--out", help="Folder for the three result folders."),
    trials: int = typer.Option(25, "--trials", help="Black-box trainings of the poisoning search."),
    seed: int = typer.Option(0, "--seed"),
    overwrite: bool = OVERWRITE_OPT,
) -> None:
    """Audit XGBoost on Adult/sex, repair it by massaging, by 5% crafted rows (black box), and draw the frontier."""
    import inspect

    from trustlab.cli._fairness import audit_cmd, mitigate_cmd
    from trustlab.cli._frontier import frontier_cmd
    from trustlab.cli._poison import poison_cmd

    for sub in ("audit", "massaging", "poison", "frontier"):  # all four checked before any work
        check_out(out / sub, overwrite)
    common = {"dataset": "adult", "data": None, "target": None, "sensitive": "sex", "privileged": None,
              "positive": None, "seed": seed}  # fmt: skip
    console.rule("1/4  fairness audit")
    audit_cmd(**common, learner="xgb", learner_jobs=None, out=out / "audit", overwrite=overwrite)
    console.rule("2/4  massaging (Kamiran & Calders) vs baseline")
    mitigate_cmd(method="massaging", **common, learner="xgb", learner_jobs=None, out=out / "massaging",
                 overwrite=overwrite)  # fmt: skip
    console.rule("3/4  constructive black-box poisoning: 5% added rows, learner untouched")
    poison_kw = {"learner": ["xgb"], "surrogate": "logreg", "steps": 60, "budget": 0.05, "budget_rows": None,
                 "metric": "statistical_parity", "space": "boundary", "trials": trials, "sampler": "tpe",
                 "objective": "constrained", "max_accuracy_loss": 0.01, "accuracy_bound": "upper",
                 "confidence": 0.8, "method": "bo", "n_jobs": 1, "learner_jobs": None, "storage": None,
                 "study_name": None, "out": out / "poison", "overwrite": overwrite}  # fmt: skip
    params = inspect.signature(poison_cmd).parameters
    poison_cmd(**common, **{k: v for k, v in poison_kw.items() if k in params})
    console.rule("4/4  the frontier: every repair and poisoning at 5% and 15% on the (accuracy, |SPD|) plane")
    frontier_kw = {"learner": "xgb", "budgets": "0.05,0.15", "metric": "statistical_parity", "trials": min(trials, 10),
                   "space": "boundary", "sampler": "tpe", "max_accuracy_loss": 0.01, "eg_bounds": "0.02",
                   "eg_max_iter": 5, "n_jobs": 1, "learner_jobs": None, "out": out / "frontier",
                   "overwrite": overwrite}  # fmt: skip
    params = inspect.signature(frontier_cmd).parameters
    frontier_cmd(**common, **{k: v for k, v in frontier_kw.items() if k in params})
    console.print(f"open {out}/frontier/report.html (and audit/, massaging/, poison/) in a browser")
