"""Render any result document (``trustlab.results`` schema) generically.

Arms x parts x evaluation blocks become one comparison table per part, with
the change against the baseline marked better or worse; the group rates, every
value of a many-valued attribute with the worst pair, the warnings and the
command's free-form ``details`` follow. A headline sentence says what
happened; a glossary gives the metrics and the sign convention.
"""

from __future__ import annotations

import math
from typing import Any

from trustlab.reporting._tables import (
    Cell,
    Table,
    fmt,
    generic_tables,
    humanize,
    key_values,
    matrix,
)

#: Order and display names of arms and parts.
ARM_NAMES = {"baseline": "baseline", "intervention": "intervention", "control": "random control"}
PART_TITLES = {"test": "Test split", "validation": "Validation split", "train": "Training split"}
#: Short labels of the block's metrics.
LABELS = {
    "accuracy": "accuracy", "balanced_accuracy": "balanced accuracy",
    "statistical_parity_difference": "SPD", "disparate_impact": "DI",
    "equalized_odds_difference": "EOdds", "equal_opportunity_difference": "TPR gap",
    "fpr_difference": "FPR gap", "fnr_difference": "FNR gap",
}  # fmt: skip
#: The glossary shown under every document: (term, meaning).
GLOSSARY = (
    ("sign convention", "every difference is privileged minus unprivileged (the unprivileged group is every "
                        "value other than the privileged one); 0 is parity, and the sign says which group "
                        "the gap favours. Disparate impact is unprivileged / privileged; 1 is parity."),
    ("SPD", "statistical parity difference: P(ŷ=1 | privileged) − P(ŷ=1 | unprivileged)."),
    ("DI", "disparate impact: P(ŷ=1 | unprivileged) / P(ŷ=1 | privileged)."),
    ("EOdds", "equalized-odds difference: max(|TPR gap|, |FPR gap|), never negative."),
    ("TPR / FPR / FNR gap", "true-positive, false-positive, false-negative rate of the privileged group "
                            "minus that of the unprivileged group."),
    ("better / worse", "a fairness metric is better when it moves closer to parity (|gap| smaller, DI closer "
                       "to 1); accuracy is better when higher."),
    ("arms", "baseline: the learner as it is; intervention: after the repair; random control: the same "
             "amount of change made at random (what the intervention must beat)."),
    ("worst pair", "for an attribute with three or more values, the largest gap in a rate between any two "
                   "values, and which two."),
)  # fmt: skip


def is_document(data: Any) -> bool:
    """Whether ``data`` is a result document (it carries ``schema_version`` and ``arms``)."""
    return isinstance(data, dict) and "schema_version" in data and isinstance(data.get("arms"), dict)


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def badness(metric: str, value: Any) -> float | None:
    """How far a value is from the ideal: ``-value`` for accuracy, ``|value|`` for gaps, ``|1 - DI|``."""
    if not _num(value):
        return None
    if metric in ("accuracy", "balanced_accuracy"):
        return -float(value)
    if metric == "disparate_impact":
        return abs(1.0 - float(value))
    return abs(float(value))


def change_cell(metric: str, new: Any, old: Any) -> Cell:
    """``new - old`` marked ``better``/``worse`` for this metric (an em dash if undefined)."""
    if not (_num(new) and _num(old)):
        return fmt(None)
    delta = new - old
    b_new, b_old = badness(metric, new), badness(metric, old)
    if abs(b_new - b_old) < 5e-5:
        return Cell(f"{delta:+.4f}", num=True, cls="delta")
    better = b_new < b_old
    return Cell(f"{delta:+.4f} {'better' if better else 'worse'}", num=True,
                cls=f"delta {'better' if better else 'worse'}")  # fmt: skip


def _unfair_label(metric: str) -> str:
    return "|1 − DI|" if metric == "disparate_impact" else f"|{LABELS.get(metric, humanize(metric))}|"


def _unfair(metric: str, block: dict[str, Any]) -> Any:
    v = (block.get("fairness") or {}).get(metric)
    return badness(metric, v)


def headline_metric(doc: dict[str, Any]) -> str:
    """The fairness metric the headline speaks of: ``details.metric`` if it names one, else SPD."""
    metric = (doc.get("details") or {}).get("metric")
    if isinstance(metric, str):
        try:
            from trustlab.fairness import get_metric

            return get_metric(metric).name
        except Exception:  # noqa: BLE001 - an unknown name falls back to SPD
            pass
    return "statistical_parity_difference"


def _f(v: Any) -> str:
    return f"{v:.3f}" if _num(v) else "n/a"


