import functools

import numpy as np
import pandas as pd
import pytest

from trustlab import ConfigError, DataError
from trustlab.datasets import load_adult, load_builtin, split_dataset
from trustlab.fairness import get_metric
from trustlab.poisoning import (
    BOUNDARY_CELLS,
    BandsSpace,
    Bins,
    BoundarySpace,
    CounterfactualSpace,
    SpaceContext,
    binned_columns,
    check_plausible,
)
from trustlab.poisoning._spaces import space_rows

SPACE_CLASSES = {"bands": BandsSpace, "boundary": BoundarySpace, "counterfactual": CounterfactualSpace,
                 "boundary-all": functools.partial(BoundarySpace, cells="all", near_copies=True)}


class Prepared:
    """A prepared space with the poisoner's calling convention (a fresh generator per call)."""

    def __init__(self, kind, ds=None, n_rows=40, seed=0, *, X=None, y=None, sens=None, priv=None, scores=None,
                 categorical=None, numeric=None, integer=None, metric="statistical_parity", direction=1):  # fmt: skip
        if ds is not None:
            X, y = ds.X, ds.y
            sens = ds.groups().to_numpy().astype(str)
            priv = ds.privileged_mask(ds.sensitive_names[0])
            categorical, numeric, integer = ds.categorical, ds.numeric, ds.integer
        if scores is None:
            scores = np.random.default_rng(0).random(len(X))
        self.context = SpaceContext(X=X.reset_index(drop=True), y=np.asarray(y), sensitive=np.asarray(sens),
                                    privileged_mask=np.asarray(priv), scores=scores, categorical=categorical,
                                    numeric=numeric, integer=integer, n_rows=n_rows, metric=get_metric(metric),
                                    direction=direction, seed=seed)  # fmt: skip
        self.space = SPACE_CLASSES[kind]()
        self.space.prepare(self.context)
        self.seed, self.n_rows = seed, n_rows

    def generate(self, params):
        return space_rows(self.space, params, np.random.default_rng(self.seed), columns=list(self.context.X.columns))

    def sample(self, rng):
        return self.space.sample(rng)

    def counts(self, params):
        return self.space.counts(params)


def _check_many(ds, space, n_points=25):
    rng = np.random.default_rng(1)
    for _ in range(n_points):
        params = space.sample(rng)
        rows, labels, sens = space.generate(params)
        check_plausible(rows, labels, ds.X, categorical=ds.categorical, numeric=ds.numeric, integer=ds.integer)
        assert len(rows) == len(labels) == len(sens) == sum(space.counts(params).values())
        assert 1 <= len(rows) <= space.n_rows
        assert list(rows.dtypes) == list(ds.X.dtypes)


@pytest.mark.parametrize("kind", SPACE_CLASSES)
def test_every_generated_row_is_plausible_on_adult(kind):
    ds = split_dataset(load_adult(), seed=0).train
    _check_many(ds, Prepared(kind, ds, n_rows=500))


@pytest.mark.parametrize("kind", SPACE_CLASSES)
def test_every_generated_row_is_plausible_on_mixed_csv(kind, mixed_split):
    ds = mixed_split.train
    assert ds.integer == ["years"] and "skill" in ds.numeric and "degree" in ds.categorical
    _check_many(ds, Prepared(kind, ds, n_rows=40), n_points=60)


@pytest.mark.parametrize("kind", SPACE_CLASSES)
def test_extreme_points_stay_plausible(kind, mixed_split):
    ds = mixed_split.train
    space = Prepared(kind, ds, n_rows=40)
    for edge in (0, 1):
        params = {k: (lo, hi)[edge] for k, (lo, hi) in space.space.bounds().items()}
        rows, labels, _ = space.generate(params)
        check_plausible(rows, labels, ds.X, categorical=ds.categorical, numeric=ds.numeric, integer=ds.integer)


@pytest.mark.parametrize("kind", SPACE_CLASSES)
def test_generation_is_deterministic_and_seeded(kind, mixed_split):
    ds = mixed_split.train
    space = Prepared(kind, ds, 40, seed=3)
    params = {**space.sample(np.random.default_rng(5)), "mix": 0.8, "noise": 0.2}
    a = space.generate(params)
    b = Prepared(kind, ds, 40, seed=3).generate(params)
    c = Prepared(kind, ds, 40, seed=4).generate(params)
    assert a[0].equals(b[0]) and (a[1] == b[1]).all()
    if "noise" in space.space.bounds():  # random near-copies depend on the seed; exact copies do not
        assert not a[0].equals(c[0])


