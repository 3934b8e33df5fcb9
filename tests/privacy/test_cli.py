import json
import sys

import joblib
import numpy as np
import pandas as pd
import pytest

from trustlab.cli import main

FIELDS = {"auc", "balanced_accuracy", "tpr_at_1pct_fpr", "tpr_at_0_1pct_fpr", "by_group"}


def test_cli_schema(tmp_path):
    out = tmp_path / "run"
    rc = main(["privacy", "--dataset", "synthetic", "--sensitive", "group", "--learner", "mlp",
               "--fair-method", "penalty", "--fairness-weight", "1.0", "--attacks", "loss,shadow,lira,fdmia,label",
               "--shadows", "4", "--defence", "dpsgd", "--epsilon", "4", "--epochs", "2", "--max-rows", "800",
               "--hidden", "8,8", "--weight-decay", "0.001", "--seed", "0", "--out", str(out)])  # fmt: skip
    assert rc == 0
    doc = json.loads((out / "summary.json").read_text())
    assert doc["command"] == "privacy" and doc["schema_version"] and doc["seed"] == 0
    assert set(doc["arms"]) == {"baseline", "intervention"}
    assert "statistical_parity_difference" in doc["arms"]["intervention"]["test"]["fairness"]
    s = doc["details"]
    for role in ("biased", "fair"):
        assert {"accuracy", "fairness", "attacks"} <= set(s[role])
        assert set(s[role]["attacks"]) == {"loss", "shadow", "lira", "lira_offline", "label"}
        for block in s[role]["attacks"].values():
            assert FIELDS <= set(block)
            assert all("auc" in g for g in block["by_group"].values())
    assert FIELDS <= set(s["fdmia"])
    assert s["defence"] == "dpsgd"
    assert 0 < s["epsilon_spent"] <= 4 * 1.05
    for f in ("roc_biased.png", "roc_fair.png", "discrepancy.png", "group_auc.png", "run.json", "scores.csv",
              "risk.csv", "risk.png"):
        assert (out / f).exists(), f
    risk = pd.read_csv(out / "risk.csv")
    assert list(risk.columns[:3]) == ["row", "group", "member"] and risk.columns[-1] == "rank"
    assert json.loads((out / "run.json").read_text())["kind"] == "privacy"


def test_cli_repair_pair(tmp_path):
    out = tmp_path / "rep"
    rc = main(["privacy", "--dataset", "compas", "--learner", "logreg", "--repair", "reweighing",
               "--attacks", "loss,rmia,fdmia", "--rmia-references", "2", "--shadows", "4", "--max-rows", "800",
               "--out", str(out)])  # fmt: skip
    assert rc == 0
    doc = json.loads((out / "summary.json").read_text())
    assert doc["method"] == "reweighing" and doc["learner"] == "logreg"
    assert doc["details"]["fair"]["attacks"]["rmia"]["references"] == 2


def test_cli_dp_audit(tmp_path):
    out = tmp_path / "dp"
    rc = main(["dp-audit", "--dataset", "synthetic", "--canaries", "40", "--train-rows", "200", "--epochs", "3",
               "--epsilon", "2", "--out", str(out)])  # fmt: skip
    assert rc == 0
    runs = json.loads((out / "summary.json").read_text())["details"]["runs"]
    assert set(runs) == {"no_dp", "dpsgd"}
    assert runs["dpsgd"]["epsilon_lower_bound"] <= runs["dpsgd"]["epsilon_accounted"] <= 2 * 1.05


def _bad(tmp_path, capsys, args, match, command="privacy"):
    out = tmp_path / "out"
    rc = main([command, "--dataset", "synthetic", "--epochs", "1", "--out", str(out),
               *(["--shadows", "2"] if command == "privacy" else []), *args])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert err.startswith("error:") and len(err.splitlines()) == 1 and match in err, err
    assert not out.exists()


@pytest.mark.parametrize("args,match", [
    (["--attacks", "loss,telepathy"], "unknown attack 'telepathy'"),
    (["--repair", "magic"], "unknown repair 'magic'"),
    (["--repair", "penalty"], "unknown repair 'penalty'"),
    (["--hidden", "256,x"], "--hidden must be a comma list of positive integers"),
    (["--hidden", "256,0"], "--hidden must be a comma list of positive integers"),
    (["--hidden", ""], "--hidden must be a comma list of positive integers"),
    (["--learner", "sklearn.svm:LinearSVC", "--repair", "threshold-optimizer"], "has no predict_proba"),
    (["--learner", "rf", "--fair-method", "penalty"], "penalty trains the torch MLP"),
    (["--defence", "blur"], "unknown defence 'blur'"),
    (["--defence", "dpsgd", "--epsilon", "0"], "--epsilon must be > 0"),
    (["--defence", "dpsgd", "--epsilon", "-1"], "--epsilon must be > 0"),
    (["--fair-method", "magic"], "unknown fair method"),
    (["--rmia-references", "3"], "--rmia-references must be between 1 and --shadows (2)"),
    (["--member-fraction", "0.45", "--attacks", "loss"], "too few samples"),
])  # fmt: skip
def test_cli_bad_options(tmp_path, capsys, args, match):
    _bad(tmp_path, capsys, args, match)


@pytest.mark.parametrize("args,match", [
    (["--canaries", "300", "--train-rows", "200"], "more than the 200 training rows"),
    (["--epsilon", "0"], "--epsilon must be > 0"),
    (["--epsilon", "-3"], "--epsilon must be > 0"),
    (["--hidden", "a"], "--hidden must be a comma list"),
    (["--canaries", "5000", "--train-rows", "9000"], "the data has"),
])  # fmt: skip
def test_dp_audit_bad_options(tmp_path, capsys, args, match):
    _bad(tmp_path, capsys, args, match, command="dp-audit")


def test_cli_overlapping_members(tmp_path, capsys):
    (tmp_path / "m.txt").write_text("\n".join(map(str, range(0, 300))))
    (tmp_path / "n.txt").write_text("\n".join(map(str, range(250, 550))))
    _bad(tmp_path, capsys, ["--members", str(tmp_path / "m.txt"), "--non-members", str(tmp_path / "n.txt")],
         "overlaps the evaluation non-members")


def test_cli_model_file_that_does_not_load(tmp_path, capsys):
    (tmp_path / "m.txt").write_text("\n".join(map(str, range(300))))
    (tmp_path / "bad.joblib").write_bytes(b"not a pickle")
    joblib.dump(np.arange(3), tmp_path / "notamodel.joblib")
    args = ["--members", str(tmp_path / "m.txt"), "--biased-model", str(tmp_path / "bad.joblib"),
            "--fair-model", str(tmp_path / "bad.joblib")]  # fmt: skip
    _bad(tmp_path, capsys, args, "cannot load model file")
    args[3] = args[5] = str(tmp_path / "notamodel.joblib")
    _bad(tmp_path, capsys, args, "does not give class probabilities")


def test_cli_module_imports_light():
    import subprocess

    code = ("import sys, trustlab.cli._privacy; "
            "print(sorted(m for m in ('torch', 'pandas', 'sklearn', 'trustlab.privacy', 'numpy') if m in sys.modules))")  # fmt: skip
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "[]", res.stdout