def headline_sentence(doc: dict[str, Any]) -> str:
    """One sentence that says what happened (``details.headline`` overrides it)."""
    details = doc.get("details") or {}
    if isinstance(details.get("headline"), str):
        return details["headline"]
    arms = doc.get("arms") or {}
    part = "test" if any("test" in p for p in arms.values()) else next(
        (k for p in arms.values() for k in p), None)  # fmt: skip
    if part is None:
        return f"{doc.get('command', 'run')}: no arms evaluated; see the details below."
    metric = headline_metric(doc)
    label = _unfair_label(metric)
    blocks = {a: arms[a][part] for a in arms if part in arms[a]}
    base, inter, ctrl = blocks.get("baseline"), blocks.get("intervention"), blocks.get("control")
    where = f"on the {part} split" if part != "test" else "on the test split"
    if base is not None and inter is not None:
        text = f"{label} {_f(_unfair(metric, base))} → {_f(_unfair(metric, inter))}"
        if ctrl is not None:
            text += f"; the random control {_f(_unfair(metric, ctrl))}"
        acc_b, acc_i = base["overall"].get("accuracy"), inter["overall"].get("accuracy")
        text += f"; accuracy {_f(acc_b)} → {_f(acc_i)} ({where})."
        return text
    block = base or inter or next(iter(blocks.values()))
    groups = list(block.get("by_group") or {})
    text = f"{label} {_f(_unfair(metric, block))}"
    if len(groups) == 2:
        sel = [block["by_group"][g].get("selection_rate") for g in groups]
        text += f" (selection rate {groups[0]} {_f(sel[0])} vs {groups[1]} {_f(sel[1])})"
    text += f"; accuracy {_f(block['overall'].get('accuracy'))} {where}"
    worst = (block.get("groups") or {}).get("worst_pair", {}).get("selection_rate")
    if worst and worst.get("groups"):
        text += (f"; the widest selection-rate gap between two groups is {_f(worst['gap'])} "
                 f"({worst['groups'][0]} vs {worst['groups'][1]})")  # fmt: skip
    return text + "."


def arm_tables(doc: dict[str, Any]) -> list[Table]:
    """Per part: metrics as rows, arms as columns, and each arm's change against the baseline."""
    arms = doc.get("arms") or {}
    names = [a for a in ARM_NAMES if a in arms] + [a for a in arms if a not in ARM_NAMES]
    parts = [p for p in PART_TITLES if any(p in arms[a] for a in names)]
    tables = []
    for part in parts:
        blocks = {a: arms[a][part] for a in names if part in arms[a]}
        metrics: list[str] = []
        for b in blocks.values():
            for section in ("overall", "fairness"):
                metrics.extend(k for k in (b.get(section) or {}) if k not in metrics)
        others = [a for a in blocks if a != "baseline"] if "baseline" in blocks else []
        cols = ["metric", *[ARM_NAMES.get(a, a) for a in blocks],
                *[f"{ARM_NAMES.get(a, a)} − baseline" for a in others]]  # fmt: skip
        rows = []
        for m in metrics:
            vals = {a: {**(b.get("overall") or {}), **(b.get("fairness") or {})}.get(m) for a, b in blocks.items()}
            row = [Cell(humanize(m))] + [fmt(v) for v in vals.values()]
            row += [change_cell(m, vals[a], vals["baseline"]) for a in others]
            rows.append(row)
        title = PART_TITLES[part] + (" (searched or fit on)" if part == "validation" else "")
        tables.append(Table(cols, rows, title))
    return tables


def group_tables(doc: dict[str, Any]) -> list[Table]:
    """Group rates of every arm on the test split (else the first part), every value when there are many."""
    arms = doc.get("arms") or {}
    tables = []
    for part in ("test", "validation"):
        blocks = {a: arms[a][part] for a in arms if part in arms[a]}
        if not blocks:
            continue
        rows = {f"{g} · {ARM_NAMES.get(a, a)}": r for a, b in blocks.items()
                for g, r in (b.get("by_group") or {}).items()}  # fmt: skip
        tables.append(matrix(rows, title=f"Groups, privileged vs the rest ({part} split)", transpose=False,
                             label="group · arm"))  # fmt: skip
        for a, b in blocks.items():
            groups = b.get("groups")
            if not isinstance(groups, dict):
                continue
            ref = groups.get("reference")
            by_value = {(f"{g} (reference)" if g == ref else g): r for g, r in groups.get("by_value", {}).items()}
            tables.append(matrix(by_value, title=f"Every group, {ARM_NAMES.get(a, a)} ({part} split)",
                                 transpose=False, label="group"))  # fmt: skip
            worst = [[Cell(humanize(rate)), fmt(w.get("gap")), Cell(" vs ".join(map(str, w.get("groups", []))))]
                     for rate, w in groups.get("worst_pair", {}).items()]  # fmt: skip
            tables.append(Table(["rate", "largest gap", "between"], worst,
                                f"Worst pair of groups, {ARM_NAMES.get(a, a)} ({part} split)"))  # fmt: skip
        break
    return tables


def document_tables(doc: dict[str, Any]) -> list[Table]:
    """Every table of a result document's headline section."""
    tables = arm_tables(doc) + group_tables(doc)
    labels = {}
    for key in ("positive", "privileged"):
        v = doc.get(key)
        if isinstance(v, dict):
            labels[f"{key} ({v.get('attribute')})" if key == "privileged" else "positive label"] = (
                f"{v.get('value')} — {v.get('rule')}")  # fmt: skip
    if labels:
        tables.append(key_values(labels, title="Labels and groups"))
    details = doc.get("details")
    if isinstance(details, dict) and details:
        shown = {k: v for k, v in details.items() if k != "headline"}
        tables.extend(generic_tables(shown, "Details"))
    return tables
