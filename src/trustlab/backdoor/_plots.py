"""PNG figures for backdoor scans (matplotlib, Agg backend)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from trustlab.backdoor._cleanse import CleanseResult


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def plot_triggers(result: CleanseResult, path: str | os.PathLike) -> Path:
    """Grid of every label's reverse-engineered mask (top) and masked pattern (bottom).

    Flagged labels are marked with ``*`` and titled in red; each title gives the mask's L1 norm.

    Parameters
    ----------
    result : CleanseResult
        A Neural Cleanse scan.
    path : str or os.PathLike
        The image file to write (110 dpi).

    Returns
    -------
    pathlib.Path
        The file written.
    """
    plt = _plt()
    n = len(result.labels)
    fig, axes = plt.subplots(2, n, figsize=(1.4 * n + 0.6, 3.4), squeeze=False)
    for i, lab in enumerate(result.labels):
        mask = result.masks[i]
        masked = result.patterns[i] * mask[None]
        img = masked[0] if masked.shape[0] == 1 else np.moveaxis(masked, 0, -1)
        flag = lab in result.flagged
        title = f"{lab}{' *' if flag else ''}\n|m|={result.l1_norms[i]:.1f}"
        axes[0, i].imshow(mask, cmap="gray", vmin=0, vmax=1)
        axes[0, i].set_title(title, fontsize=8, color="red" if flag else "black")
        axes[1, i].imshow(img, cmap="gray", vmin=0, vmax=1)
        for ax in axes[:, i]:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel("mask", fontsize=8)
    axes[1, 0].set_ylabel("mask x pattern", fontsize=8)
    fig.suptitle("Neural Cleanse: reverse-engineered triggers (* = flagged)", fontsize=9)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_norms(result: CleanseResult, path: str | os.PathLike, *, threshold: float = 2.0) -> Path:
    """Bar chart of mask L1 norms with the median and the flag threshold.

    Flagged labels are red; each bar is annotated with its anomaly index, and the dotted line
    is ``median - threshold * 1.4826 * MAD``.

    Parameters
    ----------
    result : CleanseResult
        A Neural Cleanse scan.
    path : str or os.PathLike
        The image file to write (110 dpi).
    threshold : float, default 2.0
        The anomaly-index threshold drawn.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    from trustlab.backdoor._cleanse import MAD_CONSISTENCY

    plt = _plt()
    norms = np.asarray(result.l1_norms)
    med = float(np.median(norms))
    mad = MAD_CONSISTENCY * float(np.median(np.abs(norms - med)))
    cut = med - threshold * mad
    colors = ["tab:red" if lab in result.flagged else "tab:blue" for lab in result.labels]
    fig, ax = plt.subplots(figsize=(6.0, 3.4))
    ax.bar([str(v) for v in result.labels], norms, color=colors)
    ax.axhline(med, color="gray", linestyle="--", linewidth=1, label=f"median {med:.1f}")
    ax.axhline(cut, color="tab:red", linestyle=":", linewidth=1.2,
               label=f"flag below {cut:.1f} (index > {threshold:g})")  # fmt: skip
    for i, v in enumerate(norms):
        ax.text(i, v, f"{result.anomaly_index[i]:.1f}", ha="center", va="bottom", fontsize=7)
    ax.set_xlabel("label (number above bar: anomaly index)")
    ax.set_ylabel("mask L1 norm")
    ax.set_title("Neural Cleanse mask norms", fontsize=9)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
