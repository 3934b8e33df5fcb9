"""Matplotlib figures shared by the commands (Agg backend, PNG files)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def _save(fig: Any, path: str | Path) -> Path:
    path = Path(path)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_group_rates(by_group: dict[str, dict[str, float]], path: str | Path, *, title: str = "") -> Path:
    """Grouped bars of selection rate, accuracy, TPR and FPR per group."""
    metrics = ["selection_rate", "accuracy", "tpr", "fpr"]
    groups = list(by_group)
    x = np.arange(len(metrics))
    width = 0.8 / max(len(groups), 1)
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for i, g in enumerate(groups):
        vals = [by_group[g][m] for m in metrics]
        ax.bar(x + i * width - 0.4 + width / 2, vals, width, label=f"{g} (n={by_group[g]['n']})")
    ax.set_xticks(x, ["selection rate", "accuracy", "TPR", "FPR"])
    ax.set_ylim(0, 1)
    ax.set_ylabel("rate on test split")
    ax.set_title(title)
    ax.legend()
    return _save(fig, path)


def plot_comparison(table: pd.DataFrame, path: str | Path, *, title: str = "") -> Path:
    """Horizontal grouped bars: one bar per column of ``table`` for each metric (row)."""
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(table) + 1.2))
    y = np.arange(len(table))
    width = 0.8 / max(table.shape[1], 1)
    for i, col in enumerate(table.columns):
        ax.barh(y + i * width - 0.4 + width / 2, table[col].to_numpy(dtype=float), width, label=str(col))
    ax.set_yticks(y, [str(i) for i in table.index])
    ax.axvline(0, color="black", lw=0.8)
    ax.invert_yaxis()
    ax.set_title(title)
    ax.legend()
    return _save(fig, path)
