"""White-box constructive poisoning by gradient descent through a differentiable surrogate.

The same bi-level problem as :class:`~trustlab.poisoning.FairnessPoisoner`,
``argmin_h g(w*(h))  s.t.  w*(h) in argmin_w f(w, D + h)``, solved by
gradient descent on the features of the added rows ``h``:

* ``surrogate="logreg"``: L2-regularised logistic regression on the encoded
  features. The inner problem is strictly convex, solved to optimality by
  Newton's method, and the outer gradient comes from the optimality
  condition ``grad_w f(w*, h) = 0`` (implicit differentiation with the exact
  Hessian; see :func:`~trustlab.poisoning._gradient_core.implicit_grad`).
* ``surrogate="mlp"``: a one-hidden-layer tanh network, pre-trained on the
  clean rows; the outer gradient back-propagates through ``inner_steps``
  unrolled full-batch gradient steps on ``D + h`` (``create_graph=True``).

The rows are then handed to any (non-differentiable) learner: see
:func:`trustlab.poisoning._gradient_eval.evaluate_gradient_poisoning` for
the transfer evaluation.
"""

from __future__ import annotations

import logging
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from trustlab._errors import ConfigError, DataError, check_choice
from trustlab.fairness import evaluate, flat_block, get_metric
from trustlab.poisoning._gradient_core import (
    DT,
    SURROGATES,
    Adam,
    Encoding,
    SurrogateClassifier,
    _with_bias,
    direction,
    hard_unfairness,
    implicit_grad,
    mlp_logits,
    soft_unfairness,
    solve_logreg,
    torch_threads,
    train_mlp,
    unrolled_mlp,
)
from trustlab.poisoning._poisoner import prepare_inputs, resolve_budget

log = logging.getLogger("trustlab.poisoning")


class GradientDivergenceWarning(RuntimeWarning):
    """The outer optimisation produced a non-finite loss and was stopped."""


