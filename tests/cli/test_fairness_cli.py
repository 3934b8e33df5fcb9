import json

import numpy as np
import pandas as pd
import pytest

from trustlab.cli import main
from trustlab.results import validate_result

FAIRNESS = {"statistical_parity_difference", "disparate_impact", "equalized_odds_difference",
            "equal_opportunity_difference", "fpr_difference", "fnr_difference"}  # fmt: skip


def people(n=300, seed=0, labels=(0, 1), groups=("f", "m")):
    rng = np.random.default_rng(seed)
    g = rng.choice(list(groups), n)
    x = rng.normal(size=n) + 0.7 * (g == groups[-1])
    hired = (x + rng.normal(scale=0.5, size=n) > 0.4).astype(int)
    return pd.DataFrame({
        "x": x.round(3),
        "years": rng.integers(0, 40, n),
        "city": rng.choice(["a", "b"], n),
        "gender": g,
        "hired": np.where(hired == 1, labels[1], labels[0]),
    })


@pytest.fixture
def csv(tmp_path):
    path = tmp_path / "people.csv"
    people().to_csv(path, index=False)
    return path


def _load(path):
    doc = json.loads(path.read_text())
    validate_result(doc)  # every written result follows the shipped schema
    return doc


def test_audit_writes_a_valid_result_document(tmp_path):
    out = tmp_path / "audit"
    assert main(["audit", "--dataset", "german", "--sensitive", "sex", "--learner", "logreg",
                 "--seed", "1", "--out", str(out)]) == 0  # fmt: skip
    doc = _load(out / "audit.json")
    assert doc["command"] == "audit" and doc["seed"] == 1 and doc["learner"] == "logreg"
    assert doc["data"] == {"dataset": "german", "sensitive": "sex", "n_train": 560, "n_val": 140, "n_test": 300}
    assert doc["positive"]["value"] == "1" and doc["positive"]["meaning"] == "good credit"
    assert doc["privileged"] == {"attribute": "sex", "value": "male", "groups": ["female", "male"],
                                 "rule": "dataset default: 'male' is the privileged group"}  # fmt: skip
    assert doc["cost"]["trainings"] == 1 and doc["cost"]["cores"] >= 1
    base = doc["arms"]["baseline"]
    assert set(base) == {"validation", "test"}
    assert set(base["test"]["by_group"]) == {"male", "female"}
    assert set(base["test"]["fairness"]) == FAIRNESS
    assert (out / "by_group.csv").exists() and (out / "by_group.png").exists()
    run = json.loads((out / "run.json").read_text())
    assert run["kind"] == "audit" and "versions" in run and run["positive"] == "1"


