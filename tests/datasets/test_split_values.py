"""The split's disjointness and stratification, and the default privileged value, checked exactly.

The split set has rare label x group cells (10 of 500 rows are unprivileged positives), so a
plain random split visibly misses their shares; a stratified one keeps every cell within one
row of its share in every part.
"""

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

from trustlab.datasets import load_frame, make_synthetic, split_dataset

SIZES = (0.56, 0.14, 0.30)
# label x group cells: (group, label) -> rows
CELLS = {("m", 1): 300, ("m", 0): 100, ("f", 1): 10, ("f", 0): 90}


def _frame(seed: int = 0) -> pd.DataFrame:
    rows = [(g, lab) for (g, lab), k in CELLS.items() for _ in range(k)]
    order = np.random.default_rng(seed).permutation(len(rows))
    g = np.array([rows[i][0] for i in order])
    lab = np.array([rows[i][1] for i in order])
    # row_id identifies every row after the split (the parts get a fresh 0..n-1 index)
    return pd.DataFrame(
        {"row_id": np.arange(len(rows)), "x": np.linspace(0, 1, len(rows)), "g": g, "y": lab}
    )


@pytest.fixture(scope="module")
def dataset():
    return load_frame(_frame(), target="y", sensitive="g", privileged="m", name="cells")


def _cell_counts(ids: np.ndarray, frame: pd.DataFrame) -> dict[tuple[str, int], int]:
    part = frame.set_index("row_id").loc[ids]
    return {cell: int(((part["g"] == cell[0]) & (part["y"] == cell[1])).sum()) for cell in CELLS}


def _within_one_row(counts: dict, share: float) -> bool:
    return all(abs(counts[cell] - share * k) <= 1.0 for cell, k in CELLS.items())


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_parts_are_disjoint_and_cover_every_row(dataset, seed):
    split = split_dataset(dataset, seed=seed, sizes=SIZES)
    ids = [p.X["row_id"].to_numpy() for p in (split.train, split.val, split.test)]
    assert sum(len(i) for i in ids) == 500
    assert sorted(np.concatenate(ids).tolist()) == list(range(500))  # every row exactly once
    for a in range(3):
        for b in range(a + 1, 3):
            assert not set(ids[a]) & set(ids[b])
    # sizes: 30% test, then 14 / (56 + 14) of the rest for validation
    assert [len(i) for i in ids] == [280, 70, 150]
    # labels and groups travel with their rows
    frame = _frame()
    for part, i in zip((split.train, split.val, split.test), ids, strict=True):
        ref = frame.set_index("row_id").loc[i]
        assert part.y.tolist() == ref["y"].tolist()
        assert part.groups("g").tolist() == ref["g"].tolist()


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_every_label_group_cell_keeps_its_share(dataset, seed):
    split = split_dataset(dataset, seed=seed, sizes=SIZES)
    frame = _frame()
    for part, share in zip((split.train, split.val, split.test), SIZES, strict=True):
        counts = _cell_counts(part.X["row_id"].to_numpy(), frame)
        assert _within_one_row(counts, share), (share, counts)


def test_a_random_split_would_visibly_miss_the_shares():
    """The same sizes without stratification leave a cell more than one row off on most seeds."""
    frame = _frame()
    misses = 0
    for seed in range(5):
        rest, test = train_test_split(
            frame["row_id"].to_numpy(), test_size=SIZES[2], random_state=seed
        )
        train, val = train_test_split(
            rest, test_size=SIZES[1] / (SIZES[0] + SIZES[1]), random_state=seed + 1
        )
        misses += not all(
            _within_one_row(_cell_counts(ids, frame), share)
            for ids, share in zip((train, val, test), SIZES, strict=True)
        )
    assert misses >= 3


def test_the_same_seed_gives_the_same_split_and_another_seed_another(dataset):
    a = split_dataset(dataset, seed=3).test.X["row_id"].tolist()
    assert split_dataset(dataset, seed=3).test.X["row_id"].tolist() == a
    assert split_dataset(dataset, seed=4).test.X["row_id"].tolist() != a


def test_default_privileged_value_is_the_most_frequent():
    # "c" comes first and "a" sorts first, but "b" is the most frequent (5 of 12 rows)
    values = ["c", "a", "b", "c", "b", "a", "b", "c", "b", "a", "b", "c"]
    frame = pd.DataFrame({"x": np.arange(12), "s": values, "y": [0, 1] * 6})
    ds = load_frame(frame, target="y", sensitive="s")
    assert ds.privileged == {"s": "b"}
    assert ds.privileged_mask("s").tolist() == [v == "b" for v in values]
    assert "most frequent" in ds.rules["privileged:s"]
    # given explicitly, it is kept
    assert load_frame(frame, target="y", sensitive="s", privileged="c").privileged == {"s": "c"}


