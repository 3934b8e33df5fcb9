"""The search spaces' arithmetic and draws, with expected values worked out independently.

* the shared helpers (``split_counts``, ``fill_counts``, ``window``, ``check_plausible``) on
  hand-made inputs;
* the row maker on the edge cases the property tests cannot reach (no numeric column, a
  missing value, a sensitive column that bins a numeric one, no cell at all);
* ties in distance keep the training order (a stable sort: numpy's default sort may order
  ties differently on another CPU, and distributed workers must generate the same rows);
* near copies, replayed: the same point and seed must give the same rows (a resumed or
  distributed study relies on it; a change of the draws needs a new space ``version``), so
  :func:`_replay` spells out the documented draws with numpy alone: every cell draws from its
  own child stream of the trial's generator (``rng.spawn``); in it the ``boundary`` space draws
  ``lam ~ U(0, mix)`` then the partners ``b`` (uniform over the cell's list, with replacement),
  only when ``mix > 0``; the ``bands`` space draws the templates ``a``, then ``b`` (both from
  the band, with replacement), then ``lam``; then each row takes its categoricals from ``b``
  with probability ``lam`` (one uniform draw per row), and, when some ``lam > 0`` or
  ``noise > 0``, its numbers are ``a + lam (b - a)`` plus ``noise`` column standard
  deviations (population, 1 for a constant column) of standard normal noise (one draw per
  row and numeric column, row-major), clipped to the observed range, integer columns rounded.
"""

import numpy as np
import pandas as pd
import pytest

from trustlab import ConfigError, DataError
from trustlab.fairness import get_metric
from trustlab.poisoning import (
    BOUNDARY_CELLS,
    BandsSpace,
    BoundarySpace,
    RowMaker,
    SpaceContext,
    check_plausible,
    split_counts,
)
from trustlab.poisoning._spaces import fill_counts, window

