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
from scipy import stats

from trustlab.datasets import load_builtin, make_synthetic
from trustlab.privacy import PairSpec, partition, privacy_audit

RESULTS = Path(__file__).parent / "results"
MLP = {"hidden": 16, "lr": 0.01, "epochs": 20, "batch_size": 64}
ROW_ATTACKS = ("loss", "shadow", "lira", "lira_offline", "label")


def ci(values: Any) -> tuple[float, float, int]:
    """Mean and half-width of the 95% Student-t interval (NaN half-width with < 2 values)."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return float("nan"), float("nan"), 0
    if len(x) < 2:
        return float(x.mean()), float("nan"), 1
    return float(x.mean()), float(stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))), len(x)


def fmt(values: Any, digits: int = 3) -> str:
    m, h, n = ci(values)
    if n == 0:
        return "n/a"
    return f"{m:.{digits}f}" if n < 2 else f"{m:.{digits}f} ± {h:.{digits}f}"


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
    ap.add_argument("--sections", default="demo,timing,tabular,dpsgd")
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
        elif section == "timing":
            timing = run_timing(args.timing_jobs or args.n_jobs)
            r, s = timing["rows"], []
        elif section == "tabular":
            r, s = run_tabular(seeds, args.tabular_shadows, args.n_jobs, args.adult_rows, args.poison_trials)
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
