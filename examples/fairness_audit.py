# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Fairness audit and repairs on COMPAS
#
# Audit a default logistic regression on COMPAS (sensitive attribute `race`, privileged group
# Caucasian), then repair it three ways and compare every repair with the baseline on the test
# split, which no repair has seen. Runs in a few seconds on one core.
#
# Output folder: the first command-line argument, else `$TRUSTLAB_EXAMPLES_OUT`, else a new
# temporary folder.

# %%
import os
import sys
import tempfile
from pathlib import Path

import pandas as pd

from trustlab.datasets import load_compas, split_dataset
from trustlab.fairness import audit, run_mitigation
from trustlab.reporting import plot_comparison, plot_group_rates

OUT = Path(
    sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("-")
    else os.environ.get("TRUSTLAB_EXAMPLES_OUT") or tempfile.mkdtemp(prefix="trustlab-")
)
OUT.mkdir(parents=True, exist_ok=True)
pd.set_option("display.width", 120)

# %% [markdown]
# ## Data and split
# One split per seed: train / validation / test = 56 / 14 / 30 %, stratified on label x group.
# On COMPAS the label is `two_year_recid`, so ŷ = 1 is the *unfavourable* prediction and a
# model that predicts re-offending more often for the unprivileged group has a negative SPD.

# %%
ds = load_compas()
split = split_dataset(ds, seed=0, sensitive="race")
print(split.sizes())

# %% [markdown]
# ## Audit
# `audit` fits the learner on the training part and measures it on the test part.

# %%
report = audit(split, learner="logreg", sensitive="race", seed=0)
print({k: round(v, 3) for k, v in report["overall"].items()})
print({k: round(v, 3) for k, v in report["fairness"].items()})
plot_group_rates(report["by_group"], OUT / "fairness_groups.png", title="COMPAS/race, logreg: test split")

# %% [markdown]
# ## Repairs
# Massaging and reweighing change the training data (Kamiran & Calders); ThresholdOptimizer
# post-processes the baseline with per-group thresholds chosen on the validation part. Each
# result holds the baseline and the repaired model, both on the same test split.

# %%
rows = {}
for method in ("massaging", "reweighing", "threshold-optimizer"):
    res = run_mitigation(method, split, learner="logreg", sensitive="race", seed=0)
    rows.setdefault("baseline", {**res["baseline"]["overall"], **res["baseline"]["fairness"]})
    rows[method] = {**res["mitigated"]["overall"], **res["mitigated"]["fairness"]}
table = pd.DataFrame(rows).loc[
    ["accuracy", "balanced_accuracy", "statistical_parity_difference", "fpr_difference"]
]
print(table.round(3).to_string())

# %%
plot_comparison(table, OUT / "fairness_repairs.png", title="COMPAS/race, logreg: test split")
print("plots written to", OUT)
