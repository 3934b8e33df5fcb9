"""Bad input over every command this module owns: exit 2, one line on stderr, nothing written or stranded."""

import numpy as np
import pandas as pd
import pytest

from trustlab.cli import main

COMMANDS = {
    "audit": ["audit"],
    "mitigate": ["mitigate", "--method", "reweighing"],
}
CSV = ["--target", "hired", "--sensitive", "gender"]

CASES = [
    (["--data", "{dir}/missing.csv", *CSV], "file not found"),
    (["--data", "{csv}", "--target", "nope", "--sensitive", "gender"], "no column 'nope'"),
    (["--data", "{csv}", "--target", "hired", "--sensitive", "nope"], "no column 'nope'"),
    (["--data", "{csv}", "--target", "hired", "--sensitive", "gender,nope"], "no column 'nope'"),
    (["--data", "{csv}", "--target", "years", "--sensitive", "gender"], "exactly 2 values"),
    (["--data", "{nan}", *CSV], "missing values"),
    (["--data", "{single}", *CSV], "single group"),
    (["--data", "{empty}", *CSV], "is empty"),
    (["--data", "{tiny}", *CSV], "at least 40 are needed"),
    (["--data", "{rare}", *CSV, "--privileged", "x"], "has 3 rows; at least 10"),
    (["--data", "{csv}", *CSV, "--positive", "yes"], "positive label 'yes' is not a value"),
    (["--data", "{csv}", *CSV, "--privileged", "z"], "privileged value 'z' does not occur"),
    (["--dataset", "german", "--learner", "nope"], "unknown learner 'nope'"),
    (["--dataset", "german", "--learner", "no_such_mod:X"], "cannot import module"),
    (["--dataset", "german", "--learner", "sklearn.preprocessing:StandardScaler"], "no predict"),
    (["--dataset", "german", "--learner", "sklearn.linear_model:LinearRegression"], "is a regressor"),
    (["--dataset", "nope"], "unknown dataset 'nope'"),
    (["--dataset", "german", "--sensitive", "race"], "no sensitive attribute 'race'"),
    (["--dataset", "german", "--privileged", "robot"], "privileged value 'robot' does not occur"),
    (["--dataset", "german", "--target", "credit"], "apply to --data only"),
    ([], "exactly one of --dataset"),
    (["--data", "{csv}"], "--data needs --target"),
    (["--dataset", "german", "--out", "{file}"], "is a file, not a folder"),
    (["--dataset", "german", "--out", "{file}/sub"], "which is a file"),
    (["--dataset", "german", "--out", "{full}"], "add --overwrite"),
    (["--dataset", "german", "--out", "{full}", "--overwrite"], "not a trustlab output folder"),
    (["--dataset", "german", "--out", "/proc/trustlab-test/out"], "cannot be created"),
]  # fmt: skip


@pytest.fixture
def inputs(tmp_path):
    rng = np.random.default_rng(0)
    n = 200
    g = rng.choice(["f", "m"], n)
    df = pd.DataFrame({"x": rng.normal(size=n).round(3), "years": rng.integers(0, 40, n),
                       "gender": g, "hired": rng.integers(0, 2, n)})  # fmt: skip
    paths = {"dir": tmp_path, "csv": tmp_path / "people.csv"}
    df.to_csv(paths["csv"], index=False)
    paths["nan"] = tmp_path / "nan.csv"
    df.assign(hired=df["hired"].where(df.index > 3)).to_csv(paths["nan"], index=False)
    paths["single"] = tmp_path / "single.csv"
    df.assign(gender="f").to_csv(paths["single"], index=False)
    paths["empty"] = tmp_path / "empty.csv"
    paths["empty"].write_text("")
    paths["tiny"] = tmp_path / "tiny.csv"
    df.head(20).to_csv(paths["tiny"], index=False)
    paths["rare"] = tmp_path / "rare.csv"
    df.assign(gender=np.where(df.index < 3, "x", df["gender"])).to_csv(paths["rare"], index=False)
    paths["file"] = tmp_path / "a_file.txt"
    paths["file"].write_text("not a folder")
    paths["full"] = tmp_path / "full"
    paths["full"].mkdir()
    (paths["full"] / "keep.txt").write_text("mine")
    return paths


def _snapshot(folder):
    return sorted((str(p.relative_to(folder)), p.stat().st_size) for p in folder.rglob("*"))


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize(("args", "message"), CASES)
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, inputs, capsys, command, args, message):
    args = [a.format(**inputs) for a in args]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "out")]
    before = _snapshot(tmp_path)
    assert main([*COMMANDS[command], *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err, err
    assert len(err.splitlines()) == 1, err
    assert _snapshot(tmp_path) == before  # nothing written, nothing stranded (no staging or probe folder)


def test_unknown_mitigation_method(tmp_path, capsys):
    assert main(["mitigate", "--method", "magic", "--dataset", "german", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown mitigation method" in err and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_demo_checks_its_folders_first(tmp_path, capsys):
    (tmp_path / "demo").write_text("a file")
    assert main(["demo", "--out", str(tmp_path / "demo")]) == 2
    assert "which is a file" in capsys.readouterr().err


def test_a_learner_whose_predictions_are_not_labels_is_refused(tmp_path, inputs, capsys, monkeypatch):
    (tmp_path / "fake_learner.py").write_text(
        "import numpy as np\n"
        "from sklearn.base import BaseEstimator\n"
        "class Scores(BaseEstimator):\n"
        "    def fit(self, X, y):\n        self.fitted_ = True\n        return self\n"
        "    def predict(self, X):\n        return np.full(len(X), 0.5)\n"
        "class Unfitted(BaseEstimator):\n"
        "    def fit(self, X, y):\n        return self\n"
        "    def predict(self, X):\n        return np.zeros(len(X))\n"
        "class Plain:\n"
        "    def fit(self, X, y):\n        return self\n"
        "    def predict(self, X):\n        return X\n"
    )  # fmt: skip
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "out"
    assert main(["audit", "--data", str(inputs["csv"]), *CSV, "--learner", "fake_learner:Scores",
                 "--out", str(out)]) == 2  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert "not the two labels" in err and len(err.splitlines()) == 1
    assert not out.exists() and not any(p.name.startswith(".out") for p in tmp_path.iterdir())
    assert main(["audit", "--data", str(inputs["csv"]), *CSV, "--learner", "fake_learner:Plain",
                 "--out", str(out)]) == 2  # fmt: skip
    assert "not a scikit-learn estimator" in capsys.readouterr().err
    assert main(["audit", "--data", str(inputs["csv"]), *CSV, "--learner", "fake_learner:Unfitted",
                 "--out", str(out)]) == 2  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert "failed on the training data: NotFittedError" in err and len(err.splitlines()) == 1
    assert not out.exists()
