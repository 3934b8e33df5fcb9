"""Differentiable pieces of the gradient poisoner (torch, float64).

* :class:`Encoding` - the fitted preprocessor's layout (one-hot blocks and
  standardised numeric columns) and the map back to the original schema.
* L2-regularised logistic regression solved by Newton's method, and the
  implicit (optimality-condition) gradient of an outer objective through it.
* A small MLP trained by full-batch Adam, and unrolled differentiable
  gradient steps for the outer gradient through its training.
* Soft (probability) and hard (0/1) group rates for every fairness metric.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, ClassifierMixin

from trustlab._errors import DataError, check_choice
from trustlab.datasets import column_kinds
from trustlab.fairness import get_metric
from trustlab.learners import make_preprocessor

SURROGATES = ("logreg", "mlp")
"""The differentiable surrogates of :class:`GradientPoisoner` (``surrogate=``).

``logreg``: L2-regularised logistic regression; ``mlp``: a one-hidden-layer tanh network.
"""
DT = torch.float64


# -- encoding ---------------------------------------------------------------------------------
@dataclass
class Encoding:
    """Layout of ``make_preprocessor(categorical, numeric)`` fitted on the training rows."""

    pre: Any
    X: pd.DataFrame
    categorical: list[str]
    numeric: list[str]
    integer: list[str]

    @classmethod
    def fit(cls, X: pd.DataFrame) -> Encoding:
        cat, num, integer = column_kinds(X)
        pre = make_preprocessor(cat, num).fit(X)
        return cls(pre=pre, X=X, categorical=cat, numeric=num, integer=integer)

    def __post_init__(self) -> None:
        self.blocks: list[tuple[str, slice, np.ndarray]] = []  # (column, slice, categories)
        start = 0
        if self.categorical:
            cats = self.pre.named_transformers_["cat"].named_steps["onehot"].categories_
            for col, values in zip(self.categorical, cats, strict=True):
                self.blocks.append((col, slice(start, start + len(values)), np.asarray(values, dtype=object)))
                start += len(values)
        self.n_cat = start
        self.n_num = len(self.numeric)
        if self.numeric:
            sc = self.pre.named_transformers_["num"].named_steps["scale"]
            self.mean, self.scale = np.asarray(sc.mean_, float), np.asarray(sc.scale_, float)
            raw = self.X[self.numeric].to_numpy(dtype=float)
            self.lo, self.hi = np.nanmin(raw, axis=0), np.nanmax(raw, axis=0)
        else:
            self.mean = self.scale = self.lo = self.hi = np.zeros(0)
        self.dim = self.n_cat + self.n_num

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.pre.transform(X), dtype=float)

    def std_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Observed numeric range in standardised units."""
        return (self.lo - self.mean) / self.scale, (self.hi - self.mean) / self.scale

    def decode(self, Z: np.ndarray) -> pd.DataFrame:
        """Encoded rows (relaxed one-hot blocks allowed) -> plausible rows in the original schema.

        Each one-hot block snaps to its largest entry (a category seen in
        training); numerics are un-standardised, clipped to the observed range
        and integer columns rounded.
        """
        out: dict[str, Any] = {}
        for col, sl, values in self.blocks:
            out[col] = values[np.argmax(Z[:, sl], axis=1)]
        if self.numeric:
            num = np.clip(Z[:, self.n_cat:] * self.scale + self.mean, self.lo, self.hi)
            for j, col in enumerate(self.numeric):
                v = np.round(num[:, j]) if col in self.integer else num[:, j]
                out[col] = np.clip(v, self.lo[j], self.hi[j])
        rows = pd.DataFrame(out)[list(self.X.columns)]
        for col in self.X.columns:
            rows[col] = rows[col].astype(self.X[col].dtype)
        return rows


