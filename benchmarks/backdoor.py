"""Backdoor benchmark on real MNIST-5k: BadNets -> Neural Cleanse -> unlearning / pruning.

Configurations (each seed re-splits the data 3,500 / 500 / 1,000, re-poisons and retrains):

* ``infected``: 4x4 white square, bottom-right, target 3, 10% poison - ``--seeds`` seeds;
* ``clean``: no backdoor - ``--seeds`` seeds;
* ``other``: 3x3 checkerboard, top-left, target 7, 10% poison - ``--other-seeds`` seeds.

For every model: clean accuracy and ASR on the test split; a full 10-label
Neural Cleanse scan on the validation split (wall seconds recorded); the
flagged labels and the target's anomaly index. For every flagged model:
unlearning and penultimate-layer pruning, with clean accuracy and the true
trigger's ASR before/after on the test split. Aggregates are mean +- 95%
t-interval over seeds.

Usage::

    python benchmarks/backdoor.py                    # full run, writes benchmarks/results/backdoor.*
    python benchmarks/backdoor.py --quick --out /tmp/b   # smoke test on 8x8 digits
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

MAIN = {"trigger": "square:4@bottom-right", "target": 3}
OTHER = {"trigger": "checkerboard:3@top-left", "target": 7}


def run_one(job: dict[str, Any]) -> dict[str, Any]:
    """Train, scan and (if anything is flagged) mitigate one model; return one result row."""
    import torch

    torch.set_num_threads(job["threads"])
    from trustlab.backdoor import mitigate, parse_trigger, scan_model, train_model
    from trustlab.datasets import load_images, split_images

    t0 = time.perf_counter()
    seed = job["seed"]
    split = split_images(load_images(job["data"]), seed=seed)
    trig = None
    if job["trigger"]:
        trig = parse_trigger(job["trigger"], image_shape=split.train.image_shape)
    trained = train_model(split, trigger=trig, target=job["target"], poison_rate=0.1,
                          epochs=job["epochs"], seed=seed)  # fmt: skip
    scan = scan_model(trained.model, split, seed=seed, steps=job["steps"])
    norms = scan.l1_norms
    row: dict[str, Any] = {
        "config": job["config"], "seed": seed, "trigger": job["trigger"], "target": job["target"],
        "clean_accuracy": trained.report["clean_accuracy"], "asr": trained.report["asr"],
        "train_seconds": trained.report["train_seconds"], "scan_seconds": scan.seconds,
        "threads": job["threads"], "flagged": "|".join(str(v) for v in scan.flagged),
        "n_flagged": len(scan.flagged),
        "max_anomaly_index_below_median": float(max(
            [scan.anomaly_index[i] for i in range(len(norms)) if norms[i] < np.median(norms)],
            default=0.0)),
        "median_l1_norm": float(np.median(norms)),
        "norms": "|".join(f"{v:.1f}" for v in norms),
    }  # fmt: skip
    if job["target"] is not None:
        i = scan.labels.index(job["target"])
        row["target_l1_norm"] = float(norms[i])
        row["target_anomaly_index"] = float(scan.anomaly_index[i])
        row["exactly_target_flagged"] = scan.flagged == [job["target"]]
    else:
        row["nothing_flagged"] = not scan.flagged
    for method in ("unlearn", "prune"):
        if not scan.flagged and method == "prune":
            continue
        t1 = time.perf_counter()
        _, rep = mitigate(trained.model, split, scan, method=method, trigger=trig,
                          target=job["target"], seed=seed)  # fmt: skip
        row[f"{method}_seconds"] = time.perf_counter() - t1
        row[f"{method}_changed"] = rep["changed"]
        row[f"{method}_clean_accuracy_after"] = rep["clean_accuracy_after"]
        row[f"{method}_accuracy_loss_pp"] = 100 * (rep["clean_accuracy_before"]
                                                   - rep["clean_accuracy_after"])  # fmt: skip
        row[f"{method}_asr_after"] = rep["asr_after"]
        if method == "prune":
            row["pruned_neurons"] = rep["details"].get("pruned", 0)
    row["total_seconds"] = time.perf_counter() - t0
    print(f"[{time.strftime('%H:%M:%S')}] {job['config']} seed {seed}: acc {row['clean_accuracy']:.3f} "
          f"asr {row['asr']} flagged [{row['flagged']}] scan {scan.seconds:.0f}s", flush=True)  # fmt: skip
    return row


def t_interval(values: list[float]) -> tuple[float, float, int]:
    """Mean and half-width of the 95% Student-t interval (nan half-width for n < 2)."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    if len(v) == 0:
        return float("nan"), float("nan"), 0
    if len(v) < 2:
        return float(v.mean()), float("nan"), 1
    half = stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))
    return float(v.mean()), float(half), len(v)


