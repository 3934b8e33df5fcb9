"""Does the accuracy allowance hold on test?  Validation vs test accuracy loss of the chosen points.

The poisoner checks its accuracy allowance (1 point) on the validation split. This
script reads the cached runs of two benchmarks and compares, for every chosen
point, the accuracy loss against the unpoisoned model on validation and on test:

* **before**: ``benchmarks/poisoning.py`` (issue 3: ``bands`` space, the allowance
  on the point estimate of the validation loss, ``accuracy_bound="mean"``);
* **after**: ``benchmarks/frontier.py`` (``boundary`` space, the allowance on the
  one-sided 80% upper confidence limit of the paired validation loss,
  ``accuracy_bound="upper"``), 1-point runs only.

It trains nothing. Per benchmark and dataset: the number of chosen points, the
correlation of validation and test loss, the standard deviation of their
difference, the share of points whose *test* loss exceeds 1 point, and the
mean test loss (mean ± 95% t-interval over points). Writes
``benchmarks/results/constraint_check.{md,json}``.

    .venv/bin/python benchmarks/constraint_check.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from trustlab.results import fmt_ci

RESULTS = Path(__file__).parent / "results"
ALLOWANCE = 0.01


def before() -> pd.DataFrame:
    rows = []
    for f in sorted((RESULTS / "cache" / "poisoning").glob("*-40.json")):
        c = json.loads(f.read_text())
        s = c["summary"]
        rows.append({"benchmark": "before: bands, mean", "dataset": c["dataset"], "learner": c["learner"],
                     "budget": c["budget"], "seed": c["seed"],
                     "val_loss": s["baseline"]["validation"]["accuracy"] - s["poisoned"]["validation"]["accuracy"],
                     "test_loss": s["baseline"]["test"]["accuracy"] - s["poisoned"]["test"]["accuracy"]})  # fmt: skip
    return pd.DataFrame(rows)


def after() -> pd.DataFrame:
    rows = []
    cache = RESULTS / "cache" / "frontier"
    for f in sorted(cache.glob("*-boundary*-tpe-*.json")):
        c = json.loads(f.read_text())
        if c.get("rule", "1pt") != "1pt":
            continue
        wb = cache / f"{c['dataset']}-{c['learner']}-{c['seed']}-whitebox.json"
        if not wb.exists():
            continue
        base = json.loads(wb.read_text())["points"][0]
        p = c["points"][0]
        rows.append({"benchmark": "after: boundary, upper 80%", "dataset": c["dataset"], "learner": c["learner"],
                     "budget": c["budget"], "seed": c["seed"],
                     "val_loss": base["validation"]["accuracy"] - p["validation"]["accuracy"],
                     "test_loss": base["test"]["accuracy"] - p["test"]["accuracy"]})  # fmt: skip
    return pd.DataFrame(rows)


def main() -> None:
    df = pd.concat([before(), after()], ignore_index=True)
    out, lines = [], [
        "# Validation vs test accuracy loss of the chosen points", "",
        "Command: `.venv/bin/python benchmarks/constraint_check.py` (reads the caches of "
        "`benchmarks/poisoning.py` and `benchmarks/frontier.py`; trains nothing). Loss = unpoisoned minus "
        "poisoned accuracy; allowance 1 point; test split for 'test'. Mean ± 95% t-interval over points.", "",
        "| benchmark | dataset | points | corr(val, test) | sd(test − val) | test loss > 1 pt | test loss (pt) |",
        "|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for (bench, name), g in df.groupby(["benchmark", "dataset"], sort=True):
        corr = float(np.corrcoef(g.val_loss, g.test_loss)[0, 1]) if len(g) > 2 else float("nan")
        sd = float((g.test_loss - g.val_loss).std(ddof=1)) if len(g) > 1 else float("nan")
        broke = float((g.test_loss > ALLOWANCE + 1e-12).mean())
        out.append({"benchmark": bench, "dataset": name, "points": len(g), "corr": corr, "sd_diff": sd,
                    "share_test_loss_over_allowance": broke, "test_loss_mean": float(g.test_loss.mean())})  # fmt: skip
        lines.append(f"| {bench} | {name} | {len(g)} | {corr:.2f} | {100 * sd:.2f} pt | {100 * broke:.0f}% | "
                     f"{fmt_ci(100 * g.test_loss, digits=2)} |")  # fmt: skip
    (RESULTS / "constraint_check.md").write_text("\n".join(lines) + "\n")
    (RESULTS / "constraint_check.json").write_text(json.dumps(out, indent=2) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
