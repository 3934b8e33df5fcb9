"""``trustlab poison --method gradient``: white-box crafting, transfer to black-box learners."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table

from trustlab._errors import ConfigError, check_choice
from trustlab._io import write_run_json
from trustlab.cli._app import console
from trustlab.cli._common import data_fields, finish_report
from trustlab.learners import make_estimator
from trustlab.poisoning import (
    SURROGATES,
    WHITE_BOX,
    evaluate_gradient_poisoning,
    fit_gradient_poisoner,
    make_gradient_poisoner,
)
from trustlab.results import label_info, result_document, staged_output, write_result


def run_gradient(cfg: dict[str, Any], ds: Any, split: Any, sens: str, *, learners: list[str], surrogate: str,
                 steps: int, out: Path, learner_jobs: int | None = None) -> None:  # fmt: skip
    """Craft rows through the surrogate, evaluate on every ``--learner``, write ``out``.

    ``cfg`` holds the parsed ``trustlab poison`` options (budget, metric,
    max_accuracy_loss, seed). Bad input raises before anything is written.
    """
    check_choice("surrogate", surrogate, SURROGATES)
    if not learners:
        raise ConfigError("give at least one --learner")
    for lr in learners:
        if lr != WHITE_BOX:
            make_estimator(lr)
    seed = cfg["seed"]
    poisoner = make_gradient_poisoner(split, sensitive=sens, seed=seed, surrogate=surrogate, budget=cfg["budget"],
                                      metric=cfg["metric"], max_accuracy_loss=cfg["max_accuracy_loss"],
                                      steps=steps)  # fmt: skip
    poisoner.check_params()
    console.print(f"{ds.name}/{sens}: {len(split.train):,} training rows, budget {poisoner.budget} -> "
                  f"{steps} gradient steps through a {surrogate} surrogate; targets {', '.join(learners)}")  # fmt: skip
    fit_gradient_poisoner(poisoner, split, sens)
    if poisoner.diverged_:
        console.print(f"[yellow]the optimisation diverged ({poisoner.divergence_}); the best valid iterate is used[/]")
    summary = evaluate_gradient_poisoning(poisoner, split, sens, learners=list(learners), seed=seed,
                                          n_jobs=learner_jobs)  # fmt: skip
    _print_transfer(summary)
    with staged_output(out) as stage:
        doc = result_document(
            "poison", seed=seed, **label_info(ds, sens),
            data={"dataset": ds.name, "sensitive": sens, "n_train": summary["n_train"], "n_val": summary["n_val"],
                  "n_test": summary["n_test"]},
            cost={"wall_seconds": summary["wall_seconds"], "trainings": summary["trainings"]},
            arms=summary.pop("arms"), details=summary, learner=str(learners[0]), method="gradient",
        )  # fmt: skip
        write_result(stage / "summary.json", doc)
        poisoner.poison_.to_csv(stage / "poison.csv", index=False)
        poisoner.history_.to_csv(stage / "history.csv", index=False)
        write_run_json(stage, kind="poison", **data_fields(ds, sens, learners[0], seed), metric=cfg["metric"],
                       budget=cfg["budget"], method="gradient", surrogate=surrogate, steps=steps,
                       learners=list(learners), trainings=summary["trainings"],
                       wall_seconds=summary["wall_seconds"], split=split.sizes())  # fmt: skip
        finish_report(stage)
    console.print(f"wrote {out}/summary.json")


def _print_transfer(summary: dict[str, Any]) -> None:
    table = Table(title=f"test |{summary['metric']}| and accuracy, {summary['n_poison']} rows added to "
                        f"{summary['n_train']:,} ({summary['wall_seconds']:.0f} s)")  # fmt: skip
    for col in ("learner", "baseline", "poisoned", "random control", "gain kept"):
        table.add_column(col, justify="right" if col != "learner" else "left")
    for name, t in summary["transfer"].items():
        cells = [f"{t[f'{a}_unfairness']:.4f} / {t[a]['accuracy']:.3f}" for a in ("baseline", "poisoned", "random_control")]
        table.add_row(name, *cells, f"{t['gain_kept']:.2f}")
    console.print(table)
    if not summary["feasible"]:
        console.print("[yellow]no iterate met the accuracy constraint; the rows with the smallest loss were used[/]")