SUMMARY_METRICS = [
    ("clean_accuracy", "clean accuracy (test)", 1),
    ("asr", "ASR (test)", 1),
    ("target_anomaly_index", "anomaly index of target", 1),
    ("max_anomaly_index_below_median", "max anomaly index (below median)", 1),
    ("n_flagged", "labels flagged", 1),
    ("scan_seconds", "10-label scan seconds", 1),
    ("unlearn_asr_after", "ASR after unlearning", 1),
    ("unlearn_accuracy_loss_pp", "accuracy loss, unlearning (pp)", 1),
    ("prune_asr_after", "ASR after pruning", 1),
    ("prune_accuracy_loss_pp", "accuracy loss, pruning (pp)", 1),
]


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for config in dict.fromkeys(r["config"] for r in rows):
        sub = [r for r in rows if r["config"] == config]
        agg: dict[str, Any] = {"n": len(sub)}
        for key, _, _ in SUMMARY_METRICS:
            vals = [r.get(key) for r in sub if r.get(key) is not None]
            if vals:
                mean, half, n = t_interval([float(v) for v in vals])
                agg[key] = {"mean": mean, "ci95": half, "n": n}
        if sub[0]["target"] is not None:
            agg["exactly_target_flagged"] = sum(bool(r["exactly_target_flagged"]) for r in sub)
            agg["unlearn_asr_le_1pct_and_loss_le_1pp"] = sum(
                (r.get("unlearn_asr_after") or 1) <= 0.01
                and (r.get("unlearn_accuracy_loss_pp") or 99) <= 1.0 for r in sub
            )
        else:
            agg["nothing_flagged"] = sum(bool(r["nothing_flagged"]) for r in sub)
        out[config] = agg
    return out


def _fmt(cell: dict[str, Any] | None, pct: bool) -> str:
    if not cell:
        return "-"
    k = 100.0 if pct else 1.0
    if not np.isfinite(cell["ci95"]):
        return f"{k * cell['mean']:.2f} (n={cell['n']})"
    return f"{k * cell['mean']:.2f} ± {k * cell['ci95']:.2f}"


