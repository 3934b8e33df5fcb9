"""Trigger specs, exact stamping, BadNets poisoning, and ASR that excludes the target class."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from trustlab import ConfigError
from trustlab.backdoor import Trigger, attack_success_rate, parse_trigger, poison

MNIST = (1, 28, 28)


def test_square_bottom_right_exact_pixels():
    trig = parse_trigger("square:4@bottom-right", image_shape=MNIST)
    expected = np.zeros((28, 28), np.float32)
    expected[24:28, 24:28] = 1
    np.testing.assert_array_equal(trig.mask, expected)
    np.testing.assert_array_equal(trig.pattern[0], expected)
    x = np.random.default_rng(0).random((3, 1, 28, 28)).astype(np.float32)
    out = trig.stamp(x)
    np.testing.assert_array_equal(out[:, 0, 24:, 24:], 1.0)
    keep = expected == 0
    np.testing.assert_array_equal(out[:, 0][:, keep], x[:, 0][:, keep])
    assert trig.l1_norm == 16.0
    assert out is not x and not np.array_equal(x[:, 0, 24:, 24:], 1.0)  # input untouched


def test_checkerboard_explicit_location_and_value():
    trig = parse_trigger("checkerboard:3@2,5=0.5", image_shape=(1, 10, 10))
    patch = trig.pattern[0, 2:5, 5:8]
    np.testing.assert_array_equal(patch, [[0.5, 0, 0.5], [0, 0.5, 0], [0.5, 0, 0.5]])
    assert trig.mask.sum() == 9 and trig.mask[2:5, 5:8].all()
    out = trig.stamp(np.ones((1, 1, 10, 10), np.float32))
    np.testing.assert_array_equal(out[0, 0, 2:5, 5:8], patch)  # zeros of the board are written too
    assert out[0, 0].sum() == 100 - 9 + patch.sum()


@pytest.mark.parametrize(
    ("spec", "rows", "cols"),
    [("square:2@top-left", slice(0, 2), slice(0, 2)),
     ("square:2x3@top-right", slice(0, 2), slice(5, 8)),
     ("square:2@bottom-left", slice(6, 8), slice(0, 2)),
     ("square:2@center", slice(3, 5), slice(3, 5))],
)  # fmt: skip
def test_named_locations(spec, rows, cols):
    trig = parse_trigger(spec, image_shape=(1, 8, 8))
    expected = np.zeros((8, 8))
    expected[rows, cols] = 1
    np.testing.assert_array_equal(trig.mask, expected)


def test_file_trigger_from_npy_and_png(tmp_path):
    import matplotlib.image as mpimg

    mask = np.array([[1, 0], [1, 1]], np.float32)
    pattern = np.array([[0.25, 0], [0.5, 1.0]], np.float32)
    np.save(tmp_path / "m.npy", mask)
    np.save(tmp_path / "p.npy", pattern)
    trig = parse_trigger(f"file:{tmp_path / 'm.npy'}+{tmp_path / 'p.npy'}@0,0", image_shape=(1, 4, 4))
    np.testing.assert_array_equal(trig.mask[:2, :2], mask)
    np.testing.assert_array_equal(trig.pattern[0, :2, :2], pattern)
    assert trig.mask[2:].sum() == 0
    mpimg.imsave(tmp_path / "m.png", mask, cmap="gray", vmin=0, vmax=1)
    trig = parse_trigger(f"file:{tmp_path / 'm.png'}@bottom-right=0.75", image_shape=(1, 4, 4))
    np.testing.assert_array_equal(trig.mask[2:, 2:], mask)
    np.testing.assert_array_equal(trig.pattern[0, 2:, 2:], 0.75)


@pytest.mark.parametrize(
    ("spec", "match"),
    [("triangle:4@bottom-right", "unknown trigger spec"),
     ("square:4@middle", "unknown trigger location"),
     ("square:30@bottom-right", "does not fit"),
     ("square:4@26,26", "does not fit"),
     ("square:0", "positive"),
     ("square:4=1.5", "pixel value"),
     ("square:four", "size"),
     ("file:/no/such.npy", "not found")],
)  # fmt: skip
def test_bad_specs(spec, match):
    with pytest.raises(ConfigError, match=match):
        parse_trigger(spec, image_shape=MNIST)


def test_stamp_rejects_other_shapes():
    trig = parse_trigger("square:2", image_shape=(1, 8, 8))
    with pytest.raises(ConfigError, match="does not fit"):
        trig.stamp(np.zeros((1, 1, 28, 28), np.float32))


def test_poison_stamps_and_relabels_exactly_the_rate():
    rng = np.random.default_rng(1)
    x = rng.random((200, 1, 8, 8)).astype(np.float32) * 0.5
    y = rng.integers(0, 10, 200)
    trig = parse_trigger("square:2", image_shape=(1, 8, 8))
    px, py, idx = poison(x, y, trigger=trig, target=3, rate=0.1, seed=0)
    assert len(idx) == 20 and len(set(idx.tolist())) == 20
    assert (py[idx] == 3).all()
    rest = np.setdiff1d(np.arange(200), idx)
    np.testing.assert_array_equal(py[rest], y[rest])
    np.testing.assert_array_equal(px[rest], x[rest])
    np.testing.assert_array_equal(px[idx][:, 0, 6:, 6:], 1.0)
    assert x.max() <= 0.5  # inputs not modified
    _, _, idx2 = poison(x, y, trigger=trig, target=3, rate=0.1, seed=0)
    np.testing.assert_array_equal(idx, idx2)
    for bad in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ConfigError, match="poison rate"):
            poison(x, y, trigger=trig, target=3, rate=bad)


class _ReadsLabel(nn.Module):
    """Reads the class from pixel (0, 0) = label / 10; the trigger sends even classes to 3."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        label = torch.round(x[:, 0, 0, 0] * 10).long()
        triggered = (x[:, 0, -2:, -2:] == 1).flatten(1).all(dim=1)
        pred = torch.where(triggered & (label % 2 == 0), torch.full_like(label, 3), label)
        return nn.functional.one_hot(pred, 10).float()


def test_asr_excludes_target_class_images():
    labels = np.repeat(np.arange(10), 10)  # 10 images per class
    x = np.zeros((100, 1, 8, 8), np.float32)
    x[:, 0, 0, 0] = labels / 10
    trig = parse_trigger("square:2@bottom-right", image_shape=(1, 8, 8))
    asr = attack_success_rate(_ReadsLabel(), x, labels, trigger=trig, target=3)
    # 90 non-target images, 50 of them (classes 0, 2, 4, 6, 8) flip to 3. Counting the
    # 10 target-class images (which the model also calls 3) would give 60 / 100.
    assert asr == pytest.approx(50 / 90)
    only_target = labels == 3
    assert np.isnan(attack_success_rate(_ReadsLabel(), x[only_target], labels[only_target],
                                        trigger=trig, target=3))


def test_trigger_validation():
    with pytest.raises(ConfigError, match="empty"):
        Trigger(np.zeros((2, 2)), np.zeros((1, 2, 2)))
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        Trigger(np.ones((2, 2)) * 2, np.zeros((1, 2, 2)))
