"""Constructive black-box poisoning: add a few rows so a default learner becomes fairer."""

from trustlab.poisoning._poisoner import (
    METRICS,
    OBJECTIVES,
    SAMPLERS,
    FairnessPoisoner,
    counted_trials,
    resolve_budget,
    unfairness,
)
from trustlab.poisoning._space import BOUNDS, CELLS, PoisonSpace, check_plausible

__all__ = [
    "BOUNDS",
    "CELLS",
    "METRICS",
    "OBJECTIVES",
    "SAMPLERS",
    "FairnessPoisoner",
    "PoisonSpace",
    "check_plausible",
    "counted_trials",
    "resolve_budget",
    "unfairness",
]
