"""Property-based checks of the group metrics (hypothesis): symmetry, ranges, fairlearn's values.

Every drawn case has both groups and both true labels in each group (so every rate is
defined); the privileged value is one of the two raw values, whatever its type.
"""

import math
import os

import numpy as np
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equal_opportunity_difference,
    equalized_odds_difference,
    false_negative_rate_difference,
    false_positive_rate_difference,
    selection_rate,
    true_positive_rate,
)
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from trustlab.fairness import (
    FAIRNESS_METRICS,
    disparate_impact,
    evaluate,
    get_metric,
    per_value_groups,
    statistical_parity_difference,
)

# derandomize: the same examples on every run (mutation testing needs reproducible kills)
# TRUSTLAB_HYPOTHESIS_EXAMPLES (set by benchmarks/mutation.py) lowers the example count and skips
# shrinking: under mutation testing a failure is enough, its smallest example is not needed.
_EXAMPLES = os.environ.get("TRUSTLAB_HYPOTHESIS_EXAMPLES")
SETTINGS = settings(
    max_examples=int(_EXAMPLES or 25),
    deadline=None,
    derandomize=True,
    phases=tuple(p for p in Phase if not (_EXAMPLES and p == Phase.shrink)),
)
SIGNED = (
    "statistical_parity_difference",
    "equal_opportunity_difference",
    "fpr_difference",
    "fnr_difference",
)
NAMES = [("Male", "Female"), ("1", "0"), (1, 0), ("White", "Black")]


@st.composite
def cases(draw, min_rows=0):
    """``(y_true, y_pred, sensitive, privileged, unprivileged)``, every (group, label) cell present."""
    priv, unpriv = draw(st.sampled_from(NAMES))
    extra = draw(
        st.lists(
            st.tuples(st.booleans(), st.integers(0, 1), st.integers(0, 1)),
            min_size=min_rows,
            max_size=40,
        )
    )
    # one row of each (group, true label) cell, predictions drawn
    fixed = [(g, lab, draw(st.integers(0, 1))) for g in (True, False) for lab in (0, 1)]
    rows = fixed + extra
    order = draw(st.permutations(range(len(rows))))
    rows = [rows[i] for i in order]
    s = np.array([priv if g else unpriv for g, _, _ in rows], dtype=object)
    y_true = np.array([lab for _, lab, _ in rows])
    y_pred = np.array([p for _, _, p in rows])
    return y_true, y_pred, s, priv, unpriv


def _rates(y_true, y_pred, mask):
    yt, yp = y_true[mask], y_pred[mask]
    return {
        "sel": yp.mean(),
        "tpr": yp[yt == 1].mean(),
        "fpr": yp[yt == 0].mean(),
        "fnr": 1 - yp[yt == 1].mean(),
    }


@SETTINGS
@given(cases())
def test_swapping_the_groups_negates_the_signed_gaps(case):
    y_true, y_pred, s, priv, unpriv = case
    a = evaluate(y_true, y_pred, sensitive_features=s, privileged=priv)
    b = evaluate(y_true, y_pred, sensitive_features=s, privileged=unpriv)
    for key in SIGNED:
        assert b["fairness"][key] == pytest.approx(-a["fairness"][key], abs=1e-12)
    assert b["fairness"]["equalized_odds_difference"] == pytest.approx(
        a["fairness"]["equalized_odds_difference"]
    )
    di_a, di_b = a["fairness"]["disparate_impact"], b["fairness"]["disparate_impact"]
    if np.isfinite(di_a) and di_a > 0:
        assert di_b == pytest.approx(1 / di_a)
    # the same groups, named the same, with their roles swapped
    assert a["by_group"][str(priv)] == b["by_group"][str(priv)]
    assert list(a["by_group"]) == [str(priv), str(unpriv)] and list(b["by_group"]) == [
        str(unpriv),
        str(priv),
    ]
    # through the registry: the unfairness of a difference is symmetric, the direction flips
    for name, m in FAIRNESS_METRICS.items():
        if m.kind != "ratio":
            assert m.unfairness(b) == pytest.approx(m.unfairness(a), abs=1e-12), name
        if m.kind == "difference" and a["fairness"][name] != 0:
            assert m.direction(b) == -m.direction(a), name
        assert get_metric(name) is m