# -- soft and hard group rates ----------------------------------------------------------------
def group_gaps(p: Any, y: np.ndarray, priv: np.ndarray) -> dict[str, Any]:
    """Privileged-minus-unprivileged rates of predictions ``p`` (probabilities or 0/1).

    Works on torch tensors (differentiable) and numpy arrays alike.
    """
    def rate(mask: np.ndarray) -> Any:
        if not mask.any():
            return p.sum() * 0.0
        return p[torch.from_numpy(mask)].mean() if isinstance(p, torch.Tensor) else p[mask].mean()

    pos, neg = y == 1, y == 0
    sel = (rate(priv), rate(~priv))
    return {
        "sel": sel,
        "sp": sel[0] - sel[1],
        "tpr": rate(priv & pos) - rate(~priv & pos),
        "fpr": rate(priv & neg) - rate(~priv & neg),
    }


def _block_of(g: dict[str, Any]) -> dict[str, float]:
    """A flat fairness block (registry keys) from hard group gaps."""
    sel_p, sel_u = float(g["sel"][0]), float(g["sel"][1])
    tpr, fpr = float(g["tpr"]), float(g["fpr"])
    return {"statistical_parity_difference": float(g["sp"]),
            "disparate_impact": sel_u / sel_p if sel_p > 0 else float("nan"),
            "equalized_odds_difference": max(abs(tpr), abs(fpr)),
            "equal_opportunity_difference": tpr, "fpr_difference": fpr, "fnr_difference": -tpr}  # fmt: skip


def soft_unfairness(p: torch.Tensor, y: np.ndarray, priv: np.ndarray, metric: str) -> torch.Tensor:
    """A smooth surrogate of the metric's unfairness on probabilities ``p``.

    The registered metric's :meth:`~trustlab.fairness.FairnessMetric.soft`:
    ``sqrt(gap^2 + 1e-8)`` (a smooth ``|gap|``, on the scale of the metric) of
    the selection-rate, TPR or FPR gap; equalized odds uses the root of the
    sum of both squared gaps, disparate impact ``1 - rate_u / rate_p``.
    """
    return get_metric(metric).soft(group_gaps(p, y, priv))


def hard_unfairness(pred: np.ndarray, y: np.ndarray, priv: np.ndarray, metric: str) -> float:
    """The registered metric's unfairness of 0/1 predictions."""
    return get_metric(metric).unfairness(_block_of(group_gaps(pred.astype(float), y, priv)))


