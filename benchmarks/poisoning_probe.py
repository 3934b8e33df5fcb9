"""Why the Adult 5% target is missed: a validation-only probe on development seeds.

Issue 3 asks for statistical parity difference <= 0.05 at <= 1 point of
accuracy loss with 5% added rows on Adult/sex. The benchmark
(``benchmarks/poisoning.py``, seeds 0-4, test split) misses it. This probe asks
why, without looking at any test split: it runs on development seeds
(100, 101, 102 by default; their splits are not the benchmark's) and reports
**validation** numbers only.

Variants of the search (each one poisoner fit per seed):

* ``default``   40 trials, 1-point accuracy allowance (the benchmark's setting);
* ``trials120`` 120 trials, same allowance: does a longer search help?
* ``gp``        40 trials with the GP sampler instead of TPE;
* ``loss3pt``   40 trials with a 3-point allowance: how low can the space go,
  and what does it cost in accuracy?

For each variant: the best feasible validation SPD, and, over every trial,
the lowest validation SPD among trials losing at most 1 / 2 / 3 points.

``designs`` evaluates hand-made points of the space directly (no search): the
warm-start family (all of the budget to "unprivileged, label 1" and
"privileged, label 0" rows copied from real rows of a score band) over band
centres and widths, and with the two cells weighted 1:1, 1:0 and 2:1. It asks
whether any point of that family, rather than the search, gets lower. On one
band it also spreads the rows (interpolation ``mix`` and ``noise``) instead of
copying real rows.

``ladder`` asks how many rows the target would take: the same designs
(copies of real rows, the two cells weighted 1:1, every band) at budgets of
5% to 30% of the training rows. Per budget it reports the lowest validation
SPD within a 1-point allowance and the lowest at any loss; per learner, the
cheapest design of the whole ladder that reaches |SPD| <= 0.05, with its
accuracy loss and budget.

Reference (``frontier``): group-specific thresholds on the unpoisoned model's
validation scores, chosen on that same validation set (so an optimistic,
in-sample bound): the accuracy the best thresholds with |SPD| <= 0.05 give up
against the best thresholds without the constraint (the price of parity when
post-processing the learner's own scores).

    .venv/bin/python benchmarks/poisoning_probe.py --learners xgb --n-jobs 2
    .venv/bin/python benchmarks/poisoning_probe.py --learners xgb rf gb --variants designs --n-jobs 2
    .venv/bin/python benchmarks/poisoning_probe.py --learners xgb rf gb --variants ladder --n-jobs 2
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from trustlab import parallel_map
from trustlab.datasets import load_builtin, split_dataset
from trustlab.poisoning import CELLS, make_poisoner, trials_frame
from trustlab.results import fmt_ci

RESULTS = Path(__file__).parent / "results"
CACHE = RESULTS / "cache" / "poisoning_probe"
VARIANTS: dict[str, dict] = {
    "default": {"n_trials": 40, "max_accuracy_loss": 0.01},
    "trials120": {"n_trials": 120, "max_accuracy_loss": 0.01},
    "gp": {"n_trials": 40, "max_accuracy_loss": 0.01, "sampler": "gp"},
    "loss3pt": {"n_trials": 40, "max_accuracy_loss": 0.03},
    "designs": {"n_trials": 1, "max_accuracy_loss": 0.01},
    "ladder": {"n_trials": 1, "max_accuracy_loss": 0.01},
}
#: (band centre of the lifted cell, band half-width); the damped cell mirrors it around 0.5
BANDS = ((0.5, 0.15), (0.45, 0.05), (0.4, 0.1), (0.35, 0.1), (0.3, 0.1), (0.25, 0.15), (0.2, 0.1))
RATIOS = ((1.0, 1.0), (1.0, 0.0), (2.0, 1.0))  # weight of "unprivileged, 1" : "privileged, 0"
#: (mix, noise) for new positions instead of copies, on one band (0.3 ± 0.1, 1:1)
SPREADS = ((0.5, 0.0), (1.0, 0.0), (0.0, 0.1), (0.0, 0.3), (1.0, 0.1), (1.0, 0.3))
TARGET = 0.05
#: budgets of the ``ladder`` variant (fractions of the training rows); the poisoner is built for the largest
LADDER = (0.05, 0.1, 0.15, 0.2, 0.3)


def frontier(scores: np.ndarray, y: np.ndarray, priv: np.ndarray, *, target: float = TARGET) -> dict:
    """Least validation accuracy loss of group thresholds reaching |SPD| <= target (in-sample)."""
    grid = np.linspace(0.0, 1.0, 201)
    acc_base = float(np.mean((scores >= 0.5) == y))
    stats = {}
    for name, m in (("p", priv), ("u", ~priv)):
        s, yy = scores[m], y[m]
        pred = s[None, :] >= grid[:, None]
        stats[name] = (pred.mean(axis=1), (pred == yy[None, :]).sum(axis=1), int(m.sum()))
    rate_p, corr_p, n_p = stats["p"]
    rate_u, corr_u, n_u = stats["u"]
    spd = rate_p[:, None] - rate_u[None, :]
    acc = (corr_p[:, None] + corr_u[None, :]) / (n_p + n_u)
    ok = np.abs(spd) <= target
    best = float(acc[ok].max()) if ok.any() else float("nan")
    # both maxima are in-sample, so their difference (the price of parity) carries little of the optimism
    return {"accuracy_base": acc_base, "best_accuracy_any": float(acc.max()), "best_accuracy": best,
            "accuracy_loss": float(acc.max()) - best}


def design(centre: float, width: float, w_up: float, w_down: float, mix: float = 0.0,
           noise: float = 0.0, fill: float = 1.0) -> dict[str, float]:  # fmt: skip
    """A point of the warm-start family: lift the unprivileged group, damp the privileged one."""
    d = {f"w_{c}": 0.0 for c in CELLS} | {f"c_{c}": 0.5 for c in CELLS}
    d.update(w_u1=w_up, w_p0=w_down, fill=fill, width=width, mix=mix, noise=noise, c_u1=centre, c_p0=1.0 - centre)
    return d


def _try_design(p, split, point: dict[str, float]) -> dict[str, float]:
    """One training with the rows of ``point``: validation |SPD| and accuracy loss."""
    score = p.score_point(point)
    block = score["validation"]
    return {"rows": score["n_rows"], "spd": abs(block["statistical_parity_difference"]),
            "accuracy_loss": score["accuracy_loss"]}  # fmt: skip


def sweep_designs(p, split) -> list[dict]:
    """Validation SPD and accuracy loss of every hand-made design (one training each)."""
    points = [(c, w, up, down, 0.0, 0.0) for c, w in BANDS for up, down in RATIOS]
    points += [(0.3, 0.1, 1.0, 1.0, mix, noise) for mix, noise in SPREADS]
    out = []
    for centre, width, w_up, w_down, mix, noise in points:
        res = _try_design(p, split, design(centre, width, w_up, w_down, mix, noise))
        out.append({"centre": centre, "width": width, "ratio": f"{w_up:g}:{w_down:g}", "mix": mix, "noise": noise,
                    "spd": res["spd"], "accuracy_loss": res["accuracy_loss"]})  # fmt: skip
    return out


def sweep_ladder(p, split) -> list[dict]:
    """Every band at 1:1 with real rows, at each budget of ``LADDER`` (``p`` is built for the largest)."""
    out = []
    for budget in LADDER:
        fill = budget / max(LADDER)
        for centre, width in BANDS:
            res = _try_design(p, split, design(centre, width, 1.0, 1.0, fill=fill))
            out.append({"budget": budget, "centre": centre, "width": width, **res})
    return out


def run(task: tuple[str, str, float, int]) -> dict:
    variant, learner, budget, seed = task
    path = CACHE / f"adult-{learner}-{budget}-{seed}-{variant}.json"
    if path.exists():
        return json.loads(path.read_text())
    split = split_dataset(load_builtin("adult"), seed=seed, sensitive="sex")
    t0 = time.perf_counter()
    # the issue-3 setting: the bands space and the plain (point-estimate) accuracy constraint
    p = make_poisoner(split, learner=learner, sensitive="sex", seed=seed, learner_jobs=1, budget=budget,
                      space="bands", accuracy_bound="mean",
                      metric="statistical_parity", **VARIANTS[variant])  # fmt: skip
    va = split.val
    p.fit(split.train.X, split.train.y, sensitive_features=split.train.groups("sex"), X_val=va.X, y_val=va.y,
          sensitive_val=va.groups("sex"))
    if variant == "ladder":
        out = {"variant": variant, "learner": learner, "budget": budget, "seed": seed,
               "baseline_spd": abs(p.baseline_["statistical_parity_difference"]),
               "baseline_accuracy": p.baseline_["accuracy"], "ladder": sweep_ladder(p, split),
               "wall_seconds": time.perf_counter() - t0}  # fmt: skip
        return _save(path, out)
    if variant == "designs":
        va = split.val
        priv = np.asarray(va.groups("sex") == va.privileged["sex"])
        out = {"variant": variant, "learner": learner, "budget": budget, "seed": seed,
               "baseline_spd": abs(p.baseline_["statistical_parity_difference"]),
               "baseline_accuracy": p.baseline_["accuracy"], "designs": sweep_designs(p, split),
               "frontier": frontier(p.baseline_model_.predict_proba(va.X)[:, 1], np.asarray(va.y), priv),
               "wall_seconds": time.perf_counter() - t0}  # fmt: skip
        return _save(path, out)
    tf = trials_frame(p)
    done = tf[tf["state"] == "COMPLETE"]
    out = {
        "variant": variant, "learner": learner, "budget": budget, "seed": seed,
        "baseline_spd": abs(p.baseline_["statistical_parity_difference"]),
        "baseline_accuracy": p.baseline_["accuracy"],
        "best_feasible_spd": float(done[done["feasible"].astype(bool)]["unfairness"].min()),
        "best_trial": int(p.best_trial_.number),
        **{f"min_spd_loss_le_{k}pt": float(done[done["accuracy_loss"] <= k / 100 + 1e-12]["unfairness"].min())
           for k in (1, 2, 3)},
        "min_spd_any": float(done["unfairness"].min()),
        "accuracy_loss_at_min_spd": float(done.loc[done["unfairness"].idxmin(), "accuracy_loss"]),
        "wall_seconds": time.perf_counter() - t0,
    }  # fmt: skip
    return _save(path, out)


def ladder_table(runs: list[dict]) -> list[str]:
    """Per learner and budget, the lowest SPD within 1 point and at any loss; per learner, the cheapest design at the target."""
    flat = pd.DataFrame([{**d, "learner": r["learner"], "seed": r["seed"]} for r in runs for d in r["ladder"]])
    lines = ["", f"Budget ladder (variant `ladder`, seeds {sorted({r['seed'] for r in runs})}): the warm-start "
             "family (copies of real rows, cells 1:1, each of the bands above) at larger budgets. Per seed, the "
             "lowest validation |SPD| of any band within a 1-point accuracy allowance, and the lowest at any "
             f"loss with that design's loss; 'within 1 pt' counts the seeds where some band loses at most 1 point "
             "(at a large budget every band may lose more: the rows overshoot), 'reach' the seeds where some band "
             f"gets |SPD| ≤ {TARGET} within 1 point.", "",
             "| learner | budget | rows | seeds | within 1 pt | lowest |SPD|, loss ≤ 1 pt | reach | lowest |SPD|, any loss "
             "| its loss (pt) |",
             "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for (learner, budget), g in flat.groupby(["learner", "budget"]):
        per_seed = []
        for _, gs in g.groupby("seed"):
            ok = gs[gs["accuracy_loss"] <= 0.01 + 1e-12]
            low = gs.loc[gs["spd"].idxmin()]
            per_seed.append({"ok": ok["spd"].min() if len(ok) else np.nan, "any": low["spd"],
                             "loss": low["accuracy_loss"] * 100})  # fmt: skip
        ps = pd.DataFrame(per_seed)
        lines.append(f"| {learner} | {budget:.0%} | {int(g['rows'].iloc[0])} | {len(ps)} "
                     f"| {int(ps['ok'].notna().sum())}/{len(ps)} | {fmt_ci(ps['ok'].dropna())} "
                     f"| {int((ps['ok'] <= TARGET).sum())}/{len(ps)} | {fmt_ci(ps['any'])} "
                     f"| {fmt_ci(ps['loss'], digits=2)} |")  # fmt: skip
    lines += ["", f"Cheapest design of the ladder (any budget, any band) with |SPD| ≤ {TARGET}, per seed: its accuracy "
              "loss in points (and budget).", "", "| learner | seeds | accuracy loss (pt) | per seed |", "|---|---|---|---|"]  # fmt: skip
    for learner, g in flat.groupby("learner"):
        cheapest = [gs[gs["spd"] <= TARGET].sort_values("accuracy_loss").head(1) for _, gs in g.groupby("seed")]
        found = pd.concat(cheapest)
        per = "; ".join(f"{r.accuracy_loss * 100:.2f} ({r.budget:.0%})" for r in found.itertuples())
        lines.append(f"| {learner} | {len(found)}/{len(cheapest)} | {fmt_ci(found['accuracy_loss'] * 100, digits=2)} | {per} |")
    return lines


def _save(path: Path, out: dict) -> dict:
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out))
    print(f"done {out['variant']}/{out['learner']}/{out['budget']}/seed {out['seed']}: "
          f"{out['wall_seconds']:.0f} s", flush=True)  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--learners", nargs="+", default=["xgb"])
    ap.add_argument("--budget", type=float, default=0.05)
    ap.add_argument("--seeds", type=int, nargs="+", default=[100, 101, 102])
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--n-jobs", type=int, default=1)
    args = ap.parse_args()
    if min(args.seeds) < 100:
        ap.error("the probe runs on development seeds (>= 100); seeds 0-4 are the benchmark's")
    tasks = [(v, lr, max(LADDER) if v == "ladder" else args.budget, s) for lr in args.learners
             for v in args.variants for s in args.seeds]  # fmt: skip
    parallel_map(run, tasks, n_jobs=args.n_jobs)
    # the tables cover every cached run of this budget, not only this invocation's
    rows = [json.loads(f.read_text()) for f in sorted(CACHE.glob(f"adult-*-{args.budget}-*.json"))]
    ladder = [json.loads(f.read_text()) for f in sorted(CACHE.glob("adult-*-ladder.json"))]
    df = pd.DataFrame(rows)
    search = df[~df["variant"].isin(["designs", "ladder"])]
    lines = [
        "| learner | variant | seeds | baseline SPD | best feasible SPD | lowest SPD, loss ≤ 1 pt | ≤ 2 pt | ≤ 3 pt | lowest SPD, any loss | its accuracy loss (pt) | wall s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    order = {v: i for i, v in enumerate(VARIANTS)}
    for (learner, variant), g in sorted(search.groupby(["learner", "variant"]), key=lambda kv: (kv[0][0], order[kv[0][1]])):
        lines.append(
            f"| {learner} | {variant} | {len(g)} | {fmt_ci(g['baseline_spd'])} | {fmt_ci(g['best_feasible_spd'])} "
            f"| {fmt_ci(g['min_spd_loss_le_1pt'])} | {fmt_ci(g['min_spd_loss_le_2pt'])} | {fmt_ci(g['min_spd_loss_le_3pt'])} "
            f"| {fmt_ci(g['min_spd_any'])} | {fmt_ci(g['accuracy_loss_at_min_spd'] * 100, digits=1)} "
            f"| {fmt_ci(g['wall_seconds'], digits=0)} |"
        )
    des = df[df["variant"] == "designs"]
    if len(des):
        flat = pd.DataFrame([{**d, "learner": r["learner"], "seed": r["seed"]} for _, r in des.iterrows()
                             for d in r["designs"]])  # fmt: skip
        lines += ["", "Hand-made designs of the warm-start family (no search; one training each): validation |SPD| "
                      "and accuracy loss in points, per band (centre of the lifted cell ± half-width), weight ratio "
                      "of the lifted : damped cells, and spread (mix: interpolation towards a second template; noise: "
                      "Gaussian noise in column stds; 0/0 = copies of real rows).", "",
                  "| learner | band | ratio | mix / noise | seeds | |SPD| | accuracy loss (pt) |",
                  "|---|---|---|---|---|---|---|"]  # fmt: skip
        keys = ["learner", "centre", "width", "ratio", "mix", "noise"]
        for (learner, centre, width, ratio, mix, noise), g in flat.groupby(keys, sort=False):
            lines.append(f"| {learner} | {centre:g} ± {width:g} | {ratio} | {mix:g} / {noise:g} | {len(g)} | {fmt_ci(g['spd'])} "
                         f"| {fmt_ci(g['accuracy_loss'] * 100, digits=2)} |")  # fmt: skip
        best = flat.loc[flat.groupby(["learner", "seed"])["spd"].idxmin()]
        lines += ["", "Lowest |SPD| of any design per seed (its accuracy loss, pt): "
                  + "; ".join(f"{r.learner} seed {r.seed}: {r.spd:.3f} ({r.accuracy_loss * 100:.2f})"
                              for r in best.itertuples()), "",
                  f"Frontier reference (group thresholds on the unpoisoned model's validation scores, in-sample): "
                  f"accuracy given up by the best thresholds with |SPD| ≤ {TARGET} against the best without it:", "",
                  "| learner | seeds | accuracy loss (pt) |", "|---|---|---|"]  # fmt: skip
        for learner, g in des.groupby("learner"):
            loss = pd.Series([f["accuracy_loss"] for f in g["frontier"]]) * 100
            lines.append(f"| {learner} | {len(g)} | {fmt_ci(loss, digits=1)} |")
    if ladder:
        lines += ladder_table(ladder)
    header = (f"Validation split only, development seeds {sorted(df['seed'].unique().tolist())} (not the benchmark's), "
              f"Adult/sex, budget {args.budget:.0%}; mean ± 95% Student-t interval over seeds. Reproduce: "
              "`.venv/bin/python benchmarks/poisoning_probe.py --learners xgb` and "
              "`... --learners xgb rf gb --variants designs` (and `--variants ladder`).\n\n")  # fmt: skip
    stem = "poisoning_probe"
    search.drop(columns=["frontier", "designs"], errors="ignore").to_csv(RESULTS / f"{stem}.csv", index=False)
    (RESULTS / f"{stem}.json").write_text(json.dumps(rows + ladder, indent=2))
    (RESULTS / f"{stem}.md").write_text(header + "\n".join(lines) + "\n")
    print(header + "\n".join(lines))

if __name__ == "__main__":
    main()
