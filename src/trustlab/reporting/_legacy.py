"""Headline tables of result files written before the result schema (trustlab < schema 1.0).

Folders written by older versions keep rendering: each command kind's old
layout gets the table it always had. Documents with ``schema_version`` are
rendered generically by :mod:`trustlab.reporting._document` instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trustlab.reporting._tables import (
    Cell,
    Table,
    _flat_dict,
    _scalar,
    fmt,
    fmt_delta,
    generic_tables,
    humanize,
    key_values,
    matrix,
)


def _audit(res: dict[str, Any]) -> list[Table]:
    tables = [matrix(res["by_group"], title="Groups on the test split", transpose=False, label="group")]
    overall = {**res.get("overall", {}), **res.get("fairness", {})}
    tables.append(key_values(overall, title="Overall accuracy and fairness (test split)"))
    return tables


def _mitigate(res: dict[str, Any]) -> list[Table]:
    base, mit = res["baseline"], res["mitigated"]
    name = res.get("method", "mitigated")
    rows = []
    for block in ("overall", "fairness"):
        for k, v in base.get(block, {}).items():
            m = mit.get(block, {}).get(k)
            rows.append([Cell(humanize(k)), fmt(v), fmt(m), fmt_delta(m, v)])
    tables = [Table(["metric", "baseline", str(name), "change"], rows, "Baseline against mitigation (test split)")]
    groups = {f"{g} · baseline": r for g, r in base.get("by_group", {}).items()}
    groups.update({f"{g} · {name}": r for g, r in mit.get("by_group", {}).items()})
    if groups:
        tables.append(matrix(groups, title="Groups on the test split", transpose=False, label="group"))
    if isinstance(res.get("changes"), dict):
        tables.extend(generic_tables(res["changes"], f"What {name} changed"))
    return tables


POISON_ARMS = (("baseline", "baseline"), ("poisoned", "poisoned"), ("random_control", "random control"))


def _poison(res: dict[str, Any]) -> list[Table]:
    tables = []
    arms = [(k, label) for k, label in POISON_ARMS if isinstance(res.get(k), dict)]
    for split, title in (("test", "Test split"), ("validation", "Validation split (searched on)")):
        blocks = {label: res[k].get(split) or {} for k, label in arms}
        if not any(blocks.values()):
            continue
        metrics: list[str] = []
        for b in blocks.values():
            metrics.extend(m for m in b if m not in metrics and _scalar(b[m]))
        cols = ["metric", *blocks]
        if "baseline" in blocks and "poisoned" in blocks:
            cols.append("poisoned − baseline")
        rows = []
        for m in metrics:
            row = [Cell(humanize(m))] + [fmt(b.get(m)) for b in blocks.values()]
            if len(cols) > len(blocks) + 1:
                row.append(fmt_delta(blocks["poisoned"].get(m), blocks["baseline"].get(m)))
            rows.append(row)
        tables.append(Table(cols, rows, title))
    info = {k: res[k] for k in ("n_train", "n_poison", "budget", "objective", "trainings", "wall_seconds")
            if k in res and _scalar(res[k])}  # fmt: skip
    if info:
        tables.append(key_values(info, title="Search"))
    if isinstance(res.get("transfer"), dict):
        tables.extend(generic_tables(res["transfer"], "Transfer to other learners"))
    return tables


ATTACK_KEYS = ("auc", "balanced_accuracy", "tpr_at_1pct_fpr", "tpr_at_0_1pct_fpr")


def _privacy(res: dict[str, Any]) -> list[Table]:
    models = [m for m in ("biased", "fair") if isinstance(res.get(m), dict)]
    models += [m for m, v in res.items() if m not in models and isinstance(v, dict) and "attacks" in v]
    tables = []
    blocks: dict[str, dict[str, Any]] = {}
    for m in models:
        flat = {k: v for k, v in res[m].items() if _scalar(v)}
        for k, v in (res[m].get("fairness") or {}).items():
            if _scalar(v):
                flat[k] = v
        blocks[m] = flat
    if blocks:
        tables.append(matrix(blocks, title="Models (test split)", transpose=True, label="metric"))
    rows = []
    for m in models:
        for name, att in (res[m].get("attacks") or {}).items():
            rows.append([Cell(m), Cell(humanize(name))] + [fmt(att.get(k)) for k in ATTACK_KEYS])
    if rows:
        cols = ["model", "attack", "AUC", "balanced accuracy", "TPR @ 1% FPR", "TPR @ 0.1% FPR"]
        tables.append(Table(cols, rows, "Membership inference attacks"))
    by_group: dict[str, dict[str, Any]] = {}
    for m in models:
        for name, att in (res[m].get("attacks") or {}).items():
            bg = att.get("by_group")
            if isinstance(bg, dict) and bg and all(_flat_dict(v) for v in bg.values()):
                by_group[f"{m} · {humanize(name)}"] = {
                    f"{g} {humanize(k)}": v for g, r in bg.items() for k, v in r.items()
                }
    if by_group:
        tables.append(matrix(by_group, title="Attacks by group", transpose=False, label="model · attack"))
    if "fdmia" in res:
        tables.extend(generic_tables(res["fdmia"], "Fairness-discrepancy MIA"))
    return tables


SCAN_NAMES = {"l1_norm": "trigger L1 norm", "asr": "attack success"}


def _backdoor_scan(res: dict[str, Any]) -> list[Table]:
    flagged = res.get("flagged")
    flagged_set = {str(x) for x in flagged} if isinstance(flagged, list) else (
        {str(flagged)} if _scalar(flagged) and flagged is not None else set())  # fmt: skip
    anomaly = res.get("anomaly_index")
    labels: dict[str, dict[str, Any]] = res["labels"]
    keys: list[str] = [k for k in SCAN_NAMES if any(k in r for r in labels.values())]
    for r in labels.values():
        keys.extend(k for k, v in r.items() if k not in keys and _scalar(v))
    rows = []
    for label, r in labels.items():
        row = [Cell(str(label))] + [fmt(r.get(k)) for k in keys]
        if isinstance(anomaly, dict):
            row.append(fmt(anomaly.get(label)))
        hit = str(label) in flagged_set
        row.append(Cell("flagged" if hit else "", cls="flag" if hit else ""))
        rows.append(row)
    cols = ["label", *[SCAN_NAMES.get(k, humanize(k)) for k in keys],
            *(["anomaly index"] if isinstance(anomaly, dict) else []), ""]  # fmt: skip
    tables = [Table(cols, rows, "Reverse-engineered trigger per label")]
    rest = {k: v for k, v in res.items() if k != "labels" and (_scalar(v) or isinstance(v, list))}
    if rest:
        tables.append(key_values(rest, title="Scan"))
    return tables


LEGACY_HEADLINES: dict[str, Callable[[dict[str, Any]], list[Table]]] = {
    "audit": _audit,
    "mitigate": _mitigate,
    "poison": _poison,
    "privacy": _privacy,
    "backdoor-scan": _backdoor_scan,
}


