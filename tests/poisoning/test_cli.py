import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from trustlab.cli import main

FAIRNESS = {"statistical_parity_difference", "disparate_impact", "equalized_odds_difference",
            "equal_opportunity_difference", "fpr_difference", "fnr_difference"}  # fmt: skip
BASE = ["poison", "--target", "hired", "--sensitive", "gender", "--privileged", "m", "--learner", "logreg",
        "--budget", "0.1", "--trials", "5", "--seed", "0"]  # fmt: skip


def test_poison_summary_schema_and_files(mixed_csv, tmp_path):
    from trustlab.results import validate_result

    out = tmp_path / "run"
    assert main([*BASE, "--data", str(mixed_csv), "--out", str(out)]) == 0
    doc = json.loads((out / "summary.json").read_text())
    validate_result(doc)
    assert doc["command"] == "poison" and doc["learner"] == "logreg" and doc["seed"] == 0
    assert doc["privileged"]["value"] == "m" and doc["positive"]["value"] == "1"
    for arm in ("baseline", "intervention", "control"):
        for part in ("validation", "test"):
            block = doc["arms"][arm][part]
            assert set(block["fairness"]) == FAIRNESS and {"accuracy", "balanced_accuracy"} <= set(block["overall"])
            assert set(block["by_group"]) == {"m", "f"}
    d = doc["details"]
    assert d["metric"] == "statistical_parity_difference" and d["budget"] == 0.1 and d["space"]["name"] == "boundary"
    assert d["n_control"] == d["n_poison"]  # matched control
    assert d["trials"] == 5 and d["resumed"] is False and d["failed_trials"] == []
    # cross-fitting (3) + baseline + 5 trials + intervention + control (+ the best start when it lost)
    # + the visibility check's trainings
    assert doc["cost"]["trainings"] == (3 + 1 + 5 + 2 + (d["search"]["won_by"] != "warm start")
                                        + d["visibility"]["cost"]["trainings"])  # fmt: skip
    assert d["search"]["best_trial"] in range(5) and set(d["search"]["warm_start_trials"]) == {0, 1, 2}
    assert {"exact_duplicate_share", "conflict_share", "flagged_share", "gain_left"} <= set(d["visibility"])
    poison = pd.read_csv(out / "poison.csv")
    assert list(poison.columns) == ["hired", "years", "skill", "degree", "gender"]  # the label first
    assert len(poison) == d["n_poison"]
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 5 and {"unfairness", "val_accuracy", "feasible", "accuracy_loss",
                                 "accuracy_loss_bound", "origin"} <= set(trials.columns)  # fmt: skip
    assert list(trials["trial"]) == list(range(5))
    for f in ("trials.png", "best_so_far.png", "run.json", "report.html"):
        assert (out / f).exists()


def test_poison_csv_keeps_the_users_label_values(tmp_path, mixed_csv):
    frame = pd.read_csv(mixed_csv)
    frame["hired"] = frame["hired"].map({1: "granted", 0: "rejected"})
    path = tmp_path / "labels.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "run"
    args = [a if a != "1" else a for a in BASE]
    assert main([*args, "--data", str(path), "--positive", "granted", "--out", str(out)]) == 0
    doc = json.loads((out / "summary.json").read_text())
    assert doc["positive"]["value"] == "granted"
    assert set(pd.read_csv(out / "poison.csv")["hired"]) <= {"granted", "rejected"}


