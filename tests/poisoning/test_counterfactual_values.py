"""The counterfactual space on a hand-made table whose recoding is worked out below.

200 rows: 100 men (privileged, ``sex = "m"``), then 80 ``"f"`` and 20 ``"x"`` (unprivileged;
the most frequent unprivileged value is ``"f"``). A value is exclusive to a group when at least
98% of its rows (and at least 20 rows) belong to it; exclusive values of the two groups are
paired by frequency rank, and one without a partner becomes the other group's most frequent
value of the column:

* ``rel``: men husband 50, boarder 20, boss 10, child 20; the others wife 40, child 60. Men's
  exclusive values: husband, boarder (exactly 20 rows; it sorts before husband by name, after
  it by count); boss is too rare. The others': wife. husband <-> wife; boarder -> child.
* ``job``: men clerk 50, smith 49, nurse 1; the others smith 1, nurse 49, aide 20, clerk 30.
  smith is exactly 98% men's, nurse 2%; aide has exactly 20 rows. smith <-> nurse (the
  others' values by count: nurse 50, aide 20); aide -> clerk (men's most frequent job).
* ``club``: only men's values are exclusive (golf 30 -> none); ``hobby``: only the others'
  (knit 30 -> none).
* ``note_p`` is missing for every unprivileged row, ``note_u`` for every privileged one: one
  group never shows a value, so nothing is recoded there.
"""

import numpy as np
import pandas as pd
import pytest

from trustlab import DataError
from trustlab.fairness import get_metric
from trustlab.poisoning import COUNTERFACTUAL_CELLS, CounterfactualSpace, SpaceContext

SEX = np.array(["m"] * 100 + ["f"] * 80 + ["x"] * 20)
_M, _U = slice(0, 100), slice(100, 200)


def _column(men, others):
    return [v for v, n in men for _ in range(n)] + [v for v, n in others for _ in range(n)]


FRAME = pd.DataFrame(
    {
        "sex": SEX,
        "rel": _column([("husband", 50), ("boarder", 20), ("boss", 10), ("child", 20)],
                       [("wife", 40), ("child", 60)]),
        "job": _column([("clerk", 50), ("smith", 49), ("nurse", 1)],
                       [("smith", 1), ("nurse", 49), ("aide", 20), ("clerk", 30)]),
        "club": _column([("golf", 30), ("none", 70)], [("none", 100)]),
        "hobby": _column([("none", 100)], [("knit", 30), ("none", 70)]),
        "note_p": _column([("a", 100)], [(np.nan, 100)]),
        "note_u": _column([(np.nan, 100)], [("b", 100)]),
        "age": np.arange(200) % 40 + 20,
    }
)  # fmt: skip
CATEGORICAL = ["sex", "rel", "job", "club", "hobby", "note_p", "note_u"]
Y = np.array([0, 1] * 100)
SCORES = np.random.default_rng(7).permutation(200) / 200
TO_PRIV = {"rel": {"wife": "husband"}, "job": {"nurse": "smith", "aide": "clerk"},
           "hobby": {"knit": "none"}}  # fmt: skip
TO_UNPRIV = {"rel": {"husband": "wife", "boarder": "child"}, "job": {"smith": "nurse"},
             "club": {"golf": "none"}}  # fmt: skip


def _space(*, direction=1, n_rows=12, frame=FRAME, y=Y, sex=SEX):
    context = SpaceContext(X=frame, y=y, sensitive=sex, privileged_mask=sex == "m", scores=SCORES,
                           categorical=CATEGORICAL, numeric=["age"], integer=["age"],
                           n_rows=n_rows, metric=get_metric("statistical_parity"),
                           direction=direction, seed=0)  # fmt: skip
    space = CounterfactualSpace()
    space.prepare(context)
    return space


def _nearest_first(members):
    return [
        int(i) for i in sorted(np.flatnonzero(members), key=lambda i: (abs(SCORES[i] - 0.5), i))
    ]


def _recoded(idx, to_priv):
    rows = FRAME.iloc[idx].reset_index(drop=True).copy()
    rows["sex"] = "m" if to_priv else "f"
    for col, mapping in (TO_PRIV if to_priv else TO_UNPRIV).items():
        rows[col] = [mapping.get(v, v) for v in rows[col]]
    return rows


def test_the_sensitive_column_and_the_exclusive_values_by_hand():
    space = _space()
    assert space.sensitive_column_ == "sex"
    assert space.recode_ == {"to_privileged": TO_PRIV, "to_unprivileged": TO_UNPRIV}


def _point(**weights_and_offsets):
    point = {k: 0.0 for k in CounterfactualSpace.BOUNDS}
    return {**point, "fill": 1.0, **weights_and_offsets}


