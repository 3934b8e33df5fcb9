"""Biased / fair model pairs trained on the same member set.

Three ways to get the fair twin of a biased model:

- ``penalty`` (torch MLP only): the same network trained with cross-entropy
  plus ``fairness_weight`` times the L2 distance between the groups' mean
  softmax outputs per batch; the biased model is the same recipe with
  weight 0.
- ``exponentiated-gradient``: fairlearn's ``ExponentiatedGradient`` with a
  demographic-parity constraint around the default learner.
- ``poisoning``: the default learner refit on the member data augmented by
  :class:`trustlab.poisoning.FairnessPoisoner` (constructive poisoning: the
  "privacy price of a fairness repair").
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from trustlab._errors import ConfigError, check_choice
from trustlab.privacy._models import TorchMLPClassifier

FAIR_METHODS = ("penalty", "exponentiated-gradient", "poisoning")


def poison_rows(poisoner: Any) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The rows a fitted :class:`~trustlab.poisoning.FairnessPoisoner` adds: (rows, labels, sensitive)."""
    label = poisoner.label_name_
    return (poisoner.poison_.drop(columns=label).reset_index(drop=True),
            poisoner.poison_[label].to_numpy().astype(int), np.asarray(poisoner.poison_sensitive_).astype(str))


def check_fair_method(method: str, model: str) -> str:
    """Validate ``--fair-method`` against ``--model``."""
    check_choice("fair method", method, FAIR_METHODS)
    if method == "penalty" and model != "mlp":
        raise ConfigError("--fair-method penalty trains the torch MLP; use --model mlp "
                          "(or exponentiated-gradient / poisoning for other models)")  # fmt: skip
    return method


@dataclass(frozen=True)
class PairSpec:
    """How the target (and every shadow) pair is trained; picklable, so shadows train in workers.

    Attributes
    ----------
    model : str
        ``mlp`` (the torch MLP) or a learner spec for :func:`trustlab.learners.make_learner`.
    fair_method : str
        ``penalty``, ``exponentiated-gradient`` or ``poisoning``.
    fairness_weight : float
        Lambda of the penalty (``penalty`` only).
    categorical, numeric : list of str
        Column kinds of the raw data.
    privileged : str
        Privileged value of the sensitive attribute.
    mlp : dict
        Keyword arguments of :class:`TorchMLPClassifier` (hidden, lr, epochs, batch_size).
    dp_epsilon, dp_delta : float
        DP-SGD target (torch MLP only); ``None`` = no DP.
    n_jobs : int, optional
        Threads of the learner.
    poison : dict
        Keyword arguments of ``FairnessPoisoner`` (budget, n_trials, ...).
    """

    model: str = "mlp"
    fair_method: str = "penalty"
    fairness_weight: float = 1.0
    categorical: list[str] = field(default_factory=list)
    numeric: list[str] = field(default_factory=list)
    privileged: str = ""
    mlp: dict[str, Any] = field(default_factory=dict)
    dp_epsilon: float | None = None
    dp_delta: float = 1e-5
    n_jobs: int | None = None
    poison: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_fair_method(self.fair_method, self.model)
        if self.fairness_weight < 0:
            raise ConfigError(f"--fairness-weight must be >= 0, got {self.fairness_weight}")
        if self.dp_epsilon is not None:
            if not self.dp_epsilon > 0:
                raise ConfigError(f"--epsilon must be > 0, got {self.dp_epsilon}")
            if self.model != "mlp":
                raise ConfigError("DP-SGD trains the torch MLP; use --model mlp with --defence dpsgd")

    def with_privileged(self, privileged: Any) -> PairSpec:
        return replace(self, privileged=str(privileged))

    def base_estimator(self, seed: int, *, fairness_weight: float = 0.0, progress: bool = False) -> Any:
        """The unfitted biased learner (or the penalised MLP when ``fairness_weight > 0``)."""
        if self.model == "mlp":
            return TorchMLPClassifier(
                **self.mlp, fairness_weight=fairness_weight, privileged=self.privileged,
                categorical=list(self.categorical), numeric=list(self.numeric),
                dp_epsilon=self.dp_epsilon, dp_delta=self.dp_delta, random_state=seed, progress=progress,
            )  # fmt: skip
        from trustlab.learners import make_learner

        return make_learner(self.model, categorical=list(self.categorical), numeric=list(self.numeric),
                            random_state=seed, n_jobs=self.n_jobs)  # fmt: skip

    def make_poisoner(self, seed: int) -> Any:
        """An unfitted :class:`trustlab.poisoning.FairnessPoisoner` around the biased learner."""
        try:
            from trustlab.poisoning import FairnessPoisoner
        except ImportError:
            raise ConfigError("--fair-method poisoning needs trustlab.poisoning, which is not installed") from None
        return FairnessPoisoner(self.base_estimator(seed), privileged=self.privileged, random_state=seed,
                                **self.poison)  # fmt: skip

    def fit(self, X: pd.DataFrame, y: Any, sensitive: Any, *, seed: int, poison: Any = None,
            progress: bool = False) -> tuple[Any, Any, dict[str, Any]]:  # fmt: skip
        """Train the biased and the fair model on the same rows.

        Parameters
        ----------
        X, y, sensitive
            Raw rows, 0/1 labels, sensitive values.
        seed : int
            Seed of both models (same initialisation and batch order).
        poison : (rows, labels, sensitive), optional
            For ``poisoning``: append these rows instead of searching anew
            on ``X`` (the attacker runs the search once on its own data and
            adds the rows it found to every shadow's training set).
        progress : bool
            Progress bars over epochs.

        Returns
        -------
        (biased, fair, info)
            Two fitted models and what the fair method did (``epsilon_spent``, rows added ...).
        """
        y = np.asarray(y).astype(int)
        s = np.asarray(pd.Series(np.asarray(sensitive)).astype(str))
        info: dict[str, Any] = {}
        biased = self.base_estimator(seed, progress=progress)
        biased.fit(X, y, **({"sensitive_features": s} if self.model == "mlp" else {}))
        if self.fair_method == "penalty":
            fair = self.base_estimator(seed, fairness_weight=self.fairness_weight, progress=progress)
            fair.fit(X, y, sensitive_features=s)
        elif self.fair_method == "exponentiated-gradient":
            from fairlearn.reductions import DemographicParity, ExponentiatedGradient

            from trustlab.fairness import binary_groups

            fair = ExponentiatedGradient(self.base_estimator(seed), constraints=DemographicParity())
            fair.fit(X, y, sensitive_features=binary_groups(s, self.privileged))
            info["predictors"] = len(fair.predictors_)
        else:  # poisoning
            if poison is None:
                poisoner = self.make_poisoner(seed)
                poisoner.fit(X, pd.Series(y), sensitive_features=pd.Series(s))
                poison = poison_rows(poisoner)
                info["feasible"] = bool(poisoner.feasible_)
                info["search_trainings"] = int(poisoner.trainings_)
            rows, labels, sens = poison
            X_aug = pd.concat([X.reset_index(drop=True), rows], ignore_index=True)
            y_aug = np.concatenate([y, np.asarray(labels).astype(int)])
            s_aug = np.concatenate([s, np.asarray(sens).astype(str)])
            fair = clone(self.base_estimator(seed))
            fair.fit(X_aug, y_aug, **({"sensitive_features": s_aug} if self.model == "mlp" else {}))
            info["rows_added"] = int(len(rows))
            info["poison"] = poison
        info["epsilon_spent"] = {
            "biased": getattr(biased, "epsilon_spent_", None),
            "fair": getattr(fair, "epsilon_spent_", None),
        }
        return biased, fair, info