def test_audit_is_deterministic(tmp_path):
    args = ["audit", "--dataset", "compas", "--sensitive", "race", "--learner", "logreg", "--seed", "2"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    a, b = (json.loads((tmp_path / x / "audit.json").read_text()) for x in "ab")
    for d in (a, b):
        d["cost"].pop("wall_seconds"), d["details"].pop("fit_seconds")
    assert a == b


def test_string_labels_positive_is_recorded_with_its_rule(tmp_path, capsys):
    path = tmp_path / "loans.csv"
    people(labels=("rejected", "granted")).to_csv(path, index=False)
    base = ["audit", "--data", str(path), "--target", "hired", "--sensitive", "gender", "--learner", "logreg"]
    assert main([*base, "--out", str(tmp_path / "auto")]) == 0
    printed = capsys.readouterr().out
    assert "y=1 is 'rejected'" in printed and "sorts last" in printed  # said once, before the work
    auto = _load(tmp_path / "auto" / "audit.json")
    assert auto["positive"]["value"] == "rejected" and "give --positive" in auto["positive"]["rule"]
    assert auto["privileged"]["value"] in ("f", "m") and "most frequent" in auto["privileged"]["rule"]
    assert main([*base, "--positive", "granted", "--privileged", "m", "--out", str(tmp_path / "given")]) == 0
    given = _load(tmp_path / "given" / "audit.json")
    assert given["positive"] == {"value": "granted", "negative": "rejected", "meaning": "granted",
                                 "rule": "given (--positive)"}  # fmt: skip
    assert given["privileged"]["rule"] == "given (--privileged)"
    spd = given["arms"]["baseline"]["test"]["fairness"]["statistical_parity_difference"]
    assert spd > 0.1  # m (privileged) is granted more often: the favourable rate, not the rejection rate


def test_three_valued_attribute_gets_every_group_and_the_worst_pair(tmp_path):
    path = tmp_path / "three.csv"
    people(n=600, groups=("a", "b", "c")).to_csv(path, index=False)
    out = tmp_path / "o"
    assert main(["audit", "--data", str(path), "--target", "hired", "--sensitive", "gender", "--privileged", "c",
                 "--learner", "logreg", "--out", str(out)]) == 0  # fmt: skip
    test = _load(out / "audit.json")["arms"]["baseline"]["test"]
    assert set(test["by_group"]) == {"c", "not c"}
    groups = test["groups"]
    assert groups["reference"] == "c" and set(groups["by_value"]) == {"a", "b", "c"}
    worst = groups["worst_pair"]["selection_rate"]
    rates = [r["selection_rate"] for r in groups["by_value"].values()]
    assert worst["gap"] == pytest.approx(max(rates) - min(rates)) and len(worst["groups"]) == 2
    rows = pd.read_csv(out / "by_group.csv")
    assert set(rows.loc[rows["level"] == "every value", "group"]) == {"a", "b", "c"}


def test_intersectional_groups(tmp_path):
    path = tmp_path / "p.csv"
    people(n=600).to_csv(path, index=False)
    out = tmp_path / "o"
    assert main(["audit", "--data", str(path), "--target", "hired", "--sensitive", "gender,city",
                 "--privileged", "m,a", "--learner", "logreg", "--out", str(out)]) == 0  # fmt: skip
    doc = _load(out / "audit.json")
    assert doc["data"]["sensitive"] == "gender,city"
    assert doc["privileged"]["value"] == "m & a" and doc["privileged"]["rule"] == "given (--privileged)"
    assert set(doc["arms"]["baseline"]["test"]["groups"]["by_value"]) == {"m & a", "m & b", "f & a", "f & b"}


def test_builtin_intersection_defaults_to_the_privileged_combination(tmp_path):
    out = tmp_path / "o"
    assert main(["audit", "--dataset", "german", "--sensitive", "sex,age", "--learner", "logreg",
                 "--out", str(out)]) == 0  # fmt: skip
    doc = _load(out / "audit.json")
    assert doc["privileged"]["value"] == "male & >=25"
    assert "combination" in doc["privileged"]["rule"]


@pytest.mark.parametrize("method", ["massaging", "reweighing", "exponentiated-gradient", "threshold-optimizer"])
def test_mitigate_writes_a_valid_result_document(csv, tmp_path, method, capsys):
    out = tmp_path / method
    assert main(["mitigate", "--method", method, "--data", str(csv), "--target", "hired",
                 "--sensitive", "gender", "--privileged", "m", "--learner", "logreg",
                 "--out", str(out)]) == 0  # fmt: skip
    doc = _load(out / "mitigate.json")
    assert doc["command"] == "mitigate" and doc["method"] == method
    for arm in ("baseline", "intervention"):
        assert set(doc["arms"][arm]) == {"validation", "test"}
        assert set(doc["arms"][arm]["test"]["fairness"]) == FAIRNESS
    changes = doc["details"]["changes"]
    assert changes
    expected = {"massaging": 3, "reweighing": 2, "threshold-optimizer": 1}
    if method in expected:
        assert doc["cost"]["trainings"] == expected[method]
    else:
        assert doc["cost"]["trainings"] > 2
    if method == "massaging":
        assert changes["rows_relabelled"] > 0
    if method == "reweighing":
        assert changes["weight_min"] < 1 < changes["weight_max"]
    printed = capsys.readouterr().out
    assert "+nan" not in printed and "{" not in printed.split("changes:")[1].splitlines()[0]
    acc_row = next(line for line in printed.splitlines() if line.strip("│ ").startswith("accuracy"))
    assert "+" not in acc_row  # accuracy has no sign


def test_overwrite_replaces_the_folder_whole(tmp_path, csv):
    out = tmp_path / "o"
    args = ["audit", "--data", str(csv), "--target", "hired", "--sensitive", "gender", "--learner", "logreg"]
    assert main([*args, "--out", str(out)]) == 0
    (out / "stale.txt").write_text("from an older run")
    assert main([*args, "--out", str(out)]) == 2  # refused: not empty
    assert (out / "stale.txt").exists()
    assert main([*args, "--out", str(out), "--overwrite"]) == 0
    assert not (out / "stale.txt").exists() and (out / "audit.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o", "people.csv"]


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


def test_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("audit", "mitigate", "datasets", "report"):
        assert name in out
    assert main(["audit", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--overwrite" in out and "--learner-jobs" in out and out.count("--n-jobs") == 0