def markdown(summary: dict[str, Any], meta: dict[str, Any]) -> str:
    configs = list(summary)
    pct_keys = {"clean_accuracy", "asr", "unlearn_asr_after", "prune_asr_after"}
    head = "| metric | " + " | ".join(
        f"{c} ({meta['configs'][c]}, n={summary[c]['n']})" for c in configs) + " |"  # fmt: skip
    lines = [head, "|---|" + "---|" * len(configs)]
    for key, label, _ in SUMMARY_METRICS:
        unit = " (%)" if key in pct_keys else ""
        cells = [_fmt(summary[c].get(key), key in pct_keys) for c in configs]
        if all(cell == "-" for cell in cells):
            continue
        lines.append(f"| {label}{unit} | " + " | ".join(cells) + " |")
    counts = []
    for c in configs:
        s = summary[c]
        if "exactly_target_flagged" in s:
            counts.append(f"exactly target flagged {s['exactly_target_flagged']}/{s['n']}; "
                          f"unlearn ASR<=1% & loss<=1pp {s['unlearn_asr_le_1pct_and_loss_le_1pp']}/{s['n']}")  # fmt: skip
        else:
            counts.append(f"nothing flagged {s['nothing_flagged']}/{s['n']}")
    lines.append("| goals met | " + " | ".join(counts) + " |")
    return "\n".join([
        "# Backdoor benchmark (MNIST-5k, BadNets / Neural Cleanse / unlearning)", "",
        f"Command: `{meta['command']}`", "",
        f"Mean ± 95% Student-t half-width over seeds. Test split for accuracy/ASR; Neural Cleanse "
        f"and mitigation see the validation split only. {meta['workers']} worker process(es) x "
        f"{meta['threads']} torch thread(s) on a {meta['cores']}-core machine shared with other "
        f"jobs (load average {meta['loadavg_start']} at start, {meta['loadavg_end']} at end); "
        f"total wall time {meta['wall_seconds']:.0f} s.", "",
        *lines, "",
        "Per-seed rows: `backdoor.csv`; everything incl. settings: `backdoor.json`.", "",
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5, help="seeds of the infected and clean configs")
    p.add_argument("--other-seeds", type=int, default=1, help="seeds of the other trigger config")
    p.add_argument("--steps", type=int, default=60, help="Neural Cleanse schedule steps")
    p.add_argument("--epochs", type=int, default=10, help="training epochs")
    p.add_argument("--workers", type=int, default=1, help="parallel processes")
    p.add_argument("--threads", type=int, default=2, help="torch threads per process")
    p.add_argument("--data", default="mnist5k")
    p.add_argument("--quick", action="store_true", help="smoke test: digits, 2 seeds, 10 steps")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = p.parse_args(argv)
    if args.quick:
        args.data, args.seeds, args.other_seeds, args.steps, args.epochs = "digits", 2, 1, 10, 3
    trig_main = "square:2@bottom-right" if args.data == "digits" else MAIN["trigger"]
    jobs = []
    for config, trigger, target, n in (
        ("infected", trig_main, MAIN["target"], args.seeds),
        ("clean", None, None, args.seeds),
        ("other", "checkerboard:2@top-left" if args.data == "digits" else OTHER["trigger"],
         OTHER["target"], args.other_seeds),
    ):  # fmt: skip
        jobs += [{"config": config, "trigger": trigger, "target": target, "seed": s,
                  "steps": args.steps, "epochs": args.epochs, "threads": args.threads,
                  "data": args.data} for s in range(n)]  # fmt: skip
    load0 = [round(v, 1) for v in os.getloadavg()]
    t0 = time.perf_counter()
    if args.workers > 1:
        with ProcessPoolExecutor(args.workers) as pool:
            rows = list(pool.map(run_one, jobs))
    else:
        rows = [run_one(j) for j in jobs]
    wall = time.perf_counter() - t0
    summary = summarise(rows)
    meta = {
        "command": "python benchmarks/backdoor.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "data": args.data, "seeds": args.seeds, "other_seeds": args.other_seeds,
        "steps": args.steps, "epochs": args.epochs, "workers": args.workers,
        "threads": args.threads, "cores": os.cpu_count(), "loadavg_start": load0,
        "loadavg_end": [round(v, 1) for v in os.getloadavg()], "wall_seconds": wall,
        "configs": {"infected": f"{trig_main} -> {MAIN['target']}", "clean": "no backdoor",
                    "other": f"{jobs[-1]['trigger']} -> {OTHER['target']}"},
        "neural_cleanse": "batched over 10 labels, mini_batches=5, batch 32, lr 0.1, init_cost 1e-3, "
                          "threshold 0.99, patience 5, multiplier 2, early stop",
        "unlearning": "10 epochs over the 500 validation images, 20% stamped with each reversed trigger grown by 0/1/2 px, Adam lr 2e-3",
        "interval": "95% Student-t over seeds",
    }  # fmt: skip
    from trustlab._io import versions, write_json

    meta["versions"] = versions()
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "backdoor.json", {"meta": meta, "summary": summary, "rows": rows})
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with open(args.out / "backdoor.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    (args.out / "backdoor.md").write_text(markdown(summary, meta))
    print((args.out / "backdoor.md").read_text())
    print(json.dumps({"wall_seconds": round(wall, 1)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
