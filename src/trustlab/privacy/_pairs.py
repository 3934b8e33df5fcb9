"""Biased / fair model pairs trained on the same member set: the privacy price of a repair.

Ways to get the fair (repaired) twin of the original model, all with
trustlab's own repairs:

- ``penalty`` (torch MLP only): the same network trained with cross-entropy
  plus ``fairness_weight`` times the L2 distance between the groups' mean
  softmax outputs per batch; the biased model is the same recipe with
  weight 0.
- ``massaging`` / ``reweighing``: :class:`trustlab.fairness.MassagingClassifier`
  (labels repaired, ranked by a logistic regression) and
  :class:`trustlab.fairness.ReweighingClassifier` (Kamiran & Calders).
- ``exponentiated-gradient``: fairlearn's ``ExponentiatedGradient`` with a
  demographic-parity constraint around the original learner.
- ``threshold-optimizer``: fairlearn's ``ThresholdOptimizer`` (demographic
  parity) post-processing the original model's scores; fit on the members
  (the owner's only data here), it reads the sensitive column from the rows.
  Needs a learner with ``predict_proba``.
- ``poisoning``: the original learner refit on the member data augmented by
  :class:`trustlab.poisoning.FairnessPoisoner` (constructive poisoning).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from trustlab._errors import ConfigError, check_choice
from trustlab.privacy._models import TorchMLPClassifier

FAIR_METHODS = ("penalty", "massaging", "reweighing", "exponentiated-gradient", "threshold-optimizer", "poisoning")
"""The accepted ``--fair-method`` values: the MLP's own ``penalty`` and every repair."""
REPAIRS = FAIR_METHODS[1:]
"""The repairs of ``--repair`` (every fair method but the MLP's own penalty)."""


