import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from trustlab.cli import main

BLOCK = {"accuracy", "balanced_accuracy", "statistical_parity_difference", "disparate_impact",
         "equalized_odds_difference", "equal_opportunity_difference", "fpr_difference"}  # fmt: skip
BASE = ["poison", "--target", "hired", "--sensitive", "gender", "--privileged", "m", "--learner", "logreg",
        "--budget", "0.1", "--trials", "5", "--seed", "0"]  # fmt: skip


def test_poison_summary_schema_and_files(mixed_csv, tmp_path):
    out = tmp_path / "run"
    assert main([*BASE, "--data", str(mixed_csv), "--out", str(out)]) == 0
    s = json.loads((out / "summary.json").read_text())
    for name in ("baseline", "poisoned", "random_control"):
        assert set(s[name]["validation"]) == BLOCK and set(s[name]["test"]) == BLOCK
    for key in ("n_train", "n_poison", "trainings", "wall_seconds", "seed", "learner", "metric", "budget"):
        assert key in s
    assert s["learner"] == "logreg" and s["metric"] == "statistical_parity" and s["budget"] == 0.1
    assert s["random_control"]["n_rows"] == s["n_poison"]  # matched control
    assert s["trainings"] >= 5 + 1 + 2  # trials + baseline + poisoned/control evaluation
    poison = pd.read_csv(out / "poison.csv")
    assert list(poison.columns) == ["years", "skill", "degree", "gender", "hired"]
    assert len(poison) == s["n_poison"]
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 5 and {"unfairness", "val_accuracy", "feasible", "accuracy_loss"} <= set(trials.columns)
    for f in ("trials.png", "best_so_far.png", "run.json"):
        assert (out / f).exists()


def test_poison_is_deterministic(mixed_csv, tmp_path):
    for d in ("a", "b"):
        assert main([*BASE, "--data", str(mixed_csv), "--out", str(tmp_path / d)]) == 0
    a = pd.read_csv(tmp_path / "a" / "poison.csv")
    b = pd.read_csv(tmp_path / "b" / "poison.csv")
    assert a.equals(b)
    sa = json.loads((tmp_path / "a" / "summary.json").read_text())
    sb = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert sa["poisoned"]["test"] == sb["poisoned"]["test"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--budget", "0"], "budget must be > 0"),
        (["--budget", "1.5"], "must be <= 1"),
        (["--budget", "100000"], "larger than the training set"),
        (["--budget", "lots"], "is not a number"),
        (["--metric", "nope"], "unknown metric"),
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
    if "--learner" in extra:  # replace the learner rather than give a second one
        i = base.index("--learner")
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
    import trustlab.cli._common as common
    from trustlab.datasets import load_csv

    small = tmp_path / "small.csv"
    pd.read_csv(mixed_csv).rename(columns={"gender": "sex"}).to_csv(small, index=False)

    def small_builtin(name):
        return load_csv(small, target="hired", sensitive="sex", privileged="m", name=name)

    monkeypatch.setattr(common, "load_builtin", small_builtin)
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--trials", "4"]) == 0
    for part, name in (("audit", "audit.json"), ("massaging", "mitigate.json"), ("poison", "summary.json")):
        assert (out / part / name).exists() and (out / part / "report.html").exists()
