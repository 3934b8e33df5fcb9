"""The privacy audit: target pair, shadow pairs, every attack, metrics per group.

Protocol (one seed):

1. The rows are split into the target's **members** (its training set),
   held-out **non-members**, and the attacker's **shadow pool**; the three
   are disjoint. The evaluation set is balanced: all non-members and as many
   members drawn at random (or the other way round).
2. The biased and the fair target are trained on the members.
3. K shadow *pairs* are trained exactly like the target, each on as many
   rows as the target, drawn from the attacker's pool so that every pool row
   is IN exactly ``r = round(K * n_members / n_pool)`` shadows. When an
   attack needs shadow outputs on the challenge rows (LiRA, RMIA) the pool
   also holds the evaluation rows (Carlini et al.'s online setting: the
   attacker trains on the challenge points without knowing their
   membership); every attack classifier, hyper-parameter and decision
   threshold is fit on shadow outputs on the **shadow pool only**, which is
   disjoint from the evaluation set, and never on the target's membership.
4. Every requested attack is an :class:`~trustlab.privacy.Attack` object:
   ``calibrate(ShadowSet)`` then ``score(TargetView)``, on the biased and
   the fair target (through the output restriction, if any) and, for pair
   attacks (FD-MIA), on both at once; metrics are computed overall and per
   sensitive group. Utility and fairness are measured on the held-out
   non-members, which nothing was trained on except online shadows.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from trustlab._errors import ConfigError, DataError
from trustlab._parallel import parallel_map
from trustlab.datasets import Dataset
from trustlab.fairness import evaluate, group_labels
from trustlab.privacy import _classic, _rmia  # noqa: F401  (registers the attacks)
from trustlab.privacy._attacks import true_class_proba
from trustlab.privacy._defences import Defence, parse_defence
from trustlab.privacy._interface import (
    ATTACK_REGISTRY,
    ATTACKS,
    ShadowSet,
    TargetView,
    make_attack,
    parse_attacks,
)
from trustlab.privacy._metrics import attack_metrics
from trustlab.privacy._models import BlackBox
from trustlab.privacy._pairs import PairSpec, poison_rows

SCORE_ATTACKS = tuple(n for n, c in ATTACK_REGISTRY.items() if c.score_based and not c.pair)
"""Single-model attacks that use scores (not only labels), compared with FD-MIA.

The registered attacks whose class has ``score_based`` set and ``pair`` unset; the audit's
``best_score_attack_on_fair`` is the one of these with the highest AUC.
"""
ROLES = ("biased", "fair")


def partition(n: int, *, seed: int = 0, member_fraction: float = 0.25, nonmember_fraction: float = 0.25,
              max_rows: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Random disjoint members / non-members / shadow pool over ``n`` rows.

    Parameters
    ----------
    n : int
        Number of rows.
    seed : int
        Seed of the permutation.
    member_fraction, nonmember_fraction : float
        Shares of the target's members and held-out non-members; the rest is
        the attacker's shadow pool.
    max_rows : int, optional
        Use a random subsample of this many rows (say so when reporting). More
        rows than ``n`` means all of them, with a ``UserWarning``, so a report
        does not claim a size that was not used.

    Returns
    -------
    (members, nonmembers, shadow_pool) : tuple of numpy.ndarray
        Three sorted, disjoint arrays of row numbers.
    """
    if not (0 < member_fraction < 1 and 0 < nonmember_fraction < 1 and member_fraction + nonmember_fraction < 1):
        raise ConfigError("member and non-member fractions must be positive and sum to less than 1")
    rng = np.random.default_rng(seed)
    idx = rng.permutation(n)
    if max_rows is not None:
        if max_rows < 10:
            raise ConfigError(f"max_rows must be >= 10, got {max_rows}")
        if max_rows > n:
            warnings.warn(f"max_rows={max_rows:,} exceeds the {n:,} rows available; using all of them",
                          UserWarning, stacklevel=2)  # fmt: skip
        idx = idx[:max_rows]
    n_m = int(round(member_fraction * len(idx)))
    n_n = int(round(nonmember_fraction * len(idx)))
    return np.sort(idx[:n_m]), np.sort(idx[n_m:n_m + n_n]), np.sort(idx[n_m + n_n:])


