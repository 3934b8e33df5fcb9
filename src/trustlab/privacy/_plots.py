"""Privacy plots: log-scale ROC curves, biased-fair discrepancy histograms, per-group AUC bars."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from trustlab.privacy._attacks import true_class_proba  # noqa: E402
from trustlab.privacy._metrics import roc_points  # noqa: E402
from trustlab.privacy._risk import save_figure as _save  # noqa: E402


def plot_roc_log(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: str | Path, *, title: str = "") -> Path:
    """ROC curves on log-log axes (the low-FPR regime matters, Carlini et al. 2022).

    Parameters
    ----------
    curves : dict
        Label -> ``(membership, scores)``.
    """
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    floor = 1.0
    for label, (m, s) in curves.items():
        f, t = roc_points(m, s)
        n_out = int((np.asarray(m) == 0).sum())
        floor = min(floor, 0.5 / max(n_out, 1))
        ax.plot(np.maximum(f, 0.5 / max(n_out, 1)), np.maximum(t, 0.5 / max(n_out, 1)), label=label, lw=1.3)
    ax.plot([floor, 1], [floor, 1], ls="--", color="grey", lw=0.8, label="chance")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(floor, 1)
    ax.set_ylim(floor, 1)
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel("true-positive rate")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="lower right")
    return _save(fig, path)


def plot_discrepancy(Pb: np.ndarray, Pf: np.ndarray, y: np.ndarray, membership: np.ndarray,
                     path: str | Path, *, title: str = "") -> Path:  # fmt: skip
    """Histograms of ``|p_biased - p_fair|`` (true class) for members vs non-members."""
    d = np.abs(true_class_proba(Pb, y) - true_class_proba(Pf, y))
    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    bins = np.linspace(0, max(float(d.max()), 1e-3), 40)
    m = np.asarray(membership) == 1
    ax.hist(d[m], bins=bins, alpha=0.55, density=True, label=f"members (mean {d[m].mean():.3f})")
    ax.hist(d[~m], bins=bins, alpha=0.55, density=True, label=f"non-members (mean {d[~m].mean():.3f})")
    ax.set_xlabel("|p_biased - p_fair| (true class)")
    ax.set_ylabel("density")
    ax.set_title(title)
    ax.legend()
    return _save(fig, path)


def plot_group_auc(summary: dict[str, Any], path: str | Path, *, title: str = "") -> Path:
    """Bars of every attack's AUC per sensitive group, for the biased and the fair target and FD-MIA."""
    rows: list[tuple[str, dict[str, Any]]] = []
    for role in ("biased", "fair"):
        for name, block in summary[role]["attacks"].items():
            rows.append((f"{role}: {name}", block))
    for name in ("fdmia", "fdmia_threshold"):
        if name in summary:
            rows.append((f"pair: {name}", summary[name]))
    groups = sorted({g for _, b in rows for g in b.get("by_group", {})})
    fig, ax = plt.subplots(figsize=(7, 0.42 * len(rows) + 1.3))
    yy = np.arange(len(rows))
    width = 0.8 / max(len(groups), 1)
    for i, g in enumerate(groups):
        vals = [b.get("by_group", {}).get(g, {}).get("auc", np.nan) for _, b in rows]
        ax.barh(yy + i * width - 0.4 + width / 2, np.asarray(vals, float), width, label=str(g))
    ax.axvline(0.5, color="black", lw=0.8, ls="--")
    ax.set_yticks(yy, [r for r, _ in rows])
    ax.set_xlim(0.3, 1.0)
    ax.set_xlabel("attack AUC within group")
    ax.invert_yaxis()
    ax.set_title(title)
    ax.legend(title="group", fontsize=8)
    return _save(fig, path)


def write_plots(result: Any, folder: str | Path, *, title: str = "") -> list[Path]:
    """All privacy plots of an :class:`~trustlab.privacy.AuditResult` into ``folder``.

    The ROC curves on log axes of the biased and of the fair target (``roc_biased.png``,
    ``roc_fair.png``, the pair attacks with the fair one), the biased-fair discrepancy
    (``discrepancy.png``) and the per-group attack AUC (``group_auc.png``).

    Parameters
    ----------
    result : AuditResult
        The audit to draw.
    folder : str or pathlib.Path
        An existing folder the PNG files are written to.
    title : str, default ""
        Prefix of the plots' titles.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    folder = Path(folder)
    out = []
    m = result.membership
    for role in ("biased", "fair"):
        curves = {k: (m, v) for k, v in result.scores[role].items()}
        if role == "fair":
            curves.update({k: (m, v) for k, v in result.scores.get("pair", {}).items()})
        if curves:
            out.append(plot_roc_log(curves, folder / f"roc_{role}.png", title=f"{title} {role} target".strip()))
    out.append(plot_discrepancy(result.proba["biased"], result.proba["fair"], result.labels, m,
                                folder / "discrepancy.png", title=title))  # fmt: skip
    out.append(plot_group_auc(result.summary, folder / "group_auc.png", title=title))
    return out
