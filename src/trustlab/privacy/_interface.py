"""One interface for every membership-inference attack, and the name -> class registry.

An attack sees what the attacker has:

- :class:`ShadowSet` -- the outputs of its own K shadow (reference) pairs on
  its query rows, with the IN/OUT design (which shadow trained on which row),
  seen through the same prediction API as the target;
- :class:`TargetView` -- the target's outputs on the challenge rows, and on
  some of the attacker's own (population) rows.

:meth:`Attack.calibrate` fits whatever the attack needs on the shadows
(classifier, Gaussians, hyper-parameters, a decision threshold) using rows of
the attacker's pool only, never the target's membership; :meth:`Attack.score`
returns one score per challenge row, larger = member. A new attack is one
subclass decorated with :func:`register_attack`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from trustlab._errors import ConfigError

ATTACK_REGISTRY: dict[str, type[Attack]] = {}
"""Attack name -> attack class (filled by :func:`register_attack`)."""
ATTACK_GROUPS: dict[str, tuple[str, ...]] = {
    "lira": ("lira", "lira_offline"),
    "rmia": ("rmia", "rmia_offline"),
    "fdmia": ("fdmia", "fdmia_threshold"),
}
"""Names that stand for several attacks (kept from the first CLI: ``lira`` gives online and offline).