@dataclass
class AuditResult:
    """Output of :func:`privacy_audit`.

    Parameters
    ----------
    summary : dict
        The ``summary.json`` content.
    membership : numpy.ndarray of int
        1 for the evaluation members, 0 for the evaluation non-members.
    groups : numpy.ndarray of str
        Sensitive group name of each evaluation row.
    labels : numpy.ndarray
        True labels of the evaluation rows.
    proba : dict, optional
        ``{"biased": P, "fair": P}`` -- what the API returned on the evaluation rows.
    scores : dict, optional
        ``{"biased": {attack: scores}, "fair": {...}, "pair": {"fdmia": ..., "fdmia_threshold": ...}}``.
    models : dict, optional
        The fitted target models.
    rows : numpy.ndarray of int, optional
        Dataset row number of each evaluation row.
    """

    summary: dict[str, Any]
    membership: np.ndarray
    groups: np.ndarray
    labels: np.ndarray
    proba: dict[str, np.ndarray] = field(default_factory=dict)
    scores: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict)
    rows: np.ndarray = field(default_factory=lambda: np.zeros(0, int))


def _shadow_task(item: dict[str, Any]) -> dict[str, np.ndarray]:
    """Train one shadow pair; return both models' probabilities on the whole pool."""
    if item.get("threads"):
        import torch

        torch.set_num_threads(item["threads"])
    X, y, s, inm = item["X"], item["y"], item["s"], item["in_mask"]
    spec: PairSpec = item["spec"]
    biased, fair, _ = spec.fit(X[inm].reset_index(drop=True), y[inm], s[inm], seed=item["seed"],
                               poison=item.get("poison"))  # fmt: skip
    return {"biased": BlackBox(biased, random_state=item["seed"]).proba(X),
            "fair": BlackBox(fair, random_state=item["seed"]).proba(X)}  # fmt: skip


def _assign(n_pool: int, shadows: int, per_point: int, rng: np.random.Generator) -> np.ndarray:
    """(K, n) IN mask: every pool row IN exactly ``per_point`` of the K shadows, at random."""
    ranks = np.argsort(rng.random((n_pool, shadows)), axis=1)
    return (ranks < per_point).T


def _check_indices(n: int, members: Any, nonmembers: Any, shadow_pool: Any) -> tuple[np.ndarray, ...]:
    out = []
    for name, idx in (("members", members), ("non-members", nonmembers), ("shadow pool", shadow_pool)):
        a = np.asarray(idx, dtype=int).ravel()
        if len(a) == 0:
            raise DataError(f"the {name} set is empty")
        if a.min() < 0 or a.max() >= n:
            raise DataError(f"the {name} set has row numbers outside 0..{n - 1}")
        if len(np.unique(a)) != len(a):
            raise DataError(f"the {name} set lists a row twice")
        out.append(a)
    m, nm, sp = out
    overlap = np.intersect1d(m, nm)
    if len(overlap):
        raise DataError(f"the member set overlaps the evaluation non-members in {len(overlap)} rows "
                        f"(e.g. row {overlap[0]}); they must be disjoint")  # fmt: skip
    overlap = np.intersect1d(sp, np.union1d(m, nm))
    if len(overlap):
        raise DataError(f"the shadow pool overlaps the members / evaluation non-members in {len(overlap)} rows "
                        f"(e.g. row {overlap[0]}); they must be disjoint")  # fmt: skip
    return m, nm, sp


