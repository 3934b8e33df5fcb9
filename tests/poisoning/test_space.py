import numpy as np
import pytest

from trustlab import DataError
from trustlab.datasets import load_adult, split_dataset
from trustlab.poisoning import BOUNDS, PoisonSpace, check_plausible


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