def direction(pred: np.ndarray, y: np.ndarray, priv: np.ndarray, metric: str) -> int:
    """+1 when the privileged group has the higher rate the metric compares (the registry's rule)."""
    return get_metric(metric).direction(_block_of(group_gaps(pred.astype(float), y, priv)))


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run with ``n`` torch intra-op threads (``None``: leave as is), restoring the setting."""
    prev = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(prev)


# -- logistic regression ----------------------------------------------------------------------
def _with_bias(Z: torch.Tensor) -> torch.Tensor:
    return torch.cat([Z, torch.ones(len(Z), 1, dtype=Z.dtype)], dim=1)


def logreg_loss(w: torch.Tensor, Z: torch.Tensor, y: torch.Tensor, l2: float) -> torch.Tensor:
    """Mean logistic loss + ``l2 / 2 * ||w||^2`` (bias unpenalised); ``Z`` without the bias column."""
    logits = _with_bias(Z) @ w
    data = torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="mean")
    return data + 0.5 * l2 * (w[:-1] ** 2).sum()


def logreg_hessian(w: torch.Tensor, Z: torch.Tensor, l2: float) -> torch.Tensor:
    """Exact Hessian of :func:`logreg_loss` in ``w``."""
    Zb = _with_bias(Z)
    p = torch.sigmoid(Zb @ w)
    H = (Zb * (p * (1 - p))[:, None]).T @ Zb / len(Z)
    reg = torch.full((Zb.shape[1],), l2, dtype=Z.dtype)
    reg[-1] = 1e-10
    return H + torch.diag(reg)


def logreg_grad(w: torch.Tensor, Z: torch.Tensor, y: torch.Tensor, l2: float) -> torch.Tensor:
    """Analytic gradient of :func:`logreg_loss` in ``w``."""
    Zb = _with_bias(Z)
    g = Zb.T @ (torch.sigmoid(Zb @ w) - y) / len(Z)
    reg = l2 * w
    reg[-1] = 0.0
    return g + reg


def solve_logreg(Z: torch.Tensor, y: torch.Tensor, l2: float, w0: torch.Tensor | None = None, *,
                 tol: float = 1e-10, max_iter: int = 50) -> torch.Tensor:  # fmt: skip
    """Minimise :func:`logreg_loss` by damped Newton steps (detached)."""
    with torch.no_grad():
        Z, y = Z.detach(), y.detach()
        w = torch.zeros(Z.shape[1] + 1, dtype=Z.dtype) if w0 is None else w0.detach().clone()
        for _ in range(max_iter):
            g = logreg_grad(w, Z, y, l2)
            if not torch.isfinite(g).all():
                return w * float("nan")
            if g.abs().max() < tol:
                break
            step = torch.linalg.solve(logreg_hessian(w, Z, l2), g)
            t, f0 = 1.0, float(logreg_loss(w, Z, y, l2))
            while t > 1e-4 and float(logreg_loss(w - t * step, Z, y, l2)) > f0 + 1e-12:
                t *= 0.5
            w = w - t * step
    return w


class Adam:
    """Plain Adam on a list of leaf tensors (``torch.optim`` imports the compiler stack: seconds)."""

    def __init__(self, params: list[torch.Tensor], lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:  # fmt: skip
        self.params, self.lr, self.betas, self.eps = params, lr, betas, eps
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]
        self.t = 0

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        self.t += 1
        b1, b2 = self.betas
        for p, m, v in zip(self.params, self.m, self.v, strict=True):
            if p.grad is None:
                continue
            m.mul_(b1).add_(p.grad, alpha=1 - b1)
            v.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
            mhat, vhat = m / (1 - b1**self.t), v / (1 - b2**self.t)
            p.sub_(self.lr * mhat / (vhat.sqrt() + self.eps))


def implicit_grad(w: torch.Tensor, Z: torch.Tensor, y: torch.Tensor, Zp: torch.Tensor, yp: torch.Tensor,
                  l2: float, outer: Callable[[torch.Tensor], torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """Outer value and its gradient in the poison rows through the optimality condition.

    ``w`` minimises the loss on ``Z + Zp`` (so ``grad_w L = 0``). By the implicit
    function theorem ``dw/dZp = -H^{-1} d(grad_w L)/dZp``, hence
    ``dG/dZp = -d/dZp [grad_w L(w, Zp) . v]`` with ``v = H^{-1} grad_w G(w)``
    and ``H`` the exact Hessian of the convex logistic loss.
    """
    w = w.detach().requires_grad_(True)
    value = outer(w)
    (gG,) = torch.autograd.grad(value, w)
    Zp = Zp if Zp.requires_grad else Zp.detach().requires_grad_(True)
    Zall = torch.cat([Z, Zp])
    H = logreg_hessian(w.detach(), Zall.detach(), l2)
    v = torch.linalg.solve(H, gG)
    (gL,) = torch.autograd.grad(logreg_loss(w, Zall, torch.cat([y, yp]), l2), w, create_graph=True)
    (gP,) = torch.autograd.grad(gL @ v, Zp)
    return value.detach(), -gP


# -- MLP ------------------------------------------------------------------------------------------
def mlp_init(d: int, hidden: int, seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(int(seed))
    return [torch.randn(d, hidden, generator=g, dtype=DT) / np.sqrt(d), torch.zeros(hidden, dtype=DT),
            torch.randn(hidden, generator=g, dtype=DT) / np.sqrt(hidden), torch.zeros(1, dtype=DT)]  # fmt: skip


def mlp_logits(theta: list[torch.Tensor], Z: torch.Tensor) -> torch.Tensor:
    W1, b1, w2, b2 = theta
    return torch.tanh(Z @ W1 + b1) @ w2 + b2


def mlp_loss(theta: list[torch.Tensor], Z: torch.Tensor, y: torch.Tensor, l2: float) -> torch.Tensor:
    data = torch.nn.functional.binary_cross_entropy_with_logits(mlp_logits(theta, Z), y)
    return data + 0.5 * l2 * ((theta[0] ** 2).sum() + (theta[2] ** 2).sum())


def train_mlp(Z: torch.Tensor, y: torch.Tensor, *, l2: float, hidden: int, epochs: int, seed: int,
              theta: list[torch.Tensor] | None = None) -> list[torch.Tensor]:  # fmt: skip
    """Full-batch Adam (deterministic); from ``theta`` or a seeded initialisation."""
    theta = [t.detach().clone().requires_grad_(True) for t in (theta or mlp_init(Z.shape[1], hidden, seed))]
    opt = Adam(theta, lr=0.01)
    for _ in range(epochs):
        opt.zero_grad()
        mlp_loss(theta, Z.detach(), y, l2).backward()
        opt.step()
    return [t.detach() for t in theta]


def unrolled_mlp(theta0: list[torch.Tensor], Z: torch.Tensor, y: torch.Tensor, Zp: torch.Tensor,
                 yp: torch.Tensor, *, l2: float, steps: int, lr: float) -> list[torch.Tensor]:  # fmt: skip
    """``steps`` differentiable gradient-descent steps on ``Z + Zp`` from ``theta0``.

    The returned parameters are a function of ``Zp`` in the autograd graph
    (``create_graph=True``), so an outer loss back-propagates through training.
    """
    theta = [t.detach().clone().requires_grad_(True) for t in theta0]
    Zall, yall = torch.cat([Z, Zp]), torch.cat([y, yp])
    for _ in range(steps):
        grads = torch.autograd.grad(mlp_loss(theta, Zall, yall, l2), theta, create_graph=True)
        theta = [t - lr * g for t, g in zip(theta, grads, strict=True)]
    return theta


# -- the surrogate as an estimator ---------------------------------------------------------------
class SurrogateClassifier(ClassifierMixin, BaseEstimator):
    """The differentiable surrogate as a scikit-learn classifier on the raw DataFrame.

    Parameters
    ----------
    kind : {"logreg", "mlp"}
        Logistic regression (solved exactly) or a one-hidden-layer tanh network.
    l2 : float, default=1e-3
        Weight of ``l2 / 2 * ||w||^2`` added to the mean logistic loss.
    hidden : int, default=16
        Hidden units of the MLP (tanh).
    epochs : int, default=300
        Full-batch Adam steps of the MLP.
    n_threads : int, optional, default=1
        torch threads while fitting and predicting.
    random_state : int, optional
        Seed of the network's initialisation (``mlp`` only).
    """

    def __init__(self, kind: str = "logreg", *, l2: float = 1e-3, hidden: int = 16, epochs: int = 300,
                 n_threads: int | None = 1, random_state: int | None = None) -> None:  # fmt: skip
        self.kind = kind
        self.n_threads = n_threads
        self.l2 = l2
        self.hidden = hidden
        self.epochs = epochs
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y: Any) -> SurrogateClassifier:
        with torch_threads(self.n_threads):
            return self._fit(X, y)

    def _fit(self, X: pd.DataFrame, y: Any) -> SurrogateClassifier:
        check_choice("surrogate", self.kind, SURROGATES)
        if not isinstance(X, pd.DataFrame):
            raise DataError("X must be a pandas DataFrame")
        self.encoding_ = Encoding.fit(X)
        Z = torch.as_tensor(self.encoding_.transform(X), dtype=DT)
        yt = torch.as_tensor(np.asarray(y, dtype=float), dtype=DT)
        self.classes_ = np.array([0, 1])
        if self.kind == "logreg":
            self.w_ = solve_logreg(Z, yt, self.l2)
        else:
            self.theta_ = train_mlp(Z, yt, l2=self.l2, hidden=self.hidden, epochs=self.epochs,
                                    seed=self.random_state or 0)  # fmt: skip
        return self

    def _logits(self, X: pd.DataFrame) -> np.ndarray:
        Z = torch.as_tensor(self.encoding_.transform(X), dtype=DT)
        with torch.no_grad(), torch_threads(self.n_threads):
            out = _with_bias(Z) @ self.w_ if self.kind == "logreg" else mlp_logits(self.theta_, Z)
        return out.numpy()

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = 1.0 / (1.0 + np.exp(-self._logits(X)))
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self._logits(X) > 0).astype(int)
