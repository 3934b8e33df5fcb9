"""Property-based checks (hypothesis) of every registered search space, for random parameters.

For any point inside a space's bounds (edges included), any budget, metric and direction:
every generated row is a plausible record (:func:`~trustlab.poisoning.check_plausible`), the
rows are consistent across columns (the sensitive value returned is the row's own, a binned
category matches its number), the budget is respected, the same point gives the same rows,
and each cell's rows come from the right group with the right label.
"""

import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from trustlab.fairness import FAIRNESS_METRICS, get_metric
from trustlab.poisoning import (
    BOUNDARY_CELLS,
    CELLS,
    SPACES,
    BoundarySpace,
    RowMaker,
    SpaceContext,
    check_plausible,
    get_space,
    split_counts,
)

# TRUSTLAB_HYPOTHESIS_EXAMPLES (set by benchmarks/mutation.py) lowers the example count and skips
# shrinking: under mutation testing a failure is enough, its smallest example is not needed.
_EXAMPLES = os.environ.get("TRUSTLAB_HYPOTHESIS_EXAMPLES")
SETTINGS = settings(
    max_examples=int(_EXAMPLES or 30),
    deadline=None,
    derandomize=True,
    phases=tuple(p for p in Phase if not (_EXAMPLES and p == Phase.shrink)),
)
PRIV, UNPRIV = {"m"}, {"f", "n"}
AGE_BINS = ((18, 29, "young"), (30, 49, "middle"), (50, 70, "senior"))