def test_bands_counts_follow_weights_and_fill(mixed_split):
    space = Prepared("bands", mixed_split.train, n_rows=40)
    params = space.space.warm_starts()[0]
    assert space.counts(params) == {"u0": 0, "u1": 20, "p0": 20, "p1": 0}
    down = Prepared("bands", mixed_split.train, n_rows=40, direction=-1)
    assert down.counts(down.space.warm_starts()[1]) == {"u0": 20, "u1": 0, "p0": 0, "p1": 20}
    rows, labels, sens = space.generate(params)
    assert labels.sum() == 20
    assert set(sens[labels == 1]) == {"f"} and set(sens[labels == 0]) == {"m"}  # cells keep their group
    assert sum(space.counts({**params, "fill": 0.5}).values()) == 20


def test_check_plausible_catches_bad_rows(mixed_split):
    ds = mixed_split.train
    rows = ds.X.head(3).copy()
    kinds = {"categorical": ds.categorical, "numeric": ds.numeric, "integer": ds.integer}
    with pytest.raises(DataError, match="outside the domain"):
        check_plausible(rows.assign(degree="phd"), [0, 1, 0], ds.X, **kinds)
    with pytest.raises(DataError, match="observed range"):
        check_plausible(rows.assign(skill=1e6), [0, 1, 0], ds.X, **kinds)
    with pytest.raises(DataError, match="integer column"):
        check_plausible(rows.assign(years=2.5), [0, 1, 0], ds.X, **kinds)
    with pytest.raises(DataError, match="not binary"):
        check_plausible(rows, [0, 2, 0], ds.X, **kinds)


def _spread(params):
    """The same point, with every row interpolated between two templates and noised."""
    return {**params, "mix": 1.0, "noise": 0.3}


@pytest.mark.parametrize("kind", SPACE_CLASSES)
@pytest.mark.parametrize(("name", "expected"), [("adult", {"education": "education-num"}),
                                                ("compas", {"age_cat": "age"})])  # fmt: skip
def test_binned_columns_are_derived_from_their_numeric_column(name, expected, kind):
    ds = split_dataset(load_builtin(name), seed=0).train
    bins = binned_columns(ds.X, ds.categorical, ds.numeric)
    assert {cat: num for cat, (num, _) in bins.items()} == expected
    space = Prepared(kind, ds, n_rows=400)
    rng = np.random.default_rng(2)
    for _ in range(5):
        rows, _, _ = space.generate(_spread(space.sample(rng)))
        for cat, (num, b) in bins.items():
            interval = {lab: (lo, hi) for lab, lo, hi in zip(b.labels, b.lo, b.hi, strict=True)}
            spans = np.array([interval[c] for c in rows[cat]])
            v = rows[num].to_numpy(dtype=float)
            assert np.all((spans[:, 0] <= v) & (v <= spans[:, 1])), f"{cat} does not match {num}"
    if name == "adult":  # one education-num per education: every generated pair is a real pair
        real = set(zip(ds.X["education"], ds.X["education-num"], strict=True))
        assert set(zip(rows["education"], rows["education-num"], strict=True)) <= real


@pytest.mark.parametrize("kind", ["bands", "boundary", "boundary-all"])  # counterfactual rows swap the group
@pytest.mark.parametrize("name", ["adult", "mixed"])
def test_categoricals_of_a_row_come_from_one_real_row(name, kind, mixed_split):
    ds = mixed_split.train if name == "mixed" else split_dataset(load_adult(), seed=0).train
    space = Prepared(kind, ds, n_rows=300)
    own = [c for c in ds.categorical if c not in binned_columns(ds.X, ds.categorical, ds.numeric)]
    real = set(map(tuple, ds.X[own].astype(str).to_numpy()))
    rng = np.random.default_rng(3)
    for _ in range(5):
        rows, _, sens = space.generate(_spread(space.sample(rng)))
        assert set(map(tuple, rows[own].astype(str).to_numpy())) <= real
        column = ds.sensitive_names[0]
        if column in rows:  # the sensitive value travels with the row's categoricals
            assert (rows[column].astype(str).to_numpy() == sens).all()


@pytest.mark.parametrize("kind", ["bands", "boundary", "boundary-all"])  # counterfactual copies swap the group
def test_copies_are_real_rows(kind, mixed_split):
    ds = mixed_split.train
    space = Prepared(kind, ds, n_rows=60)
    rows, _, _ = space.generate(space.space.warm_starts()[1])
    real = set(map(tuple, ds.X.astype(str).to_numpy()))
    assert set(map(tuple, rows.astype(str).to_numpy())) <= real


