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
# # Membership inference against a biased / fair model pair on Adult
#
# A model provider trains an original ("biased") MLP and a fair twin (the same MLP with a
# statistical-parity penalty) and serves both. Can an attacker who queries them tell whether a
# record was in the training data? We attack both models with the loss threshold, LiRA (online
# and offline) and FD-MIA, which compares the two models' outputs on the same record.
#
# FD-MIA can only be a threat where the models **memorise**: here a 2,000-row subsample of Adult
# with 500 members and a wide MLP trained for 200 epochs without weight decay (the over-fitting
# regime where the FD-MIA paper's claims were reproduced). Small settings: 4 shadow pairs, one
# seed; the benchmarks use 8-16 shadow pairs and 5 seeds.
#
# Output folder: the first command-line argument, else `$TRUSTLAB_EXAMPLES_OUT`, else a new
# temporary folder.

# %%
import os
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

from trustlab.datasets import load_adult
from trustlab.privacy import PairSpec, partition, plot_risk, privacy_audit, risk_table, roc_points

OUT = Path(
    sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("-")
    else os.environ.get("TRUSTLAB_EXAMPLES_OUT") or tempfile.mkdtemp(prefix="trustlab-")
)
OUT.mkdir(parents=True, exist_ok=True)
torch.set_num_threads(1)

# %% [markdown]
# ## Who is a member
# `partition` draws disjoint row sets: the target's members (its training data), held-out
# non-members, and the attacker's own pool, from which it trains shadow pairs that mimic the
# provider's recipe.

# %%
ds = load_adult()
members, nonmembers, pool = partition(len(ds), seed=0, member_fraction=0.25,
                                      nonmember_fraction=0.25, max_rows=2000)
print(f"{len(members)} members, {len(nonmembers)} non-members, {len(pool)} rows for the attacker")

# %% [markdown]
# ## The pair and the attacks

# %%
spec = PairSpec(model="mlp", fair_method="penalty", fairness_weight=3.0,
                categorical=list(ds.categorical), numeric=list(ds.numeric),
                mlp={"hidden": [256], "lr": 0.01, "epochs": 200, "batch_size": 64})
result = privacy_audit(ds, sensitive="sex", members=members, nonmembers=nonmembers,
                       shadow_pool=pool, spec=spec, attacks=["loss", "lira", "fdmia"],
                       shadows=4, seed=0)
s = result.summary
for role in ("biased", "fair"):
    spd = s[role]["fairness"]["statistical_parity_difference"]
    print(f"{role:6s} model: accuracy {s[role]['accuracy']:.3f}, SPD {spd:+.3f}")
    for name, m in s[role]["attacks"].items():
        print(f"  {name:13s} AUC {m['auc']:.3f}  TPR at 0.1% FPR {m['tpr_at_0_1pct_fpr']:.3f}")
print(f"FD-MIA (both models) AUC {s['fdmia']['auc']:.3f}; best score-based attack on the fair "
      f"model: {s['best_score_attack_on_fair']['attack']} {s['best_score_attack_on_fair']['auc']:.3f}")
d = s["discrepancy"]
print(f"biased-fair discrepancy: members {d['members_mean']:.3f}, non-members {d['nonmembers_mean']:.3f}")

# %% [markdown]
# ## ROC curves on log axes
# Membership inference is judged at low false-positive rates: an attack that is right about a few
# records with near certainty matters more than a high AUC.

# %%
fig, ax = plt.subplots(figsize=(5.2, 4.2))
curves = {f"fair / {k}": v for k, v in result.scores["fair"].items() if k in ("loss", "lira_offline")}
curves["pair / fdmia"] = result.scores["pair"]["fdmia"]
for label, scores in curves.items():
    fpr, tpr = roc_points(result.membership, scores)
    ax.plot(fpr, tpr, label=label)
ax.plot([1e-3, 1], [1e-3, 1], "k:", lw=0.8)
ax.set(xscale="log", yscale="log", xlim=(1e-3, 1), ylim=(1e-3, 1.05), xlabel="false-positive rate",
       ylabel="true-positive rate", title="Adult/sex, MLP pair: membership inference")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(OUT / "privacy_roc.png", dpi=100)
plt.close(fig)

# %% [markdown]
# ## Who pays
# `risk_table` ranks every evaluated record by how exposed the attacks find it; `plot_risk` shows
# members' and non-members' scores per group.

# %%
risk = risk_table(result)
median_rank = risk.groupby(["group", "member"])["rank"].median()
for group in sorted(risk["group"].unique()):
    print(f"{group}: median exposure rank of members {median_rank[group, 1]:.0f}, "
          f"of non-members {median_rank[group, 0]:.0f} (1 = most exposed of {len(risk)})")
plot_risk(risk, OUT / "privacy_risk.png", columns=["fair_loss", "fair_lira_offline", "pair_fdmia"],
          title="member vs non-member scores per group")
print("plots written to", OUT)