def test_poison_is_deterministic(mixed_csv, tmp_path):
    for d in ("a", "b"):
        assert main([*BASE, "--data", str(mixed_csv), "--out", str(tmp_path / d)]) == 0
    a = pd.read_csv(tmp_path / "a" / "poison.csv")
    b = pd.read_csv(tmp_path / "b" / "poison.csv")
    assert a.equals(b)
    sa = json.loads((tmp_path / "a" / "summary.json").read_text())
    sb = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert sa["arms"] == sb["arms"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--budget", "0"], "--budget is a fraction of the training rows in (0, 1]"),
        (["--budget", "1.5"], "--budget is a fraction of the training rows in (0, 1]"),
        (["--budget-rows", "100000"], "larger than the training set"),
        (["--budget-rows", "0"], "--budget-rows must be a positive row count"),
        (["--budget-rows", "5", "--budget", "0.2"], "give --budget (a fraction of the training rows) or --budget-rows"),
        (["--budget", "lots"], "'--budget'"),
        (["--metric", "nope"], "unknown metric"),
        (["--space", "nope"], "unknown space 'nope'; choose from boundary, counterfactual, bands"),
        (["--accuracy-bound", "nope"], "unknown accuracy bound"),
        (["--confidence", "1.5"], "confidence must be in [0.5, 1)"),
        (["--trials", "0"], "n_trials must be a positive integer"),
        (["--sampler", "nope"], "unknown sampler"),
        (["--objective", "nope"], "unknown objective"),
        (["--storage", "sqlite:////no/such/dir/s.db", "--study-name", "s"], "cannot open storage"),
        (["--storage", "sqlite:///x.db"], "--storage needs --study-name"),
        (["--learner", "nope"], "unknown learner"),
    ],
)
def test_bad_input_exit_2_nothing_written(mixed_csv, tmp_path, capsys, extra, message):
    out = tmp_path / "out"
    base = list(BASE)
    for opt in ("--learner", "--budget"):  # replace the option rather than give it twice
        if opt in extra or (opt == "--budget" and "--budget-rows" in extra):
            i = base.index(opt)
            del base[i : i + 2]
    assert main([*base, "--data", str(mixed_csv), *extra, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not out.exists()


def test_storage_runs_print_no_optuna_warnings_in_a_real_process(mixed_csv, tmp_path):
    """Outside pytest's warning capture: optuna's experimental warnings must not reach the user."""
    prog = "import sys; from trustlab.cli import main; sys.exit(main(sys.argv[1:]))"

    def run(url: str, out: Path) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-c", prog, *BASE, "--data", str(mixed_csv), "--storage", url, "--study-name", "s",
               "--out", str(out)]  # fmt: skip
        return subprocess.run(cmd, capture_output=True, text=True, timeout=300)

    ok = run(f"sqlite:///{tmp_path / 's.db'}", tmp_path / "ok")
    assert ok.returncode == 0 and ok.stderr.strip() == "", ok.stderr
    bad = run("sqlite:////no/such/dir/s.db", tmp_path / "bad")
    assert bad.returncode == 2
    assert len(bad.stderr.strip().splitlines()) == 1 and "cannot open storage" in bad.stderr, bad.stderr
    assert not (tmp_path / "bad").exists()


def test_study_with_different_configuration_is_refused(mixed_csv, tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 's.db'}"
    args = [*BASE, "--data", str(mixed_csv), "--storage", url, "--study-name", "fair"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b")]) == 0  # same config: resumes, nothing to do
    capsys.readouterr()
    assert main([*args, "--metric", "fpr_gap", "--out", str(tmp_path / "c")]) == 2
    assert "different configuration" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()
    assert main([*args, "--space", "bands", "--out", str(tmp_path / "d")]) == 2  # another space
    err = capsys.readouterr().err
    assert "different configuration" in err and "space" in err
    assert not (tmp_path / "d").exists()


def test_a_resumed_run_says_so_and_counts_every_trial(mixed_csv, tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    args = [*BASE, "--data", str(mixed_csv), "--storage", url, "--study-name", "fair"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    first = json.loads((tmp_path / "a" / "summary.json").read_text())
    again = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert first["details"]["resumed"] is False and again["details"]["resumed"] is True
    assert again["details"]["trials_before_resume"] == 5 and again["details"]["trials"] == 5
    assert again["arms"] == first["arms"]


def test_worker_unknown_study(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    assert main(["worker", "--storage", url, "--study-name", "ghost"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_bo_takes_one_learner(mixed_csv, tmp_path, capsys):
    out = tmp_path / "out"
    assert main([*BASE, "--learner", "rf", "--data", str(mixed_csv), "--out", str(out)]) == 2
    assert "give --learner once" in capsys.readouterr().err
    assert not out.exists()


def test_demo_runs_end_to_end(monkeypatch, mixed_csv, tmp_path):
    """`make demo`'s command end to end, with a small CSV standing in for Adult so it stays fast."""
    import trustlab.datasets
    from trustlab.datasets import load_csv

    small = tmp_path / "small.csv"
    pd.read_csv(mixed_csv).rename(columns={"gender": "sex"}).to_csv(small, index=False)
    loaded = []

    def small_builtin(name):
        loaded.append(name)
        return load_csv(small, target="hired", sensitive="sex", privileged="m", name=name)

    monkeypatch.setattr(trustlab.datasets, "load_builtin", small_builtin)
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--trials", "4"]) == 0
    assert loaded == ["adult"] * 4  # every step ran on the stand-in, none on the real Adult
    for part, name in (("audit", "audit.json"), ("massaging", "mitigate.json"), ("poison", "summary.json"),
                       ("frontier", "frontier.json")):  # fmt: skip
        assert (out / part / name).exists() and (out / part / "report.html").exists()