def privacy_audit(
    ds: Dataset,
    *,
    sensitive: str | None = None,
    members: Any,
    nonmembers: Any,
    shadow_pool: Any,
    spec: PairSpec,
    attacks: str | list[str] = ATTACKS,
    shadows: int = 16,
    defence: str | Defence = "none",
    global_variance: bool | None = None,
    attack_options: dict[str, dict[str, Any]] | None = None,
    target_models: tuple[Any, Any] | None = None,
    seed: int = 0,
    n_jobs: int = 1,
    scheduler: Any = None,
    progress: bool = False,
) -> AuditResult:
    """Attack a biased / fair model pair with every requested membership-inference attack.

    Parameters
    ----------
    ds : Dataset
        All rows (members, non-members and the attacker's pool index into it).
    sensitive : str, optional
        Sensitive attribute (default: the dataset's first).
    members, nonmembers, shadow_pool : array-like of int
        Disjoint row numbers: the target's training set, held-out rows, the
        attacker's data. See :func:`partition`.
    spec : PairSpec
        How the pair (and every shadow pair) is trained; its DP settings
        apply to shadows too (the attacker mimics the training recipe).
    attacks : str or list of str
        Registry names (see :data:`~trustlab.privacy.ATTACK_REGISTRY`) or
        groups: ``lira`` = ``lira, lira_offline``, ``rmia`` = ``rmia,
        rmia_offline``, ``fdmia`` = ``fdmia, fdmia_threshold``.
    shadows : int
        Number of shadow pairs K (>= 1; >= 2 with ``lira``).
    defence : str or Defence
        ``none``, ``dpsgd`` (needs ``spec.dp_epsilon``), ``label-only``,
        ``round:K`` or ``top1``.
    global_variance : bool, optional
        LiRA's global variance; default: on when K < 64.
    attack_options : dict, optional
        Attack name -> keyword options of its class, e.g.
        ``{"rmia": {"references": 2}}`` (a group name applies to its members).
    target_models : (biased, fair), optional
        Already fitted targets (e.g. loaded from files) instead of training them.
    seed : int
        Seeds the evaluation sample, the shadows' data and every model.
    n_jobs, scheduler
        Parallel shadow training (see :func:`trustlab._parallel.parallel_map`).
    progress : bool
        Progress bars over epochs and shadow models.

    Returns
    -------
    AuditResult
        The ``summary.json`` content and the evaluation rows' membership, groups, labels,
        the API's probabilities, every attack's scores and the target models.
    """
    t0 = time.perf_counter()
    attack_list = parse_attacks(attacks)
    defence = parse_defence(defence)
    sensitive = ds.resolve_sensitive(sensitive)
    if shadows < 1:
        raise ConfigError(f"--shadows must be >= 1 (thresholds are calibrated on shadow models), got {shadows}")
    if ("lira" in attack_list or "lira_offline" in attack_list) and shadows < 2:
        raise ConfigError("LiRA needs at least 2 shadow models (IN and OUT for every example)")
    for name in attack_list:
        if shadows < ATTACK_REGISTRY[name].min_shadows:
            raise ConfigError(f"attack {name!r} needs at least {ATTACK_REGISTRY[name].min_shadows} shadow models")
    if defence.name == "dpsgd" and spec.dp_epsilon is None:
        raise ConfigError("--defence dpsgd needs --epsilon (> 0)")
    if defence.name != "dpsgd" and spec.dp_epsilon is not None:
        raise ConfigError("--epsilon applies to --defence dpsgd only")
    if defence.name == "dpsgd" and target_models is not None:
        raise ConfigError("DP-SGD is a training defence; it cannot be applied to given model files")
    opts = _attack_opts(attack_list, attack_options, global_variance, shadows)
    members, nonmembers, pool = _check_indices(len(ds), members, nonmembers, shadow_pool)
    priv = ds.privileged[sensitive]
    spec = spec.with_privileged(priv, sensitive)
    rng = np.random.default_rng(seed)

    # balanced evaluation set
    n_eval = min(len(members), len(nonmembers))
    ev_m = np.sort(rng.choice(members, n_eval, replace=False))
    ev_n = np.sort(rng.choice(nonmembers, n_eval, replace=False))
    ev = np.concatenate([ev_m, ev_n])
    membership = np.r_[np.ones(n_eval, int), np.zeros(n_eval, int)]

    # shadow design
    classes = [ATTACK_REGISTRY[n] for n in attack_list]
    online = any(c.needs_challenge_outputs for c in classes)
    qpool = np.concatenate([pool, ev]) if online else pool
    n_train = len(members)
    if len(pool) < n_train:
        raise DataError(f"too few samples for the shadow models: the attacker's pool has {len(pool)} rows but "
                        f"each shadow trains on {n_train} rows like the target; give more data or fewer members")  # fmt: skip
    per_point = int(round(shadows * n_train / len(qpool)))
    if per_point < 1 or per_point >= shadows:
        need = "more shadows" if per_point < 1 else "a larger shadow pool"
        raise DataError(f"too few samples for {shadows} shadow models: with {len(qpool)} pool rows and {n_train} "
                        f"rows per shadow, a row would be IN {per_point} of {shadows} shadows (need 1..K-1); "
                        f"use {need}")  # fmt: skip
    in_mask = _assign(len(qpool), shadows, per_point, rng)
    is_cal = np.r_[np.ones(len(pool), bool), np.zeros(len(qpool) - len(pool), bool)]

    def rows(idx: np.ndarray) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        part = ds.subset(idx)
        return part.X, part.y.to_numpy().astype(int), part.groups(sensitive).astype(str).to_numpy()

    # target pair
    Xm, ym, sm = rows(members)
    info: dict[str, Any] = {}
    if target_models is None:
        biased, fair, info = spec.fit(Xm, ym, sm, seed=seed, progress=progress)
    else:
        biased, fair = target_models
    boxes = {"biased": BlackBox(biased, random_state=seed), "fair": BlackBox(fair, random_state=seed)}

    # shadow pairs
    Xq, yq, sq = rows(qpool)
    poison = None
    if spec.fair_method == "poisoning":  # the attacker runs the repair search once, on its own data
        own = np.sort(rng.choice(len(pool), n_train, replace=False))
        Xo, yo, so = rows(pool[own])
        poisoner = spec.make_poisoner(seed + 7919)
        poisoner.fit(Xo, pd.Series(yo), sensitive_features=pd.Series(so))
        poison = poison_rows(poisoner)
    threads = 1 if (n_jobs != 1 or scheduler is not None) else None
    items = [{"X": Xq, "y": yq, "s": sq, "in_mask": in_mask[k], "spec": spec, "seed": seed * 1000 + 1 + k,
              "poison": poison, "threads": threads} for k in range(shadows)]  # fmt: skip
    with _progress(progress, "shadow pairs", shadows) as tick:
        outs = parallel_map(_shadow_task, items, n_jobs=n_jobs, scheduler=scheduler, progress=tick)

    Xe, ye, se = rows(ev)
    names = group_labels(ds.groups(sensitive).astype(str), priv)
    groups = np.where(se == str(priv), names["privileged"], names["unprivileged"])
    restrict = defence.apply
    shadow_set = ShadowSet(proba={r: np.stack([restrict(o[r]) for o in outs]) for r in ROLES}, labels=yq,
                           in_mask=in_mask, is_pool=is_cal, rng=rng)  # fmt: skip
    view = TargetView(proba={r: restrict(boxes[r].proba(Xe)) for r in ROLES}, labels=ye)
    if any(c.needs_population for c in classes):
        Xp, yp, _ = rows(pool)
        view.population = {r: restrict(boxes[r].proba(Xp)) for r in ROLES}
        view.population_labels = yp

    scores: dict[str, dict[str, np.ndarray]] = {r: {} for r in (*ROLES, "pair")}
    summary_roles: dict[str, Any] = {}
    pair: dict[str, Any] = {}
    for r in ROLES:
        attacks_out: dict[str, Any] = {}
        for name in attack_list:
            if not ATTACK_REGISTRY[name].pair:
                att = make_attack(name, r, random_state=seed, **opts.get(name, {})).calibrate(shadow_set)
                _add(attacks_out, scores[r], name, att, view, membership, groups)
        summary_roles[r] = {**evaluate_utility(boxes[r], ds, nonmembers, sensitive), "attacks": attacks_out}
    for name in attack_list:
        if ATTACK_REGISTRY[name].pair:
            att = make_attack(name, random_state=seed, **opts.get(name, {})).calibrate(shadow_set)
            _add(pair, scores["pair"], name, att, view, membership, groups)
    disc_t = np.abs(true_class_proba(view.proba["biased"], ye) - true_class_proba(view.proba["fair"], ye))
    P_t = view.proba
    gv = shadows < 64 if global_variance is None else bool(global_variance)

    eps = info.get("epsilon_spent", {}) if info else {}
    eps_vals = [v for v in eps.values() if v is not None]
    summary = {
        "dataset": ds.name,
        "sensitive": sensitive,
        "privileged": priv,
        "model": spec.model,
        "fair_method": spec.fair_method,
        "fairness_weight": spec.fairness_weight if spec.fair_method == "penalty" else None,
        "attacks_requested": attack_list,
        "shadows": shadows,
        "lira_variance": "global" if gv else "per-example",
        "n_members": len(members),
        "n_nonmembers": len(nonmembers),
        "n_eval_per_side": n_eval,
        "n_shadow_pool": len(pool),
        "shadow_in_per_row": per_point,
        "lira_online_pool_includes_eval": online,
        "biased": summary_roles["biased"],
        "fair": summary_roles["fair"],
        **pair,
        "discrepancy": _discrepancy(disc_t, membership, groups),
        "defence": defence.label,
        "epsilon": spec.dp_epsilon,
        "epsilon_spent": max(eps_vals) if eps_vals else None,
        "epsilon_spent_by_model": eps or None,
        "fair_method_info": {k: v for k, v in info.items() if k in ("rows_added", "feasible", "search_trainings",
                                                                   "predictors")},
        "delta": spec.dp_delta if spec.dp_epsilon is not None else None,
        "seed": seed,
        "trainings": (0 if target_models is not None else 2) + 2 * shadows,
        "wall_seconds": time.perf_counter() - t0,
    }
    summary["best_score_attack_on_fair"] = _best(summary["fair"]["attacks"])
    return AuditResult(summary=summary, membership=membership, groups=groups, labels=ye, proba=P_t,
                       scores=scores, models={"biased": biased, "fair": fair}, rows=ev)  # fmt: skip


