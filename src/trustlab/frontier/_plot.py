"""Every frontier point on the (test accuracy, test |metric|) plane, with the white-box envelope."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

_STYLE = {
    "baseline": {"marker": "*", "color": "black", "s": 140},
    "thresholds": {"marker": ".", "color": "tab:gray", "s": 50},
    "threshold-optimizer": {"marker": "P", "color": "tab:purple", "s": 70},
    "massaging": {"marker": "s", "color": "tab:green", "s": 50},
    "reweighing": {"marker": "D", "color": "tab:olive", "s": 50},
    "exponentiated-gradient": {"marker": "^", "color": "tab:brown", "s": 55},
    "poisoning": {"marker": "o", "color": "tab:red", "s": 70},
    "random control": {"marker": "o", "color": "tab:blue", "s": 60},
}


def plot_frontier(points: Sequence[Mapping[str, Any]], envelope: Sequence[Mapping[str, Any]],
                  path: str | Path, *, metric_label: str = "|metric|", title: str = "") -> Path:  # fmt: skip
    """Scatter every point (test split) and draw the white-box envelope; save a PNG.

    Poisoning points and their random controls are labelled with their budget.

    Parameters
    ----------
    points : sequence of dict
        Frontier points (``method``, ``setting``, ``test``).
    envelope : sequence of dict
        :func:`~trustlab.frontier.lower_envelope`'s result.
    path : str or pathlib.Path
        The image file to write (120 dpi).
    metric_label : str, default "|metric|"
        Label of the unfairness axis (``"|SPD|"``).
    title : str, default ""
        Title of the plot (none when empty).

    Returns
    -------
    pathlib.Path
        The file written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 5.2))
    if envelope:
        xs = [e["accuracy"] for e in envelope]
        ys = [e["unfairness"] for e in envelope]
        ax.plot(xs, ys, "-", color="0.35", lw=1.3, zorder=1, label="white-box frontier")
    seen: set[str] = set()
    for p in points:
        method = str(p["method"])
        style = dict(_STYLE.get(method, {"marker": "x", "color": "tab:cyan", "s": 50}))
        if method == "random control":
            style = {**style, "facecolors": "none", "edgecolors": style.pop("color")}
        label = None if method in seen else method
        seen.add(method)
        ax.scatter(p["test"]["accuracy"], p["test"]["unfairness"], label=label, zorder=3, **style)
        if p.get("kind") in ("poisoning", "control"):
            ax.annotate(f"{100 * p['setting']['budget']:g}%", (p["test"]["accuracy"], p["test"]["unfairness"]),
                        textcoords="offset points", xytext=(4, 4), fontsize=7,
                        color="tab:red" if p["kind"] == "poisoning" else "tab:blue")  # fmt: skip
    ax.set_xlabel("test accuracy")
    ax.set_ylabel(f"test {metric_label}")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def points_table(points: Sequence[Mapping[str, Any]], gaps: Sequence[Mapping[str, Any]] = (),
                 *, metric: str | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """One flat row per point for ``frontier.csv``: method, kind, setting, validation and test numbers.

    ``metric`` (a fairness-block key) adds its signed value; ``gaps`` (the
    ``frontier_gap`` entries) add the gap to the poisoning rows.

    Parameters
    ----------
    points : sequence of dict
        Frontier points (``method``, ``kind``, ``setting``, ``validation``, ``test``).
    gaps : sequence of dict, default ()
        The ``frontier_gap`` entries of :func:`frontier_summary` (one per budget).
    metric : str, optional
        A fairness-block key whose signed value gets a column per split.

    Returns
    -------
    list of dict
        One row per point: ``method``, ``kind``, ``setting`` (as sorted JSON),
        ``<split>_accuracy``, ``<split>_balanced_accuracy``, ``<split>_unfairness`` (and
        ``<split>_<metric>``) for ``validation`` and ``test``, and ``frontier_gap`` (the gap of
        a poisoning point, the control gap of a control point, else ``None``).
    """
    import json

    by_budget = {g["budget"]: g for g in gaps}
    rows = []
    for p in points:
        row: dict[str, Any] = {"method": p["method"], "kind": p.get("kind"),
                               "setting": json.dumps(p.get("setting") or {}, sort_keys=True)}  # fmt: skip
        for part in ("validation", "test"):
            block = p[part]
            row[f"{part}_accuracy"] = block["accuracy"]
            row[f"{part}_balanced_accuracy"] = block.get("balanced_accuracy")
            row[f"{part}_unfairness"] = block["unfairness"]
            if metric is not None:
                row[f"{part}_{metric}"] = block.get(metric)
        gap = by_budget.get((p.get("setting") or {}).get("budget")) if p.get("kind") == "poisoning" else None
        row["frontier_gap"] = gap["gap"] if gap else (
            by_budget[p["setting"]["budget"]]["control_gap"]
            if p.get("kind") == "control" and p["setting"]["budget"] in by_budget else None)
        rows.append(row)
    return rows
