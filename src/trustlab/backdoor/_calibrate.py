"""A Neural Cleanse detector calibrated on clean reference models.

The MAD rule compares a model's labels with each other, so a clean model
whose labels' mask norms happen to spread widely can cross the threshold of 2,
and a backdoored one whose other labels spread widely can stay under it.
Calibration asks instead how small each label's mask is *compared with the
same label on clean models* of the same kind:

* each model's norms become a log profile, ``log(norm) - median(log(norms))``,
  which removes the model's overall scale;
* the clean references give a centre per label (the mean of their profiles)
  and one pooled spread (the within-label standard deviation, pooled over
  labels; with a single reference, the spread of its profile across labels);
* a label's calibrated index is ``(centre - profile) / spread``: how many
  spreads smaller than on clean models its mask is. Labels above
  ``threshold`` (default 3) are flagged.

The false-positive rate is measured on the references themselves: the share
flagged by the MAD rule (their own scans), and, with two or more references,
the share flagged by the calibrated rule when each reference is tested
against the others (leave-one-out).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from trustlab._errors import ConfigError
from trustlab.backdoor._cleanse import MAD_CONSISTENCY, flag_outliers, mad_anomaly_index

CALIBRATED_THRESHOLD = 3.0
"""Default calibrated-index threshold (a one-sided z of 3)."""
_FLOOR = 1e-6


def _profile(norms: np.ndarray) -> np.ndarray:
    logs = np.log(np.maximum(norms, _FLOOR))
    return logs - np.median(logs, axis=-1, keepdims=True)


def _check(norms: np.ndarray, reference_norms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    norms = np.asarray(norms, dtype=np.float64)
    ref = np.asarray(reference_norms, dtype=np.float64)
    if ref.ndim == 1:
        ref = ref[None]
    if norms.ndim != 1 or len(norms) < 2:
        raise ConfigError("calibration needs the mask norms of at least two labels")
    if ref.ndim != 2 or len(ref) < 1:
        raise ConfigError("calibration needs at least one clean reference model (references >= 1)")
    if ref.shape[1] != len(norms):
        raise ConfigError(
            f"reference models have {ref.shape[1]} labels but the scanned model has {len(norms)}"
        )
    if not (np.all(np.isfinite(norms)) and np.all(np.isfinite(ref))) or norms.min() < 0 or ref.min() < 0:
        raise ConfigError("mask norms must be finite and non-negative")
    return norms, ref


def calibrated_index(
    norms: np.ndarray, reference_norms: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """Each label's anomaly index against clean reference models.

    Parameters
    ----------
    norms : numpy.ndarray ``[L]``
        Mask L1 norms of the scanned model's labels.
    reference_norms : numpy.ndarray ``[N, L]``
        The same labels' norms on ``N >= 1`` clean reference models.

    Returns
    -------
    index : numpy.ndarray ``[L]``
        ``(centre - profile) / spread``; large and positive = the label's
        mask is much smaller than on clean models.
    centre : numpy.ndarray ``[L]``
        The references' mean log profile per label.
    spread : float
        The pooled spread used as the unit.
    """
    norms, ref = _check(norms, reference_norms)
    prof, ref_prof = _profile(norms), _profile(ref)
    centre = ref_prof.mean(axis=0)
    n, n_lab = ref_prof.shape
    if n >= 2:
        spread = float(np.sqrt(((ref_prof - centre) ** 2).sum() / ((n - 1) * n_lab)))
    else:
        spread = float(MAD_CONSISTENCY * np.median(np.abs(ref_prof[0] - np.median(ref_prof[0]))))
    spread = max(spread, _FLOOR)
    return (centre - prof) / spread, centre, spread


@dataclass
class Calibration:
    """The calibrated test of one scanned model against clean references.

    Parameters
    ----------
    labels : list of int
        Label of each position of the arrays.
    index : numpy.ndarray ``[L]``
        Calibrated anomaly index per label.
    flagged : list of int
        Labels whose calibrated index exceeds ``threshold``.
    threshold : float
        The calibrated-index threshold used.
    spread : float
        Pooled spread of the references' log profiles.
    n_references : int
        Number of clean reference models.
    reference_mad_fpr : float
        Share of reference models the MAD rule flags (any label).
    reference_calibrated_fpr : float or None
        Share of reference models the calibrated rule flags when each is tested
        against the other references (None with a single reference).
    reference_norms : numpy.ndarray ``[N, L]``
        The references' mask norms.
    """

    labels: list[int]
    index: np.ndarray
    flagged: list[int]
    threshold: float
    spread: float
    n_references: int
    reference_mad_fpr: float
    reference_calibrated_fpr: float | None
    reference_norms: np.ndarray

    def to_json(self) -> dict[str, Any]:
        """The ``calibration`` block of ``scan.json``."""
        return {
            "references": self.n_references,
            "index": {str(lab): float(self.index[i]) for i, lab in enumerate(self.labels)},
            "flagged": [int(v) for v in self.flagged],
            "threshold": self.threshold,
            "spread": self.spread,
            "false_positive_rate": {
                "mad_rule_on_references": self.reference_mad_fpr,
                "calibrated_rule_leave_one_out": self.reference_calibrated_fpr,
            },
            "reference_l1_norms": [[float(v) for v in row] for row in self.reference_norms],
        }


def calibrate(
    norms: np.ndarray,
    reference_norms: np.ndarray,
    *,
    labels: list[int] | None = None,
    threshold: float = CALIBRATED_THRESHOLD,
    mad_threshold: float = 2.0,
) -> Calibration:
    """Test a scanned model's norms against ``N >= 1`` clean reference models.

    Parameters
    ----------
    norms : numpy.ndarray ``[L]``
        Mask L1 norms of the scanned model's labels.
    reference_norms : numpy.ndarray ``[N, L]``
        Norms of the same labels, scanned the same way, on clean models.
    labels : list of int, optional
        Label of each position (default ``0 .. L-1``).
    threshold : float
        Calibrated-index threshold.
    mad_threshold : float
        The MAD rule's threshold, for the references' false-positive rate.

    Returns
    -------
    Calibration
        The calibrated index and flagged labels, with the references' false-positive rates
        under the MAD rule and (with two or more references) under the calibrated rule, leave
        one reference out.

    Raises
    ------
    ConfigError
        No reference, mismatched label counts, negative or non-finite norms.
    """
    norms, ref = _check(norms, reference_norms)
    if threshold <= 0:
        raise ConfigError(f"calibrated threshold must be > 0, got {threshold}")
    labels = list(range(len(norms))) if labels is None else [int(v) for v in labels]
    if len(labels) != len(norms):
        raise ConfigError("one label per norm is needed")
    index, _, spread = calibrated_index(norms, ref)
    mad_flags = [
        len(flag_outliers(r, mad_anomaly_index(r), threshold=mad_threshold)) > 0 for r in ref
    ]
    loo: float | None = None
    if len(ref) >= 2:
        hits = [
            bool((calibrated_index(ref[i], np.delete(ref, i, axis=0))[0] > threshold).any())
            for i in range(len(ref))
        ]
        loo = float(np.mean(hits))
    return Calibration(
        labels=labels, index=index,
        flagged=[labels[i] for i in np.flatnonzero(index > threshold)],
        threshold=float(threshold), spread=spread, n_references=len(ref),
        reference_mad_fpr=float(np.mean(mad_flags)), reference_calibrated_fpr=loo,
        reference_norms=ref,
    )  # fmt: skip
