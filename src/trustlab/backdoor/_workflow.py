"""End-to-end steps shared by the CLI and the benchmark: train, scan, mitigate.

Each step takes an :class:`~trustlab.datasets.ImageSplit` and touches the
splits in one direction only: training sees train, Neural Cleanse and the
mitigations see validation, and every reported number is measured on test.

Threat model of the defence: the defender holds a clean, correctly labelled
set that is disjoint from the (poisoned) training data. :func:`defender_split`
makes it the validation split, its size a parameter (``clean_size``: a share
of the data or an image count); the test split (20%) is the same for every
``clean_size`` of a seed, and the attacker trains on the rest.
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
from trustlab.datasets import ImageDataset, ImageSplit, split_images

DEFAULT_CLEAN_SIZE = 0.2
"""Default size of the defender's clean set: a share of all images (MNIST-5k: 1,000 of 5,000)."""
TEST_SHARE = 0.2
"""Share of the data held out as the test split."""


@dataclass
class TrainResult:
    """A trained (possibly backdoored) model and its ``train.json`` numbers.

    Parameters
    ----------
    model : torch.nn.Module
        The trained model.
    trigger : Trigger or None
        The backdoor trigger it was poisoned with; ``None`` for a clean model.
    target : int or None
        The backdoor's target label; ``None`` for a clean model.
    report : dict
        The ``train.json`` content: clean accuracy and ASR on the test split, the poisoning
        settings, the split sizes, seeds and training time.
    """

    model: nn.Module
    trigger: Trigger | None
    target: int | None
    report: dict[str, Any]


def clean_set_size(clean_size: float, n_images: int) -> int:
    """Number of images in the defender's clean set.

    Parameters
    ----------
    clean_size : float
        A share of the data in (0, 1), or a whole number of images >= 1.
    n_images : int
        Images in the whole data set.

    Returns
    -------
    int
        ``round(clean_size * n_images)`` for a share, else ``clean_size`` itself.

    Raises
    ------
    ConfigError
        Zero or negative, larger than the data, or leaving fewer than 10
        images to train on beside the 20% test split.
    """
    value = float(clean_size)
    if not np.isfinite(value) or value <= 0:
        raise ConfigError(f"clean-set size must be > 0 (a share in (0, 1) or a count), got {clean_size}")
    if value >= 1 and value != int(value):
        raise ConfigError(f"a clean-set size >= 1 counts images and must be whole, got {clean_size}")
    n = int(round(value * n_images)) if value < 1 else int(value)
    if n > n_images:
        raise ConfigError(f"clean-set size {n} is larger than the data ({n_images} images)")
    n_train = n_images - int(np.ceil(TEST_SHARE * n_images)) - n
    if n < 1 or n_train < 10:
        raise ConfigError(
            f"clean-set size {clean_size} leaves {max(n_train, 0)} of {n_images} images to train on "
            f"beside the {TEST_SHARE:.0%} test split; use a smaller one"
        )
    return n


def defender_split(
    ds: ImageDataset, *, seed: int = 0, clean_size: float = DEFAULT_CLEAN_SIZE
) -> ImageSplit:
    """Train / defender's clean set (``val``) / test, stratified on the label.

    ``clean_size`` 0.1 reproduces :func:`~trustlab.datasets.split_images`'s
    default 70/10/20 split; the test split depends on the seed only.

    Parameters
    ----------
    ds : ImageDataset
        The whole image data set.
    seed : int, default 0
        Seed of the split.
    clean_size : float, default DEFAULT_CLEAN_SIZE
        Size of the clean set: a share of the data in (0, 1) or a whole number of images
        (see :func:`clean_set_size`).

    Returns
    -------
    ImageSplit
        ``train`` (the rest), ``val`` (the clean set) and ``test`` (:data:`TEST_SHARE`).

    Raises
    ------
    ConfigError
        If ``clean_size`` is invalid for the data (see :func:`clean_set_size`).
    """
    n_clean = clean_set_size(clean_size, len(ds))
    share = n_clean / len(ds)
    return split_images(ds, seed=seed, sizes=(1.0 - TEST_SHARE - share, share, TEST_SHARE))


