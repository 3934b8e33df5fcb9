import numpy as np
import pandas as pd
import pytest

from trustlab.datasets import load_frame, split_dataset


def mixed_frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Integer, float and categorical columns; the label depends on the group."""
    rng = np.random.default_rng(seed)
    g = rng.choice(["f", "m"], n, p=[0.4, 0.6])
    skill = rng.normal(size=n) + 0.6 * (g == "m")
    return pd.DataFrame({
        "years": rng.integers(0, 30, n),
        "skill": skill.round(4),
        "degree": rng.choice(["none", "bsc", "msc"], n),
        "gender": g,
        "hired": (skill + 0.5 * rng.normal(size=n) > 0.5).astype(int),
    })  # fmt: skip


@pytest.fixture(scope="session")
def mixed_split():
    ds = load_frame(mixed_frame(), target="hired", sensitive="gender", privileged="m", name="mixed")
    return split_dataset(ds, seed=0, sensitive="gender")


@pytest.fixture
def mixed_csv(tmp_path):
    path = tmp_path / "mixed.csv"
    mixed_frame().to_csv(path, index=False)
    return path
