"""``trustlab demo``: the main job on built-in data, end to end."""

from __future__ import annotations

from pathlib import Path

import typer

from trustlab.cli._app import app, console


@app.command("demo")
def demo_cmd(
    out: Path = typer.Option(Path("out/demo"), "--out", help="Folder for the three result folders."),
    trials: int = typer.Option(25, "--trials", help="Black-box trainings of the poisoning search."),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Audit XGBoost on Adult/sex, repair it by massaging, then by 5% crafted rows (black box)."""
    from trustlab.cli._fairness import audit_cmd, mitigate_cmd
    from trustlab.cli._poison import poison_cmd

    common = {"dataset": "adult", "data": None, "target": None, "sensitive": "sex", "privileged": None,
              "positive": None, "seed": seed}  # fmt: skip
    console.rule("1/3  fairness audit")
    audit_cmd(**common, learner="xgb", n_jobs=None, out=out / "audit")
    console.rule("2/3  massaging (Kamiran & Calders) vs baseline")
    mitigate_cmd(method="massaging", **common, learner="xgb", n_jobs=None, out=out / "massaging")
    console.rule("3/3  constructive black-box poisoning: 5% added rows, learner untouched")
    poison_cmd(**common, learner=["xgb"], surrogate="logreg", steps=60, budget="0.05", metric="statistical_parity", trials=trials, sampler="tpe",
               objective="constrained", max_accuracy_loss=0.01, method="bo", n_jobs=1, learner_jobs=None,
               storage=None, study_name=None, out=out / "poison")  # fmt: skip
    console.print(f"open {out}/poison/report.html (and audit/, massaging/) in a browser")
