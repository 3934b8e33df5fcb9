"""RMIA: the robust membership-inference attack of Zarifzadeh, Liu and Shokri (ICML 2024).

"Low-Cost High-Power Membership Inference Attacks" compares the likelihood
ratio of a challenge row ``x`` with that of population rows ``z``:

.. math::

    LR(x, z) = \\frac{\\Pr(x|\\theta) / \\Pr(x)}{\\Pr(z|\\theta) / \\Pr(z)}, \\qquad
    \\mathrm{Score}(x) = \\Pr_z[LR(x, z) \\ge \\gamma],

with ``Pr(x|theta)`` the target's probability of the true label and ``Pr(x)``
its average over reference models. Online, reference models include ones
trained on ``x``; offline, only OUT models are available and the paper
approximates ``Pr(x) = ((1 + a) Pr_OUT(x) + (1 - a)) / 2``, i.e.
``Pr_IN(x) ~ a Pr_OUT(x) + 1 - a``. The paper's setting: the attacker draws
``z`` from population data it owns (never the target's training set), uses
as few as 1-2 reference models, and picks ``a`` by running the attack with
one reference model as a stand-in target and the others as references.

Here (attacker's data only):

- ``z`` are rows of the attacker's shadow pool (up to ``population``).
- ``gamma`` and ``a`` are chosen on a grid by leave-one-reference-out on the
  pool: each reference in turn is the stand-in target, its own IN/OUT rows
  the membership, the remaining references the reference set; the pair with
  the highest mean AUC wins, and the decision threshold is calibrated there.
- With one reference no stand-in target is left: ``gamma = 1`` and ``a`` is
  the moment estimate ``(1 - E[p | IN]) / (1 - E[p | OUT])`` from that
  reference's own IN and OUT pool rows (the same approximation, on averages).
- The shadow design here puts each row IN ``r`` of ``K`` shadows, not one
  half; online ``Pr(x)`` is therefore ``(mean_IN(x) + mean_OUT(x)) / 2``,
  and the offline formula stands in where a row has no IN reference.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from trustlab._errors import ConfigError
from trustlab.privacy._attacks import true_class_proba
from trustlab.privacy._interface import Attack, ShadowSet, TargetView, register_attack
from trustlab.privacy._metrics import best_threshold

_EPS = 1e-7
#: Grid of ``gamma`` and ``a`` searched during calibration.
GAMMAS = (1.0, 1.25, 1.5, 2.0, 4.0)
A_GRID = tuple(np.round(np.linspace(0.0, 1.0, 11), 2))
_MAX_STANDINS = 8
_MAX_CAL_ROWS = 3000


def rmia_marginal(p_ref: np.ndarray, in_ref: np.ndarray, *, a: float, online: bool) -> np.ndarray:
    """``Pr(x)`` of every row from reference models.

    Parameters
    ----------
    p_ref : array (k, n)
        Reference models' probability of each row's true label.
    in_ref : bool array (k, n)
        Whether reference j trained on row i.
    a : float
        Offline scaling: ``Pr_IN ~ a Pr_OUT + 1 - a``.
    online : bool
        Use IN references where a row has them.

    Returns
    -------
    numpy.ndarray of shape (n,)
        ``(Pr_IN + Pr_OUT) / 2`` from the mean IN and OUT probabilities where a row has IN
        references and ``online``; else the offline ``(1 + a) Pr_OUT / 2 + (1 - a) / 2``.
        Clipped below at ``1e-7``.
    """
    p_ref = np.asarray(p_ref, float)
    in_ref = np.asarray(in_ref, bool)
    n_in, n_out = in_ref.sum(0), (~in_ref).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_in = np.where(n_in > 0, (p_ref * in_ref).sum(0) / np.maximum(n_in, 1), np.nan)
        mean_out = np.where(n_out > 0, (p_ref * ~in_ref).sum(0) / np.maximum(n_out, 1), np.nan)
    missing = ~np.isfinite(mean_out)
    if missing.any():  # every reference trained on the row: shrink its IN mean by the average OUT/IN ratio
        both = np.isfinite(mean_in) & ~missing
        ratio = float(np.mean(mean_out[both] / np.maximum(mean_in[both], _EPS))) if both.any() else 1.0
        mean_out = np.where(missing, mean_in * ratio, mean_out)
    offline = 0.5 * ((1 + a) * mean_out + (1 - a))
    if not online:
        return np.maximum(offline, _EPS)
    return np.maximum(np.where(n_in > 0, 0.5 * (np.nan_to_num(mean_in) + mean_out), offline), _EPS)


def rmia_scores(p_x: np.ndarray, pr_x: np.ndarray, p_z: np.ndarray, pr_z: np.ndarray, gamma: float) -> np.ndarray:
    """``Score(x) = Pr_z[LR(x, z) >= gamma]`` for every challenge row ``x``.

    ``LR(x, z)`` is ``(p_x / pr_x) / (p_z / pr_z)``; the score is the share of population rows
    ``z`` for which it reaches ``gamma``.

    Parameters
    ----------
    p_x, pr_x : numpy.ndarray of shape (n,)
        Target's probability of the true label, and ``Pr(x)``, of the challenge rows.
    p_z, pr_z : numpy.ndarray of shape (m,)
        The same for the population rows.
    gamma : float
        Likelihood-ratio threshold (>= 1 in the paper's use); must be > 0.

    Returns
    -------
    numpy.ndarray of shape (n,)
        Scores in [0, 1], larger = member.

    Raises
    ------
    ConfigError
        If ``gamma`` is not positive.
    """
    if not gamma > 0:
        raise ConfigError(f"RMIA gamma must be > 0, got {gamma}")
    rx = np.asarray(p_x, float) / np.asarray(pr_x, float)
    rz = np.sort(np.asarray(p_z, float) / np.asarray(pr_z, float))
    # LR(x, z) = rx / rz >= gamma  <=>  rz <= rx / gamma (the ratios are positive)
    return np.searchsorted(rz, rx / gamma, side="right") / len(rz)


def _p(P: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Probability of the true label, clipped away from 0 (``P`` may be (k, n, 2))."""
    if P.ndim == 3:
        return np.stack([np.clip(true_class_proba(Pk, y), _EPS, 1.0) for Pk in P])
    return np.clip(true_class_proba(P, y), _EPS, 1.0)


@register_attack
class RMIA(Attack):
    """RMIA online (Zarifzadeh, Liu, Shokri, ICML 2024); see the module docstring.

    Parameters
    ----------
    role : str, default "fair"
        Which model of the pair is attacked (``biased`` or ``fair``).
    random_state : int, default 0
        Seed of the attack's own randomness (population rows, calibration splits).
    references : int, optional
        Use the first ``references`` shadow models as reference models
        (default: all). 1 and 2 are the paper's low-cost settings.
    gamma, a : float, optional
        Fix them instead of calibrating on the attacker's pool (``gamma > 0``,
        ``0 <= a <= 1``).
    population : int, default 2500
        Largest number of population rows ``z``.

    Raises
    ------
    ConfigError
        If ``references`` or ``population`` is below 1, or ``gamma`` or ``a`` is out of range.
    """

    name = "rmia"
    min_shadows = 1
    needs_challenge_outputs = True
    needs_population = True
    online = True

    def __init__(self, role: str = "fair", *, random_state: int = 0, references: int | None = None,
                 gamma: float | None = None, a: float | None = None, population: int = 2500) -> None:  # fmt: skip
        super().__init__(role, random_state=random_state)
        if references is not None and references < 1:
            raise ConfigError(f"RMIA needs at least 1 reference model, got {references}")
        if gamma is not None and not gamma > 0:
            raise ConfigError(f"RMIA gamma must be > 0, got {gamma}")
        if a is not None and not 0 <= a <= 1:
            raise ConfigError(f"RMIA a must be in [0, 1], got {a}")
        if population < 1:
            raise ConfigError(f"RMIA needs at least 1 population row, got {population}")
        self.references, self.gamma, self.a, self.population = references, gamma, a, population

    def calibrate(self, shadows: ShadowSet) -> Attack:
        k = shadows.n_shadows if self.references is None else self.references
        if k > shadows.n_shadows:
            raise ConfigError(f"RMIA with {k} reference models needs at least {k} shadow models "
                              f"(got {shadows.n_shadows})")  # fmt: skip
        self.refs_ = np.arange(k)
        rng = np.random.default_rng([self.random_state, 7411])
        P, y, m = shadows.pool(self.role)
        p = _p(P[self.refs_], y)
        m = m[self.refs_]
        n_pool = p.shape[1]
        self.z_pos_ = np.sort(rng.choice(n_pool, min(self.population, n_pool), replace=False))
        self.p_ref_z_, self.in_ref_z_ = p[:, self.z_pos_], m[:, self.z_pos_]
        P_ch, m_ch = shadows.challenge(self.role)
        self.p_ref_x_ = _p(P_ch[self.refs_], shadows.labels[~shadows.is_pool])
        self.in_ref_x_ = m_ch[self.refs_]
        gammas = GAMMAS if self.gamma is None else (self.gamma,)
        a_grid = A_GRID if self.a is None else (self.a,)
        if k == 1:
            p_in, p_out = p[0][m[0]], p[0][~m[0]]
            a_hat = (1 - p_in.mean()) / max(1 - p_out.mean(), _EPS) if len(p_in) and len(p_out) else 1.0
            self.gamma_ = 1.0 if self.gamma is None else self.gamma
            self.a_ = float(np.clip(a_hat, 0.0, 1.0)) if self.a is None else self.a
            self.threshold_ = 0.5
            how = "one reference: gamma 1, a = (1 - E[p|IN]) / (1 - E[p|OUT]) on its pool rows"
        else:
            self.gamma_, self.a_, self.threshold_, auc = self._loo(p, m, gammas, a_grid, rng)
            how = f"leave-one-reference-out on the attacker's pool (mean AUC {auc:.3f})"
        self.details_ = {"references": int(k), "gamma": float(self.gamma_), "a": float(self.a_),
                         "population": len(self.z_pos_), "calibration": how}  # fmt: skip
        return self

    def _loo(self, p: np.ndarray, m: np.ndarray, gammas: tuple, a_grid: tuple,
             rng: np.random.Generator) -> tuple[float, float, float, float]:  # fmt: skip
        k, n = p.shape
        half = rng.permutation(n)
        xs, zs = np.sort(half[: n // 2]), np.sort(half[n // 2:])
        if len(xs) > _MAX_CAL_ROWS:
            xs = np.sort(rng.choice(xs, _MAX_CAL_ROWS, replace=False))
        zs = zs[: self.population]
        standins = [t for t in range(min(k, _MAX_STANDINS))]
        cases = []
        for t in standins:
            others = np.setdiff1d(np.arange(k), [t])
            z_t = zs[~m[t, zs]]  # the stand-in's population rows are its non-members, like the target's
            mem = m[t, xs].astype(int)
            if len(z_t) == 0 or len(set(mem)) < 2:
                continue
            cases.append((t, others, z_t, mem))
        if not cases:  # nothing to calibrate on: the one-reference defaults
            return (gammas[0], a_grid[-1], 0.5, float("nan"))
        best: tuple[float, float, float] | None = None
        for a in a_grid:
            per = []
            for t, others, z_t, mem in cases:
                pr_x = rmia_marginal(p[others][:, xs], m[others][:, xs], a=a, online=self.online)
                pr_z = rmia_marginal(p[others][:, z_t], m[others][:, z_t], a=a, online=self.online)
                per.append((p[t, xs] / pr_x, np.sort(p[t, z_t] / pr_z), mem))
            for g in gammas:
                aucs = [roc_auc_score(mem, np.searchsorted(rz, rx / g, side="right"))
                        for rx, rz, mem in per]  # fmt: skip
                val = float(np.mean(aucs))
                if best is None or val > best[0] + 1e-12:
                    best = (val, float(g), float(a))
        assert best is not None
        auc, g, a = best
        mem_all, s_all = [], []
        for t, others, z_t, mem in cases:
            pr_x = rmia_marginal(p[others][:, xs], m[others][:, xs], a=a, online=self.online)
            pr_z = rmia_marginal(p[others][:, z_t], m[others][:, z_t], a=a, online=self.online)
            s_all.append(rmia_scores(p[t, xs], pr_x, p[t, z_t], pr_z, g))
            mem_all.append(mem)
        thr = best_threshold(np.concatenate(mem_all), np.concatenate(s_all))
        return g, a, thr, auc

    def score(self, target: TargetView) -> np.ndarray:
        y = target.labels
        p_x = _p(target.proba[self.role], y)
        if self.role not in target.population:
            raise ConfigError("RMIA needs the target's outputs on the attacker's population rows")
        p_z = _p(target.population[self.role][self.z_pos_], target.population_labels[self.z_pos_])
        pr_x = rmia_marginal(self.p_ref_x_, self.in_ref_x_, a=self.a_, online=self.online)
        pr_z = rmia_marginal(self.p_ref_z_, self.in_ref_z_, a=self.a_, online=self.online)
        return rmia_scores(p_x, pr_x, p_z, pr_z, self.gamma_)


@register_attack
class RMIAOffline(RMIA):
    """RMIA offline: reference models never trained on the challenge row; ``Pr(x)`` from OUT models and ``a``."""

    name = "rmia_offline"
    online = False
