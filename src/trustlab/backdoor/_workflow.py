"""End-to-end steps shared by the CLI and the benchmark: train, scan, mitigate.

Each step takes an :class:`~trustlab.datasets.ImageSplit` and touches the
splits in one direction only: training sees train, Neural Cleanse and the
mitigations see validation, and every reported number is measured on test.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from torch import nn

from trustlab._errors import ConfigError
from trustlab.backdoor._cleanse import CleanseResult, neural_cleanse
from trustlab.backdoor._mitigate import MitigationResult, evaluate, prune_neurons, unlearn
from trustlab.backdoor._model import train_classifier
from trustlab.backdoor._triggers import Trigger, poison
from trustlab.datasets._images import ImageSplit


@dataclass
class TrainResult:
    """A trained (possibly backdoored) model and its ``train.json`` numbers."""

    model: nn.Module
    trigger: Trigger | None
    target: int | None
    report: dict[str, Any]


def check_target(target: int, n_classes: int) -> int:
    """Validate a target label."""
    if isinstance(target, bool) or int(target) != target or not 0 <= int(target) < n_classes:
        raise ConfigError(f"target label {target} is outside the classes 0..{n_classes - 1}")
    return int(target)


def train_model(
    split: ImageSplit,
    *,
    trigger: Trigger | None = None,
    target: int | None = None,
    poison_rate: float = 0.1,
    epochs: int = 10,
    channels: tuple[int, int] = (16, 32),
    hidden: int = 128,
    seed: int = 0,
    progress: bool = False,
) -> TrainResult:
    """Train a SmallCNN on ``split.train``, BadNets-poisoned when ``trigger`` is given.

    Parameters
    ----------
    split : ImageSplit
    trigger : Trigger, optional
        The backdoor trigger; ``None`` trains a clean model.
    target : int, optional
        Target label (required with ``trigger``).
    poison_rate : float
        Share of training images stamped and relabelled, in (0, 1).
    epochs, channels, hidden : training and architecture.
    seed : int
        Seeds the poisoned subset, the initialisation and the batch order.
    progress : bool

    Returns
    -------
    TrainResult
        ``report`` holds ``clean_accuracy`` and ``asr`` on the test split
        (``asr`` is null for a clean model), ``trigger``, ``target`` and more.
    """
    n_classes = split.train.n_classes
    x, y = split.train.images, split.train.labels
    poisoned = 0
    if trigger is not None:
        if target is None:
            raise ConfigError("a backdoor needs a target label")
        target = check_target(target, n_classes)
        if trigger.image_shape != split.train.image_shape:
            raise ConfigError(
                f"trigger shape {trigger.image_shape} does not fit images {split.train.image_shape}"
            )
        x, y, idx = poison(x, y, trigger=trigger, target=target, rate=poison_rate, seed=seed)
        poisoned = len(idx)
    else:
        target = None
    t0 = time.perf_counter()
    model = train_classifier(
        x, y, n_classes=n_classes, epochs=epochs, channels=channels, hidden=hidden,
        seed=seed, progress=progress,
    )  # fmt: skip
    seconds = time.perf_counter() - t0
    ev = evaluate(model, split.test.images, split.test.labels, trigger=trigger, target=target)
    report = {
        "clean_accuracy": ev["clean_accuracy"],
        "asr": ev["asr"],
        "trigger": trigger.spec if trigger is not None else None,
        "target": target,
        "poison_rate": poison_rate if trigger is not None else None,
        "poisoned_images": poisoned,
        "dataset": split.train.name,
        "split": split.sizes(),
        "seed": split.seed,
        "train_seed": seed,
        "epochs": epochs,
        "train_seconds": seconds,
        "evaluated_on": "test",
    }
    return TrainResult(model, trigger, target, report)


def scan_model(
    model: nn.Module, split: ImageSplit, *, progress: bool = False, **options: Any
) -> CleanseResult:
    """Neural Cleanse over all labels on the validation split (never the test split)."""
    return neural_cleanse(
        model, split.val.images, split.val.labels, n_classes=split.val.n_classes,
        progress=progress, **options,
    )  # fmt: skip


def mitigate(
    model: nn.Module,
    split: ImageSplit,
    scan: CleanseResult,
    *,
    method: str = "unlearn",
    trigger: Trigger | None = None,
    target: int | None = None,
    seed: int = 0,
    progress: bool = False,
    **options: Any,
) -> tuple[MitigationResult, dict[str, Any]]:
    """Mitigate the labels ``scan`` flagged and measure before/after on the test split.

    Parameters
    ----------
    method : ``"unlearn"`` or ``"prune"``
    trigger, target : the true trigger and target, if known, for the ASR fields.

    Returns
    -------
    MitigationResult, dict
        The dict is the ``unlearn.json`` schema: ``clean_accuracy_before``,
        ``clean_accuracy_after``, ``asr_before``, ``asr_after`` (null when the
        trigger is unknown), ``flagged``, ``changed`` and the method's details.
    """
    flagged = [int(v) for v in scan.flagged]
    triggers = [scan.trigger(lab) for lab in flagged]
    if method == "unlearn":
        res = unlearn(model, split.val.images, split.val.labels, triggers=triggers, seed=seed,
                      progress=progress, **options)  # fmt: skip
    elif method == "prune":
        res = prune_neurons(model, split.val.images, split.val.labels, triggers=triggers,
                            targets=flagged, **options)  # fmt: skip
    else:
        raise ConfigError(f"unknown mitigation method {method!r}; choose unlearn or prune")
    before = evaluate(model, split.test.images, split.test.labels, trigger=trigger, target=target)
    after = (
        evaluate(res.model, split.test.images, split.test.labels, trigger=trigger, target=target)
        if res.changed
        else before
    )
    rev_before, rev_after = _reversed_asr(model, res.model, split, scan, flagged)
    report = {
        "method": method,
        "flagged": flagged,
        "changed": res.changed,
        "note": None if flagged else "no label flagged; the model is left unchanged",
        "clean_accuracy_before": before["clean_accuracy"],
        "clean_accuracy_after": after["clean_accuracy"],
        "asr_before": before["asr"],
        "asr_after": after["asr"],
        "trigger": trigger.spec if trigger is not None else None,
        "target": target,
        "val_reversed_asr_before": rev_before,
        "val_reversed_asr_after": rev_after,
        "evaluated_on": "test",
        "details": res.details,
    }
    return res, report


def _reversed_asr(before: nn.Module, after: nn.Module, split: ImageSplit, scan: CleanseResult,
                  flagged: list[int]) -> tuple[dict[str, float], dict[str, float]]:  # fmt: skip
    """ASR of each flagged label's reversed trigger on the validation split."""
    from trustlab.backdoor._model import attack_success_rate

    out_b: dict[str, float] = {}
    out_a: dict[str, float] = {}
    for lab in flagged:
        trig = scan.trigger(lab)
        kw = {"trigger": trig, "target": lab}
        out_b[str(lab)] = attack_success_rate(before, split.val.images, split.val.labels, **kw)
        out_a[str(lab)] = attack_success_rate(after, split.val.images, split.val.labels, **kw)
    return out_b, out_a


def cleanse_from_arrays(labels: list[int], masks: np.ndarray, patterns: np.ndarray,
                        flagged: list[int]) -> CleanseResult:  # fmt: skip
    """Rebuild a minimal :class:`CleanseResult` from saved arrays (for ``unlearn --scan``).

    The saved ``flagged`` list is authoritative; norms and the index are recomputed.
    """
    from trustlab.backdoor._cleanse import mad_anomaly_index

    norms = masks.reshape(len(labels), -1).sum(axis=1).astype(np.float64)
    index = mad_anomaly_index(norms) if len(labels) >= 2 else np.zeros(len(labels))
    n = len(labels)
    return CleanseResult(
        labels=list(labels), masks=masks, patterns=patterns, l1_norms=norms,
        asr=np.full(n, np.nan), reached=np.ones(n, bool), anomaly_index=index,
        flagged=list(flagged), seconds=0.0, steps=np.zeros(n, int), final_cost=np.zeros(n),
    )  # fmt: skip
