"""The MAD anomaly index and the flag rule on norms worked out by hand.

norms = [4.5, 6, 7, 8, 9, 11]: median 7.5; absolute deviations [3, 1.5, .5, .5, 1.5, 3.5],
whose median (the MAD) is 1.5. With a consistency constant of 1 the index is the
deviation over 1.5: [2, 1, 1/3, 1/3, 1, 7/3]. The first norm is below the median with an
index of exactly 2; the last is above the median with an index above 2.
"""

import numpy as np
import pytest

from trustlab import ConfigError
from trustlab.backdoor import MAD_CONSISTENCY, flag_outliers, mad_anomaly_index

NORMS = np.array([4.5, 6.0, 7.0, 8.0, 9.0, 11.0])
INDEX_1 = np.array([2.0, 1.0, 1 / 3, 1 / 3, 1.0, 7 / 3])


def test_index_by_hand():
    np.testing.assert_allclose(mad_anomaly_index(NORMS, consistency=1.0), INDEX_1, rtol=1e-12)
    # the default consistency constant 1.4826 scales the MAD
    assert MAD_CONSISTENCY == 1.4826
    np.testing.assert_allclose(mad_anomaly_index(NORMS), INDEX_1 / 1.4826, rtol=1e-12)
    # odd count: median 8, deviations [3.5, 2, 1, 0, 1, 3, 12] -> MAD 2
    odd = np.array([4.5, 6.0, 7.0, 8.0, 9.0, 11.0, 20.0])
    np.testing.assert_allclose(
        mad_anomaly_index(odd, consistency=1.0), [1.75, 1.0, 0.5, 0.0, 0.5, 1.5, 6.0]
    )


def test_flag_exactly_at_the_threshold_on_a_below_median_norm():
    index = mad_anomaly_index(NORMS, consistency=1.0)
    assert index[0] == 2.0 and NORMS[0] < np.median(NORMS)
    # exactly at the threshold: not flagged (the rule is index > threshold)
    assert flag_outliers(NORMS, index, threshold=2.0).tolist() == []
    # just under it: flagged; the above-median norm (index 7/3) never is
    assert flag_outliers(NORMS, index, threshold=1.999).tolist() == [0]
    assert flag_outliers(NORMS, index, threshold=0.5).tolist() == [0, 1]


def test_the_default_threshold_is_two():
    index = mad_anomaly_index(NORMS, consistency=1.0)
    assert flag_outliers(NORMS, index).tolist() == []
    assert flag_outliers(NORMS, np.where(np.arange(6) == 0, 2.0 + 1e-9, index)).tolist() == [0]


def test_zero_mad():
    norms = np.array([3.0, 5.0, 5.0, 5.0, 9.0])
    index = mad_anomaly_index(norms)
    assert index.tolist() == [np.inf, 0.0, 0.0, 0.0, np.inf]
    assert flag_outliers(norms, index).tolist() == [0]


def test_too_few_norms():
    with pytest.raises(ConfigError):
        mad_anomaly_index(np.array([1.0]))
    with pytest.raises(ConfigError):
        mad_anomaly_index(np.ones((2, 2)))
    # two norms are enough: median 2, deviations [1, 1], MAD 1
    np.testing.assert_allclose(mad_anomaly_index(np.array([1.0, 3.0]), consistency=1.0), [1.0, 1.0])


def test_float32_norms_are_measured_in_float64():
    """Neural Cleanse's norms come from float32 tensors; the index is computed in float64."""
    norms32 = np.array([0.1, 0.7, 1.3, 2.9, 3.3, 0.05], dtype=np.float32)
    got = mad_anomaly_index(norms32)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, mad_anomaly_index(norms32.astype(np.float64)))