def evaluate_utility(box: BlackBox, ds: Dataset, rows: np.ndarray, sensitive: str) -> dict[str, Any]:
    """Accuracy, balanced accuracy, per-group rates and the fairness block on held-out ``rows``.

    Parameters
    ----------
    box : BlackBox
        The prediction API of the model to evaluate (its ``predict`` is called).
    ds : Dataset
        The whole dataset.
    rows : numpy.ndarray of int
        Row numbers of ``ds`` to evaluate on (the held-out non-members in the audit).
    sensitive : str
        The sensitive attribute whose groups the rates and the fairness block are computed for.

    Returns
    -------
    dict
        The overall metrics of :func:`trustlab.fairness.evaluate` (accuracy, balanced accuracy,
        ...), plus ``fairness`` (its fairness block) and ``by_group`` (its per-group rates).
    """
    part = ds.subset(rows)
    g = part.groups(sensitive)
    priv = part.privileged[sensitive]
    res = evaluate(part.y, box.predict(part.X), sensitive_features=g, privileged=priv,
                   group_names=group_labels(ds.groups(sensitive), priv))  # fmt: skip
    return {**res["overall"], "fairness": res["fairness"], "by_group": res["by_group"]}


def _add(block: dict, store: dict, name: str, att: Any, view: TargetView, membership: np.ndarray,
         groups: np.ndarray) -> None:  # fmt: skip
    s = att.score(view)
    store[name] = s
    block[name] = {**attack_metrics(membership, s, threshold=att.threshold_, groups=groups), **att.details_}


