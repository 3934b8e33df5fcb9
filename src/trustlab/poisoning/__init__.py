"""Constructive black-box poisoning: add a few rows so a default learner becomes fairer."""

from trustlab.poisoning._gradient import GradientDivergenceWarning, GradientPoisoner
from trustlab.poisoning._gradient_core import SURROGATES, SurrogateClassifier
from trustlab.poisoning._gradient_eval import evaluate_gradient_poisoning
from trustlab.poisoning._poisoner import (
    METRICS,
    OBJECTIVES,
    SAMPLERS,
    FairnessPoisoner,
    resolve_budget,
    unfairness,
)
from trustlab.poisoning._space import BOUNDS, CELLS, PoisonSpace, check_plausible
from trustlab.poisoning._storage import counted_trials

__all__ = [
    "BOUNDS",
    "CELLS",
    "METRICS",
    "OBJECTIVES",
    "SAMPLERS",
    "SURROGATES",
    "FairnessPoisoner",
    "GradientDivergenceWarning",
    "GradientPoisoner",
    "PoisonSpace",
    "SurrogateClassifier",
    "check_plausible",
    "counted_trials",
    "evaluate_gradient_poisoning",
    "resolve_budget",
    "unfairness",
]
