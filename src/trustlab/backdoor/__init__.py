"""Backdoor security: BadNets injection, Neural Cleanse detection, unlearning and pruning.

Typical use::

    from trustlab.datasets import load_mnist5k, split_images
    from trustlab.backdoor import parse_trigger, train_model, scan_model, mitigate

    split = split_images(load_mnist5k(), seed=0)
    trig = parse_trigger("square:4@bottom-right", image_shape=split.train.image_shape)
    trained = train_model(split, trigger=trig, target=3, poison_rate=0.1)
    scan = scan_model(trained.model, split)          # validation split only
    fixed, report = mitigate(trained.model, split, scan, trigger=trig, target=3)
"""

from __future__ import annotations

from trustlab.backdoor._calibrate import (
    CALIBRATED_THRESHOLD,
    Calibration,
    calibrate,
    calibrated_index,
)
from trustlab.backdoor._cleanse import (
    MAD_CONSISTENCY,
    CleanseResult,
    flag_outliers,
    load_cleanse_arrays,
    mad_anomaly_index,
    neural_cleanse,
)
from trustlab.backdoor._mitigate import MitigationResult, evaluate, prune_neurons, unlearn
from trustlab.backdoor._model import (
    ModelInfo,
    SmallCNN,
    accuracy,
    attack_success_rate,
    check_model,
    load_model,
    predict,
    save_model,
    train_classifier,
    use_all_cores,
)
from trustlab.backdoor._plots import plot_norms, plot_triggers
from trustlab.backdoor._triggers import (
    BLEND_PATTERN_SEED,
    LOCATIONS,
    SHAPES,
    SIG_FREQUENCY,
    Trigger,
    blend_trigger,
    parse_trigger,
    poison,
    sig_trigger,
    stamp,
)
from trustlab.backdoor._workflow import (
    DEFAULT_CLEAN_SIZE,
    TEST_SHARE,
    TrainResult,
    check_target,
    clean_set_size,
    cleanse_from_arrays,
    defender_split,
    mitigate,
    reference_norms,
    scan_model,
    train_model,
)

__all__ = [
    "BLEND_PATTERN_SEED",
    "CALIBRATED_THRESHOLD",
    "DEFAULT_CLEAN_SIZE",
    "LOCATIONS",
    "MAD_CONSISTENCY",
    "SHAPES",
    "SIG_FREQUENCY",
    "TEST_SHARE",
    "Calibration",
    "CleanseResult",
    "MitigationResult",
    "ModelInfo",
    "SmallCNN",
    "TrainResult",
    "Trigger",
    "accuracy",
    "attack_success_rate",
    "blend_trigger",
    "calibrate",
    "calibrated_index",
    "check_model",
    "check_target",
    "clean_set_size",
    "cleanse_from_arrays",
    "defender_split",
    "evaluate",
    "flag_outliers",
    "load_cleanse_arrays",
    "load_model",
    "mad_anomaly_index",
    "mitigate",
    "neural_cleanse",
    "parse_trigger",
    "plot_norms",
    "plot_triggers",
    "poison",
    "predict",
    "prune_neurons",
    "reference_norms",
    "save_model",
    "scan_model",
    "sig_trigger",
    "stamp",
    "train_classifier",
    "train_model",
    "unlearn",
    "use_all_cores",
]