def check_target(target: int, n_classes: int) -> int:
    """Validate a target label.

    Parameters
    ----------
    target : int
        The label; a whole number (not a bool).
    n_classes : int
        The number of classes.

    Returns
    -------
    int
        ``target`` as an int.

    Raises
    ------
    ConfigError
        If ``target`` is not a whole number in ``0 .. n_classes - 1``.
    """
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
        The split: the model trains on ``train`` and is measured on ``test``.
    trigger : Trigger, optional
        The backdoor trigger; ``None`` trains a clean model.
    target : int, optional
        Target label (required with ``trigger``).
    poison_rate : float
        Share of training images stamped and relabelled, in (0, 1).
    epochs, channels, hidden
        Training epochs, the two conv layers' filters and the dense layer's units
        (see :func:`train_classifier`).
    seed : int
        Seeds the poisoned subset, the initialisation and the batch order.
    progress : bool
        Show a progress bar.

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
    """Neural Cleanse over all labels on the validation split (never the test split).

    Parameters
    ----------
    model : torch.nn.Module
        The model under test.
    split : ImageSplit
        The split whose ``val`` part (the defender's clean set) is scanned on.
    progress : bool, default False
        Show a progress bar.
    **options
        Further keyword arguments of :func:`neural_cleanse` (steps, learning rate, seed, ...).

    Returns
    -------
    CleanseResult
        The reversed triggers, their norms and the flagged labels.
    """
    return neural_cleanse(
        model, split.val.images, split.val.labels, n_classes=split.val.n_classes,
        progress=progress, **options,
    )  # fmt: skip


def reference_norms(
    split: ImageSplit,
    *,
    n: int,
    seed: int = 0,
    epochs: int = 10,
    channels: tuple[int, int] = (16, 32),
    hidden: int = 128,
    progress: bool = False,
    **scan_options: Any,
) -> tuple[np.ndarray, list[int]]:
    """Train ``n`` clean reference models and scan each like the model under test.

    The references are trained on the clean training split (no poisoning)
    with seeds ``seed + 1000 * (k + 1)`` and scanned on the defender's clean
    set with ``scan_options``; their norms calibrate the detector (see
    :func:`~trustlab.backdoor.calibrate`).

    Parameters
    ----------
    split : ImageSplit
        The split: references train on ``train`` and are scanned on ``val``.
    n : int
        Number of reference models (>= 1).
    seed : int, default 0
        Base seed; reference k (from 0) uses ``seed + 1000 * (k + 1)`` for training and scanning.
    epochs, channels, hidden
        Training and architecture settings, as in :func:`train_model`.
    progress : bool, default False
        Show progress bars.
    **scan_options
        Keyword arguments of :func:`neural_cleanse`, as for the model under test.

    Returns
    -------
    norms : numpy.ndarray ``[n, n_classes]``
        The mask L1 norms of every reference model's labels.
    seeds : list of int
        The seed of each reference model.

    Raises
    ------
    ConfigError
        ``n < 1``.
    """
    if int(n) < 1:
        raise ConfigError(f"the calibrated detector needs at least one reference model, got {n}")
    seeds = [int(seed) + 1000 * (k + 1) for k in range(int(n))]
    rows = []
    for s in seeds:
        ref = train_model(split, epochs=epochs, channels=channels, hidden=hidden, seed=s,
                          progress=progress)  # fmt: skip
        rows.append(scan_model(ref.model, split, seed=s, progress=progress, **scan_options).l1_norms)
    return np.array(rows), seeds


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
    model : torch.nn.Module
        The model under test (its weights are not changed: a mitigation works on a copy).
    split : ImageSplit
        The split: the mitigation uses ``val`` (the defender's clean set), the report ``test``.
    scan : CleanseResult
        The scan whose flagged labels' reversed triggers are mitigated.
    method : ``"unlearn"`` or ``"prune"``
        :func:`unlearn` (fine-tuning on clean images, some stamped with the reversed
        triggers, true labels kept) or :func:`prune_neurons`.
    trigger, target : Trigger and int, optional
        The true trigger and target, if known, for the ASR fields.
    seed : int, default 0
        Seed of unlearning.
    progress : bool, default False
        Show a progress bar (unlearning).
    **options
        Further keyword arguments of :func:`unlearn` or :func:`prune_neurons`.

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
        res = unlearn(model, split.val.images, split.val.labels, triggers=triggers,
                      targets=flagged, seed=seed, progress=progress, **options)  # fmt: skip
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

    The saved ``flagged`` list is authoritative; norms and the index are recomputed. The
    fields not saved get placeholders: ASR NaN, ``reached`` True, zero steps and cost.

    Parameters
    ----------
    labels : list of int
        Candidate labels, in the order of the arrays.
    masks : numpy.ndarray ``[L, H, W]``
        The saved masks.
    patterns : numpy.ndarray ``[L, C, H, W]``
        The saved patterns.
    flagged : list of int
        The labels the scan flagged.

    Returns
    -------
    CleanseResult
        The rebuilt scan result (anomaly index zero when there are fewer than two labels).
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