def test_one_cell_count_leaves_the_other_cells_rows_alone(mixed_split):
    space = Prepared("bands", mixed_split.train, n_rows=60)
    base = _spread(space.space.warm_starts()[0])  # rows in u1 and p0 only
    few = {**base, "w_u1": 1.0, "w_p0": 1.0, "fill": 0.5}
    many = {**base, "w_u1": 3.0, "w_p0": 1.0, "fill": 1.0}
    assert space.counts(few) == {"u0": 0, "u1": 15, "p0": 15, "p1": 0}
    assert space.counts(many) == {"u0": 0, "u1": 45, "p0": 15, "p1": 0}
    (rows_f, y_f, _), (rows_m, y_m, _) = space.generate(few), space.generate(many)
    p0 = [r[y == 0].reset_index(drop=True) for r, y in ((rows_f, y_f), (rows_m, y_m))]
    assert p0[0].equals(p0[1])  # u1 drew three times as many rows; p0's own stream did not move


def test_the_sensitive_column_is_never_re_derived():
    """Here a numeric column separates the groups, so it "bins" the sensitive column; noise must not flip it."""
    rng = np.random.default_rng(0)
    g = np.repeat(["f", "m"], 50)
    X = pd.DataFrame({"g": g, "x": np.where(g == "f", rng.uniform(0, 1, 100), rng.uniform(1.05, 2.05, 100))})
    assert set(binned_columns(X, ["g"], ["x"])) == {"g"}
    for kind in SPACE_CLASSES:
        space = Prepared(kind, X=X, y=rng.integers(0, 2, 100), sens=g, priv=g == "m", scores=rng.random(100),
                         categorical=["g"], numeric=["x"], integer=[], n_rows=200)  # fmt: skip
        rows, _, sens = space.generate({**space.space.warm_starts()[0], "mix": 1.0, "noise": 0.3})
        assert (rows["g"].astype(str).to_numpy() == sens).all()


def test_bins_derive_values_gaps_and_missing():
    bins = Bins(lo=np.array([0.0, 10.0, 20.0]), hi=np.array([5.0, 15.0, 30.0]), labels=np.array(["a", "b", "c"]))
    values = np.array([0.0, 5.0, 6.0, 9.0, 12.0, 17.4, 17.6, 30.0, np.nan])
    out = bins.derive(values, fallback=np.array(["?"] * len(values), dtype=object))
    assert list(out) == ["a", "a", "a", "b", "b", "b", "c", "c", "?"]


# -- the boundary space ------------------------------------------------------------------------------
def _boundary(mixed_split, n_rows=40, kind="boundary", **kw):
    ds = mixed_split.train
    scores = np.random.default_rng(7).random(len(ds))
    return ds, scores, Prepared(kind, ds, n_rows=n_rows, scores=scores, **kw)


def test_boundary_searches_only_the_metrics_cells_unless_asked():
    metric_space = BoundarySpace()
    everything = BoundarySpace(cells="all", near_copies=True)
    ds = split_dataset(load_builtin("compas"), seed=0).train
    for space, n_params in ((metric_space, 5), (everything, 11)):
        prepared = Prepared("boundary", ds, n_rows=100)
        prepared.space = space
        space.prepare(prepared.context)
        assert len(space.bounds()) == n_params
    assert set(metric_space.cells_) == {"flip_low_neg", "flip_high_pos"}
    assert "mix" not in metric_space.bounds() and "noise" in everything.bounds()


def test_boundary_refuses_unknown_cells(mixed_split):
    with pytest.raises(ConfigError, match="unknown cells"):
        Prepared("boundary", mixed_split.train).space.__class__(cells=["nope"]).prepare(
            Prepared("boundary", mixed_split.train).context)


@pytest.mark.parametrize("direction", [1, -1])
def test_boundary_cells_hold_their_group_and_true_label_nearest_the_boundary_first(mixed_split, direction):
    ds, scores, space = _boundary(mixed_split, direction=direction)
    priv = ds.privileged_mask(ds.sensitive_names[0])
    low = ~priv if direction == 1 else priv
    for cell, (group, label, _) in BOUNDARY_CELLS.items():
        idx = space.space.lists_[cell]
        want = (low if group == "low" else ~low) & (ds.y == label)
        assert sorted(idx) == sorted(np.flatnonzero(want))  # every row of the cell, and only those
        dist = np.abs(scores[idx] - 0.5)
        assert np.all(np.diff(dist) >= 0)  # nearest the boundary first