def _frame(n: int = 240, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    gender = rng.choice(["f", "n", "m"], n, p=[0.25, 0.1, 0.65])  # two unprivileged values
    age = rng.integers(18, 71, n)
    skill = (rng.normal(size=n) + 0.7 * (gender == "m")).round(3)
    return pd.DataFrame(
        {
            "age": age,
            "age_cat": np.select([age <= 29, age <= 49], ["young", "middle"], "senior"),
            "skill": skill,
            "degree": rng.choice(["none", "bsc", "msc"], n),
            "gender": gender,
        }
    )


FRAME = _frame()
Y = (
    FRAME["skill"].to_numpy() + 0.4 * np.random.default_rng(1).normal(size=len(FRAME)) > 0.5
).astype(int)
SCORES = 1 / (1 + np.exp(-2 * (FRAME["skill"].to_numpy() - 0.5)))
KINDS = {
    "categorical": ["age_cat", "degree", "gender"],
    "numeric": ["age", "skill"],
    "integer": ["age"],
}


def _context(n_rows: int, metric: str, direction: int, seed: int) -> SpaceContext:
    priv = FRAME["gender"].to_numpy() == "m"
    return SpaceContext(
        X=FRAME,
        y=Y,
        sensitive=FRAME["gender"].to_numpy().astype(str),
        privileged_mask=priv,
        scores=SCORES,
        **KINDS,
        n_rows=n_rows,
        metric=get_metric(metric),
        direction=direction,
        seed=seed,
    )


@st.composite
def points(draw, names=None):
    """A prepared space (every registered one, or ``names``), its context and a point in bounds."""
    name = draw(st.sampled_from(sorted(names or SPACES)))
    n_rows = draw(st.integers(1, 60))
    metric = draw(st.sampled_from(sorted(FAIRNESS_METRICS)))
    direction = draw(st.sampled_from([1, -1]))
    context = _context(n_rows, metric, direction, draw(st.integers(0, 3)))
    space = get_space(name)
    space.prepare(context)
    params = {
        k: draw(st.one_of(st.sampled_from([lo, hi]), st.floats(lo, hi)))
        for k, (lo, hi) in space.bounds().items()
    }
    return space, context, params


def _rows(space, params, seed=0):
    out = space.rows(params, np.random.default_rng(seed))
    rows, labels = out[0], np.asarray(out[1])
    sens = np.asarray(out[2]).astype(str) if len(out) == 3 else None
    return rows, labels, sens


def test_both_built_in_spaces_are_registered():
    assert {"bands", "boundary"} <= set(SPACES)


@SETTINGS
@given(points())
def test_every_generated_row_is_plausible_and_consistent(point):
    space, context, params = point
    rows, labels, sens = _rows(space, params)
    check_plausible(rows, labels, FRAME, **KINDS)
    assert list(rows.dtypes) == list(FRAME.dtypes)
    assert 1 <= len(rows) <= context.n_rows
    assert len(labels) == len(rows)
    if sens is not None:
        assert (
            sens.tolist() == rows["gender"].astype(str).tolist()
        )  # the parent's group, not another's
    # the binned category follows the generated number
    for lo, hi, cat in AGE_BINS:
        inside = (rows["age"] >= lo) & (rows["age"] <= hi)
        assert (rows.loc[inside, "age_cat"] == cat).all()
    # combinations of categoricals occur in the data (they come from one parent row)
    seen = set(map(tuple, FRAME[["degree", "gender"]].to_numpy()))
    assert set(map(tuple, rows[["degree", "gender"]].to_numpy())) <= seen


@SETTINGS
@given(points(), st.integers(0, 2**16))
def test_the_same_point_gives_the_same_rows(point, seed):
    space, _, params = point
    a, la, _ = _rows(space, params, seed)
    b, lb, _ = _rows(space, params, seed)
    pd.testing.assert_frame_equal(a, b)
    assert la.tolist() == lb.tolist()


@pytest.mark.parametrize("name", ["bands", "boundary"])
@SETTINGS
@given(data=st.data(), share=st.floats(0.0, 1.0))
def test_matched_control_adds_the_asked_number_of_rows(name, data, share):
    space, context, params = data.draw(points(names=(name,)))
    lo = space.bounds()["fill"][0]
    k = int(np.ceil(lo * context.n_rows)) + int(
        share * (context.n_rows - np.ceil(lo * context.n_rows))
    )
    k = max(1, min(k, context.n_rows))
    rows, _, _ = _rows(space, space.match_rows(space.sample(np.random.default_rng(0)), k))
    assert len(rows) == k


@SETTINGS
@given(points(names=("bands", "boundary")))
def test_each_cell_adds_its_group_and_label(point):
    """Rows come cell after cell (``counts`` order): check each block's group and label."""
    space, context, params = point
    rows, labels, _ = _rows(space, params)
    counts = space.counts(params)
    assert sum(counts.values()) == len(rows) == max(1, int(round(params["fill"] * context.n_rows)))
    if space.name == "bands":
        cell_info = {c: (PRIV if c[0] == "p" else UNPRIV, int(c[1])) for c in CELLS}
    else:
        high, low = (PRIV, UNPRIV) if context.direction >= 0 else (UNPRIV, PRIV)
        cell_info = {
            c: (low if g == "low" else high, new) for c, (g, _, new) in BOUNDARY_CELLS.items()
        }
    start = 0
    for cell, k in counts.items():
        block = slice(start, start + k)
        assert rows["gender"].iloc[block].isin(cell_info[cell][0]).all(), cell
        assert (labels[block] == cell_info[cell][1]).all(), cell
        start += k


@SETTINGS
@given(points(names=("boundary",)))
def test_boundary_copies_are_real_rows_nearest_the_boundary(point):
    """With mix = noise = 0 and offset 0, a boundary cell adds its rows nearest the boundary."""
    space, context, params = point
    params = {**params, "mix": 0.0, "noise": 0.0, **{f"o_{c}": 0.0 for c in BOUNDARY_CELLS}}
    rows, labels, _ = _rows(space, params)
    high, low = (FRAME["gender"] == "m", FRAME["gender"] != "m")
    if context.direction < 0:
        high, low = low, high
    dist = np.abs(SCORES - 0.5)
    start = 0
    for cell, k in space.counts(params).items():
        group, true_label, _ = BOUNDARY_CELLS[cell]
        members = np.flatnonzero((low if group == "low" else high).to_numpy() & (Y == true_label))
        nearest = members[np.argsort(dist[members], kind="stable")]
        expected = FRAME.iloc[
            np.resize(nearest, k) if k >= len(nearest) else nearest[:k]
        ].reset_index(drop=True)
        got = rows.iloc[start : start + k].reset_index(drop=True)
        pd.testing.assert_frame_equal(got, expected, check_dtype=False)
        start += k


def test_split_counts_by_hand():
    # raw shares [2, 1.2, 0.8]: floors [2, 1, 0]; the row left goes to the largest remainder (0.8)
    assert split_counts(np.array([0.5, 0.3, 0.2]), 4).tolist() == [2, 1, 1]
    # raw [0.6, 2.4, 2.4, 0.6] -> floors [0, 2, 2, 0]; two rows left, remainders .6 .4 .4 .6
    assert split_counts(np.array([1.0, 4.0, 4.0, 1.0]), 6).tolist() == [1, 2, 2, 1]
    # all weights zero: equal shares
    assert split_counts(np.zeros(4), 6).tolist() == [2, 2, 1, 1]
    assert split_counts(np.array([0.0, 2.0]), 3).tolist() == [0, 3]


def test_row_maker_interpolates_rounds_and_clips_by_hand():
    maker = RowMaker(_context(10, "spd", 1, 0))
    ages = FRAME["age"].to_numpy()
    a = int(np.flatnonzero(ages == 20)[0])
    b = int(np.flatnonzero(ages == 23)[0])
    # lam = 0.5 between ages 20 and 23: 21.5 rounds to 22 (truncating would give 21)
    rows, sens = maker.make(
        np.array([a]), np.array([b]), np.array([0.5]), 0.0, np.random.default_rng(0)
    )
    assert rows["age"].tolist() == [22]
    skill = FRAME["skill"].to_numpy()
    assert rows["skill"].iloc[0] == pytest.approx(skill[a] + 0.5 * (skill[b] - skill[a]))
    # lam = 0: an exact copy of a, with a's sensitive value
    rows0, sens0 = maker.make(
        np.array([a]), np.array([b]), np.array([0.0]), 0.0, np.random.default_rng(0)
    )
    pd.testing.assert_frame_equal(rows0, FRAME.iloc[[a]].reset_index(drop=True))
    assert sens0.tolist() == [FRAME["gender"].iloc[a]]
    # huge noise is clipped to the observed range
    big, _ = maker.make(np.arange(40), np.arange(40), np.zeros(40), 50.0, np.random.default_rng(0))
    assert big["age"].min() == FRAME["age"].min() and big["age"].max() == FRAME["age"].max()
    assert big["skill"].min() == FRAME["skill"].min() and big["skill"].max() == FRAME["skill"].max()


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda r, y: (r.assign(degree=["phd"] + list(r["degree"].iloc[1:])), y),
            "outside the domain",
        ),
        (lambda r, y: (r.assign(age=[71] + list(r["age"].iloc[1:])), y), "observed range"),
        (lambda r, y: (r.assign(age=[17] + list(r["age"].iloc[1:])), y), "observed range"),
        (lambda r, y: (r.assign(skill=[np.nan] + list(r["skill"].iloc[1:])), y), "observed range"),
        (lambda r, y: (r.assign(age=[30.5] + list(r["age"].iloc[1:])), y), "fractions"),
        (lambda r, y: (r, np.r_[2, y[1:]]), "binary"),
        (lambda r, y: (r[list(reversed(r.columns))], y), "training columns"),
    ],
)
def test_check_plausible_refuses_each_kind_of_implausible_row(change, message):
    rows, labels = FRAME.iloc[:5].reset_index(drop=True), Y[:5]
    check_plausible(rows, labels, FRAME, **KINDS)  # real rows are plausible
    # the extremes of the observed range are plausible
    edge = rows.assign(
        age=[18, 70, 18, 70, 18], skill=[FRAME["skill"].min(), FRAME["skill"].max()] * 2 + [0.0]
    )
    check_plausible(edge, labels, FRAME, **KINDS)
    bad_rows, bad_labels = change(rows, labels)
    from trustlab import DataError

    with pytest.raises(DataError, match=message):
        check_plausible(bad_rows, bad_labels, FRAME, **KINDS)


