"""Fairness: group metrics (thin over fairlearn), audit, and mitigations.

Sign convention: differences are privileged minus unprivileged; see
:mod:`trustlab.fairness._metrics`.
"""

from trustlab.fairness._audit import (
    EG_MAX_ITER,
    CountingEstimator,
    audit,
    audit_document,
    binary_groups,
    evaluate_on,
    fit_baseline,
    flat_block,
    mitigation_document,
    run_mitigation,
)
from trustlab.fairness._metrics import (
    FAIRNESS_KEYS,
    MIN_GROUP_TEST_ROWS,
    bootstrap_ci,
    check_predictions,
    disparate_impact,
    equal_opportunity_difference,
    equalized_odds_difference,
    evaluate,
    fairness_block,
    fnr_difference,
    fpr_difference,
    group_labels,
    group_rates,
    per_value_groups,
    statistical_parity_difference,
)
from trustlab.fairness._mitigation import (
    METHODS,
    MassagingClassifier,
    ReweighingClassifier,
    check_method,
    massage_labels,
    massaging_count,
    reweighing_weights,
)
from trustlab.fairness._registry import (
    FAIRNESS_METRICS,
    FairnessMetric,
    get_metric,
    metric_names,
)

__all__ = [
    "EG_MAX_ITER",
    "CountingEstimator",
    "FAIRNESS_KEYS",
    "MIN_GROUP_TEST_ROWS",
    "audit_document",
    "check_predictions",
    "mitigation_document",
    "per_value_groups",
    "FAIRNESS_METRICS",
    "FairnessMetric",
    "get_metric",
    "metric_names",
    "METHODS",
    "MassagingClassifier",
    "ReweighingClassifier",
    "audit",
    "binary_groups",
    "bootstrap_ci",
    "check_method",
    "disparate_impact",
    "equal_opportunity_difference",
    "equalized_odds_difference",
    "evaluate",
    "evaluate_on",
    "fairness_block",
    "fit_baseline",
    "flat_block",
    "fnr_difference",
    "fpr_difference",
    "group_labels",
    "group_rates",
    "massage_labels",
    "massaging_count",
    "reweighing_weights",
    "run_mitigation",
    "statistical_parity_difference",
]
