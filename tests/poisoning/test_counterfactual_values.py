"""The counterfactual space on a hand-made table whose recoding is worked out below.

120 rows: 60 men (privileged, ``sex = "m"``), then 50 women and 10 ``"x"`` (unprivileged;
the most frequent unprivileged value is ``"f"``). Two categorical columns encode the group:

* ``rel``: men hold husband 25, owner 20, boss 10, child 5; the others wife 24, child 36.
  Exclusive to men (at least 98% of the value's rows and at least 20 rows): husband (25) and
  owner (20, exactly the minimum count); boss (10 rows) is too rare; exclusive to the others:
  wife. Paired by frequency rank: husband <-> wife; owner has no partner and becomes the
  unprivileged group's most frequent value, child.
* ``job``: smith is held by 49 men and 1 other (exactly 98%), nurse by 1 man and 49 others
  (2%), clerk by 10 and 10: smith <-> nurse.
"""

import numpy as np
import pandas as pd
import pytest

from trustlab import DataError
from trustlab.fairness import get_metric
from trustlab.poisoning import COUNTERFACTUAL_CELLS, CounterfactualSpace, SpaceContext

SEX = np.array(["m"] * 60 + ["f"] * 50 + ["x"] * 10)
REL = (
    ["husband"] * 25
    + ["owner"] * 20
    + ["boss"] * 10
    + ["child"] * 5
    + ["wife"] * 24
    + ["child"] * 36
)
JOB = ["smith"] * 49 + ["nurse"] + ["clerk"] * 10 + ["smith"] + ["nurse"] * 49 + ["clerk"] * 10
FRAME = pd.DataFrame({"sex": SEX, "rel": REL, "job": JOB, "age": np.arange(120) % 40 + 20})
Y = np.array([0, 1] * 60)
SCORES = np.random.default_rng(7).permutation(120) / 120
TO_PRIV = {"rel": {"wife": "husband"}, "job": {"nurse": "smith"}}
TO_UNPRIV = {"rel": {"husband": "wife", "owner": "child"}, "job": {"smith": "nurse"}}


def _space(*, direction=1, n_rows=12, frame=FRAME, y=Y, sex=SEX):
    context = SpaceContext(X=frame, y=y, sensitive=sex, privileged_mask=sex == "m", scores=SCORES,
                           categorical=["sex", "rel", "job"], numeric=["age"], integer=["age"],
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
    first = _nearest_first(high & (Y == 1))  # 30 rows: from floor(.5 x 30) = 15 on
    second = _nearest_first(low & (Y == 0))
    # men recoded to the unprivileged group take "f" and the unprivileged encoding, and back
    expected = pd.concat([_recoded(first[15:21], to_priv=direction != 1),
                          _recoded(second[:6], to_priv=direction == 1)], ignore_index=True)  # fmt: skip
    pd.testing.assert_frame_equal(rows, expected)
    assert labels.tolist() == [1] * 6 + [0] * 6
    assert sens.tolist() == expected["sex"].tolist()


def test_every_cell_keeps_its_true_label():
    space = _space(n_rows=8)
    point = _point(**{f"w_{c}": 1.0 for c in COUNTERFACTUAL_CELLS})
    rows, labels, _ = space.rows(point, np.random.default_rng(0))
    assert labels.tolist() == [1, 1, 0, 0, 0, 0, 1, 1]  # cells in order, 2 rows each
    assert rows["sex"].tolist() == ["f", "f", "m", "m", "f", "f", "m", "m"]


def test_an_empty_cell_gets_no_rows():
    y = np.where(SEX == "m", Y, 1)  # every unprivileged row is positive
    space = _space(n_rows=9, y=y)
    assert len(space.lists_["low_neg_to_high"]) == 0
    counts = space.counts(_point(**{f"w_{c}": 1.0 for c in COUNTERFACTUAL_CELLS}))
    assert counts == {"high_pos_to_low": 3, "low_neg_to_high": 0, "high_neg_to_low": 3,
                      "low_pos_to_high": 3}  # fmt: skip


def test_one_group_only_is_refused():
    sex = np.array(["m"] * 120)
    with pytest.raises(DataError, match="both groups"):
        _space(frame=FRAME.assign(sex=sex), sex=sex)


def test_matched_control_sets_fill():
    space = _space(n_rows=40)
    assert space.match_rows(_point(), 10)["fill"] == pytest.approx(0.25)
    assert space.match_rows(_point(), 0)["fill"] == 0.02
