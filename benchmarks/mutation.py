"""Mutation testing of trustlab's numerical core with mutmut (3.x), one package at a time.

    nice -n 19 .venv/bin/python benchmarks/mutation.py [--groups fairness,privacy] [--minutes 35]

Each group names the source files mutmut may mutate, the functions whose mutants are run
(mutant-name globs: ``x_func`` for a function, ``xǁClassǁmethod`` for a method) and the fast
tests of its package. For every group the script builds a scratch copy under
``out/mutation/<group>`` (``src/``, ``tests/`` and a ``setup.cfg`` holding mutmut's
``[mutmut]`` section: mutmut reads its configuration only from the working directory, so the
repository's own ``pyproject.toml`` / ``setup.cfg`` stay untouched), then runs
``mutmut run --max-children 1 <globs>`` there: one worker process, each mutant running only
the group's tests that call the mutated function. Raise statements and log calls are not
mutated (``do_not_mutate_patterns``): their text is not numerical behaviour; the conditions
that lead to them are. Property tests draw :data:`EXAMPLES` hypothesis examples (derandomized,
so every mutant sees the same ones).

Writes ``benchmarks/results/mutation.json`` (every mutant's status, the survivors' diffs) and
the generated part of ``benchmarks/results/mutation.md`` (between the ``mutation:begin`` /
``mutation:end`` markers; notes outside them are kept). ``--minutes`` stops starting new
mutants after the time given (mutmut is stopped; finished results are kept).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
WORK = ROOT / "out" / "mutation"
MUTMUT = Path(sys.executable).parent / "mutmut"
PYTEST_ARGS = ["-p", "no:cacheprovider", "--import-mode=importlib"]
#: Hypothesis examples per property test while mutants run (the suite's default is 25-30).
EXAMPLES = 8
DO_NOT_MUTATE = [r"^\s*raise\s", r"^\s*log\.(warning|info|debug)\("]

#: group -> source files mutmut may mutate, functions whose mutants run, the package's fast tests
#: (and extra pytest arguments).
GROUPS: dict[str, dict[str, list[str]]] = {
    "backdoor": {
        "files": ["src/trustlab/backdoor/_cleanse.py"],
        "functions": [
            "trustlab.backdoor._cleanse.x_mad_anomaly_index",
            "trustlab.backdoor._cleanse.x_flag_outliers",
        ],
        "tests": ["tests/backdoor/test_mad_values.py"],
    },
    "datasets": {
        "files": ["src/trustlab/datasets/_dataset.py"],
        "functions": [
            "trustlab.datasets._dataset.x_split_dataset",
            "trustlab.datasets._dataset.x__strata",
        ],
        "tests": ["tests/datasets/test_split_values.py"],
    },
    "fairness-repairs": {
        "files": ["src/trustlab/fairness/_mitigation.py", "src/trustlab/fairness/_registry.py"],
        "functions": [
            "trustlab.fairness._mitigation.x_massaging_count",
            "trustlab.fairness._mitigation.x_massage_labels",
            "trustlab.fairness._mitigation.x_reweighing_weights",
            "trustlab.fairness._registry.xǁFairnessMetricǁsigned",
            "trustlab.fairness._registry.xǁFairnessMetricǁunfairness",
            "trustlab.fairness._registry.xǁFairnessMetricǁdirection",
        ],
        "tests": [
            "tests/fairness/test_mitigation_values.py",
            "tests/fairness/test_registry.py",
            "tests/fairness/test_metric_values.py",
            "tests/fairness/test_metric_properties.py",
        ],
    },
    "poisoning-spaces": {
        "files": [
            "src/trustlab/poisoning/_spaces.py",
            "src/trustlab/poisoning/_space.py",
            "src/trustlab/poisoning/_boundary.py",
        ],
        "functions": [
            "trustlab.poisoning._spaces.x_split_counts",
            "trustlab.poisoning._spaces.x_fill_counts",
            "trustlab.poisoning._spaces.x_window",
            "trustlab.poisoning._spaces.x_match_fill",
            "trustlab.poisoning._spaces.xǁRowMakerǁmake",
            "trustlab.poisoning._spaces.xǁRowMakerǁ__init__",
            "trustlab.poisoning._spaces.xǁRowMakerǁfinish",
            "trustlab.poisoning._space.xǁBandsSpaceǁcounts",
            "trustlab.poisoning._space.xǁBandsSpaceǁmatch_rows",
            "trustlab.poisoning._space.xǁBandsSpaceǁ_pool",
            "trustlab.poisoning._space.xǁBandsSpaceǁrows",
            "trustlab.poisoning._space.x_check_plausible",
            "trustlab.poisoning._boundary.xǁBoundarySpaceǁprepare",
            "trustlab.poisoning._boundary.xǁBoundarySpaceǁcounts",
            "trustlab.poisoning._boundary.xǁBoundarySpaceǁwindow",
            "trustlab.poisoning._boundary.xǁBoundarySpaceǁrows",
            "trustlab.poisoning._boundary.xǁBoundarySpaceǁmatch_rows",
        ],
        "tests": [
            "tests/poisoning/test_space_properties.py",
            "tests/poisoning/test_space_values.py",
        ],
    },
    "poisoning-counterfactual": {
        "files": ["src/trustlab/poisoning/_counterfactual.py"],
        "functions": [
            "trustlab.poisoning._counterfactual.xǁCounterfactualSpaceǁprepare",
            "trustlab.poisoning._counterfactual.xǁCounterfactualSpaceǁcounts",
            "trustlab.poisoning._counterfactual.xǁCounterfactualSpaceǁ_recode",
            "trustlab.poisoning._counterfactual.xǁCounterfactualSpaceǁrows",
            "trustlab.poisoning._counterfactual.xǁCounterfactualSpaceǁmatch_rows",
            "trustlab.poisoning._counterfactual.x__pair_exclusive",
        ],
        "tests": [
            "tests/poisoning/test_space_properties.py",
            "tests/poisoning/test_counterfactual_values.py",
        ],
    },
    "poisoning-constraint": {
        "files": ["src/trustlab/poisoning/_poisoner.py"],
        "functions": [
            "trustlab.poisoning._poisoner.x_paired_loss_bound",
            "trustlab.poisoning._poisoner.xǁFairnessPoisonerǁ_select_best",
            "trustlab.poisoning._poisoner.xǁFairnessPoisonerǁscore_point",
        ],
        "tests": [
            "tests/poisoning/test_constraint_values.py",
            "tests/poisoning/test_best_trial_values.py",
            "tests/poisoning/test_selection.py",
        ],
    },
    "privacy": {
        "files": [
            "src/trustlab/privacy/_attacks.py",
            "src/trustlab/privacy/_classic.py",
            "src/trustlab/privacy/_rmia.py",
        ],
        "functions": [
            "trustlab.privacy._attacks.x_true_class_proba",
            "trustlab.privacy._attacks.x_loss_scores",
            "trustlab.privacy._attacks.x_logit_confidence",
            "trustlab.privacy._attacks.x_fdmia_features",
            "trustlab.privacy._attacks.xǁ_Momentsǁ__init__",
            "trustlab.privacy._attacks.x__mean_var",
            "trustlab.privacy._attacks.x__pooled_var",
            "trustlab.privacy._attacks.xǁLiRAǁ__init__",
            "trustlab.privacy._attacks.xǁLiRAǁ_params",
            "trustlab.privacy._attacks.xǁLiRAǁ_score",
            "trustlab.privacy._attacks.xǁLiRAǁscore",
            "trustlab.privacy._attacks.x_lira_scores",
            "trustlab.privacy._classic.xǁLiRAOnlineǁscore",
            "trustlab.privacy._classic.xǁLossAttackǁstatistic",
            "trustlab.privacy._rmia.x_rmia_marginal",
            "trustlab.privacy._rmia.x_rmia_scores",
        ],
        "tests": ["tests/privacy/test_attack_values.py"],
    },
    "fairness-metrics": {
        "files": ["src/trustlab/fairness/_metrics.py"],
        "functions": [
            "trustlab.fairness._metrics.x__binary_groups",
            "trustlab.fairness._metrics.x_check_predictions",
            "trustlab.fairness._metrics.x_group_rates",
            "trustlab.fairness._metrics.x__diff",
            "trustlab.fairness._metrics.x_statistical_parity_difference",
            "trustlab.fairness._metrics.x_disparate_impact",
            "trustlab.fairness._metrics.x_fairness_block",
            "trustlab.fairness._metrics.x_evaluate",
            "trustlab.fairness._metrics.x__rates",
            "trustlab.fairness._metrics.x_per_value_groups",
        ],
        "tests": [
            "tests/fairness/test_metric_values.py",
            "tests/fairness/test_metrics.py",
            "tests/fairness/test_metric_properties.py",
        ],
        # 2 x 101 MetricFrame calls: not a fast test
        "pytest_args": [
            "--deselect",
            "tests/fairness/test_metrics.py::test_bootstrap_ci_brackets_estimate_and_is_seeded",
        ],
    },
}

#: Run order: the quickest groups first, so a time limit cuts the slowest.
ORDER = (
    "backdoor",
    "datasets",
    "privacy",
    "fairness-repairs",
    "poisoning-constraint",
    "poisoning-spaces",
    "poisoning-counterfactual",
    "fairness-metrics",
)
GROUPS = {g: GROUPS[g] for g in ORDER}


def _cfg_list(values: list[str]) -> str:
    return "\n" + "\n".join(f"    {v}" for v in values)


def prepare(group: str, spec: dict[str, list[str]]) -> Path:
    """A fresh scratch copy with mutmut's configuration for one group."""
    work = WORK / group
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    shutil.copytree(
        ROOT / "src", work / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    shutil.copytree(ROOT / "tests", work / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    cfg = [
        "[mutmut]",
        "source_paths = src",
        f"only_mutate = {_cfg_list(spec['files'])}",
        f"do_not_mutate_patterns = {_cfg_list(DO_NOT_MUTATE)}",
        f"pytest_add_cli_args_test_selection = {_cfg_list(spec['tests'])}",
        f"pytest_add_cli_args = {_cfg_list(PYTEST_ARGS + spec.get('pytest_args', []))}",
        "use_git_change_detection = false",
        "track_dependencies = false",
        "",
    ]
    (work / "setup.cfg").write_text("\n".join(cfg))
    return work


def run_group(work: Path, spec: dict[str, list[str]], deadline: float) -> dict:
    """``mutmut run`` for the group's functions; interrupted (SIGINT) at the deadline."""
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "TRUSTLAB_HYPOTHESIS_EXAMPLES": str(EXAMPLES),
    }
    globs = [f"{f}__mutmut_*" for f in spec["functions"]]
    cmd = [str(MUTMUT), "run", "--max-children", "1", *globs]
    t0 = time.perf_counter()
    with open(work / "mutmut.log", "w") as log:
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            proc.wait(timeout=max(1.0, deadline - time.time()))
            interrupted = False
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)  # mutmut ignores SIGINT while a mutant runs
            interrupted = True
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return {
        "seconds": round(time.perf_counter() - t0, 1),
        "returncode": proc.returncode,
        "interrupted": interrupted,
        "command": " ".join(["mutmut", "run", "--max-children", "1", *globs]),
    }