class GradientPoisoner(BaseEstimator):
    """Craft a few added rows by gradient descent so that a surrogate learner becomes fairer.

    Rows start as copies of real training rows of two (group, label) cells
    chosen from the sign of the surrogate's validation gap (as the BO space's
    warm start: lift the disadvantaged group with label 1, damp the advantaged
    one with label 0; half the budget each). Templates are the rows of that
    group nearest the surrogate's decision boundary. During the optimisation
    numeric features (standardised) are projected onto the observed range
    after every step and each categorical column's one-hot block is relaxed
    to a softmax over its categories; at the end blocks snap to their most
    likely category and integer columns are rounded. The sensitive column
    (if ``X`` has one) keeps the template's value, labels are fixed by the cell.

    Objective and constraint: the outer loss is a smooth absolute gap of the
    metric's group rates (selection rate, TPR, FPR; see
    :func:`~trustlab.poisoning._gradient_core.soft_unfairness`) on the
    validation probabilities ``sigmoid(logit / temperature)``. The constraint
    is on *hard* accuracy, a step function of the rows, so it admits neither
    a gradient nor a cheap projection. It is handled in two parts. (1) A
    switched penalty (feasibility restoration): at an iterate whose surrogate
    loses more than ``max_accuracy_loss`` of hard validation accuracy, the
    step also ascends the soft accuracy (mean probability of the true label,
    weight ``penalty``); at a feasible iterate the step is pure fairness. A
    fixed hinge on the soft accuracy was tried first: soft accuracy falls
    faster than hard accuracy when rows are relabelled, so the hinge fired
    while the hard constraint was slack and the steps traded fairness for
    nothing. (2) Exact selection: every iterate is scored with hard 0/1
    predictions on validation, and the returned rows are those of the fairest
    iterate within the allowance (the least-loss iterate, with
    ``feasible_ = False`` and a warning, if none is).

    Parameters
    ----------
    surrogate : {"logreg", "mlp"}
        The differentiable white box: L2-regularised logistic regression or a
        one-hidden-layer tanh network (see :data:`SURROGATES`).
    budget : float or int, default=0.05
        Rows to add: a fraction of the training rows or a count.
    metric : {"statistical_parity", "equalized_odds", "equal_opportunity", "fpr_gap", "disparate_impact"}
        The unfairness to lower (a name or alias for :func:`~trustlab.fairness.get_metric`).
    max_accuracy_loss : float, default=0.01
        Hard validation accuracy the surrogate may lose against the unpoisoned one, in [0, 1).
    steps : int, default=60
        Outer (Adam) steps on the rows.
    lr : float, default=0.1
        Adam step size, in standardised feature units / logits.
    l2 : float, default=1e-3
        L2 weight of the surrogate.
    penalty : float, default=10.0
        Weight of the accuracy hinge.
    hidden : int, default=16
        MLP hidden units.
    epochs : int, default=300
        Full-batch Adam steps of the MLP surrogate's training on the clean rows.
    inner_steps : int, default=20
        Unrolled gradient steps of the MLP (``surrogate="mlp"``).
    inner_lr : float, default=0.5
        Step size of those unrolled steps.
    temperature : float, default=0.25
        Of the soft rates: lower tracks the hard rates more closely.
    n_threads : int, optional, default=1
        torch threads during ``fit`` (restored afterwards); the matrices are
        small, and extra threads mostly cost time on a shared machine.
    privileged : value, optional
        Privileged value of the sensitive attribute (required for > 2 values).
    random_state : int, optional
        Seed of torch, the validation hold-out and the surrogate.

    Attributes
    ----------
    poison_ : DataFrame
        The added rows in the original schema plus the label column.
    poison_sensitive_ : ndarray
    n_poison_ : int
    baseline_ : dict
        Validation metrics of the surrogate trained on the clean rows.
    baseline_model_ : SurrogateClassifier
        That surrogate (fitted).
    estimator : SurrogateClassifier
        An unfitted surrogate (the white-box target).
    surrogate_validation_ : dict
        Validation metrics of the surrogate trained with ``poison_`` (snapped rows).
    history_ : DataFrame
        One row per outer step: objective, soft and hard unfairness, accuracy loss.
    best_step_ : int
    feasible_ : bool
    diverged_ : bool
        Whether a non-finite loss stopped the optimisation (``divergence_`` says where).
    cells_ : dict
        Rows per (group, label) cell.
    trainings_ : int
        Surrogate trainings (inner solves) used.
    fit_seconds_ : float
    """

    def __init__(self, surrogate: str = "logreg", *, budget: float | int = 0.05,
                 metric: str = "statistical_parity", max_accuracy_loss: float = 0.01, steps: int = 60,
                 lr: float = 0.1, l2: float = 1e-3, penalty: float = 10.0, hidden: int = 16, epochs: int = 300,
                 inner_steps: int = 20, inner_lr: float = 0.5, temperature: float = 0.25,
                 n_threads: int | None = 1, privileged: Any = None,
                 random_state: int | None = None) -> None:  # fmt: skip
        self.surrogate = surrogate
        self.budget = budget
        self.metric = metric
        self.max_accuracy_loss = max_accuracy_loss
        self.steps = steps
        self.lr = lr
        self.l2 = l2
        self.penalty = penalty
        self.hidden = hidden
        self.epochs = epochs
        self.inner_steps = inner_steps
        self.inner_lr = inner_lr
        self.temperature = temperature
        self.n_threads = n_threads
        self.privileged = privileged
        self.random_state = random_state

    # -- validation ------------------------------------------------------------------------
    def check_params(self) -> None:
        check_choice("surrogate", self.surrogate, SURROGATES)
        get_metric(self.metric)
        if not 0 <= self.max_accuracy_loss < 1:
            raise ConfigError(f"max_accuracy_loss must be in [0, 1), got {self.max_accuracy_loss}")
        for name in ("steps", "inner_steps", "hidden", "epochs"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
                raise ConfigError(f"{name} must be a positive integer, got {v!r}")
        for name in ("lr", "l2", "inner_lr", "temperature"):
            if not np.isfinite(getattr(self, name)) or getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if not np.isfinite(self.penalty) or self.penalty < 0:
            raise ConfigError(f"penalty must be >= 0, got {self.penalty!r}")

    @property
    def estimator(self) -> SurrogateClassifier:
        """The white-box target: an unfitted surrogate with this poisoner's settings."""
        return SurrogateClassifier(self.surrogate, l2=self.l2, hidden=self.hidden, epochs=self.epochs,
                                   n_threads=self.n_threads, random_state=self.random_state)  # fmt: skip

    def _prepare(self, X: pd.DataFrame, y: Any, s: Any, X_val: Any, y_val: Any, s_val: Any) -> None:
        self.check_params()
        d = prepare_inputs(X, y, s, X_val, y_val, s_val, privileged=self.privileged,
                           random_state=self.random_state)  # fmt: skip
        self.label_name_, self.privileged_ = d["label_name"], d["privileged"]
        self.n_poison_ = resolve_budget(self.budget, len(d["X"]))
        self._X, self._y, self._s = d["X"], d["y"], d["s"]
        self._Xv, self._yv, self._sv = d["X_val"], d["y_val"], d["s_val"]

    # -- fitting ---------------------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y: Any, *, sensitive_features: Any, X_val: pd.DataFrame | None = None,
            y_val: Any = None, sensitive_val: Any = None) -> GradientPoisoner:  # fmt: skip
        """Optimise the added rows (same arguments as :meth:`FairnessPoisoner.fit`)."""
        t0 = time.perf_counter()
        self._prepare(X, y, sensitive_features, X_val, y_val, sensitive_val)
        with torch_threads(self.n_threads):
            self._fit(t0)
        return self

    def _fit(self, t0: float) -> None:
        seed = 0 if self.random_state is None else int(self.random_state)
        torch.manual_seed(seed)
        enc = self.encoding_ = Encoding.fit(self._X)
        Z = torch.as_tensor(enc.transform(self._X), dtype=DT)
        Zv = torch.as_tensor(enc.transform(self._Xv), dtype=DT)
        yt = torch.as_tensor(self._y, dtype=DT)
        priv, priv_v = self._s == self.privileged_, self._sv == self.privileged_
        self.trainings_ = 1
        self.baseline_model_ = self.estimator.fit(self._X, self._y)
        self.baseline_ = self._block(self.baseline_model_.predict(self._Xv))
        # the clean surrogate on this poisoner's own encoding
        if self.surrogate == "logreg":
            w0: Any = solve_logreg(Z, yt, self.l2)
            clean_logits = (_with_bias(Z) @ w0).numpy()
            val_logits = (_with_bias(Zv) @ w0).numpy()
        else:
            w0 = train_mlp(Z, yt, l2=self.l2, hidden=self.hidden, epochs=self.epochs, seed=seed)
            with torch.no_grad():
                clean_logits, val_logits = mlp_logits(w0, Z).numpy(), mlp_logits(w0, Zv).numpy()
        self.direction_ = direction((val_logits > 0).astype(int), self._yv, priv_v, self.metric)
        rng = np.random.default_rng([seed, 4241])
        idx, yp = self._templates(clean_logits, priv, rng)
        sp = self._s[idx]
        fixed_col = _sensitive_column(self._X, self._s)
        Zp0 = Z[idx].clone()
        self._optimise(Z, yt, Zv, priv_v, Zp0, yp, w0, fixed_col)
        # the rows of the best iterate, in the original schema
        rows = enc.decode(self.best_Zp_.numpy())
        if fixed_col is not None:
            rows[fixed_col] = self._X[fixed_col].iloc[idx].to_numpy()
        self.poison_ = rows.assign(**{self.label_name_: yp.astype(int)})
        self.poison_sensitive_ = sp
        self.templates_ = idx
        model = self.estimator.fit(pd.concat([self._X, rows], ignore_index=True), np.concatenate([self._y, yp]))
        self.trainings_ += 1
        self.surrogate_validation_ = self._block(model.predict(self._Xv))
        self.fit_seconds_ = time.perf_counter() - t0

    def _block(self, pred: np.ndarray) -> dict[str, float]:
        return flat_block(evaluate(self._yv, pred, sensitive_features=self._sv, privileged=self.privileged_))

    def _templates(self, logits: np.ndarray, priv: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Real training rows of the two cells, nearest the decision boundary, and their labels."""
        up, down = ("u1", "p0") if self.direction_ >= 0 else ("p1", "u0")
        k_up = (self.n_poison_ + 1) // 2
        self.cells_ = {c: 0 for c in ("u0", "u1", "p0", "p1")}
        self.cells_[up], self.cells_[down] = k_up, self.n_poison_ - k_up
        idx, labels = [], []
        for cell in (up, down):
            k = self.cells_[cell]
            if k == 0:
                continue
            group = np.flatnonzero(priv if cell[0] == "p" else ~priv)
            near = group[np.argsort(np.abs(logits[group]), kind="stable")[: max(3 * k, 10)]]
            idx.append(rng.choice(near, size=k, replace=len(near) < k))
            labels.append(np.full(k, int(cell[1])))
        return np.concatenate(idx), np.concatenate(labels).astype(float)

    def _optimise(self, Z: torch.Tensor, yt: torch.Tensor, Zv: torch.Tensor, priv_v: np.ndarray,
                  Zp0: torch.Tensor, yp: np.ndarray, w0: Any, fixed_col: str | None) -> None:  # fmt: skip
        enc = self.encoding_
        ypt = torch.as_tensor(yp, dtype=DT)
        yv = self._yv
        yvt = torch.as_tensor(yv, dtype=DT)
        # free parameters: one-hot blocks as logits (softmax), numerics standardised
        logits = (Zp0[:, : enc.n_cat] * 4.0).clone().requires_grad_(True)
        num = Zp0[:, enc.n_cat:].clone().requires_grad_(True)
        lo, hi = (torch.as_tensor(b, dtype=DT) for b in enc.std_bounds())
        num_free = torch.ones(enc.n_num, dtype=DT)
        if fixed_col in enc.numeric:
            num_free[enc.numeric.index(fixed_col)] = 0.0
        opt = Adam([logits, num], lr=self.lr)

        def rows() -> torch.Tensor:
            cat = [torch.softmax(logits[:, sl], dim=1) if col != fixed_col else Zp0[:, sl] for col, sl, _ in enc.blocks]
            numeric = num_free * num + (1 - num_free) * Zp0[:, enc.n_cat:]
            return torch.cat([*cat, numeric], dim=1)

        acc0 = self.baseline_["accuracy"]
        with torch.no_grad():  # the clean surrogate's soft accuracy: the hinge's reference
            lv0 = _with_bias(Zv) @ w0 if self.surrogate == "logreg" else mlp_logits(w0, Zv)
            p0 = torch.sigmoid(lv0)
            soft_acc0 = float((yvt * p0 + (1 - yvt) * (1 - p0)).mean())
        w_prev = w0
        history, best = [], None
        self.diverged_, self.divergence_ = False, None
        Zvb = _with_bias(Zv)
        for step in range(self.steps + 1):
            Zp = rows()
            if self.surrogate == "logreg":
                w = solve_logreg(torch.cat([Z, Zp.detach()]), torch.cat([yt, ypt]), self.l2, w_prev)
                with torch.no_grad():
                    val_logits = Zvb @ w
            else:
                theta = unrolled_mlp(w0, Z, yt, Zp, ypt, l2=self.l2, steps=self.inner_steps, lr=self.inner_lr)
                vl = mlp_logits(theta, Zv)
                val_logits = vl.detach()
            self.trainings_ += 1
            pred = (val_logits.numpy() > 0).astype(int)
            loss_acc = acc0 - float((pred == yv).mean())
            hard = hard_unfairness(pred, yv, priv_v, self.metric)
            restore = loss_acc > self.max_accuracy_loss
            if self.surrogate == "logreg":
                def outer(ww: torch.Tensor, restore: bool = restore) -> torch.Tensor:
                    return self._outer(Zvb @ ww, yv, yvt, priv_v, soft_acc0, restore)

                value, gZp = implicit_grad(w, Z, yt, Zp.detach(), ypt, self.l2, outer)
                w_prev = w if torch.isfinite(w).all() else w_prev
            else:
                value_t = self._outer(vl, yv, yvt, priv_v, soft_acc0, restore)
                value, gZp = value_t.detach(), None
            soft = float(soft_unfairness(torch.sigmoid(val_logits / self.temperature), yv, priv_v, self.metric))
            rec = {"step": step, "objective": float(value), "soft_unfairness": soft, "unfairness": hard,
                   "accuracy_loss": loss_acc, "feasible": loss_acc <= self.max_accuracy_loss}  # fmt: skip
            if not np.isfinite(rec["objective"]) or not torch.isfinite(Zp).all():
                self.diverged_, self.divergence_ = True, f"non-finite loss at step {step}"
                msg = f"gradient poisoning diverged (non-finite loss at step {step}); keeping the best valid iterate"
                warnings.warn(msg, GradientDivergenceWarning, stacklevel=3)
                log.warning(msg)
                break
            history.append(rec)
            key = (not rec["feasible"], hard if rec["feasible"] else loss_acc, step)
            if best is None or key < best[0]:
                best = (key, step, Zp.detach().clone())
            if step == self.steps:
                break
            opt.zero_grad()
            if gZp is None:
                value_t.backward()
            else:
                Zp.backward(gZp)
            opt.step()
            with torch.no_grad():
                num.copy_(torch.maximum(torch.minimum(num, hi), lo))
        self.history_ = pd.DataFrame(history)
        if best is None:  # diverged at the very first step: the unmodified templates
            best = (None, 0, Zp0.clone())
            history.append({"step": 0, "feasible": False})
        _, self.best_step_, self.best_Zp_ = best
        self.feasible_ = bool(history[self.best_step_]["feasible"])
        if not self.feasible_:
            log.warning("no iterate met the accuracy constraint; using the one with the smallest loss")

    def _outer(self, val_logits: torch.Tensor, yv: np.ndarray, yvt: torch.Tensor, priv_v: np.ndarray,
               soft_acc0: float, restore: bool) -> torch.Tensor:  # fmt: skip
        fair = soft_unfairness(torch.sigmoid(val_logits / self.temperature), yv, priv_v, self.metric)
        if not restore:
            return fair
        p = torch.sigmoid(val_logits)
        soft_acc = (yvt * p + (1 - yvt) * (1 - p)).mean()
        return fair + self.penalty * torch.relu(soft_acc0 - soft_acc)

    # -- using the result ------------------------------------------------------------------
    def random_control(self, *, seed: int | None = None) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        """A matched control: as many real training rows, drawn at random, with random labels."""
        check_is_fitted(self, "poison_")
        rng = np.random.default_rng([0 if seed is None else seed, 7919])
        idx = rng.choice(len(self._X), size=len(self.poison_), replace=len(self.poison_) > len(self._X))
        return self._X.iloc[idx].reset_index(drop=True), rng.integers(0, 2, len(idx)), self._s[idx]

    def augment(self, X: pd.DataFrame, y: Any, sensitive_features: Any,
                poison: tuple[pd.DataFrame, np.ndarray, np.ndarray] | None = None) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:  # fmt: skip
        """The training set with the added rows appended: ``(X_aug, y_aug, sensitive_aug)``."""
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
        y_aug = np.concatenate([np.asarray(y).astype(int), np.asarray(labels).astype(int)])
        s_aug = np.concatenate([np.asarray(pd.Series(np.asarray(sensitive_features)).astype(str)), sens])
        return X_aug, y_aug, s_aug


def _sensitive_column(X: pd.DataFrame, s: np.ndarray) -> str | None:
    """The column of ``X`` that holds the sensitive attribute, if any."""
    for col in X.columns:
        if np.array_equal(X[col].astype(str).to_numpy(), s):
            return col
    return None
