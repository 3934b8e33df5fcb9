"""Tiny, fast backdoor fixtures on scikit-learn's 8x8 digits (shared per session)."""

from __future__ import annotations

import pytest
import torch

from trustlab.backdoor import parse_trigger, scan_model, train_model
from trustlab.datasets import load_digits8, split_images

TINY = {"channels": (8, 16), "hidden": 32, "epochs": 12}
TRIGGER = "square:2@bottom-right"
TARGET = 3
# A short scan still follows the full schedule (patience 2 instead of 5).
SCAN = {"steps": 40, "mini_batches": 3, "batch_size": 32, "patience": 2}


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: one thread avoids OpenMP spin on a busy box
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="session")
def scan_options():
    return dict(SCAN)


@pytest.fixture(scope="session")
def digits_split():
    return split_images(load_digits8(), seed=0)


@pytest.fixture(scope="session")
def trigger(digits_split):
    return parse_trigger(TRIGGER, image_shape=digits_split.train.image_shape)


@pytest.fixture(scope="session")
def infected(digits_split, trigger):
    """A tiny CNN with a planted 2x2 backdoor (target 3, 10% poison)."""
    return train_model(digits_split, trigger=trigger, target=TARGET, poison_rate=0.1, seed=0, **TINY)


@pytest.fixture(scope="session")
def infected_scan(infected, digits_split):
    return scan_model(infected.model, digits_split, seed=0, **SCAN)
