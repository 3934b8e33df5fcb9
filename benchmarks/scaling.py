"""Scale-out benchmark: poisoning trials per minute with 1 and 2 processes on one study.

``trustlab poison`` creates an SQLite-backed study and takes part in it; in the
two-process run one ``trustlab worker`` joins the same study. Throughput is
taken from the study's own trial timestamps (first trial start to last trial
end), so data loading and the baseline fits are not counted. The learner is
sklearn's GradientBoosting (single-threaded by design) on COMPAS/race.

    .venv/bin/python benchmarks/scaling.py --trials 40
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna

RESULTS = Path(__file__).parent / "results"
BIN = Path(sys.executable).parent / "trustlab"


def run(n_procs: int, trials: int, tmp: Path) -> dict:
    url = f"sqlite:///{tmp / f'scaling-{n_procs}.db'}"
    name = f"scaling-{n_procs}"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    poison = [str(BIN), "poison", "--dataset", "compas", "--sensitive", "race", "--learner", "gb",
              "--metric", "fpr_gap", "--budget", "0.05", "--trials", str(trials), "--seed", "0",
              "--storage", url, "--study-name", name, "--out", str(tmp / name)]  # fmt: skip
    t0 = time.perf_counter()
    procs = [subprocess.Popen(poison, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    if n_procs > 1:
        # join once the study exists (the creator writes it after its baseline fits)
        for _ in range(600):
            try:
                optuna.load_study(study_name=name, storage=url)
                break
            except KeyError:
                time.sleep(0.5)
        for _ in range(n_procs - 1):
            procs.append(subprocess.Popen([str(BIN), "worker", "--storage", url, "--study-name", name],
                                          env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # fmt: skip
    codes = [p.wait() for p in procs]
    wall = time.perf_counter() - t0
    study = optuna.load_study(study_name=name, storage=url)
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    start = min(t.datetime_start for t in done)
    end = max(t.datetime_complete for t in done)
    minutes = (end - start).total_seconds() / 60
    return {"processes": n_procs, "exit_codes": codes, "trials": len(done), "search_minutes": minutes,
            "trials_per_minute": len(done) / minutes, "wall_seconds": wall}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=40)
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        one = run(1, args.trials, Path(tmp))
        two = run(2, args.trials, Path(tmp))
    ratio = two["trials_per_minute"] / one["trials_per_minute"]
    load = os.getloadavg()
    out = {"command": f"python benchmarks/scaling.py --trials {args.trials}", "one": one, "two": two,
           "speedup": ratio, "cores": os.cpu_count(), "loadavg_after": load}  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scaling.json").write_text(json.dumps(out, indent=2))
    md = (f"Command: `{out['command']}` (COMPAS/race, GradientBoosting, SQLite storage, {os.cpu_count()} cores, "
          f"load average after the run {load[0]:.1f}).\n\n"
          "| processes | trials | search minutes | trials / minute |\n|---|---|---|---|\n"
          f"| 1 | {one['trials']} | {one['search_minutes']:.2f} | {one['trials_per_minute']:.1f} |\n"
          f"| 2 | {two['trials']} | {two['search_minutes']:.2f} | {two['trials_per_minute']:.1f} |\n\n"
          f"Speed-up with 2 processes: **{ratio:.2f}x** (one run, not a mean). For N machines with c "
          "single-threaded workers each: throughput ≈ N·c·r₁·e, where r₁ is one worker's trials per minute "
          "and e the measured per-worker efficiency (speed-up / processes), as long as the database keeps up.\n")  # fmt: skip
    (RESULTS / "scaling.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
