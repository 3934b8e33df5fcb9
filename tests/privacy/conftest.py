"""Shared tiny problems for the privacy tests (kept small: the whole folder runs in well under 90 s)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trustlab.datasets import make_synthetic
from trustlab.datasets._dataset import Dataset


@pytest.fixture(scope="session")
def random_label_data() -> Dataset:
    """12 numeric features, labels independent of them: only memorisation helps (AUC near 1)."""
    rng = np.random.default_rng(0)
    n = 800
    X = pd.DataFrame(rng.normal(size=(n, 12)), columns=[f"f{i}" for i in range(12)])
    y = pd.Series(rng.integers(0, 2, n))
    groups = pd.DataFrame({"g": np.where(rng.random(n) < 0.5, "a", "b")})
    return Dataset(name="random", X=X, y=y, sensitive=groups, privileged={"g": "a"}, numeric=list(X.columns))


@pytest.fixture(scope="session")
def synthetic() -> Dataset:
    return make_synthetic(n=1200, seed=3)
