"""Privacy audit: membership inference against biased and fair model pairs, and defences.

Fair training (:class:`PairSpec`, :class:`TorchMLPClassifier`), attacks
behind one interface (:class:`Attack`, registry :data:`ATTACK_REGISTRY`: loss
/ confidence threshold, Shokri shadow models, LiRA and RMIA online and
offline, FD-MIA, label-only), metrics (AUC, balanced accuracy, TPR at low FPR, per
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
    SCORE_ATTACKS,
    AuditResult,
    evaluate_utility,
    parse_attacks,
    partition,
    privacy_audit,
)
from trustlab.privacy._classic import (
    FDMIA,
    FDMIAThreshold,
    LabelOnlyAttack,
    LiRAOffline,
    LiRAOnline,
    LossAttack,
    ShadowModelAttack,
)
from trustlab.privacy._defences import DEFENCES, Defence, parse_defence, restrict_output
from trustlab.privacy._dpaudit import METHOD as DP_AUDIT_METHOD
from trustlab.privacy._dpaudit import (
    audit_scores,
    check_dp_audit_options,
    clopper_pearson_upper,
    dp_audit,
    epsilon_lower_bound,
)
from trustlab.privacy._interface import (
    ATTACK_GROUPS,
    ATTACK_REGISTRY,
    ATTACKS,
    Attack,
    ShadowSet,
    TargetView,
    known_attacks,
    make_attack,
    register_attack,
)
from trustlab.privacy._metrics import (
    FPR_POINTS,
    attack_metrics,
    best_threshold,
    roc_points,
    tpr_at_fpr,
)
from trustlab.privacy._models import BlackBox, TorchMLPClassifier, group_penalty, hidden_layers
from trustlab.privacy._pairs import (
    FAIR_METHODS,
    REPAIRS,
    GroupThresholds,
    PairSpec,
    check_fair_method,
)
from trustlab.privacy._plots import write_plots
from trustlab.privacy._risk import RISK_COLUMNS, plot_risk, risk_table, write_risk
from trustlab.privacy._rmia import RMIA, RMIAOffline, rmia_marginal, rmia_scores

__all__ = [
    "ATTACKS",
    "ATTACK_GROUPS",
    "ATTACK_REGISTRY",
    "RISK_COLUMNS",
    "FDMIA",
    "RMIA",
    "Attack",
    "FDMIAThreshold",
    "LabelOnlyAttack",
    "LiRAOffline",
    "LiRAOnline",
    "LossAttack",
    "RMIAOffline",
    "ShadowModelAttack",
    "ShadowSet",
    "TargetView",
    "known_attacks",
    "make_attack",
    "plot_risk",
    "register_attack",
    "risk_table",
    "write_plots",
    "write_risk",
    "rmia_marginal",
    "rmia_scores",
    "DEFENCES",
    "FAIR_METHODS",
    "DP_AUDIT_METHOD",
    "FPR_POINTS",
    "REPAIRS",
    "GroupThresholds",
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
    "audit_scores",
    "check_fair_method",
    "clopper_pearson_upper",
    "check_dp_audit_options",
    "dp_audit",
    "epsilon_lower_bound",
    "evaluate_utility",
    "fdmia_features",
    "group_penalty",
    "hidden_layers",
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