def test_synthetic_privileged_group_is_zero():
    ds = make_synthetic(200, seed=0)
    assert ds.privileged == {"group": "0"}
    # group 0 is unshifted, so it has the higher base rate
    mask = ds.privileged_mask("group")
    assert ds.y[mask].mean() > ds.y[~mask].mean()


@pytest.mark.parametrize(
    "sizes", [(0.5, 0.5), (0.6, 0.0, 0.4), (0.5, 0.2, 0.2), (0.7, -0.1, 0.4), (0.5, 0.2, 0.3, 0.0)]
)
def test_bad_sizes_are_refused(dataset, sizes):
    from trustlab import DataError

    with pytest.raises(DataError, match="three positive shares"):
        split_dataset(dataset, sizes=sizes)


def test_other_sizes_are_followed(dataset):
    split = split_dataset(dataset, seed=0, sizes=(0.6, 0.2, 0.2))
    # 20% test = 100 rows; then 0.2 / 0.8 of the remaining 400 = 100 for validation
    assert split.sizes() == {"train": 300, "val": 100, "test": 100}
    assert split.seed == 0


def test_stratifies_on_the_named_attribute():
    """Two attributes: stratifying on ``h`` keeps h's rare cell, whatever ``g`` does."""
    frame = _frame()
    frame["h"] = np.where(frame["row_id"] % 25 == 0, "rare", "common")  # 20 rows, all label 0 or 1
    ds = load_frame(frame, target="y", sensitive=["g", "h"], privileged=["m", "common"], name="two")
    for seed in range(3):
        split = split_dataset(ds, seed=seed, sensitive="h")
        rare = [int((p.groups("h") == "rare").sum()) for p in (split.train, split.val, split.test)]
        total = int((frame["h"] == "rare").sum())
        assert all(abs(r - share * total) <= 1.5 for r, share in zip(rare, SIZES, strict=True)), (
            rare
        )


def _ids(split):
    return [p.X["row_id"].tolist() for p in (split.train, split.val, split.test)]


def test_the_default_seed_is_zero_and_every_part_is_reproducible(dataset):
    assert _ids(split_dataset(dataset)) == _ids(split_dataset(dataset, seed=0))
    # the validation part too (its own draw): the same seed, the same three parts
    assert _ids(split_dataset(dataset, seed=2)) == _ids(split_dataset(dataset, seed=2))


def _cells_frame(rare: int) -> pd.DataFrame:
    """300 rows; the (f, 1) cell has ``rare`` rows."""
    cells = {("m", 1): 120, ("m", 0): 80, ("f", 1): rare, ("f", 0): 100 - rare}
    rows = [(g, lab) for (g, lab), k in cells.items() for _ in range(k)]
    order = np.random.default_rng(5).permutation(len(rows))
    return pd.DataFrame(
        {
            "row_id": np.arange(len(rows)),
            "g": [rows[i][0] for i in order],
            "y": [rows[i][1] for i in order],
        }
    )


def test_a_cell_of_one_row_falls_back_to_the_label():
    """Too rare to stratify on (fewer than 3 rows): the split stratifies on the label alone."""
    ds = load_frame(_cells_frame(1), target="y", sensitive="g", privileged="m", name="one")
    for seed in range(3):
        ids = _ids(split_dataset(ds, seed=seed))
        assert sorted(sum(ids, [])) == list(range(300))
        y = _cells_frame(1).set_index("row_id")["y"]
        for part, share in zip(ids, SIZES, strict=True):  # the label's share is kept
            assert abs(int(y.loc[part].sum()) - share * 121) <= 1.0


def test_a_cell_of_three_rows_is_still_stratified():
    """Three rows are enough to stratify on: every seed keeps them within one row of each share."""
    frame = _cells_frame(3)
    ds = load_frame(frame, target="y", sensitive="g", privileged="m", name="three")
    cell = frame.set_index("row_id")
    cell = set(cell.index[(cell["g"] == "f") & (cell["y"] == 1)])
    for seed in range(10):
        counts = [len(cell & set(part)) for part in _ids(split_dataset(ds, seed=seed))]
        assert sum(counts) == 3
        assert all(abs(c - share * 3) <= 1.0 for c, share in zip(counts, SIZES, strict=True)), (
            seed,
            counts,
        )
