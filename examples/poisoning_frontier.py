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
# # Constructive black-box poisoning and the frontier on COMPAS
#
# A third party trains a default logistic regression on COMPAS (`race`). We may only **add**
# rows to its training data and read its predictions. We search for 5% added rows that make
# the model fairer (statistical parity) within one point of validation accuracy, compare them
# with a matched random control, plug in our own search space, and put everything on the
# white-box frontier. Small settings (a few trials) so it runs in well under a minute.
#
# Output folder: the first command-line argument, else `$TRUSTLAB_EXAMPLES_OUT`, else a new
# temporary folder.

# %%
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from trustlab.datasets import load_compas, split_dataset
from trustlab.frontier import plot_frontier, run_frontier
from trustlab.poisoning import RowMaker, SearchSpace, SpaceContext, run_poisoning
from trustlab.reporting import plot_best_so_far

OUT = Path(
    sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("-")
    else os.environ.get("TRUSTLAB_EXAMPLES_OUT") or tempfile.mkdtemp(prefix="trustlab-")
)
OUT.mkdir(parents=True, exist_ok=True)
TRIALS = 8  # black-box trainings per search; the benchmarks use 60

split = split_dataset(load_compas(), seed=0, sensitive="race")


def show(doc: dict, arm: str) -> str:
    """Test accuracy and SPD of one arm of a result document."""
    block = doc["arms"][arm]["test"]
    return (f"{arm:12s} accuracy {block['overall']['accuracy']:.3f}  "
            f"SPD {block['fairness']['statistical_parity_difference']:+.3f}")


# %% [markdown]
# ## The search with the built-in `boundary` space
# `run_poisoning` searches on train + validation, then measures three models once on the test
# split: the baseline, the model trained with the chosen rows, and a **random control** that
# adds as many rows drawn from the same space without optimisation.

# %%
res = run_poisoning(split, learner="logreg", sensitive="race", seed=0, budget=0.05,
                    metric="statistical_parity", n_trials=TRIALS, visibility=False)
for arm in ("baseline", "intervention", "control"):
    print(show(res.summary, arm))
print("trainings:", res.summary["cost"]["trainings"])
plot_best_so_far(res.curve, OUT / "poisoning_curve.png", metric="|SPD|",
                 title="COMPAS/race, logreg: best feasible trial so far")


# %% [markdown]
# ## Your own search space
# A space maps a few numbers to added rows. This one has two parameters: how many of the budget's
# rows to add, and how far the parents may lie from the decision boundary. It copies real rows of
# the group with the lower rate whose true label is 1 (a "duplicate the under-served positives"
# idea) through `RowMaker`, so every added row is a plausible record.

# %%
class LowGroupPositives(SearchSpace):
    """Copies of the low-rate group's positives, nearest the decision boundary first."""

    name = "low-group-positives"
    version = "1"

    def prepare(self, context: SpaceContext) -> None:
        """Order the candidate parents by distance to the boundary."""
        _, low = context.high_low
        cand = np.flatnonzero(low & (context.y == 1))
        self.parents = cand[np.argsort(np.abs(context.scores[cand] - 0.5), kind="stable")]
        self.n_rows = context.n_rows
        self.maker = RowMaker(context)

    def bounds(self) -> dict[str, tuple[float, float]]:
        """Two parameters: share of the budget used, and the window's start."""
        return {"fill": (0.1, 1.0), "offset": (0.0, 0.8)}

    def rows(self, params: dict[str, float], rng: np.random.Generator) -> tuple:
        """The added rows, their labels (all 1) and their sensitive values."""
        k = max(1, round(params["fill"] * self.n_rows))
        start = int(params["offset"] * max(len(self.parents) - k, 0))
        a = self.parents[start:start + k]
        X_rows, sens = self.maker.make(a, a, np.zeros(len(a)), 0.0, rng)
        return X_rows, np.ones(len(a), dtype=int), sens

    def match_rows(self, params: dict[str, float], n_rows: int) -> dict[str, float]:
        """The random control adds as many rows as the chosen point."""
        return {**params, "fill": n_rows / self.n_rows}


own = run_poisoning(split, learner="logreg", sensitive="race", seed=0, budget=0.05,
                    space=LowGroupPositives(), n_trials=TRIALS, warm_start=False, visibility=False)
for arm in ("intervention", "control"):
    print("own space:", show(own.summary, arm))

# %% [markdown]
# ## The frontier
# Every white-box repair (per-group thresholds, ThresholdOptimizer, massaging at fractions of M,
# reweighing, ExponentiatedGradient) and poisoning at 5% and 10% with its control, on the
# (test accuracy, test |SPD|) plane. The frontier gap of a point is its |SPD| minus the white-box
# envelope's at the same accuracy: positive means a white-box repair does better.

# %%
front = run_frontier(split, learner="logreg", sensitive="race", budgets=(0.05, 0.1),
                     n_trials=TRIALS, eg_bounds=(0.02,), eg_max_iter=5, seed=0,
                     visibility=False)
for g in front["frontier_gap"]:
    print(f"budget {g['budget']:.0%}: accuracy {g['accuracy']:.3f}, |SPD| {g['unfairness']:.3f}, "
          f"frontier gap {g['gap']:+.3f} (random control {g['control_gap']:+.3f})")
plot_frontier(front["points"], front["envelope"], OUT / "frontier.png", metric_label="|SPD|",
              title="COMPAS/race, logreg: test split")
print("plots written to", OUT)
