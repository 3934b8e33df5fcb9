"""Privacy audit: membership inference against biased and fair model pairs, and defences.

Fair training (:class:`PairSpec`, :class:`TorchMLPClassifier`), attacks
(loss / confidence threshold, Shokri shadow models, LiRA online and offline,
FD-MIA, label-only), metrics (AUC, balanced accuracy, TPR at low FPR, per
group), defences (DP-SGD through opacus, output restriction) and the audit
that ties them together (:func:`privacy_audit`).
"""

from trustlab.privacy._attacks import (
    ClassifierAttack,
    LiRA,
    fdmia_features,
    label_scores,
    lira_loo_scores,
    lira_scores,
    logit_confidence,
    loss_scores,
    true_class_proba,
)
from trustlab.privacy._audit import (
    ATTACKS,
    SCORE_ATTACKS,
    AuditResult,
    evaluate_utility,
    parse_attacks,
    partition,
    privacy_audit,
)
from trustlab.privacy._defences import DEFENCES, Defence, parse_defence, restrict_output
from trustlab.privacy._metrics import (
    FPR_POINTS,
    attack_metrics,
    best_threshold,
    roc_points,
    tpr_at_fpr,
)
from trustlab.privacy._models import BlackBox, TorchMLPClassifier, group_penalty
from trustlab.privacy._pairs import FAIR_METHODS, PairSpec, check_fair_method

__all__ = [
    "ATTACKS",
    "DEFENCES",
    "FAIR_METHODS",
    "FPR_POINTS",
    "SCORE_ATTACKS",
    "AuditResult",
    "BlackBox",
    "ClassifierAttack",
    "Defence",
    "LiRA",
    "PairSpec",
    "TorchMLPClassifier",
    "attack_metrics",
    "best_threshold",
    "check_fair_method",
    "evaluate_utility",
    "fdmia_features",
    "group_penalty",
    "label_scores",
    "lira_loo_scores",
    "lira_scores",
    "logit_confidence",
    "loss_scores",
    "parse_attacks",
    "parse_defence",
    "partition",
    "privacy_audit",
    "restrict_output",
    "roc_points",
    "tpr_at_fpr",
    "true_class_proba",
]
