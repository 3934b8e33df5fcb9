"""One registry of the group-fairness metrics every part of trustlab reads.

A :class:`FairnessMetric` says, for one metric: its canonical name (the key of
the fairness block that :func:`~trustlab.fairness.evaluate` returns), the
group rate it compares and on which true label's rows, how a signed gap turns
into a non-negative *unfairness*, which group the gap favours, and a
differentiable surrogate for gradient-based poisoning. The black-box and
gradient poisoners, the frontier, summaries and reports all look metrics up
here, so a new metric is one entry in :data:`FAIRNESS_METRICS`.

Sign convention (as everywhere in trustlab): differences are **privileged
minus unprivileged**; disparate impact is ``rate_u / rate_p``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trustlab._errors import ConfigError


def _gap_sq(rate: str) -> Callable[[dict[str, Any]], Any]:
    return lambda g: g[rate] ** 2


@dataclass(frozen=True)
class FairnessMetric:
    """A group-fairness metric of binary predictions.

    Parameters
    ----------
    name : str
        Canonical name, also the key of the fairness block.
    label : str
        Short display label (``"|SPD|"``).
    rate : {"selection_rate", "tpr", "fpr", "fnr"}
        The group rate the metric compares (equalized odds: the TPR *and* FPR).
    label_side : {None, 0, 1}
        Rows whose true label the rate is computed on: ``None`` all rows
        (selection rate), ``1`` positives (TPR/FNR), ``0`` negatives (FPR).
    kind : {"difference", "ratio", "max_abs"}
        ``difference``: unfairness ``|gap|``; ``ratio``: ``|1 - ratio|``;
        ``max_abs``: already a non-negative maximum of absolute gaps.
    aliases : tuple of str
        Other accepted names (the CLI's short names).
    description : str
        One line for reports and ``--help``.
    """

    name: str
    label: str
    rate: str
    label_side: int | None
    kind: str
    aliases: tuple[str, ...] = ()
    description: str = ""
    _soft: Callable[[dict[str, Any]], Any] | None = field(default=None, repr=False, compare=False)

    @property
    def key(self) -> str:
        """Key of the fairness block the metric is read from (the canonical name)."""
        return self.name

    @staticmethod
    def _fairness(block: Mapping[str, Any]) -> Mapping[str, Any]:
        return block["fairness"] if "fairness" in block else block

    def signed(self, block: Mapping[str, Any]) -> float:
        """The metric's value as stored: a signed gap, a ratio, or (equalized odds) a max.

        ``block`` is :func:`~trustlab.fairness.evaluate`'s dict or a flat one.
        """
        value = self._fairness(block).get(self.key)
        return float("nan") if value is None else float(value)

    def unfairness(self, block: Mapping[str, Any]) -> float:
        """The non-negative unfairness (0 is parity); ``inf`` when undefined."""
        value = self.signed(block)
        if not np.isfinite(value):
            return float("inf")
        return abs(1.0 - value) if self.kind == "ratio" else abs(value)

    def direction(self, block: Mapping[str, Any]) -> int:
        """``+1`` when the privileged group has the higher rate the metric compares, else ``-1``.

        For equalized odds the larger of the TPR and FPR gaps decides; for
        disparate impact a ratio below 1 means the privileged rate is higher.
        A gap of exactly 0 (or an undefined one) counts as ``+1``.
        """
        fair = self._fairness(block)
        if self.kind == "ratio":
            gap = 1.0 - self.signed(block)
        elif self.kind == "max_abs":
            tpr = float(fair.get("equal_opportunity_difference") or 0.0)
            fpr = float(fair.get("fpr_difference") or 0.0)
            gap = tpr if abs(tpr) >= abs(fpr) else fpr
        else:
            gap = self.signed(block)
        return -1 if np.isfinite(gap) and gap < 0 else 1

    def soft(self, gaps: dict[str, Any]) -> Any:
        """A smooth surrogate of the unfairness from soft group gaps (torch or numpy).

        ``gaps`` holds ``sel`` (the two groups' soft selection rates,
        privileged first) and the soft ``sp``, ``tpr``, ``fpr`` gaps; the
        surrogate is ``sqrt(gap^2 + 1e-8)`` on the metric's scale.
        """
        if self._soft is None:
            raise ConfigError(f"metric {self.name!r} has no differentiable surrogate")
        sq = self._soft(gaps)
        return (sq + 1e-8) ** 0.5


FAIRNESS_METRICS: dict[str, FairnessMetric] = {
    m.name: m
    for m in (
        FairnessMetric("statistical_parity_difference", "|SPD|", "selection_rate", None, "difference",
                       aliases=("statistical_parity", "spd"),
                       description="P(y_hat=1 | privileged) - P(y_hat=1 | unprivileged)",
                       _soft=_gap_sq("sp")),  # fmt: skip
        FairnessMetric("disparate_impact", "|1 - DI|", "selection_rate", None, "ratio",
                       aliases=("di",), description="P(y_hat=1 | unprivileged) / P(y_hat=1 | privileged)",
                       _soft=lambda g: (1.0 - g["sel"][1] / (g["sel"][0] + 1e-6)) ** 2),  # fmt: skip
        FairnessMetric("equalized_odds_difference", "EOdds", "tpr,fpr", None, "max_abs",
                       aliases=("equalized_odds",), description="max(|TPR gap|, |FPR gap|) (fairlearn's)",
                       _soft=lambda g: g["tpr"] ** 2 + g["fpr"] ** 2),  # fmt: skip
        FairnessMetric("equal_opportunity_difference", "|TPR gap|", "tpr", 1, "difference",
                       aliases=("equal_opportunity",), description="TPR(privileged) - TPR(unprivileged)",
                       _soft=_gap_sq("tpr")),  # fmt: skip
        FairnessMetric("fpr_difference", "|FPR gap|", "fpr", 0, "difference",
                       aliases=("fpr_gap",), description="FPR(privileged) - FPR(unprivileged)",
                       _soft=_gap_sq("fpr")),  # fmt: skip
        FairnessMetric("fnr_difference", "|FNR gap|", "fnr", 1, "difference",
                       aliases=("fnr_gap",), description="FNR(privileged) - FNR(unprivileged)",
                       _soft=lambda g: g["tpr"] ** 2),  # the FNR gap is minus the TPR gap
    )
}
"""The registered fairness metrics: canonical name -> :class:`FairnessMetric`.

The six metrics of :data:`FAIRNESS_KEYS`, each with its aliases (e.g. ``spd``), display
name, the rate it compares and a differentiable surrogate.
"""

_ALIASES = {alias: m.name for m in FAIRNESS_METRICS.values() for alias in (m.name, *m.aliases)}


def metric_names(*, aliases: bool = True) -> list[str]:
    """Every accepted metric name (canonical names first).

    Parameters
    ----------
    aliases : bool, default True
        Also list the aliases (after the canonical names).

    Returns
    -------
    list of str
        The names, in the registry's order.
    """
    names = list(FAIRNESS_METRICS)
    return names + [a for a in _ALIASES if a not in FAIRNESS_METRICS] if aliases else names


def get_metric(name: str | FairnessMetric) -> FairnessMetric:
    """The registered metric called ``name`` (canonical or alias).

    Parameters
    ----------
    name : str or FairnessMetric
        A canonical name or an alias; a :class:`FairnessMetric` is returned as it is.

    Returns
    -------
    FairnessMetric
        The registered metric.

    Raises
    ------
    ConfigError
        For an unknown name (one line listing the choices).
    """
    if isinstance(name, FairnessMetric):
        return name
    if name not in _ALIASES:
        raise ConfigError(f"unknown metric {name!r}; choose from {', '.join(metric_names())}")
    return FAIRNESS_METRICS[_ALIASES[name]]
