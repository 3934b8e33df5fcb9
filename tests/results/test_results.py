import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from trustlab import ConfigError
from trustlab.results import (
    SCHEMA_VERSION,
    ResultSchemaError,
    prepare_out,
    read_result,
    result_document,
    result_schema,
    staged_output,
    validate_result,
    write_result,
)


def _block(spd=0.1):
    g = {"n": 10, "selection_rate": 0.5, "accuracy": 0.8, "tpr": np.float64(0.7), "fpr": float("nan")}
    return {"overall": {"accuracy": 0.8, "balanced_accuracy": 0.75},
            "fairness": {"statistical_parity_difference": spd, "disparate_impact": 0.9,
                         "equalized_odds_difference": 0.1, "equal_opportunity_difference": 0.1,
                         "fpr_difference": None, "fnr_difference": -0.1},
            "by_group": {"a": g, "b": dict(g)}}  # fmt: skip


def _doc(**kw):
    args = {"seed": 0, "positive": {"value": "1", "rule": "given"},
            "privileged": {"attribute": "sex", "value": "m", "rule": "given"},
            "data": {"dataset": "d", "sensitive": "sex", "n_train": 5, "n_val": 2, "n_test": 3},
            "cost": {"wall_seconds": 1.0, "trainings": 1},
            "arms": {"baseline": {"test": _block()}, "intervention": {"test": _block(0.0)}}}  # fmt: skip
    args.update(kw)
    return result_document("audit", **args)


def test_document_validates_and_has_every_top_level_field(tmp_path):
    doc = _doc(learner="rf", details={"x": [1, 2]})
    validate_result(doc)
    assert doc["schema_version"] == SCHEMA_VERSION
    assert set(result_schema()["required"]) <= set(doc)
    assert doc["cost"]["cores"] == os.cpu_count()
    path = write_result(tmp_path / "r.json", doc)
    back = read_result(path)
    assert back["arms"]["baseline"]["test"]["by_group"]["a"]["fpr"] is None  # NaN written as null
    assert back["learner"] == "rf"


def test_empty_arms_and_null_labels_fit_privacy_and_backdoor():
    validate_result(result_document("backdoor-scan", seed=None, positive=None, privileged=None,
                                    data={"dataset": "mnist5k"}, cost={"wall_seconds": 2.0},
                                    arms={}, details={"flagged": [3]}))  # fmt: skip


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d["arms"].update(poisoned={}), "arms"),
        (lambda d: d["arms"]["baseline"].update(holdout=_block()), "arms/baseline"),
        (lambda d: d["arms"]["baseline"]["test"].pop("by_group"), "arms/baseline/test"),
        (lambda d: d["arms"]["baseline"]["test"]["fairness"].pop("disparate_impact"), "fairness"),
        (lambda d: d["data"].pop("n_test"), "data"),
        (lambda d: d.update(schema_version="2.0"), "schema_version"),
        (lambda d: d["positive"].pop("rule"), "positive"),
        (lambda d: d["cost"].update(trainings=-1), "cost/trainings"),
    ],
)
def test_invalid_documents_are_refused_with_one_line(tmp_path, change, where):
    doc = _doc()
    change(doc)
    with pytest.raises(ResultSchemaError) as exc:
        write_result(tmp_path / "r.json", doc)
    assert where in str(exc.value) and "\n" not in str(exc.value)
    assert not (tmp_path / "r.json").exists()


def test_schema_file_ships_in_the_package():
    from importlib import resources

    text = resources.files("trustlab.results").joinpath("schema.json").read_text()
    assert json.loads(text)["$schema"].endswith("2020-12/schema")
    assert resources.files("trustlab.results").joinpath("SCHEMA.md").is_file()


# ----------------------------------------------------------------- output folders


def test_prepare_out_refuses_a_file_and_a_path_under_a_file(tmp_path):
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        prepare_out(f)
    with pytest.raises(ConfigError, match="which is a file"):
        prepare_out(f / "sub" / "out")


def test_prepare_out_refuses_an_unwritable_place():
    with pytest.raises(ConfigError, match="cannot be created"):
        prepare_out("/proc/trustlab-out/x")


def test_prepare_out_refuses_non_empty_unless_overwrite(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(ConfigError, match="--overwrite"):
        prepare_out(out)
    with pytest.raises(ConfigError, match="no run.json"):
        prepare_out(out, overwrite=True)  # not a trustlab folder: never deleted
    (out / "run.json").write_text("{}")
    assert prepare_out(out, overwrite=True) == out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # the probe left nothing


def test_staged_output_replaces_whole_with_overwrite(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "run.json").write_text("{}")
    (out / "old.txt").write_text("old")
    prepare_out(out, overwrite=True)
    with staged_output(out) as stage:
        (stage / "new.txt").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_staged_output_refuses_non_empty_after_a_check_without_overwrite(tmp_path):
    out = tmp_path / "out"
    prepare_out(out)
    out.mkdir()
    (out / "x").write_text("x")  # appeared while the command ran
    with pytest.raises(ConfigError), staged_output(out) as stage:
        (stage / "y").write_text("y")
    assert sorted(p.name for p in out.iterdir()) == ["x"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_staged_output_moves_a_new_folder_into_place_and_cleans_on_error(tmp_path):
    out = tmp_path / "a" / "out"
    with pytest.raises(RuntimeError), staged_output(out) as stage:
        (stage / "f").write_text("x")
        raise RuntimeError("boom")
    assert not out.exists() and list((tmp_path / "a").iterdir()) == []
    with staged_output(out) as stage:
        (stage / "f").write_text("x")
    assert (out / "f").read_text() == "x"
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["out"]


def test_ctrl_c_leaves_no_staging_folder(tmp_path):
    script = textwrap.dedent(f"""
        import os, signal, time
        # Ctrl-C as in a terminal: pytest-xdist workers ignore SIGINT and children inherit that
        signal.signal(signal.SIGINT, signal.default_int_handler)
        from trustlab.results import staged_output
        try:
            with staged_output({str(tmp_path / 'out')!r}) as stage:
                (stage / 'f').write_text('x')
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(5)
        except KeyboardInterrupt:
            print('interrupted')
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert "interrupted" in proc.stdout, proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_written_files_never_contain_a_url_password(tmp_path):
    from trustlab._io import write_json, write_run_json

    url = "postgresql://alice:s3cret@db-host/trustlab"
    write_json(tmp_path / "a.json", {"storage": url, "nested": [url]})
    write_run_json(tmp_path, kind="poison", argv=["trustlab", "poison", "--storage", url], storage=url)
    for name in ("a.json", "run.json"):
        text = (tmp_path / name).read_text()
        assert "s3cret" not in text and "postgresql://alice:***@db-host/trustlab" in text


def test_block_warnings_are_collected_once_with_where_they_apply():
    warned = dict(_block(), warnings=["group 'c' has 12 rows here"])
    doc = _doc(arms={"baseline": {"test": warned, "validation": dict(warned)},
                     "intervention": {"test": _block()}}, warnings=["given by the command"])  # fmt: skip
    assert doc["warnings"] == ["given by the command",
                               "group 'c' has 12 rows here (baseline/test, baseline/validation)"]  # fmt: skip
    validate_result(doc)
