"""Envelope and gap on hand-made points with hand-computed answers."""

import pytest

from trustlab.frontier import frontier_gap, frontier_summary, frontier_unfairness, lower_envelope


def pt(method, acc, u, kind="white-box", **setting):
    block = {"accuracy": acc, "unfairness": u}
    return {"method": method, "kind": kind, "setting": setting, "validation": block, "test": block}


# A (0.80, 0.00), B (0.84, 0.04), C (0.86, 0.10); D (0.82, 0.05) is dominated by B
# (more accurate and fairer); E (0.84, 0.06) sits at B's accuracy but is less fair.
A, B, C = pt("thresholds", 0.80, 0.00), pt("massaging", 0.84, 0.04), pt("baseline", 0.86, 0.10, kind="baseline")
D, E = pt("reweighing", 0.82, 0.05), pt("exponentiated-gradient", 0.84, 0.06)


def test_envelope_drops_dominated_points_and_sorts_by_accuracy():
    env = lower_envelope([C, D, A, E, B])
    assert [(e["accuracy"], e["unfairness"], e["method"]) for e in env] == [
        (0.80, 0.00, "thresholds"), (0.84, 0.04, "massaging"), (0.86, 0.10, "baseline")]


def test_envelope_keeps_first_of_identical_points_and_ignores_nan():
    twin = pt("twin", 0.84, 0.04)
    env = lower_envelope([A, B, twin, pt("nan", float("nan"), 0.0), C])
    assert [e["method"] for e in env] == ["thresholds", "massaging", "baseline"]


def test_gap_interpolates_linearly_between_frontier_points():
    env = lower_envelope([A, B, C, D])
    # at 0.85: 0.04 + (0.85 - 0.84) / (0.86 - 0.84) * (0.10 - 0.04) = 0.07
    assert frontier_unfairness(0.85, env) == pytest.approx(0.07)
    assert frontier_gap(pt("poisoning", 0.85, 0.09), env) == pytest.approx(0.02)
    # at 0.82: halfway between A and B -> 0.02; a point at 0.01 is below the frontier
    assert frontier_gap(pt("poisoning", 0.82, 0.01), env) == pytest.approx(-0.01)


def test_gap_beyond_the_most_accurate_point_uses_that_point():
    env = lower_envelope([A, B, C])
    assert frontier_gap(pt("poisoning", 0.87, 0.05), env) == pytest.approx(0.05 - 0.10)


def test_gap_below_the_least_accurate_point_uses_the_fairest_point():
    env = lower_envelope([A, B, C])
    assert frontier_gap(pt("poisoning", 0.70, 0.03), env) == pytest.approx(0.03)


def test_dominated_point_has_positive_gap_and_does_not_move_the_frontier():
    env = lower_envelope([A, B, C])
    # D at 0.82: frontier 0.02, D's 0.05 -> gap 0.03; adding D changes nothing
    assert frontier_gap(D, env) == pytest.approx(0.03)
    assert lower_envelope([A, B, C, D]) == env


def test_empty_envelope_refuses_interpolation():
    with pytest.raises(ValueError):
        frontier_unfairness(0.8, [])


def test_summary_gaps_for_poisoning_and_control_and_only_white_box_on_the_envelope():
    poison = pt("poisoning", 0.85, 0.09, kind="poisoning", budget=0.1)
    control = pt("random control", 0.86, 0.12, kind="control", budget=0.1)
    # A poisoning point far below the frontier must not become part of it.
    strong = pt("poisoning", 0.86, 0.0, kind="poisoning", budget=0.2)
    out = frontier_summary([A, B, C, D, poison, control, strong])
    assert [e["method"] for e in out["envelope"]] == ["thresholds", "massaging", "baseline"]
    first, second = out["frontier_gap"]
    assert first["budget"] == 0.1
    assert first["frontier_unfairness"] == pytest.approx(0.07)
    assert first["gap"] == pytest.approx(0.02)
    assert first["control_gap"] == pytest.approx(0.02)  # 0.12 - 0.10 at 0.86
    assert second["gap"] == pytest.approx(-0.10)
    assert second["control_gap"] is None
