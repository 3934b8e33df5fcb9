"""Report of issue 15's over-fitting regime study, imported by ``benchmarks/privacy.py``.

The cells (one cached privacy audit per case, training size, fairness weight
and seed) are written by ``privacy.py --sections regime,sweep``; this module
reads every cached cell back, recomputes the metrics from the stored scores and
writes ``benchmarks/results/privacy.regime.{md,json,csv}`` and
``privacy.regime_sweep.png``. Every table is keyed by case, training size
(members) and weight, so cells of different sizes are never averaged together.
It also holds the small helpers the benchmark shares (``ci``, ``fmt``,
``paired``, ``load_cell``). Public trustlab API only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trustlab.privacy import attack_metrics
from trustlab.results import mean_ci

RESULTS = Path(__file__).parent / "results"
CACHE = RESULTS / "cache" / "privacy"
SCORE_BASED = ("loss", "shadow", "lira", "lira_offline", "rmia", "rmia_offline")
_PY = "OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/privacy.py"
#: The runs that filled the cache (each resumes from it); ``--sections report`` rebuilds the tables.
RUNS = {
    "regime": f"`{_PY} --sections regime,sweep` (500 members: weight 3 on seeds 0-4, weights 1 and 5 on seeds "
              f"0-2); `{_PY} --sections sweep --weights 0 2 4 --sweep-seeds 0 1 2`; "
              f"`{_PY} --sections sweep --weights 0 1 2 4 5 --sweep-seeds 3 4` (every weight on seeds 0-4); "
              f"`{_PY} --sections regime --regime-rows 8000 --regime-seeds 0 1`, then `--regime-seeds 2 3 4` "
              "(2,000 members on Adult; COMPAS has 6,172 rows, so its cell uses all of them: 1,543 members); "
              f"`{_PY} --sections regime --regime-rows 32000 --regime-seeds 0`, then `--regime-seeds 1 2` and "
              "`--regime-seeds 3 4` (8,000 members, Adult only); "
              f"`{_PY} --sections sweep --regime-rows 8000 --weights 0 1 5 --sweep-seeds 0 1 2`, then "
              "`--weights 2 4 --sweep-seeds 0 1 2 3 4` and `--weights 0 1 5 --sweep-seeds 3 4`; "
              f"`{_PY} --sections sweep --regime-rows 32000 --weights 0 1 --sweep-seeds 0 1 2 3 4` beside "
              "`--weights 2 4` (same seeds), then `--weights 5 --sweep-seeds 0 1 2` beside `--weights 5 --sweep-seeds 3 4`",
    "repairs": f"`{_PY} --sections repairs --repair-seeds 0 1 2 --repair-shadows 4`, then "
               f"`--repair-seeds 0 1 --repair-names poisoning` and `--repair-seeds 2 3 4` (same options); default "
               f"setting: `{_PY} --sections repairs --repair-setting default --repair-shadows 4 --repair-seeds 0 1 2`, "
               "then `--repair-seeds 3 4`",
}  # fmt: skip
#: Keys of one row of the regime tables: the case, the training size (members) and the fairness weight.
KEYS = ["case", "members", "weight"]


def ci(values: Any) -> tuple[float, float, int]:
    """Mean and half-width of the 95% Student-t interval (:func:`trustlab.results.mean_ci`), and n."""
    x = np.asarray(values, dtype=float)
    return (*mean_ci(x), int(np.isfinite(x).sum()))


def fmt(values: Any, digits: int = 3) -> str:
    """``mean ± half-width`` (just the mean for one value, ``n/a`` for none)."""
    m, h, n = ci(values)
    if n == 0:
        return "n/a"
    return f"{m:.{digits}f}" if n < 2 else f"{m:.{digits}f} ± {h:.{digits}f}"


def paired(a: pd.Series, b: pd.Series) -> str:
    """Mean ± 95% t half-width of the per-seed difference a - b, and how many seeds have a > b."""
    d = (a - b).dropna()
    return f"{fmt(d, 3)} ({int((d > 0).sum())}/{len(d)} seeds > 0)"


def load_cell(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]] | None:
    """A cached cell: (summary, arrays), or ``None`` if it has not finished."""
    if not path.exists() or not path.with_suffix(".npz").exists():
        return None
    with np.load(path.with_suffix(".npz")) as z:
        return json.loads(path.read_text()), {k: z[k] for k in z.files}


def regime_rows(paths: list[Path]) -> pd.DataFrame:
    """One row per (cell, target, attack) with overall and per-group metrics recomputed from the cached scores.

    Parameters
    ----------
    paths : list of Path
        Cached cells (``.json``; the ``.npz`` beside each holds the scores).

    Returns
    -------
    pandas.DataFrame
        Columns ``case``, ``members`` (training-set size), ``weight``, ``seed``, ``target``, ``attack`` and the
        metrics; utility rows have ``attack == "(utility)"``, the pair's discrepancy ``"(discrepancy)"``.
    """
    rows = []
    for path in paths:
        cell = load_cell(path)
        if cell is None:
            continue
        summ, arr = cell
        m, g = arr["membership"], arr["groups"]
        keys = {"case": f"{summ['dataset']}/{summ['sensitive']}", "members": int(summ["n_members"]),
                "weight": summ["fairness_weight"], "seed": summ["seed"]}  # fmt: skip
        for k, v in arr.items():
            if "__" not in k:
                continue
            role, name = k.split("__", 1)
            met = attack_metrics(m, v, groups=g)
            row = {**keys, "target": role, "attack": name, "auc": met["auc"], "tpr_1pct": met["tpr_at_1pct_fpr"],
                   "tpr_0_1pct": met["tpr_at_0_1pct_fpr"]}  # fmt: skip
            for grp, b in met["by_group"].items():
                row.update({f"auc[{grp}]": b["auc"], f"tpr_1pct[{grp}]": b["tpr_at_1pct_fpr"],
                            f"tpr_0_1pct[{grp}]": b["tpr_at_0_1pct_fpr"], f"n[{grp}]": b["n"]})  # fmt: skip
            rows.append(row)
        for role in ("biased", "fair"):
            rows.append({**keys, "target": role, "attack": "(utility)", "accuracy": summ[role]["accuracy"],
                         "spd": summ[role]["fairness"]["statistical_parity_difference"]})  # fmt: skip
        rows.append({**keys, "target": "pair", "attack": "(discrepancy)",
                     "disc_members": summ["discrepancy"]["members_mean"],
                     "disc_nonmembers": summ["discrepancy"]["nonmembers_mean"],
                     "rmia_refs": summ["fair"]["attacks"].get("rmia", {}).get("references"),
                     "wall_seconds": summ["wall_seconds"]})  # fmt: skip
    return pd.DataFrame(rows)


def regime_report(df: pd.DataFrame, weight: float = 3.0) -> tuple[list[str], dict[str, Any]]:
    """Issue 15's regime targets per case and training size: FD-MIA vs the best score-based attack on the fair
    model; RMIA(2) vs LiRA(8).

    Returns
    -------
    (markdown lines, targets)
        ``targets[case][members]`` holds the numbers of one case and size at ``weight``.
    """
    md: list[str] = []
    tg: dict[str, Any] = {}
    att = df[~df.attack.str.startswith("(")]
    for (case, size), g in att[att.weight == weight].groupby(["case", "members"]):
        wide = g.pivot_table(index="seed", columns=["target", "attack"], values=["auc", "tpr_1pct", "tpr_0_1pct"])
        fair_best = wide["auc"]["fair"][list(SCORE_BASED)].max(axis=1)
        best_name = wide["auc"]["fair"][list(SCORE_BASED)].idxmax(axis=1)
        best_tpr1 = pd.Series([wide["tpr_1pct"]["fair"].loc[s, n] for s, n in best_name.items()], index=best_name.index)
        fd = wide["auc"]["pair"]["fdmia"]
        biased_best = wide["auc"]["biased"][list(SCORE_BASED)].max(axis=1)
        here = (df.case == case) & (df.members == size) & (df.weight == weight)
        util = df[here & (df.attack == "(utility)")]
        disc = df[here & (df.attack == "(discrepancy)")]
        rec = {"seeds": sorted(wide.index.tolist()), "fdmia_auc": ci(fd), "best_fair_auc": ci(fair_best),
               "best_biased_auc": ci(biased_best), "fdmia_minus_best_fair": ci(fd - fair_best),
               "fdmia_minus_best_biased": ci(fd - biased_best),
               "fdmia_beats_best_ci_excludes_0": bool(ci(fd - fair_best)[0] - ci(fd - fair_best)[1] > 0),
               "fdmia_tpr1": ci(wide["tpr_1pct"]["pair"]["fdmia"]), "best_fair_tpr1": ci(best_tpr1),
               "best_fair_attack_per_seed": best_name.tolist()}  # fmt: skip
        md += [f"### {case}, {size:,} members, fairness weight {weight:g} ({len(wide)} seeds)\n",
               f"- fair model accuracy {fmt(util[util.target == 'fair'].accuracy)} (biased "
               f"{fmt(util[util.target == 'biased'].accuracy)}), SPD {fmt(util[util.target == 'fair'].spd)} "
               f"(biased {fmt(util[util.target == 'biased'].spd)})",
               f"- best score-based attack AUC: biased {fmt(biased_best)}, fair {fmt(fair_best)} "
               f"(per seed: {', '.join(best_name)})",
               f"- FD-MIA AUC {fmt(fd)}; FD-MIA minus the best score-based attack on the fair model (paired): "
               f"**{paired(fd, fair_best)}**",
               f"- FD-MIA minus the best score-based attack on the *biased* model alone (paired): "
               f"{paired(fd, biased_best)}",
               f"- TPR at 1% FPR: FD-MIA {fmt(wide['tpr_1pct']['pair']['fdmia'], 4)} vs that best attack "
               f"{fmt(best_tpr1, 4)}",
               f"- |p_biased - p_fair| of the true class: members {fmt(disc.disc_members, 4)}, non-members "
               f"{fmt(disc.disc_nonmembers, 4)}"]  # fmt: skip
        for role in ("biased", "fair"):
            r2 = wide["tpr_0_1pct"][role]["rmia_offline"]
            l8 = wide["tpr_0_1pct"][role]["lira_offline"]
            rec[f"rmia2_offline_tpr01_{role}"] = ci(r2)
            rec[f"lira8_offline_tpr01_{role}"] = ci(l8)
            rec[f"rmia2_online_tpr01_{role}"] = ci(wide["tpr_0_1pct"][role]["rmia"])
            rec[f"rmia2_geq_lira8_{role}"] = int((r2 >= l8).sum())
            md.append(f"- {role} target, TPR at 0.1% FPR: RMIA offline with 2 references {fmt(r2, 4)} "
                      f"(online {fmt(wide['tpr_0_1pct'][role]['rmia'], 4)}) vs offline LiRA with 8 {fmt(l8, 4)}; "
                      f"RMIA(2) - LiRA(8) {paired(r2, l8)}; RMIA >= LiRA on {int((r2 >= l8).sum())}/{len(r2)} "
                      f"seeds. AUC: RMIA(2) {fmt(wide['auc'][role]['rmia_offline'])}, LiRA(8) "
                      f"{fmt(wide['auc'][role]['lira_offline'])}")  # fmt: skip
        md.append("")
        tg.setdefault(case, {})[str(size)] = rec
    return md, tg


def attack_auc_table(df: pd.DataFrame) -> list[str]:
    """AUC / TPR@1% / TPR@0.1% of every attack, biased and fair, per case, size and weight; per-group AUC."""
    att = df[~df.attack.str.startswith("(")]
    groups = sorted({c[4:-1] for c in df.columns if c.startswith("auc[")})
    head = "| case | members | weight | target | attack | AUC | TPR@1%FPR | TPR@0.1%FPR | " + " | ".join(
        f"AUC [{g}] / TPR@1% [{g}]" for g in groups) + " | seeds |"  # fmt: skip
    lines = [head, "|" + "---|" * (9 + len(groups))]
    for keys, g in att.groupby([*KEYS, "target", "attack"], sort=True):
        per = [f"{fmt(g[f'auc[{x}]'])} / {fmt(g[f'tpr_1pct[{x}]'], 3)}" if f"auc[{x}]" in g and g[f"auc[{x}]"].notna().any()
               else "-" for x in groups]  # fmt: skip
        lines.append(f"| {keys[0]} | {keys[1]:,} | {keys[2]:g} | {keys[3]} | {keys[4]} | {fmt(g.auc)} | "
                     f"{fmt(g.tpr_1pct, 4)} | {fmt(g.tpr_0_1pct, 4)} | {' | '.join(per)} | {g.seed.nunique()} |")  # fmt: skip
    return lines


def sweep_plot(df: pd.DataFrame, path: Path) -> None:
    """Attack AUC against fairness weight, one panel per (training size, case), one colour per attack.

    Fair model solid with markers; the biased model dashed, averaged over the same seeds as the fair model
    at each weight (the biased model does not depend on the weight, so the dashed line moves only where
    weights were run on different seeds); FD-MIA (on the pair) black with 95% t error bars. Weight 0 trains
    the "fair" model exactly like the biased one (the control).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    att = df[~df.attack.str.startswith("(")]
    cases = sorted(att.case.unique())
    sizes = {c: sorted(att[att.case == c].members.unique()) for c in cases}  # one column per case, one row per size
    n_rows = max(len(v) for v in sizes.values())
    fig, axes = plt.subplots(n_rows, len(cases), figsize=(5.5 * len(cases), 4.2 * n_rows), squeeze=False)
    for j, case in enumerate(cases):
        for i in range(n_rows):
            ax = axes[i, j]
            if i >= len(sizes[case]):
                ax.text(0.5, 0.5, f"{case}: no larger training set\n(largest run: {sizes[case][-1]:,} members)", ha="center", va="center", transform=ax.transAxes)  # fmt: skip
                ax.set_axis_off()
                continue
            size = sizes[case][i]
            d = att[(att.case == case) & (att.members == size)]
            for k, name in enumerate([*SCORE_BASED, "label"]):
                color = f"C{k}"
                b = d[(d.target == "biased") & (d.attack == name)].groupby("weight").auc.mean()
                f = d[(d.target == "fair") & (d.attack == name)].groupby("weight").auc.mean()
                if len(f):
                    ax.plot(f.index, f.values, "-o", color=color, label=f"{name} (fair)", ms=3)
                    ax.plot(b.index, b.values, "--x", color=color, lw=0.8, ms=4)
            fd = d[d.attack == "fdmia"].groupby("weight").auc.agg(["mean", lambda x: ci(x)[1]])
            if len(fd):
                ax.errorbar(fd.index, fd["mean"], yerr=fd.iloc[:, 1], fmt="-s", color="black", label="FD-MIA (pair)")
            ax.axhline(0.5, color="grey", lw=0.6)
            ax.set_xlim(att.weight.min() - 0.3, att.weight.max() + 0.3)  # the same weight axis in every panel
            seeds = d.groupby("weight").seed.nunique()
            ax.set_xlabel("fairness weight of the fair model (0 = trained like the biased model)")
            ax.set_ylabel("attack AUC (mean over seeds)")
            ax.set_title(f"{case}, {size:,} members (seeds per weight: {', '.join(f'{w:g}:{n}' for w, n in seeds.items())})\n"
                         "dashed = attack on the biased model (same seeds)", fontsize=9)  # fmt: skip
            ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_regime(meta: dict[str, Any]) -> None:
    """privacy.regime.{md,json,csv} and privacy.regime_sweep.png from every cached regime cell."""
    paths = sorted((CACHE / "regime").glob("*.json"))
    df = regime_rows(paths)
    if df.empty:
        return
    df.to_csv(RESULTS / "privacy.regime.csv", index=False)
    md_t, tg = regime_report(df)
    sweep_plot(df, RESULTS / "privacy.regime_sweep.png")
    util = df[df.attack == "(utility)"]
    ut = ["| case | members | weight | target | accuracy | SPD | seeds |", "|---|---|---|---|---|---|---|"]
    for k, g in util.groupby([*KEYS, "target"]):
        ut.append(f"| {k[0]} | {k[1]:,} | {k[2]:g} | {k[3]} | {fmt(g.accuracy)} | {fmt(g.spd)} | {g.seed.nunique()} |")
    sw = ["| case | members | weight | seeds | best score attack AUC, biased | best score attack AUC, fair | FD-MIA AUC | "
          "FD-MIA − best on fair (paired) | FD-MIA − best on biased (paired) |", "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    att = df[~df.attack.str.startswith("(")]
    for (case, size, w), g in att.groupby(KEYS):
        auc = g.pivot_table(index="seed", columns=["target", "attack"], values="auc")
        bb, bf = auc["biased"][list(SCORE_BASED)].max(axis=1), auc["fair"][list(SCORE_BASED)].max(axis=1)
        fd = auc["pair"]["fdmia"]
        sw.append(f"| {case} | {size:,} | {w:g} | {len(auc)} | {fmt(bb)} | {fmt(bf)} | {fmt(fd)} | {paired(fd, bf)} | "
                  f"{paired(fd, bb)} |")  # fmt: skip
    disc = df[df.attack == "(discrepancy)"]
    dt = ["| case | members | weight | members' discrepancy | non-members' discrepancy | seeds | cell wall time (s) |",
          "|---|---|---|---|---|---|---|"]  # fmt: skip
    for k, g in disc.groupby(KEYS):
        dt.append(f"| {k[0]} | {k[1]:,} | {k[2]:g} | {fmt(g.disc_members, 4)} | {fmt(g.disc_nonmembers, 4)} | {len(g)} | "
                  f"{g.wall_seconds.mean():.0f} |")  # fmt: skip
    sizes = ", ".join(f"{c}: {', '.join(f'{m:,}' for m in sorted(g.members.unique()))}"
                      for c, g in disc.groupby("case"))  # fmt: skip
    md = ["# Privacy benchmark: the over-fitting regime (issue 15)\n", f"Runs: {RUNS['regime']}; tables: "
          f"`{meta['command']}`  ",
          f"{meta['machine']}. Wall time of the cells: {disc.wall_seconds.sum() / 60:.1f} min on a shared machine.\n",
          "What was run: Adult/sex and COMPAS/race, a random subsample of 4m rows per seed split m members / m "
          "held-out non-members / 2m attacker pool rows (the same permutation for every size, so a seed's smaller "
          f"subsample is part of its larger one); training sizes m run per case: {sizes}. The biased model is the "
          "torch MLP (one hidden layer of 256, Adam lr 0.01, 200 epochs, batch 64, no weight decay), the fair model "
          "the same recipe with the fairness penalty at the given weight (same seed; at weight 0 the penalty is off "
          "and the 'fair' model is the biased one, the control); 8 shadow pairs trained the same way (every pool "
          "and evaluation row IN 2 of 8); attacks loss, Shokri shadow, LiRA online/offline (8 shadows), RMIA "
          "online/offline with the first 2 shadows as its only reference models, FD-MIA and |diff| threshold, "
          "label-only. Evaluation: the m members vs the m non-members, never used to fit an attack or a threshold. "
          "Every table is keyed by case, training size and weight (sizes are never pooled); seeds per row in the "
          "tables. Mean ± 95% Student-t half-width over seeds; paired differences are per seed. With m "
          "non-members the smallest non-zero FPR is 1/m: at m = 500 TPR at 0.1% FPR is measured at FPR = 0 (the "
          "first non-member), so it is coarse.\n",
          "Findings and what is not run yet: [privacy.sweep_findings.md](privacy.sweep_findings.md).\n",
          "## Targets\n", *md_t, "## Fairness-weight sweep (best over loss, shadow, LiRA, RMIA; per seed)\n",
          *sw, "", "## Utility\n", *ut, "", "## Member vs non-member discrepancy |p_biased - p_fair|\n", *dt, "",
          "## Every attack (per-group: AUC / TPR@1%FPR within the group's members and non-members)\n",
          *attack_auc_table(df), "", "![sweep](privacy.regime_sweep.png)", ""]  # fmt: skip
    (RESULTS / "privacy.regime.md").write_text("\n".join(md) + "\n")
    (RESULTS / "privacy.regime.json").write_text(json.dumps({"meta": meta, "targets": tg,
                                                             "rows": df.replace({np.nan: None}).to_dict(orient="records")},
                                                            indent=1, default=str) + "\n")  # fmt: skip