def test_boundary_rows_are_drawn_without_replacement_from_the_offset(mixed_split):
    ds, _, space = _boundary(mixed_split, n_rows=60)
    lst = space.space.lists_["flip_low_neg"]
    k = len(lst) // 2
    a = space.space.window("flip_low_neg", k, 0.0)
    assert len(set(a)) == k and list(a) == list(lst[:k])
    b = space.space.window("flip_low_neg", k, 0.25)
    assert list(b) == list(lst[int(0.25 * len(lst)): int(0.25 * len(lst)) + k])
    c = space.space.window("flip_low_neg", k, 0.8)  # would run past the end: slides back, still unique
    assert len(set(c)) == k and list(c) == list(lst[-k:])


def test_clone_massage_is_a_point_of_the_boundary_space(mixed_split):
    ds, scores, space = _boundary(mixed_split, n_rows=40)
    start = space.space.warm_starts()[0]
    assert space.counts(start) == {"flip_low_neg": 20, "flip_high_pos": 20, "dup_low_pos": 0, "dup_high_neg": 0}
    rows, labels, sens = space.generate(start)
    priv = ds.privileged_mask(ds.sensitive_names[0])
    dist = np.abs(scores - 0.5)
    # the unprivileged negatives and the privileged positives nearest the boundary, flipped, each once
    for want, label in ((~priv & (ds.y == 0), 1), (priv & (ds.y == 1), 0)):
        nearest = np.flatnonzero(want)[np.argsort(dist[want], kind="stable")[:20]]
        expected = ds.X.iloc[nearest].reset_index(drop=True)
        got = rows[labels == label].reset_index(drop=True)
        assert got.astype(str).equals(expected.astype(str))


def test_boundary_warm_starts_follow_the_metric_label_side(mixed_split):
    def used(metric):
        _, _, space = _boundary(mixed_split, metric=metric)
        c = space.counts(space.space.warm_starts()[0])
        return {k for k, v in c.items() if v}

    assert used("statistical_parity") == {"flip_low_neg", "flip_high_pos"}
    assert used("fpr_gap") == {"flip_low_neg", "dup_high_neg"}
    assert used("equal_opportunity") == {"dup_low_pos", "flip_high_pos"}
    assert used("equalized_odds") == set(BOUNDARY_CELLS)


def test_boundary_fill_and_matched_control(mixed_split):
    _, _, space = _boundary(mixed_split, n_rows=50)
    assert [sum(space.counts(s).values()) for s in space.space.warm_starts()] == [50, 30, 15]
    ctrl = space.space.match_rows(space.sample(np.random.default_rng(0)), 20)
    assert sum(space.counts(ctrl).values()) == 20


# -- the counterfactual space ------------------------------------------------------------------------
def test_counterfactual_rows_swap_the_group_and_its_encoding_and_keep_the_rest():
    ds = split_dataset(load_adult(), seed=0).train
    sp = Prepared("counterfactual", ds, n_rows=400)
    assert sp.space.sensitive_column_ == "sex"
    assert sp.space.recode_["to_unprivileged"]["relationship"] == {"Husband": "Wife"}
    assert sp.space.recode_["to_privileged"]["relationship"] == {"Wife": "Husband"}
    start = sp.space.warm_starts()[0]
    rows, labels, sens = sp.generate(start)
    check_plausible(rows, labels, ds.X, categorical=ds.categorical, numeric=ds.numeric, integer=ds.integer)
    k = sp.counts(start)
    assert k["high_pos_to_low"] == k["low_neg_to_high"] == 200
    # the first cell: male positives nearest the boundary, now female, label 1, nothing else changed
    up = rows[labels == 1].reset_index(drop=True)
    assert set(up["sex"]) == {"Female"} and set(sens[labels == 1]) == {"Female"}
    assert "Husband" not in set(up["relationship"])
    parents = ds.X.iloc[sp.space.lists_["high_pos_to_low"][:200]].reset_index(drop=True)
    others = [c for c in ds.X.columns if c not in ("sex", "relationship")]
    assert up[others].astype(str).equals(parents[others].astype(str))
    assert set(rows[labels == 0]["sex"]) == {"Male"}


def test_counterfactual_needs_the_sensitive_column():
    X = pd.DataFrame({"x": np.arange(50.0)})
    g = np.repeat(["a", "b"], 25)
    with pytest.raises(DataError, match="needs the sensitive attribute as a feature column"):
        Prepared("counterfactual", X=X, y=np.tile([0, 1], 25), sens=g, priv=g == "a", categorical=[],
                 numeric=["x"], integer=[])  # fmt: skip
