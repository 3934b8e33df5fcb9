"""Unlearning and pruning on the tiny planted backdoor; model files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trustlab import ConfigError, ModelFileError
from trustlab.backdoor import (
    SmallCNN,
    check_model,
    load_model,
    mitigate,
    predict,
    prune_neurons,
    save_model,
    unlearn,
)
from trustlab.backdoor._mitigate import dilate
from trustlab.backdoor._triggers import Trigger

TARGET = 3


@pytest.fixture(scope="module")
def unlearned(infected, infected_scan, digits_split, trigger):
    return mitigate(infected.model, digits_split, infected_scan, method="unlearn",
                    trigger=trigger, target=TARGET, seed=0)  # fmt: skip


def test_unlearning_lowers_asr(unlearned, infected):
    res, report = unlearned
    assert report["changed"] and report["flagged"] == [TARGET]
    assert report["asr_before"] == pytest.approx(infected.report["asr"])
    assert report["asr_after"] < report["asr_before"] - 0.3
    assert report["clean_accuracy_after"] >= report["clean_accuracy_before"] - 0.05
    assert set(report) >= {"clean_accuracy_before", "clean_accuracy_after", "asr_before", "asr_after"}
    # the reverse-engineered trigger lost its power on the validation split as well
    assert report["val_reversed_asr_after"]["3"] < report["val_reversed_asr_before"]["3"]
    # the given model is not modified
    assert res.model is not infected.model


def test_nothing_flagged_leaves_model_unchanged(infected, infected_scan, digits_split, trigger):
    scan = type(infected_scan)(**{**infected_scan.__dict__, "flagged": []})
    res, report = mitigate(infected.model, digits_split, scan, trigger=trigger, target=TARGET)
    assert res.model is infected.model and not report["changed"]
    assert report["asr_after"] == report["asr_before"] and "no label flagged" in report["note"]
    res = unlearn(infected.model, digits_split.val.images, digits_split.val.labels, triggers=[])
    assert res.model is infected.model and not res.changed


def test_pruning_cuts_the_reversed_trigger(infected, infected_scan, digits_split):
    val = digits_split.val
    rev = infected_scan.trigger(TARGET)
    res = prune_neurons(infected.model, val.images, val.labels, triggers=[rev], targets=[TARGET],
                        max_accuracy_drop=0.05)  # fmt: skip
    d = res.details
    assert d["curve"][0]["pruned"] == 0 and len(d["curve"]) == int(0.5 * 32) + 1
    assert d["val_reversed_asr_after"] <= d["val_reversed_asr_before"]
    if res.changed:
        mask = res.model.neuron_mask
        assert int((mask == 0).sum()) == d["pruned"] > 0
        assert infected.model.neuron_mask.min() == 1  # original untouched
        assert d["val_accuracy_before"] - d["val_accuracy_after"] <= 0.05
    with pytest.raises(ConfigError, match="one target"):
        prune_neurons(infected.model, val.images, val.labels, triggers=[rev], targets=[])


def test_rounds_rescan_and_distillation(infected, infected_scan, digits_split, trigger):
    """Two rounds: the second unlearns what a re-scan finds; distillation keeps clean accuracy."""
    from trustlab.backdoor import accuracy, attack_success_rate

    val, test = digits_split.val, digits_split.test
    rev = infected_scan.trigger(TARGET)
    kw = {"triggers": [rev], "targets": [TARGET], "epochs": 3, "seed": 0, "rescan_steps": 20}
    one = unlearn(infected.model, val.images, val.labels, rounds=1, **kw)
    two = unlearn(infected.model, val.images, val.labels, rounds=2, distill=1.0,
                  rescan_max_ratio=2.0, **kw)  # fmt: skip
    assert one.details["rounds"] == 1 and one.details["rescans"] == []
    assert two.details["rounds"] == 2 and two.details["distill"] == 1.0
    (rescan,) = two.details["rescans"]
    assert rescan["label"] == TARGET and rescan["first_l1_norm"] == pytest.approx(rev.l1_norm)
    # the backdoor is gone after round one: the re-scan finds a large natural mask, not used
    assert not rescan["used"] and rescan["l1_norm"] > 2 * rev.l1_norm
    asr = {k: attack_success_rate(m.model, test.images, test.labels, trigger=trigger, target=TARGET)
           for k, m in (("one", one), ("two", two))}  # fmt: skip
    assert asr["two"] < infected.report["asr"] - 0.3
    acc0 = accuracy(infected.model, test.images, test.labels)
    assert accuracy(two.model, test.images, test.labels) >= acc0 - 0.05
    again = unlearn(infected.model, val.images, val.labels, rounds=2, distill=1.0,
                    rescan_max_ratio=2.0, **kw)  # fmt: skip
    used = unlearn(infected.model, val.images, val.labels, rounds=2, **kw)  # default: always used
    assert used.details["rescans"][0]["used"] is True
    for a, b in zip(two.model.state_dict().values(), again.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)  # same seed, same model
    with pytest.raises(ConfigError, match="one target label per trigger"):
        unlearn(infected.model, val.images, val.labels, triggers=[rev], rounds=2)
    with pytest.raises(ConfigError, match="rounds"):
        unlearn(infected.model, val.images, val.labels, triggers=[rev], rounds=0)
    with pytest.raises(ConfigError, match="distill"):
        unlearn(infected.model, val.images, val.labels, triggers=[rev], distill=-1)


def test_mitigation_options_are_validated(infected, digits_split):
    val = digits_split.val
    for frac in (0.0, 1.0):
        with pytest.raises(ConfigError, match="fraction"):
            unlearn(infected.model, val.images, val.labels, triggers=[], fraction=frac)
    for bad in ((), (0, -1)):
        with pytest.raises(ConfigError, match="dilations"):
            unlearn(infected.model, val.images, val.labels, triggers=[], dilations=bad)


def test_dilate_grows_the_mask_by_whole_pixels():
    mask = np.zeros((8, 8), np.float32)
    mask[4, 5] = 0.7
    pattern = np.full((1, 8, 8), 0.9, np.float32)
    trig = Trigger(mask, pattern, spec="rev")
    assert dilate(trig, 0) is trig
    one = dilate(trig, 1)
    expected = np.zeros((8, 8), np.float32)
    expected[3:6, 4:7] = 0.7
    np.testing.assert_array_equal(one.mask, expected)  # 3x3 block, the soft value kept
    np.testing.assert_array_equal(one.pattern, pattern)
    assert int((dilate(trig, 2).mask > 0).sum()) == 25  # 5x5 block
    edge = np.zeros((8, 8), np.float32)
    edge[4, 7] = 1.0
    assert int((dilate(Trigger(edge, pattern), 2).mask > 0).sum()) == 5 * 3  # clipped at the border
    assert one.spec == "rev+dilate1"


def test_save_load_round_trip(tmp_path, infected, digits_split, trigger):
    save_model(infected.model, tmp_path, trigger=trigger, target=TARGET)
    model, info = load_model(tmp_path / "model.pt")
    assert info.kind == "smallcnn" and info.target == TARGET and info.input_shape == (1, 8, 8)
    np.testing.assert_array_equal(info.trigger.mask, trigger.mask)
    x = digits_split.test.images
    np.testing.assert_array_equal(predict(model, x), predict(infected.model, x))
    # a TorchScript file of any model is accepted
    ts = tmp_path / "ts"
    ts.mkdir()
    torch.jit.save(torch.jit.script(infected.model), str(ts / "user.pt"))
    model, info = load_model(ts / "user.pt")
    assert info.kind == "torchscript" and info.trigger is None
    check_model(model, info, image_shape=(1, 8, 8), n_classes=10)
    np.testing.assert_array_equal(predict(model, x), predict(infected.model, x))


def test_bad_model_files(tmp_path, infected):
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match="neither"):
        load_model(tmp_path / "junk.pt")
    with pytest.raises(ModelFileError, match="not found"):
        load_model(tmp_path / "missing.pt")
    save_model(infected.model, tmp_path)
    model, info = load_model(tmp_path)
    with pytest.raises(ModelFileError, match="shape"):
        check_model(model, info, image_shape=(1, 28, 28), n_classes=10)
    with pytest.raises(ModelFileError, match="classes"):
        check_model(model, info, image_shape=(1, 8, 8), n_classes=3)
    other = SmallCNN((1, 8, 8), 10, channels=(4, 4), hidden=8)
    torch.save(other.state_dict(), tmp_path / "model.pt")  # weights no longer match model.json
    with pytest.raises(ModelFileError, match="does not load"):
        load_model(tmp_path / "model.pt")


def test_defender_split_sizes_and_disjointness():
    from trustlab.backdoor import clean_set_size, defender_split
    from trustlab.datasets import load_digits8, split_images

    ds = load_digits8()
    n = len(ds)
    old = split_images(ds, seed=3)
    same = defender_split(ds, seed=3, clean_size=0.1)  # reproduces the 70/10/20 split
    for part in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(old, part).images, getattr(same, part).images)
    big = defender_split(ds, seed=3, clean_size=0.2)
    counted = defender_split(ds, seed=3, clean_size=360)
    assert len(big.val) == clean_set_size(0.2, n) == round(0.2 * n) and len(counted.val) == 360
    np.testing.assert_array_equal(big.test.images, old.test.images)  # test split fixed per seed
    assert len(big.train) + len(big.val) + len(big.test) == n
    flat = {p: getattr(big, p).images.reshape(len(getattr(big, p)), -1) for p in ("train", "val")}
    train_rows = {r.tobytes() for r in flat["train"]}
    val_rows = [r.tobytes() for r in flat["val"]]
    # disjoint: no defender image is a training image (digits has a few duplicate images)
    assert sum(r in train_rows for r in val_rows) <= 3


@pytest.mark.parametrize(("size", "match"), [(0, "> 0"), (-5, "> 0"), (1e9, "larger than the data"),
                                             (2.5, "whole"), (0.9, "leaves")])  # fmt: skip
def test_clean_set_size_bad(size, match):
    from trustlab.backdoor import clean_set_size

    with pytest.raises(ConfigError, match=match):
        clean_set_size(size, 1000)
