"""Who pays the privacy price: per-record risk scores and their distributions per group.

:func:`risk_table` turns an audit into one row per evaluation record (its
dataset row number, sensitive group, membership, every attack's score and a
combined risk rank); :func:`plot_risk` draws members' and non-members'
score distributions per group, so that a repair that moves risk from one
group to the other shows up as a shift in one row of panels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from trustlab._errors import DataError

RISK_COLUMNS = ("row", "group", "member")
"""Leading columns of ``risk.csv``; one ``<target>_<attack>`` score column per attack follows, then ``rank``."""


def risk_table(result: Any) -> pd.DataFrame:
    """Per-record membership risk of an :class:`~trustlab.privacy.AuditResult`.

    Parameters
    ----------
    result : AuditResult
        An audit with its evaluation rows' numbers (``rows``), groups, membership and scores.

    Returns
    -------
    pandas.DataFrame
        ``row`` (dataset row number), ``group``, ``member`` (1/0), one column
        ``<target>_<attack>`` per attack score (``biased_loss``,
        ``fair_rmia``, ``pair_fdmia``, ...; larger = more likely a member),
        and ``rank``: 1 for the record the attacks rank most exposed. The
        rank orders records by the mean, over attacks, of each score's
        percentile among the evaluation records (so attacks on different
        scales weigh equally). Sorted by ``rank``.

    Raises
    ------
    DataError
        If the result carries no row number for each evaluation row.
    """
    cols: dict[str, Any] = {"row": np.asarray(result.rows, int), "group": np.asarray(result.groups).astype(str),
                            "member": np.asarray(result.membership, int)}  # fmt: skip
    if len(cols["row"]) != len(cols["member"]):
        raise DataError("the audit result carries no row numbers for its evaluation rows")
    for role, block in result.scores.items():
        cols.update({f"{role}_{k}": np.asarray(v, float) for k, v in block.items()})
    df = pd.DataFrame(cols)
    score_cols = [c for c in df.columns if c not in RISK_COLUMNS]
    if score_cols:
        pct = np.column_stack([rankdata(df[c], method="average") / len(df) for c in score_cols])
        df["rank"] = rankdata(-pct.mean(1), method="min").astype(int)
    else:
        df["rank"] = 1
    return df.sort_values(["rank", "row"]).reset_index(drop=True)


def write_risk(result: Any, path: str | Path) -> pd.DataFrame:
    """Write :func:`risk_table` as CSV; returns the table.

    Parameters
    ----------
    result : AuditResult
        The audit.
    path : str or pathlib.Path
        The CSV file to write (without an index column).

    Returns
    -------
    pandas.DataFrame
        The table written.

    Raises
    ------
    DataError
        If the result carries no row numbers (see :func:`risk_table`).
    """
    df = risk_table(result)
    df.to_csv(path, index=False)
    return df


def plot_risk(risk: pd.DataFrame, path: str | Path, *, columns: list[str] | None = None, title: str = "") -> Path:
    """Members' vs non-members' score distributions, one row of panels per group, one column per attack.

    Parameters
    ----------
    risk : pandas.DataFrame
        From :func:`risk_table`.
    path : str or pathlib.Path
        The image file to write.
    columns : list of str, optional
        Score columns to draw (default: the fair target's attacks and the pair's, at most 6).
    title : str, default ""
        The figure's title (a generic one when empty).

    Returns
    -------
    pathlib.Path
        The file written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    score_cols = [c for c in risk.columns if c not in (*RISK_COLUMNS, "rank")]
    if columns is None:
        columns = [c for c in score_cols if c.startswith(("fair_", "pair_"))][:6] or score_cols[:6]
    groups = sorted(risk["group"].unique())
    fig, axes = plt.subplots(len(groups), len(columns), figsize=(2.6 * len(columns) + 0.6, 2.2 * len(groups) + 0.6),
                             squeeze=False)  # fmt: skip
    for i, g in enumerate(groups):
        sub = risk[risk["group"] == g]
        for j, c in enumerate(columns):
            ax = axes[i, j]
            vals = risk[c].to_numpy(float)
            lo, hi = np.nanpercentile(vals, [0.5, 99.5])
            bins = np.linspace(lo, hi if hi > lo else lo + 1.0, 30)
            for flag, label in ((1, "members"), (0, "non-members")):
                v = sub.loc[sub["member"] == flag, c].to_numpy(float)
                ax.hist(np.clip(v, bins[0], bins[-1]), bins=bins, alpha=0.55, density=True,
                        label=f"{label} ({len(v)})")  # fmt: skip
            if i == 0:
                ax.set_title(c, fontsize=8)
            if j == 0:
                ax.set_ylabel(str(g), fontsize=8)
            ax.tick_params(labelsize=6)
            ax.legend(fontsize=5)
    fig.suptitle(title or "membership score: members vs non-members, per group", fontsize=9)
    return save_figure(fig, path)


def save_figure(fig: Any, path: str | Path) -> Path:
    """Tight layout, save at 110 dpi, close."""
    import matplotlib.pyplot as plt

    path = Path(path)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
