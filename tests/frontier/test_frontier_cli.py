"""``trustlab frontier``: bad input is one line, exit 2, nothing written."""

import pytest

from trustlab.cli import main

BASE = ["frontier", "--dataset", "synthetic", "--learner", "logreg", "--trials", "2"]


@pytest.mark.parametrize(("extra", "message"), [
    (["--budgets", ""], "empty"),
    (["--budgets", "0.1,0.05"], "increasing"),
    (["--budgets", "0,0.1"], "(0, 1]"),
    (["--budgets", "0.05,1.5"], "(0, 1]"),
    (["--budgets", "0.05,x"], "comma-separated"),
    (["--metric", "nope"], "unknown metric"),
    (["--space", "nope"], "unknown space"),
    (["--sampler", "nope"], "unknown sampler"),
    (["--eg-bounds", "0,0.1"], "bound"),
    (["--trials", "0"], "trials"),
    (["--learner", "nope"], "unknown learner"),
])
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, capsys, extra, message):
    out = tmp_path / "fr"
    assert main([*BASE, *extra, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and message in err and "\n" not in err
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


SMALL_RUN = ["--budgets", "0.05,0.1", "--trials", "2", "--eg-bounds", "0.05", "--eg-max-iter", "1"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("frontier") / "out"
    assert main([*BASE, *SMALL_RUN, "--out", str(out)]) == 0
    return out


def test_frontier_folder_and_result_schema(run_dir):
    import pandas as pd

    from trustlab.results import read_result

    assert {"frontier.json", "frontier.csv", "frontier.png", "report.html", "run.json"} <= {
        p.name for p in run_dir.iterdir()}
    doc = read_result(run_dir / "frontier.json")  # validates against the shipped schema
    assert doc["command"] == "frontier" and doc["seed"] == 0 and doc["learner"] == "logreg"
    assert set(doc["arms"]) == {"baseline", "intervention", "control"}
    d = doc["details"]
    assert d["metric"] == "statistical_parity_difference" and d["budgets"] == [0.05, 0.1]
    kinds = [p["kind"] for p in d["points"]]
    assert kinds[0] == "baseline" and kinds.count("poisoning") == 2 and kinds.count("control") == 2
    methods = {p["method"] for p in d["points"]}
    assert {"thresholds", "threshold-optimizer", "massaging", "reweighing", "exponentiated-gradient"} <= methods
    for p in d["points"]:
        assert {"method", "kind", "setting", "validation", "test"} <= set(p)
        for part in ("validation", "test"):
            assert {"accuracy", "balanced_accuracy", "unfairness", "statistical_parity_difference"} <= set(p[part])
    assert [g["budget"] for g in d["frontier_gap"]] == [0.05, 0.1]
    env = d["envelope"]
    assert [e["accuracy"] for e in env] == sorted(e["accuracy"] for e in env)
    assert all(e["method"] not in ("poisoning", "random control") for e in env)
    assert doc["cost"]["trainings"] == d["cost"]["trainings"] > 0
    table = pd.read_csv(run_dir / "frontier.csv")
    assert len(table) == len(d["points"])
    assert table.loc[table.kind == "poisoning", "frontier_gap"].notna().all()


def test_frontier_is_deterministic(run_dir, tmp_path):
    import json

    out = tmp_path / "again"
    assert main([*BASE, *SMALL_RUN, "--out", str(out)]) == 0
    a = json.loads((run_dir / "frontier.json").read_text())["details"]
    b = json.loads((out / "frontier.json").read_text())["details"]
    strip = lambda pts: [{k: v for k, v in p.items() if k not in ("cost", "details")} for p in pts]  # noqa: E731
    assert strip(a["points"]) == strip(b["points"])
    assert a["envelope"] == b["envelope"] and a["frontier_gap"] == b["frontier_gap"]


def test_existing_output_folder_is_refused(run_dir, capsys):
    before = sorted(p.name for p in run_dir.iterdir())
    assert main([*BASE, *SMALL_RUN, "--out", str(run_dir)]) == 2
    assert "\n" not in capsys.readouterr().err.strip()
    assert sorted(p.name for p in run_dir.iterdir()) == before


def test_command_module_imports_nothing_heavy():
    import subprocess
    import sys

    code = ("import sys, trustlab.cli._frontier; "
            "print([m for m in ('pandas', 'sklearn', 'fairlearn', 'optuna', 'matplotlib', 'numpy', "
            "'trustlab.frontier', 'trustlab.poisoning') if m in sys.modules])")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
