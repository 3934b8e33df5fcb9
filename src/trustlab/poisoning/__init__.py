"""Constructive black-box poisoning: add a few rows so a default learner becomes fairer.

Seams: a search space is one :class:`SearchSpace` class registered in :data:`SPACES`
(built in: ``boundary``, the default, ``bands`` and ``counterfactual``); metrics come from
:func:`trustlab.fairness.get_metric`. :func:`run_poisoning` runs the whole protocol.
"""

from trustlab.poisoning._boundary import BOUNDARY_CELLS, BoundarySpace
from trustlab.poisoning._counterfactual import COUNTERFACTUAL_CELLS, CounterfactualSpace
from trustlab.poisoning._gradient import GradientDivergenceWarning, GradientPoisoner
from trustlab.poisoning._gradient_core import SURROGATES, SurrogateClassifier
from trustlab.poisoning._gradient_eval import (
    WHITE_BOX,
    evaluate_gradient_poisoning,
    fit_gradient_poisoner,
    make_gradient_poisoner,
)
from trustlab.poisoning._inputs import (
    ACCURACY_BOUNDS,
    OBJECTIVES,
    SAMPLERS,
    check_search_options,
    resolve_budget,
)
from trustlab.poisoning._poisoner import FairnessPoisoner, paired_loss_bound
from trustlab.poisoning._protocol import (
    PoisoningResult,
    best_so_far,
    make_poisoner,
    run_poisoning,
    trials_frame,
)
from trustlab.poisoning._space import CELLS, BandsSpace, Bins, binned_columns, check_plausible
from trustlab.poisoning._spaces import (
    SPACES,
    RowMaker,
    SearchSpace,
    SpaceContext,
    get_space,
    split_counts,
)
from trustlab.poisoning._storage import counted_trials, open_storage
from trustlab.poisoning._visibility import added_rows_visibility

__all__ = [
    "ACCURACY_BOUNDS",
    "BOUNDARY_CELLS",
    "CELLS",
    "COUNTERFACTUAL_CELLS",
    "OBJECTIVES",
    "SAMPLERS",
    "SPACES",
    "SURROGATES",
    "WHITE_BOX",
    "BandsSpace",
    "Bins",
    "BoundarySpace",
    "CounterfactualSpace",
    "FairnessPoisoner",
    "GradientDivergenceWarning",
    "GradientPoisoner",
    "PoisoningResult",
    "RowMaker",
    "SearchSpace",
    "SpaceContext",
    "SurrogateClassifier",
    "added_rows_visibility",
    "best_so_far",
    "check_search_options",
    "binned_columns",
    "check_plausible",
    "counted_trials",
    "evaluate_gradient_poisoning",
    "fit_gradient_poisoner",
    "get_space",
    "make_gradient_poisoner",
    "make_poisoner",
    "open_storage",
    "paired_loss_bound",
    "resolve_budget",
    "run_poisoning",
    "split_counts",
    "trials_frame",
]
