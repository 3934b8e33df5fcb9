"""``trustlab backdoor train|scan|unlearn``: output schemas and bad input (exit code 2)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from trustlab.cli import main

FAST_TRAIN = ["--dataset", "digits", "--trigger", "square:2@bottom-right", "--target", "3",
              "--epochs", "3", "--no-progress"]  # fmt: skip
FAST_SCAN = ["--dataset", "digits", "--steps", "6", "--mini-batches", "2", "--no-progress"]


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    assert main(["backdoor", "train", *FAST_TRAIN, "--seed", "1", "--out", str(root / "m")]) == 0
    before = torch.get_num_threads()
    try:
        assert main(["backdoor", "scan", "--model", str(root / "m" / "model.pt"), *FAST_SCAN,
                     "--threads", "1", "--references", "2", "--eliminate", "--out",
                     str(root / "s")]) == 0  # fmt: skip
    finally:
        torch.set_num_threads(before)
    return root


def _read(path):
    return json.loads(path.read_text())


def _details(path, command):
    """The ``details`` of a result document, after checking it against the shared schema."""
    from trustlab.results import validate_result

    doc = _read(path)
    validate_result(doc)
    assert doc["command"] == command and doc["arms"] == {}
    assert doc["data"]["n_val"] > 0 and doc["data"]["n_test"] > 0
    return doc["details"]


def test_train_schema(cli_runs):
    m = cli_runs / "m"
    for name in ("model.pt", "model.json", "train.json", "run.json", "trigger.npz"):
        assert (m / name).is_file(), name
    train = _details(m / "train.json", "backdoor-train")
    assert set(train) >= {"clean_accuracy", "asr", "trigger", "target"}
    assert train["trigger"] == "square:2@bottom-right" and train["target"] == 3
    assert 0 <= train["asr"] <= 1 and 0 < train["clean_accuracy"] <= 1
    meta = _read(m / "model.json")
    assert meta["input_shape"] == [1, 8, 8] and meta["target"] == 3 and meta["split_seed"] == 1
    assert meta["clean_size"] == 0.2 and train["clean_size"] == 0.2  # the default defender set
    assert {"mean", "std"} <= set(meta["normalisation"]) and meta["architecture"] == "SmallCNN"
    assert _read(m / "run.json")["kind"] == "backdoor-train"
    assert not list(cli_runs.glob(".*staging*"))


def test_scan_schema(cli_runs):
    s = cli_runs / "s"
    scan = _details(s / "scan.json", "backdoor-scan")
    assert set(scan) >= {"labels", "anomaly_index", "flagged", "seconds"}
    assert sorted(scan["labels"], key=int) == [str(i) for i in range(10)]
    for entry in scan["labels"].values():
        assert entry["l1_norm"] >= 0 and 0 <= entry["asr"] <= 1
    assert set(scan["anomaly_index"]) == set(scan["labels"])
    assert isinstance(scan["flagged"], list) and scan["seconds"] > 0
    assert scan["scanned_on"] == "val" and scan["split_seed"] == 1  # split seed from model.json
    assert scan["threads"] == 1  # --threads 1
    assert scan["config"]["eliminate"] is True and scan["config"]["warmup"] == 10
    cal = scan["calibration"]
    assert cal["references"] == 2 and len(cal["reference_l1_norms"]) == 2
    assert len(cal["reference_seeds"]) == 2 and 1 not in cal["reference_seeds"]  # not the model's seed
    assert set(cal["index"]) == set(scan["labels"]) and cal["threshold"] == 3.0
    fpr = cal["false_positive_rate"]
    assert 0 <= fpr["mad_rule_on_references"] <= 1 and 0 <= fpr["calibrated_rule_leave_one_out"] <= 1
    assert scan["clean_size"] == 0.2 and scan["clean_images"] == 359
    for png in ("triggers.png", "norms.png"):
        assert (s / png).stat().st_size > 1000
    with np.load(s / "scan.npz") as f:
        assert f["masks"].shape == (10, 8, 8) and f["patterns"].shape == (10, 1, 8, 8)


@pytest.mark.parametrize("method", ["unlearn", "prune"])
def test_unlearn_schema_with_a_flag(cli_runs, tmp_path, method):
    scan_dir = tmp_path / "scan"
    scan_dir.mkdir()
    scan = _read(cli_runs / "s" / "scan.json")
    scan["details"]["flagged"] = [3]  # force a flag so that the mitigation path runs
    scan["details"]["calibration"]["flagged"] = []
    (scan_dir / "scan.json").write_text(json.dumps(scan))
    (scan_dir / "scan.npz").write_bytes((cli_runs / "s" / "scan.npz").read_bytes())
    out = tmp_path / "u"
    rc = main(["backdoor", "unlearn", "--model", str(cli_runs / "m" / "model.pt"), "--scan",
               str(scan_dir), "--data", "digits", "--method", method, "--epochs", "2",
               "--no-progress", "--out", str(out)])  # fmt: skip
    assert rc == 0
    rep = _details(out / "unlearn.json", "backdoor-unlearn")
    for key in ("clean_accuracy_before", "clean_accuracy_after", "asr_before", "asr_after"):
        assert rep[key] is not None and 0 <= rep[key] <= 1
    assert rep["flagged"] == [3] and rep["method"] == method
    assert rep["asr_before"] == pytest.approx(_details(cli_runs / "m" / "train.json", "backdoor-train")["asr"])
    meta = _read(out / "model.json")
    assert meta["target"] == 3 and meta["mitigation"]["method"] == method
    assert (out / "model.pt").is_file() and _read(out / "run.json")["kind"] == "backdoor-unlearn"


def test_unlearn_uses_calibrated_flags_too(cli_runs, tmp_path):
    scan_dir = tmp_path / "scan"
    scan_dir.mkdir()
    scan = _read(cli_runs / "s" / "scan.json")
    scan["details"]["flagged"] = []  # the MAD rule missed it, the calibrated detector did not
    scan["details"]["calibration"]["flagged"] = [3]
    (scan_dir / "scan.json").write_text(json.dumps(scan))
    (scan_dir / "scan.npz").write_bytes((cli_runs / "s" / "scan.npz").read_bytes())
    out = tmp_path / "u"
    assert main(["backdoor", "unlearn", "--model", str(cli_runs / "m" / "model.pt"), "--scan",
                 str(scan_dir), "--data", "digits", "--epochs", "1", "--rounds", "1",
                 "--no-progress", "--out", str(out)]) == 0  # fmt: skip
    rep = _details(out / "unlearn.json", "backdoor-unlearn")
    assert rep["flagged"] == [3] and rep["changed"] is True


def test_unlearn_nothing_flagged_keeps_model(cli_runs, tmp_path):
    scan_dir = tmp_path / "scan"
    scan_dir.mkdir()
    scan = _read(cli_runs / "s" / "scan.json")
    scan["details"]["flagged"] = []
    scan["details"]["calibration"]["flagged"] = []
    (scan_dir / "scan.json").write_text(json.dumps(scan))
    (scan_dir / "scan.npz").write_bytes((cli_runs / "s" / "scan.npz").read_bytes())
    out = tmp_path / "u"
    rc = main(["backdoor", "unlearn", "--model", str(cli_runs / "m" / "model.pt"), "--scan",
               str(scan_dir), "--data", "digits", "--no-progress", "--out", str(out)])  # fmt: skip
    assert rc == 0
    rep = _details(out / "unlearn.json", "backdoor-unlearn")
    assert rep["changed"] is False and rep["asr_after"] == rep["asr_before"]
    before = torch.load(cli_runs / "m" / "model.pt", weights_only=True)
    after = torch.load(out / "model.pt", weights_only=True)
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_clean_training_and_unknown_trigger_fields(tmp_path):
    out = tmp_path / "c"
    assert main(["backdoor", "train", "--data", "digits", "--clean", "--epochs", "1",
                 "--no-progress", "--out", str(out)]) == 0  # fmt: skip
    train = _details(out / "train.json", "backdoor-train")
    assert train["asr"] is None and train["trigger"] is None and train["target"] is None
    assert _read(out / "model.json")["trigger"] is None


@pytest.mark.parametrize("spec", ["blend:0.2", "sig:0.2,2"])
def test_train_blend_and_sig_triggers(tmp_path, spec):
    out = tmp_path / "b"
    assert main(["backdoor", "train", *FAST_TRAIN, "--trigger", spec, "--out", str(out)]) == 0
    train = _details(out / "train.json", "backdoor-train")
    assert train["trigger"] == spec and 0 <= train["asr"] <= 1
    with np.load(out / "trigger.npz") as f:
        if spec.startswith("blend"):
            np.testing.assert_allclose(f["mask"], 0.2)
        else:
            assert f["mask"].sum() == 0 and np.abs(f["offset"]).max() > 0.1


def _bad(capsys, args, out, match):
    capsys.readouterr()
    rc = main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and err[0].startswith("error:") and match in err[0], err
    assert not out.exists()
    assert not list(out.parent.glob(f".{out.name}.staging-*"))


@pytest.mark.parametrize(
    ("extra", "match"),
    [(["--trigger", "star:3"], "unknown trigger spec"),
     (["--trigger", "square:9@bottom-right"], "does not fit"),
     (["--trigger", "blend:1.5"], "alpha must be in (0, 1]"),
     (["--trigger", "blend:0"], "alpha must be in (0, 1]"),
     (["--trigger", "blend:x"], "must be a number"),
     (["--trigger", "sig:0.1,5"], "does not fit a 8x8 image"),
     (["--target", "10"], "outside the classes"),
     (["--target", "-1"], "outside the classes"),
     (["--poison-rate", "0"], "(0, 1)"),
     (["--poison-rate", "1.5"], "(0, 1)"),
     (["--clean-size", "0"], "clean-set size must be > 0"),
     (["--clean-size", "-0.1"], "clean-set size must be > 0"),
     (["--clean-size", "5000"], "larger than the data"),
     (["--clean-size", "0.85"], "leaves"),
     (["--dataset", "cifar"], "unknown --dataset 'cifar'"),
     (["--data", "imgs.idx,labels.idx"], "not both"),
     (["--threads", "0"], "--threads")],
)  # fmt: skip
def test_train_bad_input(tmp_path, capsys, extra, match):
    out = tmp_path / "o"
    _bad(capsys, ["backdoor", "train", *FAST_TRAIN, *extra, "--out", str(out)], out, match)


def test_train_own_idx_files_without_prefix(tmp_path, capsys):
    """``--data IMAGES,LABELS`` is read as IDX files (the ``idx:`` prefix is optional)."""
    out = tmp_path / "o"
    missing = f"{tmp_path / 'imgs.idx'},{tmp_path / 'labels.idx'}"
    rc = main(["backdoor", "train", "--data", missing, "--epochs", "1", "--no-progress", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "imgs.idx" in err and not out.exists()
    rc = main(["backdoor", "train", "--data", "cifar", "--no-progress", "--out", str(out)])
    assert rc == 2 and "--data takes your IDX files as IMAGES,LABELS" in capsys.readouterr().err


def test_scan_bad_model(tmp_path, capsys, cli_runs):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x00garbage")
    out = tmp_path / "o"
    _bad(capsys, ["backdoor", "scan", "--model", str(junk), *FAST_SCAN, "--out", str(out)], out,
         "neither")  # fmt: skip
    # a digits (8x8) model against MNIST (28x28) data
    _bad(capsys, ["backdoor", "scan", "--model", str(cli_runs / "m" / "model.pt"), "--data",
                  "mnist5k", "--steps", "1", "--no-progress", "--out", str(out)], out, "shape")  # fmt: skip
    _bad(capsys, ["backdoor", "scan", "--model", str(tmp_path / "none.pt"), *FAST_SCAN, "--out",
                  str(out)], out, "not found")  # fmt: skip
    _bad(capsys, ["backdoor", "scan", "--model", str(cli_runs / "m" / "model.pt"), *FAST_SCAN,
                  "--references", "0", "--out", str(out)], out, "--references must be >= 1")  # fmt: skip


def test_unlearn_bad_input(tmp_path, capsys, cli_runs):
    out = tmp_path / "o"
    model = str(cli_runs / "m" / "model.pt")
    _bad(capsys, ["backdoor", "unlearn", "--model", model, "--scan", str(tmp_path), "--data",
                  "digits", "--out", str(out)], out, "not a scan output")  # fmt: skip
    _bad(capsys, ["backdoor", "unlearn", "--model", model, "--scan", str(cli_runs / "s"), "--data",
                  "digits", "--method", "magic", "--out", str(out)], out, "--method")  # fmt: skip
    _bad(capsys, ["backdoor", "unlearn", "--model", model, "--scan", str(cli_runs / "s"), "--data",
                  "digits", "--fraction", "1", "--out", str(out)], out, "--fraction")  # fmt: skip
    _bad(capsys, ["backdoor", "unlearn", "--model", model, "--scan", str(cli_runs / "s"), "--data",
                  "digits", "--rounds", "0", "--out", str(out)], out, "--rounds")  # fmt: skip


def test_existing_output_untouched_on_error(tmp_path, capsys):
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    rc = main(["backdoor", "train", *FAST_TRAIN, "--target", "12", "--out", str(out)])
    assert rc == 2 and [p.name for p in out.iterdir()] == ["keep.txt"]