def poison_rows(poisoner: Any) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The rows a fitted :class:`~trustlab.poisoning.FairnessPoisoner` adds: (rows, labels, sensitive)."""
    label = poisoner.label_name_
    return (poisoner.poison_.drop(columns=label).reset_index(drop=True),
            poisoner.poison_[label].to_numpy().astype(int), np.asarray(poisoner.poison_sensitive_).astype(str))


class GroupThresholds:
    """A fitted fairlearn ``ThresholdOptimizer`` that reads the group from the rows' sensitive column.

    Parameters
    ----------
    optimizer : fairlearn.postprocessing.ThresholdOptimizer
        Fitted, on binary groups (privileged / unprivileged).
    column : str
        Sensitive column of the rows.
    privileged : str
        The privileged value of the column.
    """

    def __init__(self, optimizer: Any, column: str, privileged: str) -> None:
        self.optimizer, self.column, self.privileged = optimizer, column, privileged
        self.classes_ = np.array([0, 1])

    def _groups(self, X: pd.DataFrame) -> Any:
        from trustlab.fairness import binary_groups

        return binary_groups(X[self.column].astype(str), self.privileged)

    def _pmf_predict(self, X: pd.DataFrame) -> np.ndarray:
        """Probabilities of the randomized post-processed classifier (what :class:`BlackBox` reads)."""
        return self.optimizer._pmf_predict(X, sensitive_features=self._groups(X))

    def predict(self, X: pd.DataFrame, random_state: int | None = 0) -> np.ndarray:
        """The randomized labels the deployed model gives."""
        return np.asarray(self.optimizer.predict(X, sensitive_features=self._groups(X),
                                                 random_state=random_state)).astype(int)  # fmt: skip


def check_fair_method(method: str, model: str, *, what: str = "fair method") -> str:
    """Validate ``--fair-method`` / ``--repair`` against ``--learner``.

    Parameters
    ----------
    method : str
        One of :data:`FAIR_METHODS`.
    model : str
        The learner: ``mlp`` (the torch MLP) or a learner spec.
    what : str, default "fair method"
        How the option is named in the error message.

    Returns
    -------
    str
        ``method``, unchanged.

    Raises
    ------
    ConfigError
        An unknown method, the penalty on another learner than the MLP, or
        the threshold optimizer on a learner without scores (``predict_proba``).
    """
    check_choice(what, method, FAIR_METHODS)
    if method == "penalty" and model != "mlp":
        raise ConfigError("--fair-method penalty trains the torch MLP; use --learner mlp "
                          "(or another repair for other learners)")  # fmt: skip
    if method == "threshold-optimizer" and model != "mlp":
        from trustlab.learners import make_estimator

        est = make_estimator(model)
        if not hasattr(est, "predict_proba"):
            raise ConfigError(f"threshold-optimizer post-processes scores, but learner {model!r} has no "
                              "predict_proba; choose a learner with scores or another repair")  # fmt: skip
    return method


@dataclass(frozen=True)
class PairSpec:
    """How the target (and every shadow) pair is trained; picklable, so shadows train in workers.

    Parameters
    ----------
    model : str, default "mlp"
        ``mlp`` (the torch MLP) or a learner spec for :func:`trustlab.learners.make_learner`.
    fair_method : str, default "penalty"
        One of :data:`FAIR_METHODS` (checked with :func:`check_fair_method`).
    fairness_weight : float, default 1.0
        Lambda of the penalty (``penalty`` only); must be >= 0.
    categorical, numeric : list of str
        Column kinds of the raw data.
    privileged : str
        Privileged value of the sensitive attribute.
    sensitive : str
        Sensitive column (read from the rows by ``threshold-optimizer``).
    mlp : dict
        Keyword arguments of :class:`TorchMLPClassifier` (hidden, lr, epochs, batch_size).
    dp_epsilon : float or None, default None
        DP-SGD target epsilon (torch MLP only, > 0); ``None`` = no DP.
    dp_delta : float, default 1e-5
        DP-SGD target delta.
    n_jobs : int, optional
        Threads of the learner.
    poison : dict
        Keyword arguments of ``FairnessPoisoner`` (budget, n_trials, ...).

    Raises
    ------
    ConfigError
        On construction: an invalid fair method for the model, a negative fairness weight, a
        non-positive epsilon, or DP-SGD with another model than the MLP.
    """

    model: str = "mlp"
    fair_method: str = "penalty"
    fairness_weight: float = 1.0
    categorical: list[str] = field(default_factory=list)
    numeric: list[str] = field(default_factory=list)
    privileged: str = ""
    sensitive: str = ""
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
                raise ConfigError("DP-SGD trains the torch MLP; use --learner mlp with --defence dpsgd")
            if self.fair_method == "reweighing":
                raise ConfigError("reweighing trains with sample weights, which DP-SGD cannot take")

    def with_privileged(self, privileged: Any, sensitive: str | None = None) -> PairSpec:
        return replace(self, privileged=str(privileged), sensitive=self.sensitive if sensitive is None else sensitive)

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
        from trustlab.poisoning import FairnessPoisoner

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
        elif self.fair_method in ("massaging", "reweighing"):
            from trustlab.fairness import MassagingClassifier, ReweighingClassifier
            from trustlab.learners import make_learner

            if self.fair_method == "massaging":
                ranker = make_learner("logreg", categorical=list(self.categorical), numeric=list(self.numeric))
                fair = MassagingClassifier(self.base_estimator(seed), privileged=self.privileged, ranker=ranker)
                fair.fit(X, y, sensitive_features=s)
                info["rows_relabelled"] = int(fair.n_relabelled_)
            else:
                fair = ReweighingClassifier(self.base_estimator(seed), privileged=self.privileged, random_state=seed)
                fair.fit(X, y, sensitive_features=s)
                info["resampled"] = bool(fair.resampled_)
        elif self.fair_method == "threshold-optimizer":
            from fairlearn.postprocessing import ThresholdOptimizer

            from trustlab.fairness import binary_groups

            if self.sensitive not in X.columns:
                raise ConfigError(f"threshold-optimizer reads the group from the rows, but column {self.sensitive!r} "
                                  "is not among the model's inputs")  # fmt: skip
            opt = ThresholdOptimizer(estimator=biased, constraints="demographic_parity", prefit=True,
                                     predict_method="predict_proba")  # fmt: skip
            opt.fit(X, y, sensitive_features=binary_groups(s, self.privileged))
            fair = GroupThresholds(opt, self.sensitive, self.privileged)
            info["fit_on"] = "members (the owner's training rows)"
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
