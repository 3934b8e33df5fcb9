"""Defences: output restriction of the prediction API, and the DP-SGD option.

An output restriction is applied to what *every* queried model returns, the
target's and the attacker's own shadow models alike: the attacker knows the
API and calibrates on shadows seen through it (an adaptive attacker).

- ``label-only``: the one-hot vector of the predicted label.
- ``round:k``: probabilities rounded to ``k`` decimals.
- ``top1``: only the top-1 class and its probability. For a binary task this
  determines the whole vector, so ``top1`` is *no* restriction there; it is
  implemented faithfully (and reported as such) rather than skipped.
- ``dpsgd``: train the torch models with DP-SGD (see
  :class:`~trustlab.privacy.TorchMLPClassifier`), no output restriction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from trustlab._errors import ConfigError

DEFENCES = ("none", "dpsgd", "label-only", "round:K", "top1")
"""The accepted ``--defence`` values; ``round:K`` stands for ``round:0`` ... ``round:10``."""


@dataclass(frozen=True)
class Defence:
    """A parsed ``--defence`` value.

    Parameters
    ----------
    name : str
        ``none``, ``dpsgd``, ``label-only``, ``round`` or ``top1``.
    decimals : int or None, default None
        For ``round``: the number of decimals the probabilities are rounded to.
    """

    name: str
    decimals: int | None = None

    @property
    def label(self) -> str:
        return f"round:{self.decimals}" if self.name == "round" else self.name

    @property
    def restricts_output(self) -> bool:
        return self.name in ("label-only", "round", "top1")

    def apply(self, proba: np.ndarray) -> np.ndarray:
        """What the API returns for class probabilities ``proba`` (n, k)."""
        return restrict_output(proba, self)


def parse_defence(spec: str | Defence | None) -> Defence:
    """Parse ``none``, ``dpsgd``, ``label-only``, ``round:K`` (K = 0..10) or ``top1``.

    Parameters
    ----------
    spec : str, Defence or None
        The value, case-insensitive and stripped; a :class:`Defence` is returned as it is and
        ``None`` means ``none``.

    Returns
    -------
    Defence
        The parsed defence (``round:K`` gives ``Defence("round", K)``).

    Raises
    ------
    ConfigError
        If ``spec`` is none of the accepted values (or ``K`` is above 10).
    """
    if isinstance(spec, Defence):
        return spec
    spec = "none" if spec is None else str(spec).strip().lower()
    if spec in ("none", "dpsgd", "label-only", "top1"):
        return Defence(spec)
    m = re.fullmatch(r"round:(\d+)", spec)
    if m and int(m.group(1)) <= 10:
        return Defence("round", int(m.group(1)))
    raise ConfigError(f"unknown defence {spec!r}; choose from none, dpsgd, label-only, round:K (K=0..10), top1")


def restrict_output(proba: np.ndarray, defence: Defence | str) -> np.ndarray:
    """Apply an output restriction to probabilities (rows sum to 1 before and after, except rounding).

    Parameters
    ----------
    proba : array of shape (n, k)
        Class probabilities of the queried rows.
    defence : Defence or str
        The defence (a string is parsed with :func:`parse_defence`).

    Returns
    -------
    numpy.ndarray of shape (n, k)
        For ``top1`` the attacker's reconstruction: the top class keeps its
        probability and the rest is spread evenly over the other classes.
    """
    d = parse_defence(defence)
    p = np.asarray(proba, dtype=float)
    if d.name == "label-only":
        out = np.zeros_like(p)
        out[np.arange(len(p)), p.argmax(1)] = 1.0
        return out
    if d.name == "round":
        return np.round(p, d.decimals)
    if d.name == "top1":
        top = p.argmax(1)
        ptop = p[np.arange(len(p)), top]
        out = np.repeat(((1 - ptop) / max(p.shape[1] - 1, 1))[:, None], p.shape[1], axis=1)
        out[np.arange(len(p)), top] = ptop
        return out
    return p