def _attack_opts(attack_list: list[str], options: dict[str, dict[str, Any]] | None,
                 global_variance: bool | None, shadows: int) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Per-attack keyword options; group names (``rmia``) apply to their members."""
    from trustlab.privacy._interface import ATTACK_GROUPS

    out: dict[str, dict[str, Any]] = {}
    for key, kw in (options or {}).items():
        for name in ATTACK_GROUPS.get(key, (key,)):
            if name not in ATTACK_REGISTRY:
                raise ConfigError(f"options for unknown attack {key!r}")
            out.setdefault(name, {}).update(kw)
    if global_variance is not None:
        for name in ("lira", "lira_offline"):
            out.setdefault(name, {})["global_variance"] = bool(global_variance)
    for name in attack_list:  # fail before any training: a bad option, or too few shadows for RMIA
        make_attack(name, random_state=0, **out.get(name, {}))
        refs = out.get(name, {}).get("references")
        if refs is not None and refs > shadows:
            raise ConfigError(f"{name} with {refs} reference models needs --shadows >= {refs} (got {shadows})")
    return out


def _best(attacks: dict[str, Any]) -> dict[str, Any] | None:
    cands = {k: v["auc"] for k, v in attacks.items() if k in SCORE_ATTACKS}
    if not cands:
        return None
    k = max(cands, key=cands.get)
    return {"attack": k, "auc": cands[k]}


def _discrepancy(d: np.ndarray, membership: np.ndarray, groups: np.ndarray) -> dict[str, Any]:
    out: dict[str, Any] = {"members_mean": float(d[membership == 1].mean()),
                           "nonmembers_mean": float(d[membership == 0].mean()), "by_group": {}}  # fmt: skip
    for g in sorted(set(groups)):
        sel = groups == g
        out["by_group"][g] = {
            "members_mean": float(d[sel & (membership == 1)].mean()) if (sel & (membership == 1)).any() else None,
            "nonmembers_mean": float(d[sel & (membership == 0)].mean()) if (sel & (membership == 0)).any() else None,
        }
    return out


class _progress:
    """Context manager yielding a ``tick(done)`` callback for a rich progress bar (or ``None``)."""

    def __init__(self, on: bool, label: str, total: int) -> None:
        self.on, self.label, self.total = on, label, total

    def __enter__(self) -> Any:
        if not self.on:
            return None
        from rich.progress import Progress

        self.p = Progress(transient=True)
        self.p.start()
        task = self.p.add_task(self.label, total=self.total)
        return lambda done: self.p.update(task, completed=done)

    def __exit__(self, *exc: Any) -> None:
        if self.on:
            self.p.stop()
