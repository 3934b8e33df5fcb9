import json

import numpy as np
import pandas as pd
import pytest

from trustlab.cli import main

FAIRNESS = {"statistical_parity_difference", "disparate_impact", "equalized_odds_difference",
            "equal_opportunity_difference", "fpr_difference", "fnr_difference"}  # fmt: skip


@pytest.fixture
def csv(tmp_path):
    rng = np.random.default_rng(0)
    n = 300
    g = rng.choice(["f", "m"], n)
    x = rng.normal(size=n) + 0.7 * (g == "m")
    df = pd.DataFrame({
        "x": x.round(3),
        "years": rng.integers(0, 40, n),
        "city": rng.choice(["a", "b"], n),
        "gender": g,
        "hired": (x + rng.normal(scale=0.5, size=n) > 0.4).astype(int),
    })
    path = tmp_path / "people.csv"
    df.to_csv(path, index=False)
    return path


def test_audit_json_schema(tmp_path):
    out = tmp_path / "audit"
    assert main(["audit", "--dataset", "german", "--sensitive", "sex", "--learner", "logreg",
                 "--seed", "1", "--out", str(out)]) == 0  # fmt: skip
    data = json.loads((out / "audit.json").read_text())
    assert {"dataset", "sensitive", "learner", "seed", "n_train", "n_test", "overall", "by_group",
            "fairness"} <= set(data)  # fmt: skip
    assert data["dataset"] == "german" and data["seed"] == 1 and data["learner"] == "logreg"
    assert data["n_train"] + data["n_test"] < 1000  # validation part held back
    assert set(data["overall"]) == {"accuracy", "balanced_accuracy"}
    assert set(data["by_group"]) == {"male", "female"}
    for g in data["by_group"].values():
        assert set(g) == {"n", "selection_rate", "accuracy", "tpr", "fpr"}
    assert set(data["fairness"]) == FAIRNESS
    assert (out / "by_group.csv").exists() and (out / "by_group.png").exists()
    run = json.loads((out / "run.json").read_text())
    assert run["kind"] == "audit" and "versions" in run


def test_audit_is_deterministic(tmp_path):
    args = ["audit", "--dataset", "compas", "--sensitive", "race", "--learner", "rf", "--seed", "2"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    a = json.loads((tmp_path / "a" / "audit.json").read_text())
    b = json.loads((tmp_path / "b" / "audit.json").read_text())
    a.pop("fit_seconds"), b.pop("fit_seconds")
    assert a == b


def test_audit_own_csv(csv, tmp_path):
    out = tmp_path / "o"
    assert main(["audit", "--data", str(csv), "--target", "hired", "--sensitive", "gender",
                 "--privileged", "m", "--learner", "xgb", "--out", str(out)]) == 0  # fmt: skip
    data = json.loads((out / "audit.json").read_text())
    assert data["fairness"]["statistical_parity_difference"] > 0


@pytest.mark.parametrize("method", ["massaging", "reweighing", "exponentiated-gradient", "threshold-optimizer"])
def test_mitigate_json_schema(csv, tmp_path, method):
    out = tmp_path / method
    assert main(["mitigate", "--method", method, "--data", str(csv), "--target", "hired",
                 "--sensitive", "gender", "--privileged", "m", "--learner", "logreg",
                 "--out", str(out)]) == 0  # fmt: skip
    data = json.loads((out / "mitigate.json").read_text())
    for block in ("baseline", "mitigated"):
        assert set(data[block]["overall"]) == {"accuracy", "balanced_accuracy"}
        assert set(data[block]["fairness"]) == FAIRNESS
    assert data["changes"]
    if method == "massaging":
        assert data["changes"]["rows_relabelled"] > 0
    if method == "reweighing":
        assert data["changes"]["weight_min"] < 1 < data["changes"]["weight_max"]


def _bad(tmp_path, csv, capsys, args, message):
    out = tmp_path / "out"
    assert main([*args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err, err
    assert len(err.splitlines()) == 1
    assert not out.exists()
    assert not any(p.name.startswith(".out") for p in tmp_path.iterdir())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data", "{dir}/missing.csv", "--target", "hired", "--sensitive", "gender"], "file not found"),
        (["--data", "{csv}", "--target", "nope", "--sensitive", "gender"], "no column 'nope'"),
        (["--data", "{csv}", "--target", "hired", "--sensitive", "nope"], "no column 'nope'"),
        (["--data", "{csv}", "--target", "years", "--sensitive", "gender"], "exactly 2 values"),
        (["--data", "{nan}", "--target", "hired", "--sensitive", "gender"], "missing values"),
        (["--data", "{single}", "--target", "hired", "--sensitive", "gender"], "single group"),
        (["--data", "{empty}", "--target", "hired", "--sensitive", "gender"], "is empty"),
        (["--dataset", "german", "--learner", "nope"], "unknown learner 'nope'"),
        (["--dataset", "german", "--learner", "no_such_mod:X"], "cannot import module"),
        (["--dataset", "german", "--learner", "sklearn.preprocessing:StandardScaler"], "no predict"),
        (["--dataset", "nope"], "unknown dataset 'nope'"),
        (["--dataset", "german", "--sensitive", "race"], "no sensitive attribute 'race'"),
        ([], "exactly one of --dataset"),
        (["--data", "{csv}"], "--data needs --target"),
    ],
)
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, csv, capsys, args, message):
    df = pd.read_csv(csv)
    paths = {"csv": csv, "dir": tmp_path}
    paths["nan"] = tmp_path / "nan.csv"
    df.assign(hired=df["hired"].where(df.index > 3)).to_csv(paths["nan"], index=False)
    paths["single"] = tmp_path / "single.csv"
    df.assign(gender="f").to_csv(paths["single"], index=False)
    paths["empty"] = tmp_path / "empty.csv"
    paths["empty"].write_text("")
    args = [a.format(**paths) for a in args]
    _bad(tmp_path, csv, capsys, ["audit", *args], message)


def test_mitigate_unknown_method(tmp_path, csv, capsys):
    _bad(tmp_path, csv, capsys, ["mitigate", "--method", "magic", "--dataset", "german"], "unknown mitigation method")


def test_datasets_command_lists_rows(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "45,222" in out and "6,172" in out and "1,000" in out


@pytest.mark.parametrize("args", [["audit", "--bogus"], ["audit", "--dataset", "german", "--seed", "x"], []])
def test_usage_errors_are_one_line_and_exit_2(capsys, args):
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    if args:
        assert err.startswith("error:") and len(err.splitlines()) == 1, err


def test_help_exits_0(capsys):
    assert main(["--help"]) == 0
    assert "audit" in capsys.readouterr().out