N = 40
_rng = np.random.default_rng(3)
GENDER = np.array(["m", "f"] * (N // 2))  # privileged m on even positions
# labels: 10 positives and 10 negatives in each group
Y = np.array([1 if (i // 2) % 2 == 0 else 0 for i in range(N)])
# unprivileged scores in position order: ten within 0.125 of 0.5 (two exactly at 0.125),
# interleaved with ten further away, so that position order is not distance order
_INSIDE = [0.5, 0.5, 0.375, 0.625, 0.4375, 0.4375, 0.4375, 0.5625, 0.5625, 0.5625]
_OUTSIDE = [0.25, 0.75, 0.125, 0.875, 0.0625, 0.9375, 0.1875, 0.8125, 0.3125, 0.6875]
SCORES = np.zeros(N)
SCORES[1::2] = [s for pair in zip(_INSIDE, _OUTSIDE, strict=True) for s in pair]
SCORES[0::2] = np.linspace(0.05, 0.95, N // 2)
FRAME = pd.DataFrame(
    {
        "age": _rng.integers(18, 71, N),
        "skill": (0.3 * _rng.normal(size=N)).round(3),  # a standard deviation below 1
        "degree": _rng.choice(["none", "bsc", "msc"], N),
        "gender": GENDER,
    }
)
NUMERIC, INTEGER, CATEGORICAL = ["age", "skill"], ["age"], ["degree", "gender"]


def _context(frame=FRAME, *, y=Y, scores=SCORES, n_rows=10, numeric=NUMERIC, categorical=CATEGORICAL,
             direction=1, metric="statistical_parity"):  # fmt: skip
    return SpaceContext(
        X=frame,
        y=y,
        sensitive=frame["gender"].to_numpy().astype(str),
        privileged_mask=frame["gender"].to_numpy() == "m",
        scores=scores,
        categorical=categorical,
        numeric=numeric,
        integer=[c for c in INTEGER if c in numeric],
        n_rows=n_rows,
        metric=get_metric(metric),
        direction=direction,
        seed=0,
    )


def _nearest_first(members, centre=0.5, scores=SCORES):
    """Positions by distance to ``centre``, ties in position order (Python's sort is stable)."""
    return np.array(sorted(members, key=lambda i: (abs(scores[i] - centre), i)), dtype=int)


def _replay(a, b, lam, noise, r, frame=FRAME):
    """The rows the documented draws give (numeric columns age and skill; see the module doc)."""
    k = len(a)
    parent = np.where(r.random(k) < lam, b, a)
    out = frame.iloc[parent].reset_index(drop=True).copy()
    if np.any(lam > 0) or noise > 0:
        z = r.standard_normal((k, len(NUMERIC)))
        for j, col in enumerate(NUMERIC):
            x = frame[col].to_numpy(dtype=float)
            std = x.std() if x.std() > 0 else 1.0
            v = x[a] + lam * (x[b] - x[a]) + noise * std * z[:, j]
            v = np.clip(v, x.min(), x.max())
            out[col] = (np.round(v) if col in INTEGER else v).astype(frame[col].dtype)
    return out, frame["gender"].to_numpy()[parent]


# -- the shared helpers ----------------------------------------------------------------------


def test_split_counts_ties_and_the_all_zero_tolerance():
    # 20 equal weights, 7 rows: every remainder is .35, the rows go to the first seven
    assert split_counts(np.ones(20), 7).tolist() == [1] * 7 + [0] * 13
    # 17 weights 1 and one 2 (of 19), 3 rows: remainders 3/19 and 6/19; the 2 takes a row, the
    # two rows left go to the first two of the tied ones
    assert split_counts(np.array([1.0] * 17 + [2.0]), 3).tolist() == [1, 1] + [0] * 15 + [1]
    # weights summing to 1e-12 count as all zero: equal shares
    assert split_counts(np.array([1e-12, 0.0]), 4).tolist() == [2, 2]
    assert split_counts(np.array([2e-12, 0.0]), 4).tolist() == [4, 0]


def test_fill_counts_by_hand():
    cells = ("a", "b", "c")
    both = np.array([True, True, True])
    # round(.5 x 10) = 5 rows; a missing weight is 0
    assert fill_counts({"fill": 0.5, "w_a": 1.0}, cells, both, 10) == {"a": 5, "b": 0, "c": 0}
    assert fill_counts({"fill": 0.5, "w_a": 1.0, "w_c": 4.0}, cells, both, 10) == {
        "a": 1,
        "b": 0,
        "c": 4,
    }
    # an unusable cell's weight is ignored
    usable = np.array([False, True, True])
    assert fill_counts({"fill": 0.4, "w_a": 1.0, "w_b": 1.0}, cells, usable, 10) == {
        "a": 0,
        "b": 4,
        "c": 0,
    }
    # every usable weight 0 (or a total of at most 1e-12): the usable cells share equally
    assert fill_counts({"fill": 0.4, "w_a": 1.0}, cells, usable, 10) == {"a": 0, "b": 2, "c": 2}
    tiny = {"fill": 0.4, "w_b": 1e-12}
    assert fill_counts(tiny, cells, usable, 10) == {"a": 0, "b": 2, "c": 2}
    # round(.37 x 10) = 4; a fill below one row still adds one
    assert sum(fill_counts({"fill": 0.37}, cells, both, 10).values()) == 4
    assert sum(fill_counts({"fill": 0.02}, cells, both, 10).values()) == 1


def test_window_edge_cases():
    lst = np.array([7, 3, 9, 1, 5])
    assert window(lst, 2, 0.5).tolist() == [9, 1]  # from floor(2.5) = 2
    assert window(lst, 2, 0.9).tolist() == [1, 5]  # would start at 4: slides back to 3
    assert window(lst, 5, 0.6).tolist() == [7, 3, 9, 1, 5]
    assert window(lst, 7, 0.6).tolist() == [7, 3, 9, 1, 5, 7, 3]
    assert window(np.array([4]), 3, 0.0).tolist() == [4, 4, 4]  # one row, repeated
    for k, ordered in ((0, lst), (3, np.zeros(0, dtype=int)), (0, np.zeros(0, dtype=int))):
        out = window(ordered, k, 0.3)
        assert out.tolist() == [] and out.dtype.kind == "i"  # positions, usable as indices


def test_check_plausible_accepts_exactly_the_tolerance():
    lo, hi = FRAME["skill"].min(), FRAME["skill"].max()
    rows = FRAME.iloc[:2].reset_index(drop=True).assign(skill=[lo - 1e-9, hi + 1e-9])
    check_plausible(rows, [0, 1], FRAME, categorical=CATEGORICAL, numeric=NUMERIC, integer=INTEGER)
    with pytest.raises(DataError, match="observed range"):
        check_plausible(rows.assign(skill=[lo - 2e-9, hi]), [0, 1], FRAME, categorical=CATEGORICAL,
                        numeric=NUMERIC, integer=INTEGER)  # fmt: skip


# -- the row maker ---------------------------------------------------------------------------


def test_finish_without_any_cell_is_an_empty_frame_in_the_training_schema():
    rows, labels, sens = RowMaker(_context()).finish([], [], [])
    assert list(rows.columns) == list(FRAME.columns) and list(rows.dtypes) == list(FRAME.dtypes)
    assert len(rows) == 0 and labels.shape == (0,) and labels.dtype.kind == "i"
    assert sens.shape == (0,) and sens.dtype.kind == "U"


def test_rows_of_several_cells_have_a_fresh_index_and_integer_labels():
    space = BoundarySpace(cells="all")
    space.prepare(_context(n_rows=12))
    point = {
        **{k: 0.0 for k in space.bounds()},
        "fill": 1.0,
        **{f"w_{c}": 1.0 for c in BOUNDARY_CELLS},
    }
    rows, labels, _ = space.rows(point, np.random.default_rng(0))
    assert rows.index.tolist() == list(range(12))
    assert labels.dtype.kind == "i" and labels.tolist() == [1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0]


def test_the_row_maker_without_numeric_columns_copies_whole_parents():
    frame = FRAME[["degree", "gender"]]
    maker = RowMaker(_context(frame, numeric=[]))
    a, b, lam = np.arange(0, 20, 2), np.arange(1, 21, 2), np.full(10, 0.5)
    rows, sens = maker.make(a, b, lam, 0.2, np.random.default_rng(4))
    parent = np.where(np.random.default_rng(4).random(10) < 0.5, b, a)
    pd.testing.assert_frame_equal(rows, frame.iloc[parent].reset_index(drop=True))
    assert sens.tolist() == GENDER[parent].tolist()
    assert 0 < (parent == b).sum() < 10  # both parents occur


def test_an_exact_copy_ignores_a_missing_value_of_the_other_parent():
    frame = FRAME.copy()
    frame.loc[5, "skill"] = np.nan
    maker = RowMaker(_context(frame))
    rows, _ = maker.make(
        np.array([2]), np.array([5]), np.array([0.0]), 0.0, np.random.default_rng(0)
    )
    pd.testing.assert_frame_equal(rows, frame.iloc[[2]].reset_index(drop=True))


def test_a_sensitive_column_that_bins_a_number_stays_the_parents():
    # gender bins age here (women 18-35, men 40-60): it must not be re-derived from the new age
    frame = FRAME.assign(
        age=np.where(GENDER == "f", 18 + np.arange(N) % 18, 40 + np.arange(N) % 21)
    )
    maker = RowMaker(_context(frame))
    women, men = np.flatnonzero(GENDER == "f")[:20], np.flatnonzero(GENDER == "m")[:20]
    rows, sens = maker.make(women, men, np.full(20, 0.5), 0.0, np.random.default_rng(1))
    parent = np.where(np.random.default_rng(1).random(20) < 0.5, men, women)
    assert rows["gender"].tolist() == sens.tolist() == GENDER[parent].tolist()
    assert (rows["gender"] == "f").any()  # some women's rows, with ages nearer the men's


# -- orders: ties keep the training order ----------------------------------------------------


def test_boundary_lists_break_ties_in_distance_by_position():
    n = 120
    frame = pd.DataFrame({"age": np.arange(n) % 50 + 18, "skill": np.zeros(n), "degree": ["bsc"] * n,
                          "gender": np.array(["m", "f"] * (n // 2))})  # fmt: skip
    scores = np.round(np.random.default_rng(2).random(n), 1)  # many ties
    y = np.array([0, 0, 1, 1] * (n // 4))
    space = BoundarySpace(cells="all")
    space.prepare(_context(frame, y=y, scores=scores))
    f, m = frame["gender"].to_numpy() == "f", frame["gender"].to_numpy() == "m"
    for cell, members in (("flip_low_neg", f & (y == 0)), ("dup_high_neg", m & (y == 0)),
                          ("dup_low_pos", f & (y == 1)), ("flip_high_pos", m & (y == 1))):  # fmt: skip
        expected = _nearest_first(np.flatnonzero(members), scores=scores)
        assert space.lists_[cell].tolist() == expected.tolist(), cell


def test_boundary_prepare_accepts_as_many_low_negatives_as_positives():
    space = BoundarySpace(cells="all")
    space.prepare(_context())  # ten negatives and ten positives in each group
    assert len(space.lists_["flip_low_neg"]) == len(space.lists_["dup_low_pos"]) == 10


@pytest.mark.parametrize("cells", [("flip_low_neg", "dup_high_neg"), ["dup_low_pos"]])
def test_boundary_uses_exactly_the_cells_given(cells):
    space = BoundarySpace(cells=cells)
    space.prepare(_context())
    assert space.cells_ == tuple(cells)
    assert sorted(space.bounds()) == sorted(["fill", *(f"{p}_{c}" for c in cells for p in "wo")])


@pytest.mark.parametrize("cells", ["flip_low_neg", "everything", (), ("flip_low_neg", "nope")])
def test_boundary_refuses_unknown_or_no_cells(cells):
    with pytest.raises(ConfigError, match="unknown cells"):
        BoundarySpace(cells=cells).prepare(_context())


# -- near copies, replayed -------------------------------------------------------------------


@pytest.mark.parametrize("mix, noise", [(0.6, 0.2), (0.6, 0.0), (0.0, 0.2), (1.0, 0.3)])
def test_boundary_near_copies_replayed(mix, noise):
    space = BoundarySpace(cells="all", near_copies=True)
    space.prepare(_context(n_rows=10))
    point = {**{k: 0.0 for k in space.bounds()}, "fill": 1.0, "w_flip_low_neg": 1.0,
             "w_dup_high_neg": 1.0, "o_flip_low_neg": 0.25, "mix": mix, "noise": noise}  # fmt: skip
    rows, labels, sens = space.rows(point, np.random.default_rng(11))
    f, m = GENDER == "f", GENDER == "m"
    streams = np.random.default_rng(11).spawn(4)
    expected, exp_sens = [], []
    # cell 0: the unprivileged negatives from floor(.25 x 10) = 2 on; cell 3: privileged negatives
    for i, members, start in ((0, f & (Y == 0), 2), (3, m & (Y == 0), 0)):
        lst, r = _nearest_first(np.flatnonzero(members)), streams[i]
        a = lst[start : start + 5]
        lam = r.uniform(0.0, mix, size=5) if mix > 0 else np.zeros(5)
        b = r.choice(lst, size=5, replace=True) if mix > 0 else a
        part, s = _replay(a, b, lam, noise, r)
        expected.append(part)
        exp_sens.append(s)
    pd.testing.assert_frame_equal(rows, pd.concat(expected, ignore_index=True))
    assert labels.tolist() == [1] * 5 + [0] * 5
    assert sens.tolist() == np.concatenate(exp_sens).tolist()
    if mix > 0:  # not all exact copies
        assert not rows.equals(FRAME.iloc[np.r_[_nearest_first(np.flatnonzero(f & (Y == 0)))[2:7],
                                                _nearest_first(np.flatnonzero(m & (Y == 0)))[:5]]]
                               .reset_index(drop=True))  # fmt: skip


def _bands_point(**changes):
    point = {k: 0.0 for k in BandsSpace.BOUNDS}
    point.update({f"c_{c}": 0.5 for c in ("u0", "u1", "p0", "p1")})
    point.update({"fill": 1.0, "w_u1": 1.0, "width": 0.125, "mix": 0.5, "noise": 0.1, **changes})
    return point


@pytest.mark.parametrize(
    "centre, width, pool",
    [
        # exactly ten unprivileged rows within .125 of .5 (two at exactly .125): the band, in
        # training order
        (0.5, 0.125, np.flatnonzero(GENDER == "f")[np.abs(SCORES[GENDER == "f"] - 0.5) <= 0.125]),
        # none within .02 of .97: the ten nearest, ties in training order
        (0.97, 0.02, _nearest_first(np.flatnonzero(GENDER == "f"), centre=0.97)[:10]),
    ],
)
def test_bands_rows_replayed(centre, width, pool):
    assert len(pool) == 10
    space = BandsSpace()
    space.prepare(_context(n_rows=8))
    rows, labels, sens = space.rows(
        _bands_point(c_u1=centre, width=width), np.random.default_rng(5)
    )
    r = np.random.default_rng(5).spawn(4)[1]  # u1 is the second cell
    a = r.choice(pool, size=8, replace=True)
    b = r.choice(pool, size=8, replace=True)
    lam = r.uniform(0.0, 0.5, size=8)
    expected, exp_sens = _replay(a, b, lam, 0.1, r)
    pd.testing.assert_frame_equal(rows, expected)
    assert labels.tolist() == [1] * 8 and sens.tolist() == exp_sens.tolist()
    assert len(set(b.tolist())) > 1  # every row has its own partner
