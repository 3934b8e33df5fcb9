"""Privacy benchmark: membership inference against biased / fair pairs, and DP-SGD.

Sections (each seed is one independent partition, target pair and set of shadows):

- ``demo``: the classic synthetic demonstration. 2,000 target rows (two
  features, group shares 0.7/0.3, group 1 shifted by 1.5, logistic labels),
  half members; 2,000 more rows from the same distribution form the
  attacker's shadow pool. MLP with 16 hidden units, Adam lr 0.01, 20 epochs,
  fairness weight 1.0; 16 shadow pairs; all attacks.
- ``tabular``: Adult/sex and COMPAS/race with the MLP penalty pair and the
  rf / constructive-poisoning pair; all attacks; 25% members, 25% held-out
  non-members, 50% shadow pool.
- ``dpsgd``: the demonstration setting under DP-SGD, epsilon in {1, 4, 8}
  and no DP.
- ``timing``: one full Adult audit (all 45,222 rows, 11,306 members), MLP
  pair, all attacks, 16 shadow pairs, 2 worker processes.
- ``regime`` / ``sweep``: issue 15's over-fitting regime, weight 3 / the
  weights ``--weights``, on a ``--regime-rows`` subsample (a quarter of it
  members), one cached cell per case, size, weight and seed; ``report``
  rebuilds ``privacy.regime.*`` (see ``privacy_regime.py``) and
  ``privacy.repairs.*`` from the caches.

Every number is mean +- half-width of the 95% Student-t interval over seeds.
Writes ``benchmarks/results/privacy.{json,csv,md}`` (rewritten after each
section, so a partial run leaves partial results).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/privacy.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from privacy_regime import (
    CACHE,
    RESULTS,
    RUNS,
    SCORE_BASED,
    fmt,
    load_cell,
    paired,
    write_regime,
)

from trustlab.datasets import load_builtin, make_synthetic
from trustlab.privacy import PairSpec, dp_audit, partition, privacy_audit

MLP = {"hidden": 16, "lr": 0.01, "epochs": 20, "batch_size": 64}
ROW_ATTACKS = ("loss", "shadow", "lira", "lira_offline", "label")


def flatten(summary: dict[str, Any], **keys: Any) -> list[dict[str, Any]]:
    """One row per (target, attack) of a summary, plus one utility row per target."""
    rows = []
    for role in ("biased", "fair"):
        fb = summary[role]
        rows.append({**keys, "target": role, "attack": "(utility)", "accuracy": fb["accuracy"],
                     "balanced_accuracy_model": fb["balanced_accuracy"],
                     "spd": fb["fairness"]["statistical_parity_difference"],
                     "eod": fb["fairness"]["equalized_odds_difference"]})  # fmt: skip
        for name, b in fb["attacks"].items():
            rows.append(_attack_row(keys, role, name, b))
    for name in ("fdmia", "fdmia_threshold"):
        if name in summary:
            rows.append(_attack_row(keys, "pair", name, summary[name]))
    rows.append({**keys, "target": "pair", "attack": "(discrepancy)",
                 "disc_members": summary["discrepancy"]["members_mean"],
                 "disc_nonmembers": summary["discrepancy"]["nonmembers_mean"],
                 "epsilon_spent": summary["epsilon_spent"], "wall_seconds": summary["wall_seconds"]})  # fmt: skip
    return rows


def _attack_row(keys: dict, role: str, name: str, b: dict) -> dict[str, Any]:
    row = {**keys, "target": role, "attack": name, "auc": b["auc"], "bal_acc": b["balanced_accuracy"],
           "tpr_1pct": b["tpr_at_1pct_fpr"], "tpr_0_1pct": b["tpr_at_0_1pct_fpr"]}  # fmt: skip
    for g, gb in b.get("by_group", {}).items():
        row[f"auc[{g}]"] = gb["auc"]
    return row


def demo_data(seed: int) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
    ds = make_synthetic(n=4000, group_ratio=0.3, shift=1.5, seed=seed)
    rng = np.random.default_rng(seed)
    target = rng.permutation(2000)
    return ds, np.sort(target[:1000]), np.sort(target[1000:]), np.arange(2000, 4000)


def run_demo(seeds: list[int], shadows: int, n_jobs: int, dp: float | None = None, section: str = "demo") -> list:
    rows, summaries = [], []
    for seed in seeds:
        ds, m, nm, sp = demo_data(seed)
        spec = PairSpec(model="mlp", fair_method="penalty", fairness_weight=1.0, numeric=["x1", "x2"],
                        mlp=MLP, dp_epsilon=dp)  # fmt: skip
        r = privacy_audit(ds, sensitive="group", members=m, nonmembers=nm, shadow_pool=sp, spec=spec,
                          shadows=shadows, defence="dpsgd" if dp else "none", seed=seed, n_jobs=n_jobs)  # fmt: skip
        eps = "no DP" if dp is None else str(dp)
        rows += flatten(r.summary, section=section, case="synthetic/group", pair="mlp/penalty", epsilon=eps,
                        seed=seed)  # fmt: skip
        summaries.append(r.summary)
        print(f"{section} eps={eps} seed {seed}: {r.summary['wall_seconds']:.0f}s", flush=True)
    return rows, summaries


def run_tabular(seeds: list[int], shadows: int, n_jobs: int, adult_rows: int | None, trials: int) -> list:
    rows, summaries = [], []
    for name, sens in (("adult", "sex"), ("compas", "race")):
        ds = load_builtin(name)
        max_rows = adult_rows if name == "adult" else None
        for model, method in (("mlp", "penalty"), ("rf", "poisoning")):
            for seed in seeds:
                m, nm, sp = partition(len(ds), seed=seed, max_rows=max_rows)
                spec = PairSpec(model=model, fair_method=method, fairness_weight=1.0, categorical=ds.categorical,
                                numeric=ds.numeric, mlp=MLP, n_jobs=1, poison={"n_trials": trials})  # fmt: skip
                try:
                    r = privacy_audit(ds, sensitive=sens, members=m, nonmembers=nm, shadow_pool=sp, spec=spec,
                                      shadows=shadows, seed=seed, n_jobs=n_jobs)  # fmt: skip
                except Exception as exc:  # noqa: BLE001 - report, keep the other cells
                    print(f"FAILED {name}/{model}/{method}/seed {seed}: {exc!r}", flush=True)
                    continue
                rows += flatten(r.summary, section="tabular", case=f"{name}/{sens}", pair=f"{model}/{method}",
                                epsilon="no DP", seed=seed)  # fmt: skip
                summaries.append(r.summary)
                print(f"{name}/{model}/{method} seed {seed}: {r.summary['wall_seconds']:.0f}s", flush=True)
    return rows, summaries


def run_timing(n_jobs: int) -> dict[str, Any]:
    ds = load_builtin("adult")
    load_start = os.getloadavg()
    t0 = time.perf_counter()
    c0 = time.process_time()
    m, nm, sp = partition(len(ds), seed=0)
    spec = PairSpec(model="mlp", fair_method="penalty", fairness_weight=1.0, categorical=ds.categorical,
                    numeric=ds.numeric, mlp=MLP)  # fmt: skip
    r = privacy_audit(ds, sensitive="sex", members=m, nonmembers=nm, shadow_pool=sp, spec=spec, shadows=16,
                      seed=0, n_jobs=n_jobs)  # fmt: skip
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    print(f"timing: full Adult audit, 16 shadows: {wall:.0f}s wall, {cpu:.0f}s CPU in this process", flush=True)
    return {"wall_seconds": wall, "cpu_seconds_main_process": cpu,
            "load_average_start_end": [round(v, 2) for v in (*load_start[:1], *os.getloadavg()[:1])], "n_members": r.summary["n_members"], "shadows": 16, "n_jobs": n_jobs,
            "trainings": r.summary["trainings"], "rows": flatten(r.summary, section="timing", case="adult/sex (full)",
                                                                 pair="mlp/penalty", epsilon="no DP", seed=0)}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# issue 15: the over-fitting regime, the fairness-weight sweep (cached per seed)
# ---------------------------------------------------------------------------------------------

#: The over-fitting regime of issue 15: one hidden layer of 256, Adam 0.01, 200 epochs, no weight decay.
REGIME_MLP = {"hidden": [256], "lr": 0.01, "epochs": 200, "batch_size": 64, "weight_decay": 0.0}
REGIME_ATTACKS = "loss,shadow,lira,rmia,fdmia,label"
CASES = {"adult": "sex", "compas": "race"}


def _save_cell(path: Path, summary: dict[str, Any], result: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"membership": result.membership, "groups": result.groups.astype(str)}
    for role, block in result.scores.items():
        arrays.update({f"{role}__{k}": v for k, v in block.items()})
    np.savez_compressed(path.with_suffix(".npz"), **arrays)
    path.write_text(json.dumps(summary, default=str) + "\n")  # last: its presence marks a finished cell


def regime_cell(name: str, weight: float, seed: int, *, rows: int, shadows: int, refs: int) -> Path:
    """One audit of the over-fitting regime (cached): all attacks, RMIA with ``refs`` references.

    The cell is named by the rows it really uses: ``rows`` larger than the data set means all of it (COMPAS at
    ``--regime-rows 8000`` is ``compas-n6172-...``, 1,543 members), so no name claims rows that do not exist.
    """
    ds = load_builtin(name)
    rows = min(rows, len(ds))
    path = CACHE / "regime" / f"{name}-n{rows}-w{weight:g}-K{shadows}-r{refs}-s{seed}.json"
    if load_cell(path) is not None:
        return path
    m, nm, sp = partition(len(ds), seed=seed, max_rows=rows)
    spec = PairSpec(model="mlp", fair_method="penalty", fairness_weight=weight, categorical=ds.categorical,
                    numeric=ds.numeric, mlp=REGIME_MLP)  # fmt: skip
    r = privacy_audit(ds, sensitive=CASES[name], members=m, nonmembers=nm, shadow_pool=sp, spec=spec,
                      attacks=REGIME_ATTACKS, shadows=shadows, seed=seed, attack_options={"rmia": {"references": refs}})  # fmt: skip
    _save_cell(path, r.summary, r)
    print(f"regime {name} n{rows} w={weight:g} seed {seed}: {r.summary['wall_seconds']:.0f}s", flush=True)
    return path


#: DP audit recipe: the regime's network and optimiser, 50 epochs (DP-SGD per-sample gradients are costly).
DPAUDIT_MLP = {"hidden": [256], "lr": 0.01, "epochs": 50, "batch_size": 64, "weight_decay": 0.0}


def dpaudit_cell(eps: float | None, seed: int, *, canaries: int, train_rows: int) -> dict[str, Any]:
    """One canary audit on Adult (cached): DP-SGD at ``eps`` or no DP."""
    path = CACHE / "dpaudit" / f"adult-n{train_rows}-k{canaries}-eps{eps or 'none'}-s{seed}.json"
    if path.exists():
        return json.loads(path.read_text())
    t0 = time.perf_counter()
    r = dp_audit(load_builtin("adult"), sensitive="sex", canaries=canaries, train_rows=train_rows, epsilon=eps,
                 mlp=DPAUDIT_MLP, seed=seed)  # fmt: skip
    r["wall_seconds"] = time.perf_counter() - t0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(r, default=str) + "\n")
    print(f"dpaudit eps={eps} seed {seed}: lower bound {r['epsilon_lower_bound']:.3f}, accounted "
          f"{r['epsilon_accounted']}, {r['wall_seconds']:.0f}s", flush=True)  # fmt: skip
    return r


def write_dpaudit(meta: dict[str, Any], cells: list[dict[str, Any]]) -> None:
    if not cells:
        return
    df = pd.DataFrame(cells)
    df["epsilon_target"] = ["no DP" if v is None or v != v else f"{float(v):g}" for v in df["epsilon_target"]]
    df.to_csv(RESULTS / "privacy.dpaudit.csv", index=False)
    lines = ["| DP-SGD target eps | seeds | accounted eps (opacus) | audited lower bound (mean ± CI) | max over seeds "
             "| TPR / FPR at the chosen threshold | train accuracy | sound (bound <= accounted) |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for eps, g in df.groupby("epsilon_target", sort=False):
        acc = g.epsilon_accounted.astype(float)
        sound = "n/a" if acc.isna().all() else f"{int((g.epsilon_lower_bound <= acc).sum())}/{len(g)}"
        lines.append(f"| {eps} | {len(g)} | {fmt(acc) if acc.notna().any() else '-'} | {fmt(g.epsilon_lower_bound)} | "
                     f"{g.epsilon_lower_bound.max():.3f} | {fmt(g.tpr)} / {fmt(g.fpr)} | {fmt(g.train_accuracy)} | "
                     f"{sound} |")  # fmt: skip
    c0 = cells[0]
    md = ["# Privacy benchmark: empirical DP audit (issue 15)\n", f"Command: `{meta['command']}`\n",
          f"Method: {c0['method']}, delta {c0['delta']}, confidence {c0['confidence']}. Adult: "
          f"{c0['train_rows']:,} random base training rows plus {c0['canaries']} canaries (random other rows with "
          "the label flipped), each put into the training set with probability 1/2. The torch MLP (one hidden "
          "layer of 256, Adam lr 0.01, 50 epochs, batch 64), trained once without DP and once per DP-SGD target "
          "(opacus, RDP accountant, clipping norm 1.0). Test: the loss of the flipped label; the threshold is "
          "chosen on a random half of the canaries and the Clopper-Pearson bound computed on the other half "
          "(about 50 members and 50 non-members, so the largest provable bound is about 2.6).\n", *lines, ""]  # fmt: skip
    (RESULTS / "privacy.dpaudit.md").write_text("\n".join(md) + "\n")
    (RESULTS / "privacy.dpaudit.json").write_text(json.dumps({"meta": meta, "cells": cells}, indent=1, default=str) + "\n")


# -- the privacy price of every repair ---------------------------------------------------------

REPAIRS = ("massaging", "reweighing", "threshold-optimizer", "exponentiated-gradient", "poisoning")
#: The two settings of the repair table: the cache folder, the MLP recipe and the subsample (rows, a quarter
#: members; ``None`` = the whole data set). ``leaking``: the regime study's over-fitting MLP on 2,000 rows.
#: ``default``: trustlab's default MLP (16 hidden, 20 epochs) on the ``tabular`` section's data (Adult 8,000
#: rows, COMPAS all 6,172), where the MLP pairs leak little.
REPAIR_SETTINGS = {
    "leaking": {"cache": "repairs", "mlp": REGIME_MLP, "rows": {"adult": 2000, "compas": 2000}},
    "default": {"cache": "repairs-default", "mlp": MLP, "rows": {"adult": 8000, "compas": None}},
}


def repair_cells(setting: str) -> list[tuple[str, str]]:
    """The (repair, learner) cells of a setting: every repair on rf and the MLP.

    ExponentiatedGradient on the leaking MLP is left out (50 trainings of the 200-epoch network per model do not
    fit the CPU budget); the default MLP is cheap enough to run it.
    """
    return [(r, lrn) for lrn in ("rf", "mlp") for r in REPAIRS
            if not (setting == "leaking" and lrn == "mlp" and r == "exponentiated-gradient")]  # fmt: skip


def repair_cell(name: str, repair: str, learner: str, seed: int, *, setting: str, shadows: int) -> Path:
    """One (original, repaired) audit of a setting of ``REPAIR_SETTINGS`` (cached): every attack plus FD-MIA."""
    cfg = REPAIR_SETTINGS[setting]
    ds = load_builtin(name)
    rows = min(cfg["rows"][name] or len(ds), len(ds))
    path = CACHE / cfg["cache"] / f"{name}-n{rows}-{learner}-{repair}-K{shadows}-s{seed}.json"
    if load_cell(path) is not None:
        return path
    m, nm, sp = partition(len(ds), seed=seed, max_rows=rows)
    spec = PairSpec(model=learner, fair_method=repair, categorical=ds.categorical, numeric=ds.numeric,
                    mlp=cfg["mlp"], n_jobs=1, poison={"n_trials": 10})  # fmt: skip
    r = privacy_audit(ds, sensitive=CASES[name], members=m, nonmembers=nm, shadow_pool=sp, spec=spec,
                      attacks=REGIME_ATTACKS, shadows=shadows, seed=seed, attack_options={"rmia": {"references": 2}})  # fmt: skip
    _save_cell(path, r.summary, r)
    print(f"repair ({setting}) {name} {learner}/{repair} seed {seed}: {r.summary['wall_seconds']:.0f}s", flush=True)
    return path


def repair_rows(setting: str) -> list[dict[str, Any]]:
    """One row per cached (case, seed, learner, repair) audit of a setting."""
    rows = []
    for path in sorted((CACHE / REPAIR_SETTINGS[setting]["cache"]).glob("*.json")):
        v = json.loads(path.read_text())
        fair, biased = v["fair"]["attacks"], v["biased"]["attacks"]
        best_f = max(SCORE_BASED, key=lambda k: fair[k]["auc"])
        best_b = max(SCORE_BASED, key=lambda k: biased[k]["auc"])
        row = {"setting": setting, "case": f"{v['dataset']}/{v['sensitive']}", "members": v["n_members"],
               "learner": v["model"], "repair": v["fair_method"], "seed": v["seed"],
               "acc_orig": v["biased"]["accuracy"], "acc_rep": v["fair"]["accuracy"],
               "spd_orig": v["biased"]["fairness"]["statistical_parity_difference"],
               "spd_rep": v["fair"]["fairness"]["statistical_parity_difference"],
               "best_auc_orig": biased[best_b]["auc"], "best_auc_rep": fair[best_f]["auc"],
               "best_rep": best_f, "fdmia_auc": v["fdmia"]["auc"],
               "tpr1_orig": biased[best_b]["tpr_at_1pct_fpr"], "tpr1_rep": fair[best_f]["tpr_at_1pct_fpr"],
               "fdmia_tpr1": v["fdmia"]["tpr_at_1pct_fpr"]}  # fmt: skip
        for g in sorted(fair[best_f]["by_group"]):
            row[f"lira_off_auc_orig[{g}]"] = biased["lira_offline"]["by_group"][g]["auc"]
            row[f"lira_off_auc_rep[{g}]"] = fair["lira_offline"]["by_group"][g]["auc"]
        rows.append(row)
    return sorted(rows, key=lambda r: (r["case"], r["seed"], r["learner"], r["repair"]))


def repair_lines(t: pd.DataFrame) -> list[str]:
    """Markdown tables of one setting, one per case."""
    lines: list[str] = []
    for case, tc in t.groupby("case"):
        gcols = sorted({c.split("[")[1][:-1] for c in tc.columns if "[" in c and tc[c].notna().any()})
        members = "/".join(f"{m:,}" for m in sorted(tc.members.unique()))
        lines += [f"### {case} ({members} members)\n", "| learner | repair | seeds | accuracy orig → rep | SPD orig → rep | "
                  "best score attack AUC orig → rep | FD-MIA AUC | FD-MIA − best on repaired | TPR@1% best orig → rep / "
                  "FD-MIA | " + " | ".join(f"LiRA-off AUC [{g}] orig → rep" for g in gcols) + " |",
                  "|" + "---|" * (9 + len(gcols))]  # fmt: skip
        for (learner, repair), g in tc.groupby(["learner", "repair"]):
            per = [f"{fmt(g[f'lira_off_auc_orig[{x}]'])} → {fmt(g[f'lira_off_auc_rep[{x}]'])}" for x in gcols]
            lines.append(f"| {learner} | {repair} | {len(g)} | {fmt(g.acc_orig)} → {fmt(g.acc_rep)} | "
                         f"{fmt(g.spd_orig)} → {fmt(g.spd_rep)} | {fmt(g.best_auc_orig)} → {fmt(g.best_auc_rep)} | "
                         f"{fmt(g.fdmia_auc)} | {paired(g.fdmia_auc, g.best_auc_rep)} | {fmt(g.tpr1_orig, 3)} → "
                         f"{fmt(g.tpr1_rep, 3)} / {fmt(g.fdmia_tpr1, 3)} | {' | '.join(per)} |")  # fmt: skip
        lines.append("")
    return lines


def write_repairs(meta: dict[str, Any]) -> None:
    """Rebuild ``privacy.repairs.{md,csv,json}`` from both settings' caches."""
    rows = repair_rows("leaking") + repair_rows("default")
    if not rows:
        return
    t = pd.DataFrame(rows)
    t.to_csv(RESULTS / "privacy.repairs.csv", index=False)
    leaking, default = t[t.setting == "leaking"], t[t.setting == "default"]
    md = ["# Privacy benchmark: the privacy price of every repair (issue 15)\n",
          f"Runs: {RUNS['repairs']}; tables: `{meta['command']}`\n",
          "What was run: the original model (rf = scikit-learn defaults, or trustlab's torch MLP) and its repair by "
          "trustlab's own massaging, reweighing, ThresholdOptimizer (fit on the members), ExponentiatedGradient and "
          f"FairnessPoisoner (5%, 10 trials); {meta['args'].get('repair_shadows')} shadow pairs, every attack "
          "(RMIA with 2 references) plus FD-MIA on the pair; each seed its own random partition (a quarter members, a "
          "quarter held-out non-members, half the attacker's pool). Mean ± 95% Student-t half-width over the seeds "
          "listed per row. Per-group columns: offline LiRA's AUC within each group's members and non-members, "
          "before and after the repair (who pays).\n",
          "## Leaking setting\n",
          "The regime study's over-fitting MLP (one hidden layer of 256, Adam 0.01, 200 epochs, no weight decay) on "
          "a 2,000-row subsample (500 members); ExponentiatedGradient on rf only (50 trainings of that network per "
          "model do not fit the CPU budget).\n", *repair_lines(leaking),
          "## Default setting\n",
          "trustlab's default MLP (16 hidden units, Adam 0.01, 20 epochs) on the `tabular` section's data: an "
          "8,000-row Adult subsample (2,000 members) and all of COMPAS (1,543 members); every repair on both "
          "learners.\n", *(repair_lines(default) if len(default) else ["Not run yet.\n"]), ""]  # fmt: skip
    (RESULTS / "privacy.repairs.md").write_text("\n".join(md) + "\n")
    (RESULTS / "privacy.repairs.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1, default=str) + "\n")


# ---------------------------------------------------------------------------------------------
# tables
# ---------------------------------------------------------------------------------------------


def attack_table(df: pd.DataFrame, section: str) -> str:
    d = df[(df.section == section) & ~df.attack.str.startswith("(")]
    lines = ["| case | pair | eps | target | attack | AUC | bal. acc | TPR@1%FPR | TPR@0.1%FPR | n seeds |",
             "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for keys, g in d.groupby(["case", "pair", "epsilon", "target", "attack"], sort=False):
        lines.append(f"| {' | '.join(map(str, keys))} | {fmt(g.auc)} | {fmt(g.bal_acc)} | {fmt(g.tpr_1pct, 4)} | "
                     f"{fmt(g.tpr_0_1pct, 4)} | {g.seed.nunique()} |")  # fmt: skip
    return "\n".join(lines)


def utility_table(df: pd.DataFrame, section: str) -> str:
    d = df[(df.section == section) & (df.attack == "(utility)")]
    lines = ["| case | pair | eps | target | accuracy | stat. parity diff. | eq. odds diff. |", "|---|---|---|---|---|---|---|"]
    for keys, g in d.groupby(["case", "pair", "epsilon", "target"], sort=False):
        lines.append(f"| {' | '.join(map(str, keys))} | {fmt(g.accuracy)} | {fmt(g.spd)} | {fmt(g.eod)} |")
    return "\n".join(lines)


def targets(df: pd.DataFrame) -> list[dict[str, Any]]:
    """The issue's targets per (section, case, pair, epsilon), on seed means."""
    out = []
    att = df[~df.attack.str.startswith("(")]
    for keys, g in att.groupby(["section", "case", "pair", "epsilon"], sort=False):
        fair = g[g.target == "fair"]
        score = fair[fair.attack.isin(["loss", "shadow", "lira", "lira_offline"])].groupby("attack").auc.mean()
        fd = g[g.attack == "fdmia"].auc.mean()
        rec: dict[str, Any] = {"section": keys[0], "case": keys[1], "pair": keys[2], "epsilon": keys[3],
                               "fdmia_auc": fd, "best_score_attack_fair": score.idxmax() if len(score) else None,
                               "best_score_auc_fair": score.max() if len(score) else float("nan")}  # fmt: skip
        rec["fdmia_beats_best"] = bool(fd > rec["best_score_auc_fair"])
        for role in ("biased", "fair"):
            t = g[g.target == role].groupby("attack").tpr_0_1pct.mean()
            lira, loss = t.get("lira", np.nan), t.get("loss", np.nan)
            rec[f"lira_tpr01_{role}"] = lira
            rec[f"loss_tpr01_{role}"] = loss
            rec[f"lira_10x_loss_{role}"] = bool(lira >= 10 * loss and lira > 0) if np.isfinite(lira) else None
        out.append(rec)
    return out


def write_all(rows: list, meta: dict[str, Any], summaries: dict[str, list], timing: dict | None,
              stem: str = "privacy") -> None:  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    df = pd.DataFrame(rows)
    df.to_csv(RESULTS / f"{stem}.csv", index=False)
    tg = targets(df) if len(df) else []
    (RESULTS / f"{stem}.json").write_text(json.dumps(
        {"meta": meta, "targets": tg, "timing": {k: v for k, v in (timing or {}).items() if k != "rows"},
         "rows": df.replace({np.nan: None}).to_dict(orient="records"), "summaries": summaries},
        indent=1, default=str) + "\n")  # fmt: skip
    md = [f"# Privacy benchmark\n\nCommand: `{meta['command']}`  \n{meta['machine']}  \n"
          "Cells: mean ± half-width of the 95% Student-t interval over seeds (one partition, target pair and "
          "shadow set per seed). TPR@0.1%FPR is measured on the balanced evaluation set; with n non-members the "
          "smallest non-zero FPR is 1/n, so it is a coarse number.\n"]  # fmt: skip
    for section, title in (("demo", "Synthetic demonstration (MLP 16, Adam 0.01, 20 epochs, lambda 1.0)"),
                           ("tabular", "Adult/sex and COMPAS/race"), ("dpsgd", "DP-SGD sweep (demonstration setting)"),
                           ("timing", "Full Adult audit, 16 shadow pairs")):  # fmt: skip
        if len(df) and (df.section == section).any():
            md += [f"## {title}\n", meta["sections"].get(section, ""), "", utility_table(df, section), "",
                   attack_table(df, section), ""]  # fmt: skip
            disc = df[(df.section == section) & (df.attack == "(discrepancy)")]
            md.append("|biased-fair discrepancy|, mean over evaluation rows: " + "; ".join(
                f"{k[0]} {k[1]} eps={k[2]}: members {fmt(g.disc_members, 4)} vs non-members {fmt(g.disc_nonmembers, 4)}"
                for k, g in disc.groupby(["case", "pair", "epsilon"], sort=False)) + "\n")  # fmt: skip
            if section == "dpsgd":
                md.append("epsilon spent (max of the pair): " + "; ".join(
                    f"target {k}: {fmt(g.epsilon_spent, 3)}" for k, g in disc.groupby("epsilon", sort=False)) + "\n")
    if tg:
        md += ["## Targets (seed means)\n", "| section | case | pair | eps | FD-MIA AUC | best score attack on fair (AUC) "
               "| FD-MIA beats it | LiRA / loss TPR@0.1% (biased) | LiRA / loss TPR@0.1% (fair) |",
               "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for t in tg:
            md.append(f"| {t['section']} | {t['case']} | {t['pair']} | {t['epsilon']} | {t['fdmia_auc']:.3f} | "
                      f"{t['best_score_attack_fair']} ({t['best_score_auc_fair']:.3f}) | {t['fdmia_beats_best']} | "
                      f"{t['lira_tpr01_biased']:.4f} / {t['loss_tpr01_biased']:.4f} | "
                      f"{t['lira_tpr01_fair']:.4f} / {t['loss_tpr01_fair']:.4f} |")  # fmt: skip
        md.append("")
    if timing:
        md.append(f"## Timing\n\nFull Adult audit ({timing['n_members']:,} members, MLP pair, all attacks, "
                  f"{timing['shadows']} shadow pairs = {timing['trainings']} trainings, {timing['n_jobs']} worker "
                  f"processes): **{timing['wall_seconds']:.0f} s** wall on the shared machine (target <= 300 s; 1-minute "
                  f"load average at start / end {timing.get('load_average_start_end', 'not recorded')}); "
                  f"{timing['cpu_seconds_main_process']:.0f} CPU seconds in the main process "
                  "(with 1 worker process this is all the work).\n")  # fmt: skip
    (RESULTS / f"{stem}.md").write_text("\n".join(md) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--dp-seeds", type=int, default=3)
    ap.add_argument("--shadows", type=int, default=16, help="shadow pairs of the demo and DP sweep")
    ap.add_argument("--tabular-shadows", type=int, default=8)
    ap.add_argument("--dp-shadows", type=int, default=8)
    ap.add_argument("--adult-rows", type=int, default=8000, help="Adult subsample of the 5-seed sweep")
    ap.add_argument("--poison-trials", type=int, default=10)
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--sections", default="demo,timing,tabular,dpsgd",
                    help="also: regime (issue 15's over-fitting regime, weight 3), sweep (weights --weights)")
    ap.add_argument("--regime-seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--sweep-seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--weights", type=float, nargs="+", default=[1.0, 5.0])
    ap.add_argument("--regime-rows", type=int, default=2000, help="subsample of the regime cells (a quarter members)")
    ap.add_argument("--dp-seeds-list", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--canaries", type=int, default=100)
    ap.add_argument("--repair-seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--repair-shadows", type=int, default=4)
    ap.add_argument("--repair-names", nargs="*", default=None, help="only these repairs (default: all)")
    ap.add_argument("--repair-setting", choices=tuple(REPAIR_SETTINGS), default="leaking",
                    help="the repair table's setting: the over-fitting regime or trustlab's defaults")
    ap.add_argument("--stem", default="privacy", help="results file stem (privacy.dpsgd for a split run)")
    ap.add_argument("--timing-jobs", type=int, default=None, help="worker processes of the timing (default --n-jobs)")
    args = ap.parse_args()
    import sys

    meta = {
        "command": "OMP_NUM_THREADS=1 .venv/bin/python " + " ".join(["benchmarks/privacy.py", *sys.argv[1:]]),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared), torch threads per model 1",
        "args": vars(args),
        "sections": {
            "demo": f"{args.seeds} seeds, {args.shadows} shadow pairs, 1,000 members / 1,000 non-members, "
                    "2,000-row shadow pool.",
            "tabular": f"{args.seeds} seeds, {args.tabular_shadows} shadow pairs. Adult is a random subsample of "
                       f"{args.adult_rows:,} rows per seed ({args.adult_rows // 4:,} members); COMPAS uses all 6,172 rows. rf/poisoning: "
                       f"FairnessPoisoner (budget 5%, statistical parity, {args.poison_trials} trials) run by the "
                       "model owner on the members, and once by the attacker on its own data for the shadows.",
            "dpsgd": f"{args.dp_seeds} seeds, {args.dp_shadows} shadow pairs (trained with the same DP-SGD recipe), "
                     "opacus RDP accountant, delta 1e-5, clipping norm 1.0, Adam.",
        },
    }
    sections = args.sections.split(",")
    rows: list = []
    summaries: dict[str, list] = {}
    timing = None
    seeds = list(range(args.seeds))
    t0 = time.perf_counter()
    for section in sections:
        if section == "demo":
            r, s = run_demo(seeds, args.shadows, args.n_jobs)
        elif section == "report":
            write_regime(meta)
            write_repairs(meta)
            continue
        elif section == "dpaudit":
            cells = []
            for seed in args.dp_seeds_list:
                for eps in (None, 1.0, 4.0, 8.0):
                    cells.append(dpaudit_cell(eps, seed, canaries=args.canaries, train_rows=1000))
                    write_dpaudit(meta, cells)
            continue
        elif section == "repairs":
            for seed in args.repair_seeds:
                for name in CASES:
                    for repair, learner in repair_cells(args.repair_setting):
                        if args.repair_names and repair not in args.repair_names:
                            continue
                        try:
                            repair_cell(name, repair, learner, seed, setting=args.repair_setting,
                                        shadows=args.repair_shadows)  # fmt: skip
                        except Exception as exc:  # noqa: BLE001 - report, keep the other cells
                            print(f"FAILED repair {name} {learner}/{repair} seed {seed}: {exc!r}", flush=True)
                        write_repairs(meta)
            continue
        elif section == "timing":
            timing = run_timing(args.timing_jobs or args.n_jobs)
            r, s = timing["rows"], []
        elif section == "tabular":
            r, s = run_tabular(seeds, args.tabular_shadows, args.n_jobs, args.adult_rows, args.poison_trials)
        elif section in ("regime", "sweep"):
            seeds_r = args.regime_seeds if section == "regime" else args.sweep_seeds
            weights = [3.0] if section == "regime" else args.weights
            for seed in seeds_r:  # seed-major: every case and weight of a seed before the next seed
                for name in CASES:
                    for w in weights:
                        regime_cell(name, w, seed, rows=args.regime_rows, shadows=8, refs=2)
                write_regime(meta)
            continue
        elif section == "dpsgd":
            r, s = [], []
            for eps in (1.0, 4.0, 8.0, None):
                ri, si = run_demo(list(range(args.dp_seeds)), args.dp_shadows, args.n_jobs, dp=eps, section="dpsgd")
                r += ri
                s += si
        else:
            raise SystemExit(f"unknown section {section}")
        rows += r
        summaries[section] = s
        meta["wall_seconds"] = time.perf_counter() - t0
        write_all(rows, meta, summaries, timing, args.stem)
    print(f"done in {time.perf_counter() - t0:.0f}s; wrote {RESULTS}/{args.stem}.{{json,csv,md}}", flush=True)


if __name__ == "__main__":
    main()
