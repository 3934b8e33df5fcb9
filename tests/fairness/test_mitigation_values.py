"""Massaging and reweighing against numbers worked out by hand from Kamiran & Calders (2012).

``M = (p_priv - p_unpriv) * n_priv * n_unpriv / n``, rounded to the nearest integer;
``w(g, l) = P(g) P(l) / P(g, l)``. Every expected value below is written out, never
computed with the function under test.
"""

import numpy as np
import pytest

from trustlab.fairness import massage_labels, massaging_count, reweighing_weights


def _data(
    n_priv: int, pos_priv: int, n_unpriv: int, pos_unpriv: int
) -> tuple[np.ndarray, np.ndarray]:
    """Privileged rows first (positives first in each group)."""
    y = np.array(
        [1] * pos_priv
        + [0] * (n_priv - pos_priv)
        + [1] * pos_unpriv
        + [0] * (n_unpriv - pos_unpriv)
    )
    mask = np.array([True] * n_priv + [False] * n_unpriv)
    return y, mask


@pytest.mark.parametrize(
    "n_priv, pos_priv, n_unpriv, pos_unpriv, expected",
    [
        # (6/10 - 1/5) * 10 * 5 / 15 = 0.4 * 50 / 15 = 4/3 = 1.33 -> 1 (ceil would give 2)
        (10, 6, 5, 1, 1),
        # (5/6 - 0/3) * 6 * 3 / 9 = 5/3 = 1.67 -> 2 (floor / truncation would give 1)
        (6, 5, 3, 0, 2),
        # (1/5 - 6/10) * 5 * 10 / 15 = -4/3 = -1.33 -> -1 (the unprivileged group is advantaged)
        (5, 1, 10, 6, -1),
        # (3/4 - 1/4) * 4 * 4 / 8 = 1: already a whole number
        (4, 3, 4, 1, 1),
        # (18/20 - 2/10) * 20 * 10 / 30 = 0.7 * 200 / 30 = 14/3 = 4.67 -> 5
        (20, 18, 10, 2, 5),
        # (7/20 - 3/10) * 20 * 10 / 30 = 0.05 * 200 / 30 = 1/3 -> 0
        (20, 7, 10, 3, 0),
    ],
)
def test_massaging_count_by_hand(n_priv, pos_priv, n_unpriv, pos_unpriv, expected):
    y, mask = _data(n_priv, pos_priv, n_unpriv, pos_unpriv)
    assert massaging_count(y, mask) == expected
    # the rows' order does not matter
    perm = np.random.default_rng(0).permutation(len(y))
    assert massaging_count(y[perm], mask[perm]) == expected


def test_massaging_with_a_whole_m_equalises_the_rates():
    """M = 1 above: promoting one and demoting one gives both groups a rate of 1/2."""
    y, mask = _data(4, 3, 4, 1)
    y_new, promoted, demoted = massage_labels(y, mask, np.linspace(0, 1, 8))
    assert len(promoted) == len(demoted) == 1
    assert y_new[mask].mean() == y_new[~mask].mean() == 0.5
    assert y_new.sum() == y.sum()


def test_massage_labels_picks_the_rows_by_hand():
    # 10 privileged (6 positives), 5 unprivileged (1 positive): M = 1 (see above)
    y, mask = _data(10, 6, 5, 1)
    scores = np.array(
        [
            0.90,
            0.30,
            0.80,
            0.70,
            0.35,
            0.95,  # privileged positives: the lowest is row 1
            0.05,
            0.05,
            0.05,
            0.05,  # privileged negatives: never demoted, lower still
            0.99,  # the unprivileged positive: never promoted, higher still
            0.20,
            0.60,
            0.10,
            0.40,  # unprivileged negatives: the highest is row 12
        ]
    )
    y_new, promoted, demoted = massage_labels(y, mask, scores)
    assert promoted.tolist() == [12]
    assert demoted.tolist() == [1]
    expected = y.copy()
    expected[12], expected[1] = 1, 0
    assert y_new.tolist() == expected.tolist()
    assert y.tolist() == _data(10, 6, 5, 1)[0].tolist()  # the input is not changed