@SETTINGS
@given(cases())
def test_gaps_are_privileged_minus_unprivileged(case):
    y_true, y_pred, s, priv, _ = case
    mask = s == priv
    rp, ru = _rates(y_true, y_pred, mask), _rates(y_true, y_pred, ~mask)
    f = evaluate(y_true, y_pred, sensitive_features=s, privileged=priv)["fairness"]
    assert f["statistical_parity_difference"] == pytest.approx(rp["sel"] - ru["sel"], abs=1e-12)
    assert f["equal_opportunity_difference"] == pytest.approx(rp["tpr"] - ru["tpr"], abs=1e-12)
    assert f["fpr_difference"] == pytest.approx(rp["fpr"] - ru["fpr"], abs=1e-12)
    assert f["fnr_difference"] == pytest.approx(rp["fnr"] - ru["fnr"], abs=1e-12)
    eodds = max(abs(rp["tpr"] - ru["tpr"]), abs(rp["fpr"] - ru["fpr"]))
    assert f["equalized_odds_difference"] == pytest.approx(eodds, abs=1e-12)
    if rp["sel"] > 0:
        assert f["disparate_impact"] == pytest.approx(ru["sel"] / rp["sel"])
    assert statistical_parity_difference(
        y_true, y_pred, sensitive_features=s, privileged=priv
    ) == pytest.approx(f["statistical_parity_difference"], abs=1e-12)
    # direction: +1 when the privileged group has the higher rate
    spd = get_metric("spd")
    expected = 1 if rp["sel"] >= ru["sel"] else -1
    assert spd.direction({"fairness": f}) == expected


@SETTINGS
@given(cases())
def test_disparate_impact_is_in_zero_to_infinity(case):
    y_true, y_pred, s, priv, _ = case
    di = disparate_impact(y_true, y_pred, sensitive_features=s, privileged=priv)
    if y_pred[s == priv].sum() == 0:
        assert math.isnan(di)  # documented: undefined when the privileged rate is 0
    else:
        assert 0.0 <= di < math.inf
        m = get_metric("di")
        assert m.unfairness({"disparate_impact": di}) == pytest.approx(abs(1 - di))


@SETTINGS
@given(cases())
def test_equal_to_fairlearn(case):
    y_true, y_pred, s, priv, _ = case
    kw = {"sensitive_features": s}
    res = evaluate(y_true, y_pred, sensitive_features=s, privileged=priv)
    f = res["fairness"]
    assert abs(f["statistical_parity_difference"]) == pytest.approx(
        demographic_parity_difference(y_true, y_pred, **kw), abs=1e-12
    )
    assert f["equalized_odds_difference"] == pytest.approx(
        equalized_odds_difference(y_true, y_pred, **kw), abs=1e-12
    )
    assert abs(f["equal_opportunity_difference"]) == pytest.approx(
        equal_opportunity_difference(y_true, y_pred, **kw), abs=1e-12
    )
    assert abs(f["fpr_difference"]) == pytest.approx(
        false_positive_rate_difference(y_true, y_pred, **kw), abs=1e-12
    )
    assert abs(f["fnr_difference"]) == pytest.approx(
        false_negative_rate_difference(y_true, y_pred, **kw), abs=1e-12
    )
    di = f["disparate_impact"]
    if np.isfinite(di) and di > 0:
        assert min(di, 1 / di) == pytest.approx(demographic_parity_ratio(y_true, y_pred, **kw))
    mf = MetricFrame(
        metrics={"sel": selection_rate, "tpr": true_positive_rate},
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=s.astype(str),
    )
    for g, block in res["by_group"].items():
        assert block["selection_rate"] == pytest.approx(mf.by_group.loc[g, "sel"], abs=1e-12)
        assert block["tpr"] == pytest.approx(mf.by_group.loc[g, "tpr"], abs=1e-12)
        assert block["n"] == int((s.astype(str) == g).sum())
    assert res["overall"]["accuracy"] == pytest.approx((y_true == y_pred).mean(), abs=1e-12)


@SETTINGS
@given(cases(min_rows=6), st.lists(st.sampled_from(["a", "b", "c"]), min_size=50, max_size=50))
def test_worst_pair_of_a_many_valued_attribute(case, values):
    y_true, y_pred, _, _, _ = case
    v = np.array(values[: len(y_true)])
    out = per_value_groups(y_true, y_pred, v, "a")
    present = list(dict.fromkeys(v))
    sel = {g: y_pred[v == g].mean() for g in present}
    assert set(out["by_value"]) == set(present)
    if "a" in present:
        assert list(out["by_value"])[0] == "a"  # the reference first
    if len(present) >= 2:
        hi, lo = max(sel.values()), min(sel.values())
        assert out["worst_pair"]["selection_rate"]["gap"] == pytest.approx(hi - lo, abs=1e-12)
        assert out["worst_pair"]["selection_rate"]["gap"] >= 0
    else:
        assert math.isnan(out["worst_pair"]["selection_rate"]["gap"])
