import json

import joblib
import numpy as np
import pytest

from trustlab.cli import main

FIELDS = {"auc", "balanced_accuracy", "tpr_at_1pct_fpr", "tpr_at_0_1pct_fpr", "by_group"}


def test_cli_schema(tmp_path):
    out = tmp_path / "run"
    rc = main(["privacy", "--dataset", "synthetic", "--sensitive", "group", "--model", "mlp",
               "--fair-method", "penalty", "--fairness-weight", "1.0", "--attacks", "loss,shadow,lira,fdmia,label",
               "--shadows", "4", "--defence", "dpsgd", "--epsilon", "4", "--epochs", "2", "--max-rows", "800",
               "--seed", "0", "--out", str(out)])  # fmt: skip
    assert rc == 0
    s = json.loads((out / "summary.json").read_text())
    for role in ("biased", "fair"):
        assert {"accuracy", "fairness", "attacks"} <= set(s[role])
        assert "statistical_parity_difference" in s[role]["fairness"]
        assert set(s[role]["attacks"]) == {"loss", "shadow", "lira", "lira_offline", "label"}
        for block in s[role]["attacks"].values():
            assert FIELDS <= set(block)
            assert all("auc" in g for g in block["by_group"].values())
    assert FIELDS <= set(s["fdmia"])
    assert s["defence"] == "dpsgd" and s["seed"] == 0
    assert 0 < s["epsilon_spent"] <= 4 * 1.05
    for f in ("roc_biased.png", "roc_fair.png", "discrepancy.png", "group_auc.png", "run.json", "scores.csv"):
        assert (out / f).exists(), f
    assert json.loads((out / "run.json").read_text())["kind"] == "privacy"


def _bad(tmp_path, capsys, args, match):
    out = tmp_path / "out"
    rc = main(["privacy", "--dataset", "synthetic", "--epochs", "1", "--shadows", "2", "--out", str(out), *args])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert err.startswith("error:") and len(err.splitlines()) == 1 and match in err, err
    assert not out.exists()


@pytest.mark.parametrize("args,match", [
    (["--attacks", "loss,telepathy"], "unknown attack 'telepathy'"),
    (["--defence", "blur"], "unknown defence 'blur'"),
    (["--defence", "dpsgd", "--epsilon", "0"], "--epsilon must be > 0"),
    (["--defence", "dpsgd", "--epsilon", "-1"], "--epsilon must be > 0"),
    (["--fair-method", "magic"], "unknown fair method"),
    (["--member-fraction", "0.45", "--attacks", "loss"], "too few samples"),
])  # fmt: skip
def test_cli_bad_options(tmp_path, capsys, args, match):
    _bad(tmp_path, capsys, args, match)


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
