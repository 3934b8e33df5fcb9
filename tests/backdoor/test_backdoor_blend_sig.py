"""Blended (Chen et al. 2017) and SIG (Barni et al. 2019) triggers: shape, placement, stamping."""

from __future__ import annotations

import numpy as np
import pytest

from trustlab import ConfigError
from trustlab.backdoor import (
    BLEND_PATTERN_SEED,
    Trigger,
    load_model,
    parse_trigger,
    poison,
    save_model,
    train_classifier,
)

MNIST = (1, 28, 28)


def test_blend_shape_and_full_image_placement():
    trig = parse_trigger("blend:0.1", image_shape=MNIST)
    assert trig.mask.shape == (28, 28) and trig.pattern.shape == MNIST and trig.offset is None
    np.testing.assert_allclose(trig.mask, 0.1)  # every pixel, same weight
    assert trig.l1_norm == pytest.approx(0.1 * 784, rel=1e-5)
    # a fixed noise pattern, not a flat colour
    assert 0 <= trig.pattern.min() and trig.pattern.max() <= 1 and trig.pattern.std() > 0.2
    expected = np.random.default_rng(BLEND_PATTERN_SEED).random(MNIST).astype(np.float32)
    np.testing.assert_array_equal(trig.pattern, expected)


def test_blend_stamping_is_the_alpha_mix():
    x = np.random.default_rng(3).random((4, *MNIST)).astype(np.float32)
    for alpha in (0.1, 0.5, 1.0):
        trig = parse_trigger(f"blend:{alpha}", image_shape=MNIST)
        out = trig.stamp(x)
        np.testing.assert_allclose(out, (1 - alpha) * x + alpha * trig.pattern[None], atol=1e-6)
    assert not np.array_equal(out, x) and x.max() <= 1  # input untouched


def test_blend_is_deterministic_and_fits_any_shape():
    a = parse_trigger("blend:0.2", image_shape=(3, 8, 8))
    b = parse_trigger("blend:0.2", image_shape=(3, 8, 8))
    np.testing.assert_array_equal(a.pattern, b.pattern)
    np.testing.assert_array_equal(a.mask, b.mask)
    assert a.pattern.shape == (3, 8, 8)
    assert not np.allclose(a.pattern[0], a.pattern[1])  # channels differ


def test_sig_shape_placement_and_stamping():
    trig = parse_trigger("sig:0.08", image_shape=MNIST)
    assert trig.mask.sum() == 0 and trig.offset is not None and trig.offset.shape == MNIST
    cols = np.arange(28)
    wave = 0.08 * np.sin(2 * np.pi * cols * 6 / 28)
    for row in (0, 13, 27):  # the same signal in every row (horizontal sinusoid)
        np.testing.assert_allclose(trig.offset[0, row], wave, atol=1e-6)
    x = np.full((2, *MNIST), 0.5, np.float32)
    np.testing.assert_allclose(trig.stamp(x)[:, 0], 0.5 + np.broadcast_to(wave, (2, 28, 28)),
                               atol=1e-6)  # fmt: skip
    # clipped to [0, 1]: on a black background the negative half of the wave disappears
    out = trig.stamp(np.zeros((1, *MNIST), np.float32))
    assert out.min() == 0 and out.max() == pytest.approx(wave.max(), abs=1e-6) and wave.max() > 0.07
    np.testing.assert_allclose(out[0, 0, 0], np.clip(wave, 0, None), atol=1e-6)


def test_sig_frequency_and_determinism():
    trig = parse_trigger("sig:0.1,3", image_shape=(1, 8, 12))
    np.testing.assert_allclose(trig.offset[0, 0], 0.1 * np.sin(2 * np.pi * np.arange(12) * 3 / 12),
                               atol=1e-6)  # fmt: skip
    again = parse_trigger("sig:0.1,3", image_shape=(1, 8, 12))
    np.testing.assert_array_equal(trig.offset, again.offset)


def test_poisoning_with_blend_and_sig():
    rng = np.random.default_rng(0)
    x = rng.random((50, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 10, 50)
    for spec in ("blend:0.2", "sig:0.1,2"):
        trig = parse_trigger(spec, image_shape=(1, 8, 8))
        px, py, idx = poison(x, y, trigger=trig, target=7, rate=0.2, seed=1)
        assert len(idx) == 10 and (py[idx] == 7).all()
        np.testing.assert_allclose(px[idx], trig.stamp(x[idx]))
        rest = np.setdiff1d(np.arange(50), idx)
        np.testing.assert_array_equal(px[rest], x[rest])


def test_sig_trigger_survives_save_and_load(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((40, 1, 8, 8)).astype(np.float32)
    model = train_classifier(x, rng.integers(0, 3, 40), n_classes=3, epochs=1,
                             channels=(2, 2), hidden=4)  # fmt: skip
    trig = parse_trigger("sig:0.1,2", image_shape=(1, 8, 8))
    save_model(model, tmp_path, trigger=trig, target=1)
    _, info = load_model(tmp_path)
    assert info.trigger.spec == "sig:0.1,2" and info.target == 1
    np.testing.assert_array_equal(info.trigger.offset, trig.offset)
    np.testing.assert_array_equal(info.trigger.stamp(x), trig.stamp(x))


@pytest.mark.parametrize(
    ("spec", "match"),
    [("blend:0", r"alpha must be in \(0, 1\]"),
     ("blend:-0.1", r"alpha must be in \(0, 1\]"),
     ("blend:1.5", r"alpha must be in \(0, 1\]"),
     ("blend:abc", "must be a number"),
     ("blend:nan", "finite"),
     ("blend:0.1@top-left", "takes no @LOCATION"),
     ("blend:0.1=0.5", "takes no @LOCATION"),
     ("sig:0", r"amplitude must be in \(0, 1\]"),
     ("sig:2", r"amplitude must be in \(0, 1\]"),
     ("sig:0.1,15", "does not fit a 28x28 image"),
     ("sig:0.1,0", "does not fit"),
     ("sig:0.1,x", "must be a number"),
     ("blend", "unknown trigger spec"),
     ("blur:0.1", "unknown trigger spec")],
)  # fmt: skip
def test_bad_blend_and_sig_specs(spec, match):
    with pytest.raises(ConfigError, match=match):
        parse_trigger(spec, image_shape=MNIST)


def test_offset_validation():
    with pytest.raises(ConfigError, match="offset"):
        Trigger(np.zeros((2, 2)), np.zeros((1, 2, 2)), offset=np.full((1, 2, 2), 1.5))
    with pytest.raises(ConfigError, match="offset"):
        Trigger(np.zeros((2, 2)), np.zeros((1, 2, 2)), offset=np.zeros((1, 3, 3)))
    with pytest.raises(ConfigError, match="empty"):
        Trigger(np.zeros((2, 2)), np.zeros((1, 2, 2)), offset=np.zeros((1, 2, 2)))
