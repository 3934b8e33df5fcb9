"""Black-box constructive poisoning by Bayesian optimisation (optuna).

The bi-level problem ``argmin_h g(w*, h)  s.t.  w* in argmin_w f(w, D + h)``:
the outer loop is an optuna study over a low-dimensional search space (a
:class:`~trustlab.poisoning.SearchSpace`: ``boundary`` by default, ``bands``, or
your own); the inner loop is one ``fit`` of a clone of the third party's
estimator on ``D + h``; ``g`` is the unfairness of that model's predictions on
the validation rows, and the accuracy loss against the unpoisoned model (also
on validation) is an optuna constraint.

The constraint is robust to validation noise by default
(``accuracy_bound="upper"``): it bounds the *one-sided upper confidence
limit* of the paired accuracy loss, ``mean(d) + z * sd(d) / sqrt(n)`` with
``d_i = [baseline correct on row i] - [poisoned correct on row i]`` over the
validation rows and ``z`` the normal quantile of ``confidence``. Both models
are scored on the same rows, so the paired standard error removes the noise
they share; no extra training is needed. ``accuracy_bound="mean"`` is the
plain point estimate.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import time
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.trial import TrialState
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.validation import check_is_fitted

from trustlab._errors import ConfigError, DataError, LearnerError
from trustlab.datasets import column_kinds
from trustlab.fairness import evaluate, flat_block, get_metric
from trustlab.poisoning import _boundary, _counterfactual, _space  # noqa: F401  (register the built-in spaces)
from trustlab.poisoning._inputs import (  # noqa: E402,F401
    ACCURACY_BOUNDS,
    OBJECTIVES,
    SAMPLERS,
    check_search_options,
    prepare_inputs,
    resolve_budget,
)
from trustlab.poisoning._progress import TrialProgress
from trustlab.poisoning._spaces import SpaceContext, get_space, space_rows
from trustlab.poisoning._storage import counted_trials, open_storage, quiet_experimental

log = logging.getLogger("trustlab.poisoning")


class _LearnerFailed(Exception):
    """The black box raised while fitting on the augmented data."""


def paired_loss_bound(correct_base: np.ndarray, correct_new: np.ndarray, confidence: float | None) -> tuple[float, float]:
    """Paired accuracy loss and its one-sided upper confidence limit.

    Parameters
    ----------
    correct_base, correct_new : ndarray of bool
        Whether the unpoisoned and the poisoned model are right on each validation row.
    confidence : float or None
        One-sided confidence of the bound (``None``: the point estimate).

    Returns
    -------
    (loss, bound) : tuple of float
        ``mean(d)`` and ``mean(d) + z * sd(d) / sqrt(n)``, ``d = base - new``.
    """
    from scipy.stats import norm

    d = np.asarray(correct_base, dtype=float) - np.asarray(correct_new, dtype=float)
    loss = float(d.mean())
    if confidence is None or len(d) < 2:
        return loss, loss
    se = float(d.std(ddof=1) / np.sqrt(len(d)))
    return loss, loss + float(norm.ppf(confidence)) * se


class FairnessPoisoner(BaseEstimator):
    """Add a few crafted rows to a training set so that a black-box learner becomes fairer.

    The estimator is only ever cloned, fit and asked to predict: its
    hyperparameters, loss and parameters are never read or changed, and no
    existing row is modified. Rows come from a search space (``space``).

    Parameters
    ----------
    estimator : estimator
        The third party's (unfitted) learner, e.g. ``make_learner("rf", ...)``;
        it must accept the raw DataFrame.
    budget : float or int, default=0.05
        Rows to add: a fraction of the training rows (float in (0, 1]) or a count (int).
    metric : str, default="statistical_parity"
        Unfairness to minimise on validation: any name or alias of
        :data:`trustlab.fairness.FAIRNESS_METRICS` (absolute gap; ``|1 - ratio|``
        for disparate impact). The canonical name is recorded.
    space : str or SearchSpace, default="boundary"
        The search space: a name of :data:`~trustlab.poisoning.SPACES`
        (``boundary``, ``bands``) or an instance following the
        :class:`~trustlab.poisoning.SearchSpace` protocol (copied, never changed).
    max_accuracy_loss : float, default=0.01
        Constraint: validation accuracy may drop by at most this much against
        the unpoisoned model (an optuna constraint: ``Trial.set_constraint`` on
        optuna >= 5, the sampler's ``constraints_func`` before).
    accuracy_bound : {"upper", "mean"}, default="upper"
        What the constraint bounds: the one-sided upper confidence limit of the
        paired validation accuracy loss (robust to validation noise), or its
        point estimate.
    confidence : float, default=0.8
        One-sided confidence of the ``upper`` bound.
    n_trials : int, default=60
        Black-box trainings of the search.
    sampler : {"tpe", "gp", "random", "cmaes"}
        optuna sampler; ``random`` is the control (by default without warm
        starts: see ``warm_start``).
    objective : {"constrained", "pareto"}
        ``pareto`` optimises (unfairness, accuracy) jointly; ``pareto_front_``
        holds the non-dominated trials.
    n_jobs : int, default=1
        Parallel trials (threads) in this process.
    storage : str, optional
        optuna storage URL (``sqlite:///f.db``, ``postgresql://...``); in memory
        if ``None``. With ``study_name``, a rerun resumes the study.
    study_name : str, optional
        Name of the optuna study (default ``trustlab-poisoning``); needed with ``storage``.
    privileged : value, optional
        Privileged value of the sensitive attribute; required when it has more
        than two values (the others form the unprivileged group).
    warm_start : bool, optional
        Enqueue the space's warm-start points first (``space.warm_starts()``);
        they count as trials of the budget. ``None`` (default): yes, except for
        the ``random`` sampler, whose default is pure random search (the naive
        control); ``warm_start=True`` with ``sampler="random"`` gives the same
        warm starts and line search as the other samplers, so only the sampler
        differs (the paired sampler comparison).
    cv : int, default=3
        Folds of the cross-fitted black-box scores that place the score bands.
    line_search : int, default=4
        After the warm starts, up to this many bisection trials on ``fill``
        along the best feasible design (``fill`` where the accuracy allowance
        starts to bind; see ``_line_point``); they count against ``n_trials``.
        The sampler then has the rest.
    study_attrs : dict, optional
        Extra user attributes stored with the study (the CLI stores its
        arguments so that ``trustlab worker`` can rebuild the problem).
    random_state : int, optional
        Seed of the sampler, the validation hold-out, the cross-fitting folds and the
        spaces' draws.
    show_progress : bool, default=False
        A rich progress bar over trials.

    Attributes
    ----------
    poison_ : DataFrame
        The added rows in the original schema plus the label column.
    poison_sensitive_ : ndarray
        Sensitive value of every added row.
    study_ : optuna.Study
    best_params_ : dict
    best_trial_ : optuna.trial.FrozenTrial
    feasible_ : bool
        Whether the chosen trial met the accuracy constraint.
    baseline_ : dict
        Validation metrics of the unpoisoned model.
    pareto_front_ : list of FrozenTrial
        Non-dominated trials (``objective="pareto"``).
    space_ : SearchSpace
        The prepared space.
    metric_ : FairnessMetric
        The resolved metric.
    direction_ : int
        ``+1`` when the privileged group has the higher rate on validation.
    warm_start_trials_ : list of int
        Numbers of the enqueued (warm-start) trials.
    line_search_trials_ : list of int
        Numbers of the bisection trials on ``fill``.
    resumed_ : bool
        Whether the study already held trials when this process opened it.
    trainings_ : int
        Black-box trainings used in this process (cross-fitting, baseline, trials).
    failures_ : list of dict
        Trials whose fit raised: ``{"trial", "error"}``.
    n_poison_ : int
        Row budget resolved to a count.
    """

    def __init__(
        self,
        estimator: Any,
        *,
        budget: float | int = 0.05,
        metric: str = "statistical_parity",
        space: Any = "boundary",
        max_accuracy_loss: float = 0.01,
        accuracy_bound: str = "upper",
        confidence: float = 0.8,
        n_trials: int = 60,
        sampler: str = "tpe",
        objective: str = "constrained",
        n_jobs: int = 1,
        storage: Any = None,
        study_name: str | None = None,
        privileged: Any = None,
        warm_start: bool | None = None,
        cv: int = 3,
        line_search: int = 4,
        study_attrs: dict[str, Any] | None = None,
        random_state: int | None = None,
        show_progress: bool = False,
    ) -> None:
        self.estimator = estimator
        self.budget = budget
        self.metric = metric
        self.space = space
        self.max_accuracy_loss = max_accuracy_loss
        self.accuracy_bound = accuracy_bound
        self.confidence = confidence
        self.n_trials = n_trials
        self.sampler = sampler
        self.objective = objective
        self.n_jobs = n_jobs
        self.storage = storage
        self.study_name = study_name
        self.privileged = privileged
        self.warm_start = warm_start
        self.cv = cv
        self.line_search = line_search
        self.study_attrs = study_attrs
        self.random_state = random_state
        self.show_progress = show_progress

    # -- validation ------------------------------------------------------------------------
    def check_params(self) -> None:
        """Validate the options (before any data is touched); raises a one-line ConfigError/LearnerError."""
        check_search_options(metric=self.metric, space=self.space, sampler=self.sampler, objective=self.objective,
                             n_trials=self.n_trials, max_accuracy_loss=self.max_accuracy_loss,
                             accuracy_bound=self.accuracy_bound, confidence=self.confidence, n_jobs=self.n_jobs)  # fmt: skip
        if self.storage is not None and not self.study_name:
            raise ConfigError("a storage needs a study name")
        for name in ("fit", "predict"):
            if not callable(getattr(self.estimator, name, None)):
                raise LearnerError(f"estimator {type(self.estimator).__name__} has no {name}()")

    # -- fitting ---------------------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y: Any, *, sensitive_features: Any, X_val: pd.DataFrame | None = None,
            y_val: Any = None, sensitive_val: Any = None) -> FairnessPoisoner:  # fmt: skip
        """Search for the added rows.

        Parameters
        ----------
        X : DataFrame
            Training features (raw schema). The search adds rows to them.
        y : array-like of 0/1
        sensitive_features : array-like
            Sensitive attribute of the training rows.
        X_val, y_val, sensitive_val : optional
            Validation rows the objective and constraint are measured on. If
            omitted, 20% of ``X`` is held out (stratified) for validation and
            the trials train on the rest.

        Returns
        -------
        self
        """
        t_start = time.perf_counter()
        self._prepare(X, y, sensitive_features, X_val, y_val, sensitive_val)
        self.study_ = self._open_study()
        self._optimise(self.study_)
        self._select_best(self.study_)
        self.fit_seconds_ = time.perf_counter() - t_start
        return self

    def _prepare(self, X: pd.DataFrame, y: Any, sensitive_features: Any, X_val: pd.DataFrame | None,
                 y_val: Any, sensitive_val: Any) -> None:  # fmt: skip
        """Validate, fit the baseline and the cross-fitted scores, build the space."""
        self.check_params()
        d = prepare_inputs(X, y, sensitive_features, X_val, y_val, sensitive_val, privileged=self.privileged,
                           random_state=self.random_state)  # fmt: skip
        self.label_name_, self.privileged_ = d["label_name"], d["privileged"]
        X, y, s = d["X"], d["y"], d["s"]
        self.n_poison_ = resolve_budget(self.budget, len(X))
        self._X, self._y, self._s = X, y, s
        self._Xv, self._yv, self._sv = d["X_val"], d["y_val"], d["s_val"]
        self.trainings_ = 0
        self.failures_: list[dict[str, Any]] = []

        # Baseline (unpoisoned) model and cross-fitted scores of the training rows.
        self.baseline_model_ = self._fit_or_fail(X, y, what="the unpoisoned training data")
        self.baseline_ = self._evaluate(self.baseline_model_, self._Xv, self._yv, self._sv)
        self._base_correct = np.asarray(self.baseline_model_.predict(self._Xv)).astype(int) == self._yv
        self.metric_ = get_metric(self.metric)
        self.direction_ = self.metric_.direction(self.baseline_)
        scores = self._cross_fitted_scores()
        cat, num, integer = column_kinds(X)
        self._seed = 0 if self.random_state is None else int(self.random_state)
        context = SpaceContext(X=self._X, y=self._y, sensitive=s, privileged_mask=s == self.privileged_,
                               scores=scores, categorical=cat, numeric=num, integer=integer,
                               n_rows=self.n_poison_, metric=self.metric_, direction=self.direction_,
                               seed=self._seed)  # fmt: skip
        self.space_ = copy.deepcopy(get_space(self.space))
        self.space_.prepare(context)

    def join(self, X: pd.DataFrame, y: Any, *, sensitive_features: Any, X_val: pd.DataFrame | None = None,
             y_val: Any = None, sensitive_val: Any = None, max_trials: int | None = None) -> int:  # fmt: skip
        """Join an existing stored study as a worker and run trials until its budget is used.

        The problem (data, learner, space) is rebuilt here exactly as the
        creating process built it; the stored configuration must match.

        Parameters
        ----------
        max_trials : int, optional
            Stop after this many trials of this worker even if budget is left.

        Returns
        -------
        int
            Trials this worker ran.
        """
        if self.storage is None:
            raise ConfigError("a worker needs a storage URL and a study name")
        self._prepare(X, y, sensitive_features, X_val, y_val, sensitive_val)
        storage = open_storage(self.storage)
        try:
            optuna.load_study(study_name=self.study_name, storage=storage)
        except KeyError:
            raise ConfigError(f"study {self.study_name!r} does not exist in this storage") from None
        self.study_ = self._open_study()
        before = self.trainings_
        self._optimise(self.study_, max_own=max_trials)
        return self.trainings_ - before

    def _fit_or_fail(self, X: pd.DataFrame, y: np.ndarray, *, what: str) -> Any:
        try:
            model = clone(self.estimator).fit(X, y)
        except Exception as exc:
            raise LearnerError(f"the learner failed to fit on {what}: {type(exc).__name__}: {exc}") from None
        self.trainings_ += 1
        return model

    def _cross_fitted_scores(self) -> np.ndarray:
        """P(y=1|x) of every training row from a model that did not see it."""
        scores = np.empty(len(self._y))
        folds = StratifiedKFold(n_splits=self.cv, shuffle=True, random_state=self.random_state or 0)
        for tr, te in folds.split(self._X, self._y):
            model = self._fit_or_fail(self._X.iloc[tr], self._y[tr], what="a cross-fitting fold")
            scores[te] = _proba(model, self._X.iloc[te])
        return scores

    def _evaluate(self, model: Any, X: pd.DataFrame, y: np.ndarray, s: np.ndarray) -> dict[str, float]:
        pred = model.predict(X)
        return flat_block(evaluate(y, pred, sensitive_features=s, privileged=self.privileged_))

    # -- the study -------------------------------------------------------------------------
    def config_(self) -> dict[str, Any]:
        """What must match for a stored study to be resumed."""
        fp = hashlib.sha256()
        fp.update(pd.util.hash_pandas_object(self._X, index=False).to_numpy().tobytes())
        fp.update(self._y.tobytes())
        fp.update(pd.util.hash_pandas_object(self._Xv, index=False).to_numpy().tobytes())
        return {
            "estimator": repr(clone(self.estimator)),
            "budget": self.budget,
            "n_poison": self.n_poison_,
            "metric": self.metric_.name,
            "max_accuracy_loss": self.max_accuracy_loss,
            "accuracy_bound": self.accuracy_bound,
            "confidence": self.confidence if self.accuracy_bound == "upper" else None,
            "n_trials": int(self.n_trials),
            "sampler": self.sampler,
            "objective": self.objective,
            "random_state": self.random_state,
            "line_search": self.line_search,
            "space": str(self.space_.name),
            "space_version": str(self.space_.version),
            "space_parameters": sorted(self.space_.bounds()),
            "data_sha256": fp.hexdigest()[:16],
        }

    def _make_sampler(self) -> optuna.samplers.BaseSampler:
        seed = self.random_state
        cf = None if _CORE_CONSTRAINTS else _constraints  # optuna < 5: the sampler asks
        if self.sampler == "tpe":
            return optuna.samplers.TPESampler(seed=seed, multivariate=True, constraints_func=cf,
                                              n_startup_trials=10)  # fmt: skip
        if self.sampler == "gp":
            return optuna.samplers.GPSampler(seed=seed, constraints_func=cf, n_startup_trials=10,
                                             deterministic_objective=True)  # fmt: skip
        if self.sampler == "cmaes":
            return optuna.samplers.CmaEsSampler(seed=seed, n_startup_trials=1)
        return optuna.samplers.RandomSampler(seed=seed)

    def _open_study(self) -> optuna.Study:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        storage = open_storage(self.storage)
        directions = ["minimize"] if self.objective == "constrained" else ["minimize", "maximize"]
        name = self.study_name or "trustlab-poisoning"
        try:
            study = optuna.create_study(storage=storage, study_name=name, directions=directions,
                                        sampler=self._make_sampler(), load_if_exists=storage is not None)  # fmt: skip
        except ValueError as exc:  # directions differ from the stored study's
            raise ConfigError(f"study {name!r} exists with a different configuration: {exc}") from None
        except Exception as exc:  # storage errors surface here for lazy engines
            raise ConfigError(f"cannot use storage for study {name!r}: {str(exc).splitlines()[0]}") from None
        config = json.loads(json.dumps(self.config_()))
        stored = study.user_attrs.get("trustlab_config")
        self.trials_before_ = counted_trials(study)
        self.resumed_ = self.trials_before_ > 0
        if stored is None:
            study.set_user_attr("trustlab_config", config)
            for k, v in (self.study_attrs or {}).items():
                study.set_user_attr(k, v)
            if self.warm_start or (self.warm_start is None and self.sampler != "random"):
                for point in (self.space_.warm_starts() if hasattr(self.space_, "warm_starts") else []):
                    study.enqueue_trial(point, user_attrs={"origin": "warm start"})
        elif stored != config:
            diff = [f"{k}: stored {stored.get(k)!r} != {config.get(k)!r}" for k in config if stored.get(k) != config[k]]
            raise ConfigError(f"study {name!r} exists with a different configuration ({'; '.join(diff)})")
        return study

    def _objective(self, trial: optuna.Trial) -> float | tuple[float, float]:
        study = trial.study
        if self.storage is not None:  # other processes may have used the budget meanwhile
            running = len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))) - 1
            if counted_trials(study) + running >= self.n_trials:
                trial.set_user_attr("skipped", "budget already used")
                raise optuna.TrialPruned()
        params = {k: trial.suggest_float(k, lo, hi) for k, (lo, hi) in self.space_.bounds().items()}
        try:
            score = self.score_point(params)
        except _LearnerFailed as exc:  # report which trial and why, keep going
            trial.set_user_attr("error", str(exc))
            self.failures_.append({"trial": trial.number, "error": str(exc)})
            log.warning("trial %d: the learner failed: %s", trial.number, exc)
            raise
        block, value, bound = score["validation"], score["unfairness"], score["accuracy_loss_bound"]
        for key in ("validation", "n_rows", "accuracy_loss", "accuracy_loss_bound", "fit_seconds"):
            trial.set_user_attr(key, score[key])
        trial.set_user_attr("constraint", [bound - self.max_accuracy_loss])
        if _CORE_CONSTRAINTS:  # optuna >= 5: the samplers read the trial's own constraint
            trial.set_constraint("accuracy_loss", bound - self.max_accuracy_loss)
        if self.objective == "pareto":
            return value, block["accuracy"]
        return value

    def _optimise(self, study: optuna.Study, *, max_own: int | None = None) -> None:
        progress = TrialProgress(self.n_trials, counted_trials(study), enabled=self.show_progress)
        heartbeat = isinstance(study._storage, optuna.storages.RDBStorage) or hasattr(study._storage, "_backend")
        own = 0
        line_left = self.line_search if max_own is None else 0
        with progress:
            while True:
                if heartbeat:
                    with quiet_experimental():
                        optuna.storages.fail_stale_trials(study)
                done = counted_trials(study)
                progress.update(done)
                if done >= self.n_trials:
                    break
                running = len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
                todo = self.n_trials - done - running
                if max_own is not None:
                    todo = min(todo, max_own - own)
                    if todo <= 0:
                        break
                if todo <= 0:  # other workers are finishing the budget
                    time.sleep(1.0)
                    continue
                batch = min(todo, self.n_jobs)
                waiting = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
                if line_left and not waiting and not running:
                    point = self._line_point(study)
                    line_left = line_left - 1 if point is not None else 0
                    if point is not None:
                        study.enqueue_trial(point, user_attrs={"origin": "line search"})
                        batch = 1
                study.optimize(self._objective, n_trials=batch, n_jobs=self.n_jobs, catch=(_LearnerFailed,))
                own += batch
        if max_own is None and counted_trials(study) and not _complete(study):
            raise LearnerError(
                f"every trial failed to fit; first error: {self.failures_[0]['error'] if self.failures_ else '?'}"
            )

    def _line_point(self, study: optuna.Study) -> dict[str, float] | None:
        """The next bisection point on ``fill`` between the best feasible design and where it broke the allowance.

        Among the completed trials of the best feasible trial's design (every
        parameter but ``fill`` equal), the allowance is met up to some fill and
        broken above some larger one (more rows move the gap further and cost
        more accuracy); the midpoint is tried next. ``None`` when the space has
        no ``fill``, nothing is feasible, the design was never tried at a larger
        fill, or the bracket is narrower than 0.02.
        """
        if self.objective != "constrained" or "fill" not in self.space_.bounds():
            return None
        trials = _complete(study)
        feasible = [t for t in trials if t.user_attrs["constraint"][0] <= 0]
        if not feasible:
            return None
        best = min(feasible, key=lambda t: (t.values[0], t.number))
        others = [k for k in best.params if k != "fill"]
        same = [t for t in trials if all(abs(t.params.get(k, np.nan) - best.params[k]) < 1e-12 for k in others)]
        lo = max(t.params["fill"] for t in same if t.user_attrs["constraint"][0] <= 0)
        above = [t.params["fill"] for t in same if t.user_attrs["constraint"][0] > 0 and t.params["fill"] > lo]
        if not above or min(above) - lo < 0.02:
            return None
        return {**best.params, "fill": (lo + min(above)) / 2}

    def _select_best(self, study: optuna.Study) -> None:
        trials = _complete(study)
        feasible = [t for t in trials if t.user_attrs["constraint"][0] <= 0]
        if feasible:
            best = min(feasible, key=lambda t: (t.values[0], t.number))
        else:  # nothing met the constraint: least accuracy loss, say so
            best = min(trials, key=lambda t: (t.user_attrs["accuracy_loss"], t.values[0], t.number))
            log.warning("no trial met the accuracy constraint; using the one with the smallest loss")
        self.feasible_ = bool(feasible)
        self.best_trial_ = best
        self.best_params_ = {k: best.params[k] for k in self.space_.bounds()}
        self.pareto_front_ = study.best_trials if self.objective == "pareto" else [best]
        self.warm_start_trials_ = [t.number for t in trials if t.user_attrs.get("origin") == "warm start"]
        self.line_search_trials_ = [t.number for t in trials if t.user_attrs.get("origin") == "line search"]
        self.failures_ = [{"trial": t.number, "error": t.user_attrs["error"]}
                          for t in study.get_trials(deepcopy=False) if "error" in t.user_attrs]  # fmt: skip
        rows, labels, sens = self.generate(self.best_params_)
        self.poison_ = rows.assign(**{self.label_name_: labels})
        self.poison_sensitive_ = sens

    # -- using the result ------------------------------------------------------------------
    def score_point(self, params: dict[str, float]) -> dict[str, Any]:
        """Train the black box once with a point's rows and score it on validation (what a trial does).

        Returns
        -------
        dict
            ``validation`` (flat metrics block), ``unfairness``, ``accuracy_loss``
            (paired, against the unpoisoned model), ``accuracy_loss_bound`` (its
            one-sided upper limit, or the loss itself with ``accuracy_bound="mean"``),
            ``feasible``, ``n_rows`` and ``fit_seconds``.
        """
        check_is_fitted(self, "space_")
        rows, labels, _ = self.generate(params)
        Xa = pd.concat([self._X, rows], ignore_index=True)
        ya = np.concatenate([self._y, labels])
        t0 = time.perf_counter()
        try:
            model = clone(self.estimator).fit(Xa, ya)
            pred = np.asarray(model.predict(self._Xv)).astype(int)
            block = flat_block(evaluate(self._yv, pred, sensitive_features=self._sv, privileged=self.privileged_))
        except Exception as exc:
            raise _LearnerFailed(f"{type(exc).__name__}: {exc}".splitlines()[0]) from None
        finally:
            self.trainings_ += 1
        loss, bound = paired_loss_bound(self._base_correct, pred == self._yv,
                                        self.confidence if self.accuracy_bound == "upper" else None)  # fmt: skip
        return {"validation": block, "unfairness": self.metric_.unfairness(block), "accuracy_loss": loss,
                "accuracy_loss_bound": bound, "feasible": bool(bound <= self.max_accuracy_loss),
                "n_rows": len(rows), "fit_seconds": time.perf_counter() - t0}  # fmt: skip

    def generate(self, params: dict[str, float]) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        """Rows for any point of the space (e.g. a Pareto trial's params)."""
        check_is_fitted(self, "space_")
        return space_rows(self.space_, params, np.random.default_rng(self._seed), columns=list(self._X.columns))

    def random_control_params(self, *, seed: int | None = None) -> dict[str, float]:
        """A random point of the space with the same number of rows as ``poison_``."""
        check_is_fitted(self, "poison_")
        rng = np.random.default_rng([0 if seed is None else seed, 7919])
        return self.space_.match_rows(self.space_.sample(rng), len(self.poison_))

    def augment(self, X: pd.DataFrame, y: Any, sensitive_features: Any,
                poison: tuple[pd.DataFrame, np.ndarray, np.ndarray] | None = None) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:  # fmt: skip
        """The training set with the added rows appended.

        Returns
        -------
        (X_aug, y_aug, sensitive_aug)
        """
        check_is_fitted(self, "poison_")
        if poison is None:
            rows = self.poison_.drop(columns=self.label_name_)
            labels = self.poison_[self.label_name_].to_numpy()
            sens = self.poison_sensitive_
        else:
            rows, labels, sens = poison
        if list(X.columns) != list(rows.columns):
            raise DataError("X does not have the columns the poisoner was fit on")
        X_aug = pd.concat([X.reset_index(drop=True), rows], ignore_index=True)
        y_aug = np.concatenate([np.asarray(y).astype(int), labels])
        s_aug = np.concatenate([np.asarray(pd.Series(np.asarray(sensitive_features)).astype(str)), sens])
        return X_aug, y_aug, s_aug


# optuna 5 moved constraints into the trial (``Trial.set_constraint``) and deprecated the
# samplers' ``constraints_func``; both carry the same values, so results do not depend on it.
_CORE_CONSTRAINTS = hasattr(optuna.trial.Trial, "set_constraint")


def _constraints(trial: optuna.trial.FrozenTrial) -> list[float]:
    return list(trial.user_attrs.get("constraint", [1.0]))


def _complete(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if "constraint" in t.user_attrs]


def _proba(model: Any, X: pd.DataFrame) -> np.ndarray:
    if hasattr(model, "predict_proba"):
        return np.asarray(model.predict_proba(X))[:, 1]
    return np.asarray(model.predict(X), dtype=float)