@pytest.mark.parametrize("direction", [1, -1])
def test_rows_are_recoded_windows_of_the_cells(direction):
    space = _space(direction=direction)
    # 12 rows: 6 recoded to the low group, 6 to the high one; the first from halfway down its list
    point = _point(w_high_pos_to_low=1.0, w_low_neg_to_high=1.0, o_high_pos_to_low=0.5)
    rows, labels, sens = space.rows(point, np.random.default_rng(0))
    priv, unpriv = SEX == "m", SEX != "m"
    high, low = (priv, unpriv) if direction == 1 else (unpriv, priv)
    first = _nearest_first(high & (Y == 1))  # 50 rows: from floor(.5 x 50) = 25 on
    second = _nearest_first(low & (Y == 0))
    # men recoded to the unprivileged group take "f" and the unprivileged encoding, and back
    expected = pd.concat([_recoded(first[25:31], to_priv=direction != 1),
                          _recoded(second[:6], to_priv=direction == 1)], ignore_index=True)  # fmt: skip
    pd.testing.assert_frame_equal(rows, expected)
    assert labels.tolist() == [1] * 6 + [0] * 6 and labels.dtype.kind == "i"
    assert sens.tolist() == expected["sex"].tolist()


def test_a_direction_of_zero_is_read_as_plus_one():
    # as SpaceContext.high_low: the privileged group is the high one unless direction < 0
    point = _point(w_high_pos_to_low=1.0, w_low_neg_to_high=1.0)
    zero, _, _ = _space(direction=0).rows(point, np.random.default_rng(0))
    plus, _, _ = _space(direction=1).rows(point, np.random.default_rng(0))
    pd.testing.assert_frame_equal(zero, plus)
    assert zero["sex"].tolist() == ["f"] * 6 + ["m"] * 6


def test_every_cell_keeps_its_true_label():
    space = _space(n_rows=8)
    point = _point(**{f"w_{c}": 1.0 for c in COUNTERFACTUAL_CELLS})
    rows, labels, _ = space.rows(point, np.random.default_rng(0))
    assert labels.tolist() == [1, 1, 0, 0, 0, 0, 1, 1]  # cells in order, 2 rows each
    assert rows["sex"].tolist() == ["f", "f", "m", "m", "f", "f", "m", "m"]
    # 3 rows over four equal weights: one row in each of the first three cells
    rows3, labels3, _ = _space(n_rows=3).rows(point, np.random.default_rng(0))
    assert labels3.tolist() == [1, 0, 0] and rows3["sex"].tolist() == ["f", "m", "f"]


def test_one_privileged_row_and_a_cell_of_one_row():
    sex = np.array(["m"] + ["f"] * 199)  # row 0 (label 0) is the only privileged row
    space = _space(frame=FRAME.assign(sex=sex), sex=sex, n_rows=9)
    assert [len(space.lists_[c]) for c in COUNTERFACTUAL_CELLS] == [0, 99, 1, 100]
    point = _point(**{f"w_{c}": 1.0 for c in COUNTERFACTUAL_CELLS})
    assert list(space.counts(point).values()) == [0, 3, 3, 3]
    rows, labels, sens = space.rows(point, np.random.default_rng(0))
    assert sens.tolist() == ["m"] * 3 + ["f"] * 3 + ["m"] * 3
    assert labels.tolist() == [0] * 6 + [1] * 3
    assert (rows["age"].iloc[3:6] == FRAME["age"].iloc[0]).all()  # row 0, three times


def test_missing_parameters_are_refused():
    point = _point()
    point.pop("o_low_pos_to_high")
    with pytest.raises(DataError, match="missing"):
        _space().rows(point, np.random.default_rng(0))


def test_an_empty_cell_gets_no_rows():
    y = np.where(SEX == "m", Y, 1)  # every unprivileged row is positive
    space = _space(n_rows=9, y=y)
    assert len(space.lists_["low_neg_to_high"]) == 0
    counts = space.counts(_point(**{f"w_{c}": 1.0 for c in COUNTERFACTUAL_CELLS}))
    assert counts == {"high_pos_to_low": 3, "low_neg_to_high": 0, "high_neg_to_low": 3,
                      "low_pos_to_high": 3}  # fmt: skip


def test_one_group_only_is_refused():
    sex = np.array(["m"] * 200)
    with pytest.raises(DataError, match="both groups"):
        _space(frame=FRAME.assign(sex=sex), sex=sex)


def test_matched_control_sets_fill():
    space = _space(n_rows=40)
    assert space.match_rows(_point(), 10)["fill"] == pytest.approx(0.25)
    assert space.match_rows(_point(), 0)["fill"] == 0.02