def test_massage_labels_swaps_roles_when_the_unprivileged_group_is_advantaged():
    # 5 privileged (1 positive), 10 unprivileged (6 positives): M = -1
    y, mask = _data(5, 1, 10, 6)
    scores = np.array(
        [
            0.99,  # privileged positive
            0.20,
            0.70,
            0.10,
            0.30,  # privileged negatives: the highest (row 2) is promoted
            0.90,
            0.30,
            0.80,
            0.25,
            0.35,
            0.95,  # unprivileged positives: the lowest (row 8) is demoted
            0.01,
            0.01,
            0.01,
            0.01,  # unprivileged negatives
        ]
    )
    y_new, promoted, demoted = massage_labels(y, mask, scores)
    assert promoted.tolist() == [2]
    assert demoted.tolist() == [8]
    assert y_new.sum() == y.sum()


def test_massage_labels_changes_m_rows_of_each_kind():
    # (6/6 - 0/5) * 6 * 5 / 11 = 30/11 = 2.73 -> 3 promotions and 3 demotions
    y, mask = _data(6, 6, 5, 0)
    assert massaging_count(y, mask) == 3
    y_new, promoted, demoted = massage_labels(y, mask, np.arange(11) / 11)
    assert promoted.tolist() == [8, 9, 10]  # the three highest-scored unprivileged negatives
    assert demoted.tolist() == [0, 1, 2]  # the three lowest-scored privileged positives
    assert y_new.tolist() == [0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1]


def test_reweighing_weights_by_hand():
    # n = 15; P(priv) = 10/15, P(unpriv) = 5/15, P(y=1) = 7/15, P(y=0) = 8/15
    y, mask = _data(10, 6, 5, 1)
    w = reweighing_weights(y, mask)
    expected = np.array(
        [7 / 9] * 6  # (10/15)(7/15) / (6/15)
        + [4 / 3] * 4  # (10/15)(8/15) / (4/15)
        + [7 / 3] * 1  # (5/15)(7/15) / (1/15)
        + [2 / 3] * 4  # (5/15)(8/15) / (4/15)
    )
    np.testing.assert_allclose(w, expected, rtol=1e-12)
    # the weighted positive rate is the overall 7/15 in both groups
    for g in (mask, ~mask):
        assert (w[g] * y[g]).sum() / w[g].sum() == pytest.approx(7 / 15, rel=1e-12)
    assert w.sum() == pytest.approx(len(y), rel=1e-12)


def test_a_0_1_integer_mask_means_the_same_as_a_boolean_one():
    y, mask = _data(10, 6, 5, 1)
    scores = np.linspace(0, 1, 15)
    assert massaging_count(y, mask.astype(int)) == 1
    a, b = massage_labels(y, mask, scores), massage_labels(y, mask.astype(int), scores)
    for x, z in zip(a, b, strict=True):
        assert x.tolist() == z.tolist()
    np.testing.assert_array_equal(
        reweighing_weights(y, mask.astype(int)), reweighing_weights(y, mask)
    )
    # labels stay integers, also when given as text
    y_new, _, _ = massage_labels(y.astype(str), mask, scores)
    assert y_new.dtype.kind == "i" and y_new.tolist() == a[0].tolist()


def test_ties_break_by_position():
    """60 privileged (40 positives), 60 unprivileged negatives; scores of three tied levels.

    M = (40/60 - 0) * 60 * 60 / 120 = 20; the highest-scored candidates win, ties going to the
    earlier row (the expected rows come from Python's stable ``sorted``, not from numpy)."""
    y, mask = _data(60, 40, 60, 0)
    assert massaging_count(y, mask) == 20
    scores = np.random.default_rng(0).choice([0.1, 0.5, 0.9], 120)
    _, promoted, demoted = massage_labels(y, mask, scores)
    up = sorted(range(60, 120), key=lambda i: -scores[i])[:20]
    down = sorted(range(40), key=lambda i: scores[i])[:20]
    assert promoted.tolist() == sorted(up)
    assert demoted.tolist() == sorted(down)
