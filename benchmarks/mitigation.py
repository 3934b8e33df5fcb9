"""Mitigation benchmark: baseline vs massaging, reweighing, ExponentiatedGradient, ThresholdOptimizer.

Adult/sex and COMPAS/race x learners {rf, gb, xgb} x 5 seeds. One split per
seed (56/14/30, stratified on label x group); every number is measured on the
untouched test split. Writes ``benchmarks/results/mitigation.{csv,json,md}``.

    .venv/bin/python benchmarks/mitigation.py --n-jobs 2
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd

from trustlab import parallel_map
from trustlab.datasets import load_builtin, split_dataset
from trustlab.fairness import evaluate_on, fit_baseline, flat_block, run_mitigation
from trustlab.results import fmt_ci, mean_ci

RESULTS = Path(__file__).parent / "results"
METHODS = ("massaging", "reweighing", "exponentiated-gradient", "threshold-optimizer")
CASES = (("adult", "sex"), ("compas", "race"))


CACHE = RESULTS / "cache" / "mitigation"


def run_cell(task: tuple[str, str, str, int]) -> list[dict]:
    """All methods for one (dataset, sensitive, learner, seed); cached as JSON per cell."""
    name, sens, learner, seed = task
    cached = CACHE / f"{name}-{sens}-{learner}-{seed}.json"
    if cached.exists():
        return json.loads(cached.read_text())
    split = split_dataset(load_builtin(name), seed=seed, sensitive=sens)
    rows = []
    t0 = time.perf_counter()
    base = fit_baseline(split, learner, seed=seed, n_jobs=1)
    rows.append({"dataset": name, "sensitive": sens, "learner": learner, "seed": seed,
                 "method": "baseline", "seconds": time.perf_counter() - t0,
                 **flat_block(evaluate_on(base, split.test, sens))})  # fmt: skip
    for method in METHODS:
        t0 = time.perf_counter()
        r = run_mitigation(method, split, learner=learner, sensitive=sens, seed=seed, n_jobs=1, baseline=base)
        rows.append({"dataset": name, "sensitive": sens, "learner": learner, "seed": seed,
                     "method": method, "seconds": time.perf_counter() - t0,
                     **flat_block(r["mitigated"])})  # fmt: skip
    print(f"done {name}/{learner}/seed {seed}", flush=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(rows))
    return rows


def summarise(df: pd.DataFrame) -> tuple[list[dict], str]:
    metrics = ["accuracy", "balanced_accuracy", "statistical_parity_difference", "fpr_difference", "seconds"]
    agg = []
    lines = [
        "| dataset | learner | method | accuracy | balanced acc. | SPD | FPR diff. | fit s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    order = {m: i for i, m in enumerate(("baseline", *METHODS))}
    for (name, sens, learner, method), g in sorted(
        df.groupby(["dataset", "sensitive", "learner", "method"]), key=lambda kv: (kv[0][0], kv[0][2], order[kv[0][3]])
    ):
        entry = {"dataset": name, "sensitive": sens, "learner": learner, "method": method, "n_seeds": len(g)}
        for m in metrics:
            entry[m], entry[f"{m}_ci95"] = mean_ci(g[m])
        agg.append(entry)
        lines.append(
            f"| {name}/{sens} | {learner} | {method} | {fmt_ci(g['accuracy'])} | {fmt_ci(g['balanced_accuracy'])} "
            f"| {fmt_ci(g['statistical_parity_difference'])} | {fmt_ci(g['fpr_difference'])} | {fmt_ci(g['seconds'], digits=1)} |"
        )
    return agg, "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--learners", nargs="+", default=["rf", "gb", "xgb"])
    ap.add_argument("--n-jobs", type=int, default=1)
    ap.add_argument("--scheduler", default=None, help="Dask scheduler address (optional)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    # cheap cells first so an interrupted run keeps the most (finished cells are cached)
    cost = {"xgb": 0, "rf": 1, "gb": 2}
    tasks = sorted(((n, s, lr, seed) for n, s in CASES for lr in args.learners for seed in args.seeds),
                   key=lambda t: (t[0] != "compas", cost.get(t[2], 3), t[3]))
    t0 = time.perf_counter()
    rows = [r for cell in parallel_map(run_cell, tasks, n_jobs=args.n_jobs, scheduler=args.scheduler) for r in cell]
    wall = time.perf_counter() - t0
    df = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out / "mitigation.csv", index=False)
    agg, table = summarise(df)
    cmd = "python benchmarks/mitigation.py " + " ".join(
        f"--{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, list) else v}"
        for k, v in vars(args).items() if k in ("seeds", "learners", "n_jobs")
    )
    header = (
        f"Command: `{cmd}` ({wall / 60:.1f} min wall, {args.n_jobs} processes, 2-core machine).\n"
        f"Test split (30%), mean ± 95% Student-t interval over seeds {args.seeds}. "
        "SPD = P(ŷ=1|privileged) − P(ŷ=1|unprivileged); for COMPAS ŷ=1 predicts re-offending, "
        "so its SPD is negative. `fit s` is the method's own training time.\n\n"
    )
    (args.out / "mitigation.md").write_text(header + table + "\n")
    (args.out / "mitigation.json").write_text(json.dumps({"command": cmd, "wall_seconds": wall, "rows": agg}, indent=2))
    print(header + table)


if __name__ == "__main__":
    main()
