"""The fairness-accuracy frontier: white-box repairs and black-box poisoning on one plane.

:func:`run_frontier` puts, for one split, every white-box repair (per-group
thresholds, ThresholdOptimizer, massaging at fractions of M, reweighing,
ExponentiatedGradient over its bound) and constructive poisoning at every
budget with its matched random control on the (test accuracy, test |metric|)
plane; :func:`lower_envelope` is the white-box frontier and
:func:`frontier_gap` a point's distance above it.
"""

from trustlab.frontier._envelope import frontier_gap, frontier_unfairness, lower_envelope
from trustlab.frontier._plot import plot_frontier, points_table
from trustlab.frontier._run import (
    FRONTIER_KINDS,
    check_budgets,
    frontier_summary,
    poisoning_points,
    run_frontier,
)
from trustlab.frontier._whitebox import (
    EG_BOUNDS,
    EG_MAX_ITER,
    MASSAGING_FRACTIONS,
    WHITEBOX_METHODS,
    check_whitebox_params,
    make_point,
    point_block,
    threshold_points,
    whitebox_points,
)

__all__ = [
    "EG_BOUNDS",
    "EG_MAX_ITER",
    "FRONTIER_KINDS",
    "MASSAGING_FRACTIONS",
    "WHITEBOX_METHODS",
    "check_budgets",
    "check_whitebox_params",
    "frontier_gap",
    "frontier_summary",
    "frontier_unfairness",
    "lower_envelope",
    "make_point",
    "plot_frontier",
    "point_block",
    "points_table",
    "poisoning_points",
    "run_frontier",
    "threshold_points",
    "whitebox_points",
]
