import numpy as np
import pandas as pd
import pytest

from trustlab import DataError
from trustlab.datasets import load_adult, load_builtin, split_dataset
from trustlab.poisoning import BOUNDS, PoisonSpace, check_plausible
from trustlab.poisoning._space import Bins, binned_columns


def _space(ds, n_rows, seed=0):
    rng = np.random.default_rng(0)
    return PoisonSpace(X=ds.X, privileged_mask=ds.privileged_mask(ds.sensitive_names[0]),
                       sensitive=ds.groups().to_numpy(), scores=rng.random(len(ds)),
                       categorical=ds.categorical, numeric=ds.numeric, integer=ds.integer,
                       n_rows=n_rows, seed=seed)  # fmt: skip


def _check_many(ds, space, n_points=25):
    rng = np.random.default_rng(1)
    for _ in range(n_points):
        params = PoisonSpace.sample(rng)
        rows, labels, sens = space.generate(params)
        check_plausible(rows, labels, ds.X, categorical=ds.categorical, numeric=ds.numeric, integer=ds.integer)
        assert len(rows) == len(labels) == len(sens) == sum(space.counts(params).values())
        assert 1 <= len(rows) <= space.n_rows
        assert list(rows.dtypes) == list(ds.X.dtypes)


def test_every_generated_row_is_plausible_on_adult():
    ds = split_dataset(load_adult(), seed=0).train
    _check_many(ds, _space(ds, n_rows=500))


def test_every_generated_row_is_plausible_on_mixed_csv(mixed_split):
    ds = mixed_split.train
    assert ds.integer == ["years"] and "skill" in ds.numeric and "degree" in ds.categorical
    _check_many(ds, _space(ds, n_rows=40), n_points=60)


def test_extreme_points_stay_plausible(mixed_split):
    ds = mixed_split.train
    space = _space(ds, n_rows=40)
    for edge in (0, 1):
        params = {k: (lo, hi)[edge] for k, (lo, hi) in BOUNDS.items()}
        rows, labels, _ = space.generate(params)
        check_plausible(rows, labels, ds.X, categorical=ds.categorical, numeric=ds.numeric, integer=ds.integer)


def test_generation_is_deterministic_and_seeded(mixed_split):
    ds = mixed_split.train
    params = PoisonSpace.sample(np.random.default_rng(5))
    a = _space(ds, 40, seed=3).generate(params)
    b = _space(ds, 40, seed=3).generate(params)
    c = _space(ds, 40, seed=4).generate(params)
    assert a[0].equals(b[0]) and (a[1] == b[1]).all()
    assert not a[0].equals(c[0])


def test_counts_follow_weights_and_fill(mixed_split):
    space = _space(mixed_split.train, n_rows=40)
    params = PoisonSpace.heuristic(+1)[0]
    assert space.counts(params) == {"u0": 0, "u1": 20, "p0": 20, "p1": 0}
    assert space.counts(PoisonSpace.heuristic(-1)[1]) == {"u0": 20, "u1": 0, "p0": 0, "p1": 20}
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


@pytest.mark.parametrize(("name", "expected"), [("adult", {"education": "education-num"}),
                                                ("compas", {"age_cat": "age"})])  # fmt: skip
def test_binned_columns_are_derived_from_their_numeric_column(name, expected):
    ds = split_dataset(load_builtin(name), seed=0).train
    bins = binned_columns(ds.X, ds.categorical, ds.numeric)
    assert {cat: num for cat, (num, _) in bins.items()} == expected
    space = _space(ds, n_rows=400)
    rng = np.random.default_rng(2)
    for _ in range(5):
        rows, _, _ = space.generate(_spread(PoisonSpace.sample(rng)))
        for cat, (num, b) in bins.items():
            interval = {lab: (lo, hi) for lab, lo, hi in zip(b.labels, b.lo, b.hi, strict=True)}
            spans = np.array([interval[c] for c in rows[cat]])
            v = rows[num].to_numpy(dtype=float)
            assert np.all((spans[:, 0] <= v) & (v <= spans[:, 1])), f"{cat} does not match {num}"
    if name == "adult":  # one education-num per education: every generated pair is a real pair
        real = set(zip(ds.X["education"], ds.X["education-num"], strict=True))
        assert set(zip(rows["education"], rows["education-num"], strict=True)) <= real


@pytest.mark.parametrize("name", ["adult", "mixed"])
def test_categoricals_of_a_row_come_from_one_real_row(name, mixed_split):
    ds = mixed_split.train if name == "mixed" else split_dataset(load_adult(), seed=0).train
    space = _space(ds, n_rows=300)
    own = [c for c in ds.categorical if c not in binned_columns(ds.X, ds.categorical, ds.numeric)]
    real = set(map(tuple, ds.X[own].astype(str).to_numpy()))
    rng = np.random.default_rng(3)
    for _ in range(5):
        rows, _, sens = space.generate(_spread(PoisonSpace.sample(rng)))
        assert set(map(tuple, rows[own].astype(str).to_numpy())) <= real
        column = ds.sensitive_names[0]
        if column in rows:  # the sensitive value travels with the row's categoricals
            assert (rows[column].astype(str).to_numpy() == sens).all()


def test_copies_are_real_rows(mixed_split):
    ds = mixed_split.train
    rows, _, _ = _space(ds, n_rows=60).generate({**PoisonSpace.heuristic(+1)[1]})
    real = set(map(tuple, ds.X.astype(str).to_numpy()))
    assert set(map(tuple, rows.astype(str).to_numpy())) <= real


def test_one_cell_count_leaves_the_other_cells_rows_alone(mixed_split):
    space = _space(mixed_split.train, n_rows=60)
    base = _spread(PoisonSpace.heuristic(+1)[0])  # rows in u1 and p0 only
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
    space = PoisonSpace(X=X, privileged_mask=g == "m", sensitive=g, scores=rng.random(100), categorical=["g"],
                        numeric=["x"], integer=[], n_rows=200, seed=0)  # fmt: skip
    rows, _, sens = space.generate({**PoisonSpace.heuristic(+1)[0], "mix": 1.0, "noise": 0.3})
    assert (rows["g"].astype(str).to_numpy() == sens).all()


def test_bins_derive_values_gaps_and_missing():
    bins = Bins(lo=np.array([0.0, 10.0, 20.0]), hi=np.array([5.0, 15.0, 30.0]), labels=np.array(["a", "b", "c"]))
    values = np.array([0.0, 5.0, 6.0, 9.0, 12.0, 17.4, 17.6, 30.0, np.nan])
    out = bins.derive(values, fallback=np.array(["?"] * len(values), dtype=object))
    assert list(out) == ["a", "a", "a", "b", "b", "b", "c", "c", "?"]
