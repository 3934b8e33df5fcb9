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
    """Audit XGBoost on Adult/sex, repair it by massaging, then by 5% crafted rows (black box)."""
    import inspect

    from trustlab.cli._fairness import audit_cmd, mitigate_cmd
    from trustlab.cli._poison import poison_cmd

    for sub in ("audit", "massaging", "poison"):  # all three checked before any work
        check_out(out / sub, overwrite)
    common = {"dataset": "adult", "data": None, "target": None, "sensitive": "sex", "privileged": None,
              "positive": None, "seed": seed}  # fmt: skip
    console.rule("1/3  fairness audit")
    audit_cmd(**common, learner="xgb", learner_jobs=None, out=out / "audit", overwrite=overwrite)
    console.rule("2/3  massaging (Kamiran & Calders) vs baseline")
    mitigate_cmd(method="massaging", **common, learner="xgb", learner_jobs=None, out=out / "massaging",
                 overwrite=overwrite)  # fmt: skip
    console.rule("3/3  constructive black-box poisoning: 5% added rows, learner untouched")
    poison_kw = {"learner": ["xgb"], "surrogate": "logreg", "steps": 60, "budget": 0.05, "budget_rows": None,
                 "metric": "statistical_parity", "space": "boundary", "trials": trials, "sampler": "tpe",
                 "objective": "constrained", "max_accuracy_loss": 0.01, "accuracy_bound": "upper",
                 "confidence": 0.8, "method": "bo", "n_jobs": 1, "learner_jobs": None, "storage": None,
                 "study_name": None, "out": out / "poison", "overwrite": overwrite}  # fmt: skip
    params = inspect.signature(poison_cmd).parameters
    poison_cmd(**common, **{k: v for k, v in poison_kw.items() if k in params})
    console.print(f"open {out}/poison/report.html (and audit/, massaging/) in a browser")