def collect(work: Path, spec: dict[str, list[str]]) -> dict:
    """Every selected mutant's status and the survivors' diffs, from mutmut's meta files."""
    from mutmut.stats import status_by_exit_code

    globs = [f"{f}__mutmut_*" for f in spec["functions"]]
    status: dict[str, str] = {}
    for meta in sorted((work / "mutants").rglob("*.meta")):
        data = json.loads(meta.read_text())
        for key, code in data.get("exit_code_by_key", {}).items():
            if any(fnmatch.fnmatchcase(key, g) for g in globs):
                status[key] = status_by_exit_code[code]
    diffs = {}
    for key, st in status.items():
        if st in ("survived", "no tests", "timeout", "suspicious"):
            out = subprocess.run(
                [str(MUTMUT), "show", key], cwd=work, capture_output=True, text=True
            )
            diffs[key] = out.stdout.strip()
    counts: dict[str, int] = {}
    for st in status.values():
        counts[st] = counts.get(st, 0) + 1
    return {"counts": counts, "status": status, "diffs": diffs}


def _commit(files: list[str]) -> str:
    """HEAD, and ``+changes`` when the group's source files differ from it."""
    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", *files], cwd=ROOT, capture_output=True, text=True
    )
    return out.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def markdown(results: dict) -> str:
    lines = [
        "| group | mutants | killed | survived | no tests | timeout | not checked | run (s) | source |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for group, r in results.items():
        c = r["counts"]
        lines.append(
            f"| {group} | {sum(c.values())} | {c.get('killed', 0)} | {c.get('survived', 0)} | "
            f"{c.get('no tests', 0)} | {c.get('timeout', 0)} | {c.get('not checked', 0)} | "
            f"{r['run']['seconds']}{' (stopped)' if r['run']['interrupted'] else ''} | "
            f"{r['run'].get('commit', '')} |"
        )
    lines += ["", "Tests per group and the functions mutated:", ""]
    for group in results:
        spec = GROUPS[group]
        funcs = ", ".join(
            f.rsplit(".", 1)[1].replace("xǁ", "").replace("ǁ", ".").removeprefix("x_")
            for f in spec["functions"]
        )
        lines.append(f"- **{group}** ({', '.join(spec['tests'])}): {funcs}")
    lines += ["", "Mutants not killed (diffs):", ""]
    for r in results.values():
        for key, diff in r["diffs"].items():
            lines += [
                f"<details><summary>{r['status'][key]}: <code>{key}</code></summary>",
                "",
                "```diff",
                diff,
                "```",
                "</details>",
                "",
            ]
    return "\n".join(lines)


def write(results: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "mutation.json").write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    md = RESULTS / "mutation.md"
    begin, end = "<!-- mutation:begin -->", "<!-- mutation:end -->"
    text = md.read_text() if md.exists() else f"# Mutation testing\n\n{begin}\n{end}\n"
    head, _, rest = text.partition(begin)
    _, _, tail = rest.partition(end)
    md.write_text(f"{head}{begin}\n{markdown(results)}\n{end}{tail}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--groups", default=",".join(GROUPS), help="comma-separated groups (default: all)"
    )
    ap.add_argument(
        "--minutes", type=float, default=120.0, help="stop starting mutants after this long"
    )
    ap.add_argument(
        "--report-only",
        action="store_true",
        help="collect the results already under out/mutation again; run nothing",
    )
    args = ap.parse_args()
    groups = [g.strip() for g in args.groups.split(",") if g.strip()]
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        sys.exit(f"unknown group {unknown[0]!r}; choose from {', '.join(GROUPS)}")
    if not MUTMUT.exists():
        sys.exit(f"{MUTMUT} not found: pip install 'mutmut>=3.8,<4'")
    deadline = time.time() + 60 * args.minutes
    previous = (
        json.loads((RESULTS / "mutation.json").read_text())
        if (RESULTS / "mutation.json").exists()
        else {}
    )
    results = {g: r for g, r in previous.items() if g in GROUPS and g not in groups}
    if args.report_only:
        for group in groups:
            if group in results or (WORK / group / "mutants").exists():
                run = previous.get(group, {}).get("run", {"seconds": 0, "interrupted": False})
                results[group] = {"run": run, **collect(WORK / group, GROUPS[group])}
        write({g: results[g] for g in GROUPS if g in results})
        return
    for group in groups:
        if time.time() >= deadline:
            print(f"{group}: skipped (time is up)", flush=True)
            continue
        work = prepare(group, GROUPS[group])
        run = run_group(work, GROUPS[group], deadline)
        run["commit"] = _commit(GROUPS[group]["files"])
        results[group] = {"run": run, **collect(work, GROUPS[group])}
        print(f"{group}: {results[group]['counts']} in {run['seconds']} s", flush=True)
        write({g: results[g] for g in GROUPS if g in results})


if __name__ == "__main__":
    main()
