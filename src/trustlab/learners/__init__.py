"""Default learners by name, user estimators as ``module:Class``, one preprocessing pipeline."""

from trustlab.learners._learners import (
    LEARNERS,
    LearnerPipeline,
    learner_name,
    make_estimator,
    make_learner,
    make_preprocessor,
    supports_sample_weight,
)

__all__ = [
    "LEARNERS",
    "LearnerPipeline",
    "learner_name",
    "make_estimator",
    "make_learner",
    "make_preprocessor",
    "supports_sample_weight",
]