def test_boundary_window_slides_back_and_repeats_only_past_the_whole_list():
    space = get_space("boundary")
    space.prepare(_context(60, "spd", 1, 0))
    lst = space.lists_["flip_low_neg"]
    n = len(lst)
    assert space.window("flip_low_neg", 3, 0.0).tolist() == lst[:3].tolist()
    # offset 0.5 starts at floor(0.5 n); near the end the window slides back to fit
    assert space.window("flip_low_neg", 3, 0.5).tolist() == lst[n // 2 : n // 2 + 3].tolist()
    assert space.window("flip_low_neg", 3, 0.99).tolist() == lst[n - 3 :].tolist()
    # more rows than the list: the whole list, repeated
    assert space.window("flip_low_neg", n + 2, 0.3).tolist() == np.resize(lst, n + 2).tolist()
    assert space.window("flip_low_neg", 0, 0.3).tolist() == []


def test_bands_pool_keeps_at_least_ten_templates_nearest_the_centre():
    space = get_space("bands")
    space.prepare(_context(60, "spd", 1, 0))
    params = {
        **{k: lo for k, (lo, _) in space.bounds().items()},
        "w_u1": 1.0,
        "fill": 1.0,
        "c_u1": 0.999,
        "width": 0.02,
    }
    rows, labels, sens = _rows(space, params)
    unpriv = np.flatnonzero(FRAME["gender"].to_numpy() != "m")
    nearest = unpriv[np.argsort(np.abs(SCORES[unpriv] - 0.999), kind="stable")[:10]]
    # mix = noise = 0: every row is one of the ten templates nearest the centre
    keys = set(map(tuple, FRAME.iloc[nearest].astype(str).to_numpy()))
    assert set(map(tuple, rows.astype(str).to_numpy())) <= keys
    assert (labels == 1).all() and len(rows) == 60


def _prepared(space, n_rows=40, y=None):
    ctx = _context(n_rows, "spd", 1, 0)
    if y is not None:
        ctx.y = y
    space.prepare(ctx)
    return space


@pytest.mark.parametrize(
    "space", [get_space("bands"), BoundarySpace(cells="all")], ids=["bands", "boundary"]
)
def test_counts_follow_the_weights_by_hand(space):
    space = _prepared(space)
    names = [k for k in space.bounds() if k.startswith("w_")]
    zero = {k: 0.0 for k in space.bounds()}
    # fill 0.5 of 40 = 20 rows; weights 0.3 / 0.1 (they need not sum to 1) -> 15 / 5
    point = {**zero, "fill": 0.5, names[0]: 0.3, names[1]: 0.1}
    assert list(space.counts(point).values()) == [15, 5, 0, 0]
    # every weight 0: equal shares
    assert list(space.counts({**zero, "fill": 0.5}).values()) == [5, 5, 5, 5]
    # the smallest fill: 0.1 x 40 = 4 rows (bands), 0.02 x 40 = 0.8 -> at least 1 (boundary)
    smallest = {**zero, "fill": space.bounds()["fill"][0], names[0]: 1.0}
    assert sum(space.counts(smallest).values()) == {"bands": 4, "boundary": 1}[space.name]


def test_boundary_counts_only_cells_in_use_and_with_rows():
    y = Y.copy()
    unpriv_pos = np.flatnonzero((FRAME["gender"].to_numpy() != "m") & (y == 1))
    all_ones = {f"w_{c}": 1.0 for c in BOUNDARY_CELLS}
    # the default space uses the metric's two cells (statistical parity: the flipped ones)
    default = _prepared(get_space("boundary"))
    counts = default.counts({"fill": 0.5, **all_ones})
    assert counts == {"flip_low_neg": 10, "flip_high_pos": 10, "dup_low_pos": 0, "dup_high_neg": 0}
    # one unprivileged positive left: its cell still takes rows
    y[unpriv_pos[1:]] = 0
    one = _prepared(BoundarySpace(cells="all"), y=y)
    assert len(one.lists_["dup_low_pos"]) == 1
    assert list(one.counts({"fill": 0.5, **all_ones}).values()) == [5, 5, 5, 5]
    # none left: the cell gets no rows, the others share them (ties to the first cells)
    y[unpriv_pos[0]] = 0
    none = _prepared(BoundarySpace(cells="all"), y=y)
    counts = none.counts({"fill": 0.5, **all_ones})
    assert list(counts.values()) == [7, 7, 0, 6]
    rows, labels, _ = _rows(
        none, {"fill": 0.5, **all_ones, **{f"o_{c}": 0.0 for c in BOUNDARY_CELLS}}
    )
    assert len(rows) == 20


@pytest.mark.parametrize("name", ["bands", "boundary"])
def test_match_rows_stays_within_the_bounds(name):
    space = _prepared(get_space(name), n_rows=60)
    lo, hi = space.bounds()["fill"]
    point = space.sample(np.random.default_rng(0))
    assert space.match_rows(point, 0)["fill"] == lo
    assert space.match_rows(point, 600)["fill"] == hi
    assert space.match_rows(point, 30)["fill"] == pytest.approx(0.5)
    tiny = _prepared(get_space(name), n_rows=1)
    assert tiny.match_rows(point, 1)["fill"] == 1.0


@pytest.mark.parametrize("name", ["bands", "boundary"])
def test_missing_parameters_are_refused(name):
    from trustlab import DataError

    space = _prepared(get_space(name))
    point = space.sample(np.random.default_rng(0))
    point.pop("fill")
    with pytest.raises(DataError, match="missing"):
        space.rows(point, np.random.default_rng(0))
