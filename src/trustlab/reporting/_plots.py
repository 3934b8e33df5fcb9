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
    """Grouped bars of selection rate, accuracy, TPR and FPR per group.

    Parameters
    ----------
    by_group : dict
        Group name -> rates (``n``, ``selection_rate``, ``accuracy``, ``tpr``, ``fpr``), e.g. the
        ``by_group`` block of :func:`trustlab.fairness.evaluate`.
    path : str or pathlib.Path
        The image file to write.
    title : str, default ""
        Title of the plot.

    Returns
    -------
    pathlib.Path
        The file written (110 dpi).
    """
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
    """Horizontal grouped bars: one bar per column of ``table`` for each metric (row).

    Parameters
    ----------
    table : pandas.DataFrame
        Metrics as rows (the index labels the bars), one column per model or arm.
    path : str or pathlib.Path
        The image file to write.
    title : str, default ""
        Title of the plot.

    Returns
    -------
    pathlib.Path
        The file written (110 dpi).
    """
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


def plot_trials(trials: pd.DataFrame, path: str | Path, *, baseline: tuple[float, float],
                best: tuple[float, float], control: tuple[float, float], metric: str,
                min_accuracy: float | None = None, title: str = "") -> Path:  # fmt: skip
    """Every trial as a point (validation accuracy, validation unfairness).

    ``baseline``, ``best`` and ``control`` are ``(accuracy, unfairness)`` pairs. Completed trials
    are drawn, feasible ones in blue and those violating the accuracy constraint as grey crosses.

    Parameters
    ----------
    trials : pandas.DataFrame
        A :func:`~trustlab.poisoning.trials_frame` table.
    path : str or pathlib.Path
        The image file to write.
    baseline : tuple of float
        The baseline's point.
    best : tuple of float
        The chosen rows' point.
    control : tuple of float
        The random control's point.
    metric : str
        Name of the metric, for the axis label.
    min_accuracy : float, optional
        Draw the accuracy constraint as a vertical line at this accuracy.
    title : str, default ""
        Title of the plot.

    Returns
    -------
    pathlib.Path
        The file written (110 dpi).
    """
    fig, ax = plt.subplots(figsize=(6.2, 4.2))
    ok = trials[trials["state"] == "COMPLETE"]
    feas = ok["feasible"].astype(bool)
    ax.scatter(ok.loc[feas, "val_accuracy"], ok.loc[feas, "unfairness"], s=18, c="tab:blue", alpha=0.7,
               label="trial (feasible)")  # fmt: skip
    ax.scatter(ok.loc[~feas, "val_accuracy"], ok.loc[~feas, "unfairness"], s=18, c="tab:gray", alpha=0.5,
               marker="x", label="trial (accuracy constraint violated)")  # fmt: skip
    ax.scatter(*baseline, s=120, c="black", marker="s", label="baseline (no rows added)")
    ax.scatter(*control, s=120, c="tab:orange", marker="^", label="random control")
    ax.scatter(*best, s=180, c="tab:red", marker="*", label="chosen rows")
    if min_accuracy is not None:
        ax.axvline(min_accuracy, color="tab:red", lw=0.8, ls="--", label="accuracy constraint")
    ax.set_xlabel("validation accuracy")
    ax.set_ylabel(f"validation unfairness ({metric})")
    ax.set_title(title)
    ax.legend(fontsize=7)
    return _save(fig, path)


def plot_best_so_far(curve: pd.DataFrame, path: str | Path, *, metric: str, title: str = "") -> Path:
    """Best feasible validation unfairness against black-box trainings.

    Parameters
    ----------
    curve : pandas.DataFrame
        A :func:`~trustlab.poisoning.best_so_far` table (``trial``, ``best_unfairness``).
    path : str or pathlib.Path
        The image file to write.
    metric : str
        Name of the metric, for the axis label.
    title : str, default ""
        Title of the plot.

    Returns
    -------
    pathlib.Path
        The file written (110 dpi).
    """
    fig, ax = plt.subplots(figsize=(6.2, 3.6))
    ax.step(curve["trial"] + 1, curve["best_unfairness"], where="post")
    ax.set_xlabel("black-box trainings (trials)")
    ax.set_ylabel(f"best validation {metric}")
    ax.set_ylim(bottom=0)
    ax.set_title(title)
    return _save(fig, path)