``lira`` -> ``lira``, ``lira_offline``; ``rmia`` -> ``rmia``, ``rmia_offline``; ``fdmia`` ->
``fdmia``, ``fdmia_threshold``.
"""
ATTACKS = ("loss", "shadow", "lira", "rmia", "fdmia", "label")
"""The user-facing names of ``attacks=`` / ``--attacks`` (each also accepts its members, e.g. ``lira_offline``)."""


@dataclass
class ShadowSet:
    """What the attacker's shadow models returned on its query rows.

    Parameters
    ----------
    proba : dict
        Role (``biased`` / ``fair``) -> array (K, n_q, 2) of class
        probabilities, after the API's output restriction.
    labels : numpy.ndarray of int, shape (n_q,)
        True labels of the query rows.
    in_mask : numpy.ndarray of bool, shape (K, n_q)
        Whether shadow k trained on query row i.
    is_pool : numpy.ndarray of bool, shape (n_q,)
        ``True`` for the attacker's own pool rows (used for calibration);
        ``False`` for the challenge rows (in the target's order), present
        only when an attack needs shadow outputs on them.
    rng : numpy.random.Generator, optional
        The audit's generator (attacks that subsample draw from it in order); by default a
        fresh unseeded generator.
    """

    proba: dict[str, np.ndarray]
    labels: np.ndarray
    in_mask: np.ndarray
    is_pool: np.ndarray
    rng: np.random.Generator = field(default_factory=np.random.default_rng)

    @property
    def n_shadows(self) -> int:
        return int(self.in_mask.shape[0])

    def pool(self, role: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(P (K, n_pool, 2), labels (n_pool,), in_mask (K, n_pool))`` on the pool rows only."""
        return self.proba[role][:, self.is_pool], self.labels[self.is_pool], self.in_mask[:, self.is_pool]

    def challenge(self, role: str) -> tuple[np.ndarray, np.ndarray]:
        """``(P (K, n_ch, 2), in_mask (K, n_ch))`` of the shadows on the challenge rows."""
        if self.is_pool.all():
            raise ConfigError("this attack needs shadow outputs on the challenge rows")
        return self.proba[role][:, ~self.is_pool], self.in_mask[:, ~self.is_pool]


@dataclass
class TargetView:
    """What the target API returned.

    Parameters
    ----------
    proba : dict
        Role -> (n, 2) probabilities on the challenge rows.
    labels : numpy.ndarray of int
        True labels of the challenge rows.
    population : dict, optional
        Role -> (n_pool, 2) probabilities on the attacker's pool rows (never
        members), in the shadow set's pool order; empty unless an attack asks.
    population_labels : numpy.ndarray of int, optional
        True labels of those rows (empty by default).
    """

    proba: dict[str, np.ndarray]
    labels: np.ndarray
    population: dict[str, np.ndarray] = field(default_factory=dict)
    population_labels: np.ndarray = field(default_factory=lambda: np.zeros(0, int))


class Attack:
    """Base class of a membership-inference attack.

    Parameters
    ----------
    role : str
        Which model of the pair a single-model attack targets (``biased`` or
        ``fair``); ignored by pair attacks.
    random_state : int
        Seed of the attack's own randomness.
    **options
        Attack-specific settings (see each class).

    Attributes
    ----------
    threshold_ : float
        Decision threshold (for balanced accuracy), set by :meth:`calibrate`
        on shadow membership only.
    details_ : dict
        Anything the attack chose while calibrating, reported next to its metrics.
    """

    #: Registry name.
    name: ClassVar[str] = ""
    #: Reads both models of the pair (FD-MIA) rather than one.
    pair: ClassVar[bool] = False
    #: Uses confidence scores (candidates for "the best score-based attack").
    score_based: ClassVar[bool] = True
    #: Fewest shadow models it works with.
    min_shadows: ClassVar[int] = 1
    #: Needs shadow outputs on the challenge rows (some shadows then train on them: the online setting).
    needs_challenge_outputs: ClassVar[bool] = False
    #: Needs the target's outputs on population rows from the attacker's pool.
    needs_population: ClassVar[bool] = False

    def __init__(self, role: str = "fair", *, random_state: int = 0, **options: Any) -> None:
        if options:
            raise ConfigError(f"attack {self.name!r} takes no option {sorted(options)[0]!r}")
        self.role = role
        self.random_state = random_state
        self.threshold_ = float("nan")
        self.details_: dict[str, Any] = {}

    def calibrate(self, shadows: ShadowSet) -> Attack:
        """Fit on the shadow models' outputs (pool rows only); returns ``self``."""
        raise NotImplementedError

    def score(self, target: TargetView) -> np.ndarray:
        """Membership scores of the challenge rows, larger = member."""
        raise NotImplementedError


def register_attack(cls: type[Attack]) -> type[Attack]:
    """Class decorator: make ``cls`` available under ``cls.name``.

    Parameters
    ----------
    cls : type[Attack]
        The attack class; it is stored in :data:`ATTACK_REGISTRY` under its ``name``.

    Returns
    -------
    type[Attack]
        ``cls`` itself, unchanged.

    Raises
    ------
    ValueError
        If ``cls.name`` is empty.
    """
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    ATTACK_REGISTRY[cls.name] = cls
    return cls


def make_attack(name: str, role: str = "fair", *, random_state: int = 0, **options: Any) -> Attack:
    """An attack object by registry name (unknown names raise :class:`ConfigError`).

    Parameters
    ----------
    name : str
        A key of :data:`ATTACK_REGISTRY`.
    role : str, default "fair"
        Which model of the pair a single-model attack targets (``biased`` or ``fair``).
    random_state : int, default 0
        Seed of the attack's own randomness.
    **options
        Attack-specific settings, passed to the class.

    Returns
    -------
    Attack
        A new, uncalibrated instance.

    Raises
    ------
    ConfigError
        If ``name`` is not registered, or the attack takes none of the given ``options``.
    """
    if name not in ATTACK_REGISTRY:
        raise ConfigError(f"unknown attack {name!r}; choose from {', '.join(known_attacks())}")
    return ATTACK_REGISTRY[name](role, random_state=random_state, **options)


def known_attacks() -> list[str]:
    """Every accepted name: the groups and each registered attack.

    Returns
    -------
    list of str
        :data:`ATTACKS` followed by the registered names not already in it, without duplicates.
    """
    return list(dict.fromkeys([*ATTACKS, *ATTACK_REGISTRY]))


def parse_attacks(attacks: str | list[str] | tuple[str, ...]) -> list[str]:
    """Parse ``"loss,shadow,lira"`` (or a list) into registry names, groups expanded, order kept.

    Names are stripped and lower-cased; empty items are skipped and duplicates dropped.

    Parameters
    ----------
    attacks : str or sequence of str
        A comma-separated string or a list of names (groups of :data:`ATTACK_GROUPS` or
        registered attack names).

    Returns
    -------
    list of str
        Registry names, in the order given, each once.

    Raises
    ------
    ConfigError
        If no name is given or a name is unknown (one line, listing the choices).
    """
    names = [a.strip().lower() for a in (attacks.split(",") if isinstance(attacks, str) else attacks)]
    names = [a for a in names if a]
    if not names:
        raise ConfigError(f"no attack given; choose from {', '.join(known_attacks())}")
    out: list[str] = []
    for a in names:
        if a in ATTACK_GROUPS:
            out += ATTACK_GROUPS[a]
        elif a in ATTACK_REGISTRY:
            out.append(a)
        else:
            raise ConfigError(f"unknown attack {a!r}; choose from {', '.join(known_attacks())}")
    return list(dict.fromkeys(out))
