"""The white-box frontier on the (test accuracy, test |metric|) plane and the gap to it.

The frontier is the lower envelope of the white-box repair points: the points
that no other point beats on both axes (at least as accurate *and* at least as
fair, better on one), ordered by accuracy and joined by straight lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

#: Split whose numbers place a point on the plane.
PLANE_SPLIT = "test"


def _xy(point: Mapping[str, Any], split: str) -> tuple[float, float]:
    block = point[split]
    return float(block["accuracy"]), float(block["unfairness"])


def lower_envelope(points: Iterable[Mapping[str, Any]], *, split: str = PLANE_SPLIT) -> list[dict[str, Any]]:
    """Non-dominated points on the (accuracy, unfairness) plane, least accurate first.

    Parameters
    ----------
    points : iterable of dict
        Frontier points (``{method, setting, test: {accuracy, unfairness, ...}, ...}``).
        Points whose accuracy or unfairness is not finite are ignored.
    split : str
        Which block places a point on the plane (default ``"test"``).

    Returns
    -------
    list of dict
        ``{accuracy, unfairness, method, setting}`` for every point on the
        envelope, sorted by increasing accuracy (and so by increasing
        unfairness). Of several points at the same place, the first is kept.
    """
    cand = []
    for i, p in enumerate(points):
        acc, u = _xy(p, split)
        if np.isfinite(acc) and np.isfinite(u):
            cand.append((acc, u, i, p))
    # Most accurate first; among equal accuracy the fairest first; then input order.
    cand.sort(key=lambda c: (-c[0], c[1], c[2]))
    kept: list[dict[str, Any]] = []
    best_u = np.inf
    for acc, u, _, p in cand:
        if u < best_u:  # strictly fairer than every more accurate point
            kept.append({"accuracy": acc, "unfairness": u, "method": p.get("method"),
                         "setting": p.get("setting")})  # fmt: skip
            best_u = u
    return kept[::-1]


def frontier_unfairness(accuracy: float, envelope: list[Mapping[str, Any]]) -> float:
    """The envelope's unfairness at ``accuracy`` (linear interpolation).

    More accurate than every envelope point: the most accurate point's
    unfairness. Less accurate than every envelope point: the fairest point's
    unfairness (it is both fairer and more accurate).

    Parameters
    ----------
    accuracy : float
        The accuracy at which to read the envelope.
    envelope : list of dict
        :func:`lower_envelope`'s result (``accuracy`` and ``unfairness`` of each point,
        increasing accuracy).

    Returns
    -------
    float
        The interpolated unfairness, clamped to the end points' values outside the envelope.

    Raises
    ------
    ValueError
        If the envelope has no points.
    """
    if not envelope:
        raise ValueError("the envelope has no points")
    acc = np.array([e["accuracy"] for e in envelope], dtype=float)
    u = np.array([e["unfairness"] for e in envelope], dtype=float)
    # np.interp clamps to the end values outside [acc[0], acc[-1]].
    return float(np.interp(float(accuracy), acc, u))


def frontier_gap(point: Mapping[str, Any], envelope: list[Mapping[str, Any]], *,
                 split: str = PLANE_SPLIT) -> float:  # fmt: skip
    """A point's unfairness minus the envelope's at the same accuracy.

    Negative when the point lies below the white-box frontier.

    Parameters
    ----------
    point : dict
        A frontier point (``point[split]`` holds ``accuracy`` and ``unfairness``).
    envelope : list of dict
        :func:`lower_envelope`'s result.
    split : str
        The block that places the point (default ``"test"``).

    Returns
    -------
    float
        ``point[split]["unfairness"]`` minus :func:`frontier_unfairness` at its accuracy.

    Raises
    ------
    ValueError
        If the envelope has no points.
    """
    acc, u = _xy(point, split)
    return u - frontier_unfairness(acc, envelope)
